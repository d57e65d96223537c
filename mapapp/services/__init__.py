"""Services: every write to CameraWatch's data goes through a function here.

Views, serializers, management commands and tasks translate their input and call one of these.
Each takes keyword-only arguments, validates the domain rules before touching the database, and
writes atomically, so a rejected input leaves nothing behind.
"""

from .accounts import profile_ensure, system_user, volunteer_signup
from .audit import audit_record
from .cameras import (
    CameraChange,
    ProcessResult,
    camera_merge,
    camera_refresh,
    camera_unmerge,
    sighting_split,
    sightings_sweep,
)
from .processing import sighting_process
from .recluster import ReclusterResult, recluster_region
from .sightings import (
    SIGHTING_INPUT_FIELDS,
    IdempotencyConflict,
    SubmitResult,
    sighting_enqueue,
    sighting_submit,
)

__all__ = [
    "SIGHTING_INPUT_FIELDS",
    "CameraChange",
    "IdempotencyConflict",
    "ProcessResult",
    "ReclusterResult",
    "SubmitResult",
    "audit_record",
    "camera_merge",
    "camera_refresh",
    "camera_unmerge",
    "profile_ensure",
    "recluster_region",
    "sighting_enqueue",
    "sighting_process",
    "sighting_split",
    "sighting_submit",
    "sightings_sweep",
    "system_user",
    "volunteer_signup",
]
