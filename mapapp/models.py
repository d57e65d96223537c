"""CameraWatch's tables.

A *Sighting* is one volunteer's report; a *Camera* is the physical device that one or more
sightings describe (the Dedupe issue builds cameras from sightings). Attribute fields carry OSM
surveillance tag values (see vocab.py). Invariants the database can hold are constraints, so no
code path, importer or shell session can store a latitude of 91 or a direction of 400.

Reads live on QuerySet methods (`Camera.objects.in_bbox(...)`); writes live in services.py.
"""

from __future__ import annotations

import math
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from . import vocab

LAT_RANGE = Q(lat__gte=-90) & Q(lat__lte=90)
LON_RANGE = Q(lon__gte=-180) & Q(lon__lte=180)
DIRECTION_RANGE = Q(direction__isnull=True) | (Q(direction__gte=0) & Q(direction__lte=359))


def validate_finite(value: float) -> None:
    # NaN slips through every range comparison (NaN < -90 and NaN > 90 are both false).
    if value is not None and not math.isfinite(value):
        raise ValidationError("Enter a finite number.", code="not_finite")


LAT_VALIDATORS = [validate_finite, MinValueValidator(-90), MaxValueValidator(90)]
LON_VALIDATORS = [validate_finite, MinValueValidator(-180), MaxValueValidator(180)]


def _vocab_field(v: vocab.Vocabulary) -> models.CharField:
    return models.CharField(v.label, max_length=20, choices=v.choices, default=v.default)


def _vocab_constraints(prefix: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(condition=Q(**{f"{v.field}__in": v.values}), name=f"{prefix}_{v.field}_in_vocab")
        for v in vocab.VOCABULARIES
    ]


class CameraAttributes(models.Model):
    """The OSM surveillance attributes shared by a sighting and the camera it describes."""

    surveillance_type = _vocab_field(vocab.SURVEILLANCE_TYPE)
    camera_type = _vocab_field(vocab.CAMERA_TYPE)
    camera_mount = _vocab_field(vocab.CAMERA_MOUNT)
    surveillance = _vocab_field(vocab.SURVEILLANCE)
    zone = _vocab_field(vocab.ZONE)
    direction = models.PositiveSmallIntegerField(
        "direction (degrees from north)",
        null=True,
        blank=True,
        validators=[MaxValueValidator(359)],
        help_text="0-359, clockwise from north; leave empty if you cannot tell.",
    )
    operator = models.CharField(max_length=200, blank=True)
    operator_type = _vocab_field(vocab.OPERATOR_TYPE)
    height = models.FloatField(
        "height (m)",
        null=True,
        blank=True,
        validators=[validate_finite, MinValueValidator(0.1), MaxValueValidator(vocab.HEIGHT_MAX_M)],
        help_text="Mounting height above the ground, in metres.",
    )
    camera_angle = models.FloatField(
        "tilt below horizontal (°)",
        null=True,
        blank=True,
        validators=[validate_finite, MinValueValidator(0), MaxValueValidator(90)],
        help_text="0 looks straight ahead, 90 straight down (OSM camera:angle).",
    )

    ATTRIBUTE_FIELDS = vocab.ATTRIBUTE_FIELDS

    class Meta:
        abstract = True


class BBoxQuerySet(models.QuerySet):
    def in_bbox(self, min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> BBoxQuerySet:
        """Rows inside a bounding box. Served by the (lat, lon) index of each table."""
        return self.filter(lat__gte=min_lat, lat__lte=max_lat, lon__gte=min_lon, lon__lte=max_lon)


class Profile(models.Model):
    """Public face of a volunteer. Only `handle` is ever shown; username and email never are."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    handle = models.CharField(max_length=40, unique=True)
    # System accounts (e.g. the OpenStreetMap importer) own imported sightings; nobody logs in as them.
    is_system = models.BooleanField(default=False)
    # Trust (mapapp/consensus/trust.py): how many of this volunteer's votes agreed or disagreed
    # with how their cameras settled. Recounted from Vote.agrees whenever one of those cameras is
    # reconsidered, so the counts never drift from the votes.
    agreed = models.PositiveIntegerField(default=0)
    disagreed = models.PositiveIntegerField(default=0)
    # A moderator's ban (reversible): the volunteer's votes stop counting and their unverified
    # sightings are hidden. Who banned and why is in the AuditEvent.
    banned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.handle


class Neighbourhood(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    # GeoJSON geometry (Polygon or MultiPolygon), [lon, lat] as RFC 7946 says.
    polygon = models.JSONField()
    min_lon = models.FloatField()
    min_lat = models.FloatField()
    max_lon = models.FloatField()
    max_lat = models.FloatField()
    area_km2 = models.FloatField()
    source = models.CharField(max_length=200, blank=True)
    is_demo = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Camera counts by status, type, mount and operator type, density and verified share, kept
    # up to date by the map refresh task (mapapp/services/neighbourhoods.py). Public: no people.
    stats = models.JSONField(default=dict, blank=True)
    stats_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(area_km2__gte=0), name="neighbourhood_area_nonnegative")]

    def __str__(self) -> str:
        return self.name


class CameraQuerySet(BBoxQuerySet):
    def live(self) -> CameraQuerySet:
        """Cameras that stand for a physical camera: not the tombstone of a merge."""
        return self.filter(merged_into__isnull=True)

    def public(self) -> CameraQuerySet:
        return self.live().exclude(status=Camera.Status.REMOVED)

    def published(self) -> CameraQuerySet:
        """What public maps, pages and the open-data API show: public cameras with at least one
        visible sighting. A camera whose sightings moderators have all hidden keeps its status,
        but its position is those sightings' position, so it is shown nowhere."""
        return self.public().filter(sighting_count__gt=0)


class CameraStatus(models.TextChoices):
    """The lifecycle (mapapp/consensus): recomputed from evidence, never edited by hand."""

    REPORTED = "reported", "Reported"
    VERIFIED = "verified", "Verified"
    DISPUTED = "disputed", "Disputed"
    REMOVED = "removed", "Removed"
    STALE = "stale", "Not confirmed lately"


class Camera(CameraAttributes):
    Status = CameraStatus

    class Provenance(models.TextChoices):
        VOLUNTEER = "volunteer", "Reported by volunteers"
        OSM = "osm", "Imported from OpenStreetMap"
        DEMO = "demo", "Demo data (fictional)"

    lat = models.FloatField(validators=LAT_VALIDATORS)
    lon = models.FloatField(validators=LON_VALIDATORS)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REPORTED)
    # Share of sightings agreeing with each consensus attribute, e.g. {"camera_type": 0.67}.
    agreement = models.JSONField(default=dict, blank=True)
    sighting_count = models.PositiveIntegerField(default=0)
    confirm_count = models.PositiveIntegerField(default=0)
    not_there_count = models.PositiveIntegerField(default=0)
    gone_count = models.PositiveIntegerField(default=0)
    # Consensus (camera_reconsider): distinct volunteers other than the reporter who currently say
    # it is there (confirm votes and independent sightings), and when one last did.
    confirmations = models.PositiveIntegerField(default=0)
    last_confirmed_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    # A moderator's expert verdict overrides the computed status (who and why: its AuditEvent).
    expert_status = models.CharField(max_length=10, choices=Status.choices, blank=True)
    expert_at = models.DateTimeField(null=True, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    # Indexes: a column that an index below already leads with gets no index of its own. Every
    # index is work on each write, and the dedupe task writes cameras, sightings and assignments
    # on every sighting (its latency budget is 5 ms; migration 0004 dropped the duplicates).
    neighbourhood = models.ForeignKey(
        Neighbourhood, null=True, blank=True, on_delete=models.SET_NULL, related_name="cameras", db_index=False
    )
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.VOLUNTEER)
    osm_id = models.BigIntegerField("OSM node id", null=True, blank=True)
    # The raw OSM tags as imported, so normalising a dirty value never destroys it.
    osm_tags = models.JSONField(default=dict, blank=True)
    # Set when this camera was merged into another. The row stays as a tombstone so that links
    # to it keep working (they forward) and the merge can be undone with the same id.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="absorbed", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CameraQuerySet.as_manager()

    class Meta:
        indexes = [
            # Map pages, the API's bbox filter and dedupe's candidate search: lat range, then lon.
            models.Index(fields=["lat", "lon"], name="camera_lat_lon_idx"),
            # Neighbourhood pages and stats: cameras of one neighbourhood by status.
            models.Index(fields=["neighbourhood", "status"], name="camera_nbhd_status_idx"),
            # "Changed since" feeds and the verification queue's stale-first ordering.
            models.Index(fields=["status", "updated_at"], name="camera_status_updated_idx"),
            # Tombstones forwarding to a camera (merge, unmerge). Partial: live cameras, nearly
            # all of them, are not in it.
            models.Index(fields=["merged_into"], condition=Q(merged_into__isnull=False), name="camera_merged_into_idx"),
        ]
        permissions = [
            # Given to the moderator and admin groups (migration 0006_roles).
            ("moderate", "Can moderate: hide, ban, split, merge, expert verdicts, flags and comments"),
        ]
        constraints = [
            models.CheckConstraint(condition=LAT_RANGE, name="camera_lat_range"),
            models.CheckConstraint(condition=LON_RANGE, name="camera_lon_range"),
            models.CheckConstraint(condition=DIRECTION_RANGE, name="camera_direction_range"),
            models.CheckConstraint(condition=Q(status__in=CameraStatus.values), name="camera_status_valid"),
            # Re-importing an OSM file updates the camera with that node id; it never duplicates.
            models.UniqueConstraint(fields=["osm_id"], condition=Q(osm_id__isnull=False), name="camera_unique_osm_id"),
            *_vocab_constraints("camera"),
        ]

    def __str__(self) -> str:
        return f"Camera {self.pk} ({self.get_surveillance_type_display()}, {self.status})"


class SightingQuerySet(BBoxQuerySet):
    def pending(self) -> SightingQuerySet:
        return self.filter(status=Sighting.Status.PENDING)

    def by(self, user: object) -> SightingQuerySet:
        return self.filter(reporter=user)


def photo_upload_to(instance: Sighting, filename: str) -> str:
    # A random name: an uploaded file's name ("IMG_alice_home.jpg") can identify its owner.
    return f"photos/{uuid.uuid4().hex}.jpg"


class SightingStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be processed"
    PROCESSED = "processed", "Processed"
    REJECTED = "rejected", "Rejected"
    HIDDEN = "hidden", "Hidden by a moderator"


class HiddenReason(models.TextChoices):
    NONE = "", "Not hidden"
    MODERATOR = "moderator", "Hidden by a moderator"
    BAN = "ban", "Its reporter is banned"


class Sighting(CameraAttributes):
    class Source(models.TextChoices):
        WEB = "web", "Web form"
        API = "api", "API"
        IMPORT = "import", "Import"

    Status = SightingStatus

    # No index of its own: sighting_reporter_recent_idx leads with it (see Camera's note on indexes).
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sightings", db_index=False
    )
    lat = models.FloatField("latitude", validators=LAT_VALIDATORS)
    lon = models.FloatField("longitude", validators=LON_VALIDATORS)
    accuracy_m = models.FloatField(
        "GPS accuracy (m)",
        null=True,
        blank=True,
        validators=[validate_finite, MinValueValidator(0), MaxValueValidator(10_000)],
        help_text="How far off the position may be, as your phone reports it.",
    )
    observed_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(default=timezone.now)
    notes = models.TextField(blank=True, max_length=2000)
    photo = models.ImageField(upload_to=photo_upload_to, null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    # Client-chosen idempotency key: a retried submission with the same key returns the first one.
    # NULL (not "") when absent, so keyless sightings never clash in the unique constraint.
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # SHA-256 of the validated submission, to tell a genuine retry from a reused key.
    fingerprint = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    processed_at = models.DateTimeField(null=True, blank=True)
    camera = models.ForeignKey(Camera, null=True, blank=True, on_delete=models.SET_NULL, related_name="sightings")
    # A moderator placed this sighting (split or merge). Recluster leaves it on its camera, since
    # an expert's decision outranks the algorithm's.
    pinned = models.BooleanField(default=False)
    # Moderation (reversible): why the sighting is hidden (status "hidden"), so lifting a ban
    # restores exactly the sightings the ban hid; and a photo hidden on its own.
    hidden_reason = models.CharField(max_length=10, choices=HiddenReason.choices, blank=True)
    photo_hidden = models.BooleanField(default=False)

    objects = SightingQuerySet.as_manager()

    class Meta:
        indexes = [
            # Sightings in a map area (moderation views, recluster by bbox).
            models.Index(fields=["lat", "lon"], name="sighting_lat_lon_idx"),
            # The sweeper: pending sightings older than a timeout. Partial, so a processed
            # sighting leaves it (and the dedupe task's update does not write to it).
            models.Index(fields=["submitted_at"], condition=Q(status="pending"), name="sighting_pending_submitted_idx"),
            # A volunteer's own sightings, newest first.
            models.Index(fields=["reporter", "-submitted_at"], name="sighting_reporter_recent_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=LAT_RANGE, name="sighting_lat_range"),
            models.CheckConstraint(condition=LON_RANGE, name="sighting_lon_range"),
            models.CheckConstraint(condition=DIRECTION_RANGE, name="sighting_direction_range"),
            models.CheckConstraint(
                condition=Q(accuracy_m__isnull=True) | Q(accuracy_m__gte=0), name="sighting_accuracy_nonnegative"
            ),
            models.CheckConstraint(condition=Q(status__in=SightingStatus.values), name="sighting_status_valid"),
            # Also the lookup index for idempotent retries.
            models.UniqueConstraint(
                fields=["reporter", "client_id"],
                condition=Q(client_id__isnull=False),
                name="sighting_unique_client_id_per_reporter",
            ),
            *_vocab_constraints("sighting"),
        ]

    def __str__(self) -> str:
        return f"Sighting {self.pk} ({self.status})"


class AssignmentKind(models.TextChoices):
    FOUNDED = "founded", "Founded a new camera"
    MATCHED = "matched", "Matched an existing camera"
    IMPORTED = "imported", "Imported with its camera"
    SPLIT = "split", "Split off by a moderator"
    MERGED = "merged", "Moved by a camera merge"
    UNMERGED = "unmerged", "Moved back by undoing a merge"
    RECLUSTERED = "reclustered", "Moved by a recluster"
    REGROUPED = "regrouped", "Moved when a new sighting regrouped its area"


class Assignment(models.Model):
    """Which camera a sighting joined, when, how and with what score: the history of every merge.

    Append-only, like AuditEvent. `Sighting.camera` is the current state; these rows are how it
    came about, so any merge can be explained to a resident and undone by a moderator.
    """

    Kind = AssignmentKind

    # Indexes: the two history indexes below lead with sighting and camera, so those foreign keys
    # get none of their own; previous_camera and actor are mostly null and get partial ones.
    sighting = models.ForeignKey(Sighting, on_delete=models.PROTECT, related_name="assignments", db_index=False)
    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="assignments", db_index=False)
    previous_camera = models.ForeignKey(
        Camera, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # The dedupe score with which the sighting joined (null when it founded the camera or a
    # person moved it). Low scores are the merges worth a moderator's second look.
    score = models.FloatField(null=True, blank=True)
    distance_m = models.FloatField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Where a camera's sightings came from (unmerge), and the PROTECT check when a camera
            # or user is deleted.
            models.Index(
                fields=["previous_camera"],
                condition=Q(previous_camera__isnull=False),
                name="assignment_previous_camera_idx",
            ),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="assignment_actor_idx"),
            # A sighting's history (and "which merge moved it here?" when undoing a merge).
            models.Index(fields=["sighting", "created_at"], name="assignment_sighting_idx"),
            # A camera's history page.
            models.Index(fields=["camera", "created_at"], name="assignment_camera_idx"),
            # The moderators' "recent low-score merges" queue.
            models.Index(fields=["kind", "created_at"], name="assignment_kind_recent_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AssignmentKind.values), name="assignment_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"sighting {self.sighting_id} {self.kind} camera {self.camera_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise PermissionError("Assignments are append-only")
        super().save(*args, **kwargs)


class VoteVerdict(models.TextChoices):
    CONFIRM = "confirm", "It is there"
    NOT_THERE = "not_there", "No camera here"
    GONE = "gone", "It has been removed"


class Vote(models.Model):
    """A volunteer's verdict on a camera (used by the Verification issue)."""

    Verdict = VoteVerdict

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="votes")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    # Attribute corrections that came with a confirmation, e.g. {"camera_type": "dome"}.
    corrections = models.JSONField(default=dict, blank=True)
    # Whether this vote agreed with how its camera settled (verified or removed); null while it
    # has not settled. Profile.agreed/disagreed are counts of these.
    agrees = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # A volunteer's own votes (trust scoring, "my activity").
            models.Index(fields=["voter", "-updated_at"], name="vote_voter_recent_idx"),
        ]
        constraints = [
            # One vote per volunteer per camera; voting again replaces it. Also the camera lookup index.
            models.UniqueConstraint(fields=["camera", "voter"], name="vote_one_per_voter_per_camera"),
            models.CheckConstraint(condition=Q(verdict__in=VoteVerdict.values), name="vote_verdict_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.verdict} on camera {self.camera_id}"


class FlagQuerySet(models.QuerySet):
    def open(self) -> FlagQuerySet:
        return self.filter(resolved_at__isnull=True)


class Flag(models.Model):
    """Anyone signed in can flag a camera or a sighting for a moderator, with a reason."""

    camera = models.ForeignKey(Camera, null=True, blank=True, on_delete=models.CASCADE, related_name="flags")
    sighting = models.ForeignKey(Sighting, null=True, blank=True, on_delete=models.CASCADE, related_name="flags")
    flagger = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(max_length=1000)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(blank=True, max_length=1000)

    objects = FlagQuerySet.as_manager()

    class Meta:
        indexes = [
            # The moderator queue: open flags, oldest first.
            models.Index(fields=["created_at"], condition=Q(resolved_at__isnull=True), name="flag_open_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(camera__isnull=False, sighting__isnull=True)
                | Q(camera__isnull=True, sighting__isnull=False),
                name="flag_one_target",
            ),
        ]

    def __str__(self) -> str:
        target = f"camera {self.camera_id}" if self.camera_id else f"sighting {self.sighting_id}"
        return f"Flag on {target}"


class Comment(models.Model):
    """A camera's discussion thread ("flag for discussion"). Moderators can hide a comment."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="comments", db_index=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)
    hidden = models.BooleanField(default=False)

    class Meta:
        indexes = [
            # A camera's thread, oldest first.
            models.Index(fields=["camera", "created_at"], name="comment_camera_idx"),
        ]

    def __str__(self) -> str:
        return f"Comment on camera {self.camera_id}"


class AuditEventQuerySet(models.QuerySet):
    def delete(self) -> None:  # type: ignore[override]
        raise PermissionError("Audit events are append-only")

    def update(self, **kwargs: object) -> int:
        raise PermissionError("Audit events are append-only")


class AuditEvent(models.Model):
    """An append-only record of something that changed data: who, what, why and when.

    Updates are refused by a database trigger (see the migration) as well as here; deletes are
    refused here. `actor` is null for automatic actions (the dedupe worker, importers).
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=50)
    target_type = models.CharField(max_length=50)
    target_id = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes = [
            # A camera's or sighting's history page.
            models.Index(fields=["target_type", "target_id", "created_at"], name="audit_target_idx"),
            # The transparency page: actions by kind per month.
            models.Index(fields=["action", "created_at"], name="audit_action_month_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type} {self.target_id} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise PermissionError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        raise PermissionError("Audit events are append-only")


class RenderedMap(models.Model):
    """A rendered public map page (a whole HTML document), cached in the database.

    The database, not the Django cache, because the worker that renders and the web process that
    serves must share it on every setup, including `make run`'s per-process default cache.
    `fingerprint` identifies the camera data the map was built from; the refresh task rebuilds a
    map whose fingerprint no longer matches, and the page serves the old one meanwhile.
    """

    key = models.CharField(max_length=200, unique=True)
    html = models.TextField()
    fingerprint = models.CharField(max_length=200)
    built_at = models.DateTimeField()
    build_seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return self.key
