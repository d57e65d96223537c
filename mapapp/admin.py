"""Admin for staff. The audit log and assignment history are read-only here.

Split, merge and undo-merge are admin actions that ask for a reason and call the same services
as everything else (mapapp.services.cameras), so each leaves an AuditEvent and Assignment rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from . import services
from .models import Assignment, AuditEvent, Camera, Neighbourhood, Profile, Sighting, Vote


def _with_reason(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    question: str,
    apply: Callable[[str], str],
) -> TemplateResponse | None:
    """Ask for a reason on an intermediate page, then apply; errors are shown, nothing half-done."""
    reason = request.POST.get("reason", "").strip()
    error = ""
    if request.POST.get("apply"):
        if not reason:
            error = "Please give a reason; it goes into the public audit log."
        else:
            try:
                # All selected objects or none: a refusal half-way leaves nothing done.
                with transaction.atomic():
                    done = apply(reason)
                modeladmin.message_user(request, done, messages.SUCCESS)
                return None
            except ValidationError as exc:
                modeladmin.message_user(request, " ".join(exc.messages), messages.ERROR)
                return None
    return TemplateResponse(
        request,
        "admin/mapapp/action_reason.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "question": question,
            "queryset": queryset,
            "action": request.POST.get("action", ""),
            "reason": reason,
            "error": error,
            "opts": modeladmin.model._meta,
        },
    )


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "surveillance_type",
        "camera_type",
        "status",
        "provenance",
        "sighting_count",
        "merged_into",
        "last_seen",
    )
    list_filter = ("status", "provenance", "surveillance_type", "camera_type")
    search_fields = ("operator", "osm_id")
    raw_id_fields = ("neighbourhood", "merged_into")
    actions = ("merge_cameras", "unmerge_cameras")

    @admin.action(description="Merge the selected cameras into the oldest one", permissions=("change",))
    def merge_cameras(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        cameras = list(queryset.order_by("pk"))
        if len(cameras) < 2:
            self.message_user(request, "Select at least two cameras to merge.", messages.ERROR)
            return None

        def apply(reason: str) -> str:
            target = cameras[0]
            for source in cameras[1:]:
                services.camera_merge(source_id=source.pk, target_id=target.pk, actor=request.user, reason=reason)
            return f"Merged {len(cameras) - 1} camera(s) into camera {target.pk}."

        return _with_reason(
            self,
            request,
            queryset,
            title="Merge cameras",
            question=f"Merge these cameras into camera {cameras[0].pk}? Their sightings and votes move to it.",
            apply=apply,
        )

    @admin.action(description="Undo the merge of the selected (merged-away) cameras", permissions=("change",))
    def unmerge_cameras(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        def apply(reason: str) -> str:
            for camera in queryset.order_by("pk"):
                services.camera_unmerge(camera_id=camera.pk, actor=request.user, reason=reason)
            return f"Restored {queryset.count()} camera(s)."

        return _with_reason(
            self,
            request,
            queryset,
            title="Undo merge",
            question="Give these cameras their merged sightings and votes back?",
            apply=apply,
        )


class AssignmentInline(admin.TabularInline):
    model = Assignment
    fk_name = "sighting"
    fields = ("created_at", "kind", "camera", "previous_camera", "score", "distance_m", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Sighting)
class SightingAdmin(admin.ModelAdmin):
    list_display = ("id", "reporter", "status", "source", "camera", "pinned", "submitted_at")
    list_filter = ("status", "source", "pinned")
    raw_id_fields = ("reporter", "camera")
    # The camera is dedupe's and the moderators' actions' to set, with history; not a free edit.
    readonly_fields = ("camera", "pinned")
    inlines = (AssignmentInline,)
    actions = ("split_sightings",)

    @admin.action(description="Split the selected sightings off into cameras of their own", permissions=("change",))
    def split_sightings(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        def apply(reason: str) -> str:
            made = [
                services.sighting_split(sighting_id=s.pk, actor=request.user, reason=reason).camera.pk
                for s in queryset.order_by("pk")
            ]
            return f"Split off into camera(s) {', '.join(map(str, made))}."

        return _with_reason(
            self,
            request,
            queryset,
            title="Split sightings",
            question="Give each of these sightings a camera of its own?",
            apply=apply,
        )


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("created_at", "sighting", "kind", "camera", "previous_camera", "score", "actor")
    list_filter = ("kind",)
    raw_id_fields = ("sighting", "camera", "previous_camera", "actor")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Neighbourhood)
class NeighbourhoodAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "area_km2", "is_demo")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("handle", "user", "is_system")
    search_fields = ("handle",)


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("camera", "voter", "verdict", "updated_at")
    raw_id_fields = ("camera", "voter")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "target_type", "target_id", "actor")
    list_filter = ("action",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
