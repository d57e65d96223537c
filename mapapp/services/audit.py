"""The audit trail: every moderator action and import leaves an append-only record."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from ..models import AuditEvent


def audit_record(
    *,
    action: str,
    target: Any,
    actor: AbstractBaseUser | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        target_type=type(target).__name__.lower() if target is not None else "",
        target_id=getattr(target, "pk", None),
        reason=reason,
        data=data or {},
    )
