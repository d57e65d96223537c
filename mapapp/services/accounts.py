"""Account services: volunteers, their public handles, and system accounts."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db import IntegrityError, transaction

from ..handles import make_handle
from ..models import Profile


def profile_ensure(*, user: AbstractBaseUser, is_system: bool = False) -> Profile:
    """The user's profile, created with a fresh unique handle if it does not exist yet.

    Accounts made outside sign-up (createsuperuser, the admin) get their handle on first use.
    """
    try:
        return user.profile
    except Profile.DoesNotExist:
        pass
    for _ in range(20):
        try:
            with transaction.atomic():
                return Profile.objects.create(user=user, handle=make_handle(), is_system=is_system)
        except IntegrityError:
            if Profile.objects.filter(user=user).exists():
                return Profile.objects.get(user=user)
    raise RuntimeError("Could not find a free handle after 20 tries")


@transaction.atomic
def volunteer_signup(*, username: str, email: str, password: str | None) -> AbstractBaseUser:
    """A new volunteer with a fresh handle. password=None makes an account nobody can log in to."""
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    profile_ensure(user=user)
    role_grant(user=user, role="volunteer")
    return user


ROLES = ("volunteer", "moderator", "researcher", "admin")  # Django groups (migration 0006_roles)


def roles_ensure() -> dict[str, Group]:
    """The role groups with their permissions, created if missing (as migration 0006 does).

    Needed where the groups were flushed after migrating (test databases between transactional
    tests); idempotent.
    """
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    mapapp = Permission.objects.filter(content_type__app_label="mapapp")
    groups["moderator"].permissions.add(*mapapp.filter(codename="moderate"))
    groups["researcher"].permissions.add(*mapapp.filter(codename__in=["view_camera", "view_neighbourhood"]))
    groups["admin"].permissions.add(*mapapp)
    return groups


def role_grant(*, user: AbstractBaseUser, role: str) -> None:
    """Put a user in one of the four role groups (created by migration 0006_roles)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    group = Group.objects.filter(name=role).first() or roles_ensure()[role]
    user.groups.add(group)
    for cache in ("_perm_cache", "_group_perm_cache", "_user_perm_cache"):
        user.__dict__.pop(cache, None)


def system_user(*, username: str, handle: str) -> AbstractBaseUser:
    """An account that owns machine-made records (imports, demo data). It cannot log in."""
    user, created = get_user_model().objects.get_or_create(username=username, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        Profile.objects.create(user=user, handle=handle, is_system=True)
    return user
