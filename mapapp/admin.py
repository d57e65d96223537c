"""Admin for staff. The audit log is read-only here, as it is in the database."""

from django.contrib import admin

from .models import AuditEvent, Camera, Neighbourhood, Profile, Sighting, Vote


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    list_display = ("id", "surveillance_type", "camera_type", "status", "provenance", "sighting_count", "last_seen")
    list_filter = ("status", "provenance", "surveillance_type", "camera_type")
    search_fields = ("operator", "osm_id")
    raw_id_fields = ("neighbourhood",)


@admin.register(Sighting)
class SightingAdmin(admin.ModelAdmin):
    list_display = ("id", "reporter", "status", "source", "camera", "submitted_at")
    list_filter = ("status", "source")
    raw_id_fields = ("reporter", "camera")


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
