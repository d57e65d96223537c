"""Services: every write to CameraWatch's data goes through a function here.

Views, serializers, management commands and tasks translate their input and call one of these.
Each takes keyword-only arguments, validates the domain rules before touching the database, and
writes atomically, so a rejected input leaves nothing behind.
"""

from .accounts import ROLES, profile_ensure, role_grant, system_user, volunteer_signup
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
from .moderation import (
    camera_expert_verdict,
    comment_hide,
    flag_resolve,
    is_moderator,
    photo_hide,
    sighting_hide,
    sighting_unhide,
    volunteer_ban,
    volunteer_unban,
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
from .verification import (
    CORRECTABLE,
    QueueEntry,
    comment_post,
    flag_raise,
    stale_candidates,
    verification_queue,
    vote_cast,
    votes_due_cameras,
)

__all__ = [
    "CORRECTABLE",
    "ROLES",
    "SIGHTING_INPUT_FIELDS",
    "CameraChange",
    "IdempotencyConflict",
    "ProcessResult",
    "QueueEntry",
    "ReclusterResult",
    "SubmitResult",
    "audit_record",
    "camera_expert_verdict",
    "camera_merge",
    "camera_refresh",
    "camera_unmerge",
    "comment_hide",
    "comment_post",
    "flag_raise",
    "flag_resolve",
    "is_moderator",
    "photo_hide",
    "profile_ensure",
    "recluster_region",
    "role_grant",
    "sighting_enqueue",
    "sighting_hide",
    "sighting_process",
    "sighting_split",
    "sighting_submit",
    "sighting_unhide",
    "sightings_sweep",
    "stale_candidates",
    "system_user",
    "verification_queue",
    "volunteer_ban",
    "volunteer_signup",
    "volunteer_unban",
    "vote_cast",
    "votes_due_cameras",
]
