"""A camera's public page and the JSON its map popup loads.

Privacy: people appear only as their pseudonymous handle, and a moderator only as "a moderator"
(their reasons are public, their accounts are not). Hidden sightings, hidden photos and a banned
volunteer's votes do not appear, nor does a move of sightings that are all hidden now. A camera
none of whose sightings is visible any more (all hidden by moderators) has no page: its position
is theirs. Dates are months, not days or times: each entry names a handle, and day-level dates
across many camera pages would let anyone trace one handle's walks (where, which days). A month
still says how fresh the evidence is, which is what a reader needs.

A merged camera forwards (302) to the camera it became; a removed one keeps its page, marked
removed, because its history is the point. The popup JSON is only for cameras on public maps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from .. import consensus
from ..forms import FlagForm
from ..maps import fov
from ..models import Assignment, AuditEvent, Camera, Sighting, Vote
from ..services.evidence import ATTRIBUTES, consensus_params, expert_evidence, sighting_evidence, vote_evidence
from .verification import attribute_rows

PHOTOS_ON_PAGE = 12
POPUP_ATTRIBUTES = ("camera_type", "camera_mount", "direction", "operator")
STATUS_EVENTS = ("camera_status", "camera_expert_verdict")

# What a move of sightings between two cameras says, from the side of the camera that received
# them and of the one they left.
MOVES = {
    Assignment.Kind.MERGED: ("Camera #{other} was merged into this one", "Merged into camera #{other}"),
    Assignment.Kind.UNMERGED: (
        "A merge was undone: sightings came back from camera #{other}",
        "A merge was undone: sightings went back to camera #{other}",
    ),
    Assignment.Kind.SPLIT: ("Split off from camera #{other}", "A sighting was split off into camera #{other}"),
    Assignment.Kind.RECLUSTERED: (
        "Sightings moved here from camera #{other} when an area was regrouped",
        "Sightings moved to camera #{other} when an area was regrouped",
    ),
    Assignment.Kind.REGROUPED: (
        "Sightings moved here from camera #{other}: a new report showed they describe one camera",
        "Sightings moved to camera #{other}: a new report showed they describe one camera",
    ),
}
# Entries at the same instant: the evidence first, then what it caused.
ORDER = {"sighting": 0, "vote": 1, "moved": 2, "status": 3, "verdict": 4}


# --- Reads -----------------------------------------------------------------------------------------


def _visible_sightings(camera: Camera) -> list[Sighting]:
    """The camera's public evidence: processed sightings (not hidden, not pending), oldest first."""
    return list(
        Sighting.objects.filter(camera=camera, status=Sighting.Status.PROCESSED)
        .select_related("reporter__profile")
        .order_by("observed_at", "pk")
    )


def _counted_votes(camera: Camera) -> list[Vote]:
    """Votes whose voter is not banned (a ban withdraws a volunteer's public record, as it hides
    their sightings; lifting it brings both back)."""
    return list(
        Vote.objects.filter(camera=camera, voter__profile__banned_at__isnull=True)
        .select_related("voter__profile")
        .order_by("updated_at", "pk")
    )


def _status_events(camera: Camera) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(target_type="camera", target_id=camera.pk, action__in=STATUS_EVENTS).order_by("pk")
    )


def _moves(camera: Camera) -> list[dict[str, Any]]:
    """Assignment rows that moved a visible sighting onto or off this camera from another."""
    return list(
        Assignment.objects.filter(Q(camera=camera, previous_camera__isnull=False) | Q(previous_camera=camera))
        .exclude(camera_id=camera.pk, previous_camera_id=camera.pk)
        .exclude(sighting__status=Sighting.Status.HIDDEN)
        .values("kind", "camera_id", "previous_camera_id", "actor_id", "created_at")
        .order_by("created_at", "pk")
    )


def _outcome(camera: Camera, sightings: list[Sighting], votes: list[Vote]) -> consensus.Outcome:
    """The rules applied to the evidence now, for their reasons in plain words (not stored).

    The banned volunteers' votes left out of `votes` weigh nothing in the rules anyway.
    """
    rows = [
        {"reporter_id": s.reporter_id, "source": s.source, "observed_at": s.observed_at}
        | {name: getattr(s, name) for name in ATTRIBUTES}
        for s in sightings
    ]
    params = consensus_params()
    evidence = consensus.Evidence(
        now=timezone.now(),
        sightings=sighting_evidence(rows),
        votes=vote_evidence(votes, params),
        expert=expert_evidence(camera.expert_status, camera.expert_at),
    )
    return consensus.decide(evidence, params)


# --- The history -----------------------------------------------------------------------------------


def _handle(user: Any) -> str:
    profile = getattr(user, "profile", None)  # accounts made outside sign-up may have none yet
    return profile.handle if profile is not None else "A volunteer"


def _who(actor_id: int | None) -> str:
    return "A moderator" if actor_id is not None else "The rules"


def _status_label(value: str) -> str:
    return Camera.Status(value).label if value in Camera.Status.values else value


def _shown(name: str, value: Any) -> str:
    field = Camera._meta.get_field(name)
    if field.choices:
        return dict(field.choices).get(value, str(value))
    if name in ("direction", "camera_angle"):
        return f"{value:g}°"
    if name == "height":
        return f"{value:g} m"
    return str(value)


def _given(sighting: Sighting) -> list[tuple[str, str]]:
    """The attributes a sighting stated, as (label, value shown), leaving out "not sure"."""
    return [
        (str(Sighting._meta.get_field(name).verbose_name), _shown(name, getattr(sighting, name)))
        for name in ATTRIBUTES
        if consensus.known_value(name, getattr(sighting, name)) is not None
    ]


def _sighting_entries(sightings: Iterable[Sighting]) -> list[dict[str, Any]]:
    return [
        {
            "kind": "sighting",
            "at": s.observed_at,
            "who": _handle(s.reporter),
            "text": "Imported it from OpenStreetMap" if s.source == Sighting.Source.IMPORT else "Reported it",
            "given": _given(s),
            "notes": s.notes,
        }
        for s in sightings
    ]


def _vote_entries(votes: Iterable[Vote]) -> list[dict[str, Any]]:
    return [
        {
            "kind": "vote",
            "at": vote.updated_at,
            "who": _handle(vote.voter),
            "text": vote.get_verdict_display(),
            "given": [
                (str(Camera._meta.get_field(name).verbose_name), _shown(name, value))
                for name, value in sorted((vote.corrections or {}).items())
                if name in ATTRIBUTES
            ],
        }
        for vote in votes
    ]


def _status_entries(events: Iterable[AuditEvent]) -> list[dict[str, Any]]:
    """Status changes, each by "the rules" or "a moderator", and a moderator's other verdicts.

    A moderator's verdict is stored as two events in one transaction: the recomputation's
    "camera_status" (no actor: the rules applied the verdict) and then "camera_expert_verdict"
    (the moderator, with their public reason). They are shown as one change by a moderator.
    """
    entries: list[dict[str, Any]] = []
    last_by_rules: tuple[tuple[str, str], dict[str, Any]] | None = None
    for event in events:
        data = event.data or {}
        change = (data.get("from", ""), data.get("to", ""))
        if event.action == "camera_status":
            entry = {
                "kind": "status",
                "at": event.created_at,
                "who": _who(event.actor_id),
                "text": f"{_status_label(change[0])} → {_status_label(change[1])}",
                "reason": event.reason,
            }
            entries.append(entry)
            last_by_rules = (change, entry) if event.actor_id is None else None
        elif change[0] != change[1] and last_by_rules is not None and last_by_rules[0] == change:
            last_by_rules[1].update(who=_who(event.actor_id), reason=event.reason)
            last_by_rules = None
        else:
            verdict = data.get("verdict", "")
            said = f"Gave a verdict: {_status_label(verdict)}" if verdict else "Withdrew a moderator's verdict"
            entries.append(
                {
                    "kind": "verdict",
                    "at": event.created_at,
                    "who": _who(event.actor_id),
                    "text": said,
                    "reason": event.reason,
                }
            )
    return entries


def _move_entries(camera: Camera, moves: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per move (its rows share kind, cameras and instant), from this camera's side."""
    entries: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in moves:
        incoming = row["camera_id"] == camera.pk
        other = row["previous_camera_id"] if incoming else row["camera_id"]
        key = (row["kind"], incoming, other, row["created_at"])
        if key in entries or row["kind"] not in MOVES:
            continue
        entries[key] = {
            "kind": "moved",
            "at": row["created_at"],
            "who": _who(row["actor_id"]),
            "text": MOVES[row["kind"]][0 if incoming else 1].format(other=other),
            "other": other,
        }
    return list(entries.values())


def history(
    camera: Camera,
    *,
    sightings: list[Sighting],
    votes: list[Vote],
    events: list[AuditEvent],
    moves: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Everything that happened to the camera, oldest first."""
    entries = [
        *_sighting_entries(sightings),
        *_vote_entries(votes),
        *_status_entries(events),
        *_move_entries(camera, moves),
    ]
    entries.sort(key=lambda e: (e["at"], ORDER[e["kind"]]))
    return entries


# --- Pages ---------------------------------------------------------------------------------------


def verify_url(camera: Camera) -> str:
    """The verification queue centred on the camera (so it comes first), at its entry."""
    near = urlencode({"lat": f"{camera.lat:.5f}", "lon": f"{camera.lon:.5f}"})
    return f"{reverse('verify')}?{near}#camera-{camera.pk}"


def _field_of_view(camera: Camera) -> dict[str, Any] | None:
    """The wedge to draw and what it was drawn from; None without a direction."""
    if camera.direction is None:
        return None
    return {
        "ring": fov.wedge(camera.lat, camera.lon, camera.direction, height=camera.height, tilt=camera.camera_angle),
        "direction": camera.direction,
        "angle": fov.DEFAULT_ANGLE,
        "reach": fov.reach_m(camera.height, camera.camera_angle),
        "height": camera.height,
        "tilt": camera.camera_angle,
        "default_height": fov.DEFAULT_HEIGHT,
        "default_tilt": fov.DEFAULT_TILT,
    }


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    camera = Camera.objects.filter(pk=pk).first()
    if camera is None:
        raise Http404("No such camera.")
    if camera.merged_into_id is not None:
        return redirect("camera_detail", pk=camera.merged_into_id)
    sightings = _visible_sightings(camera)
    if not sightings:
        raise Http404("No such camera.")
    votes = _counted_votes(camera)
    outcome = _outcome(camera, sightings, votes)
    field_of_view = _field_of_view(camera)
    context = {
        "camera": camera,
        "removed": camera.status == Camera.Status.REMOVED,
        # The rules' reasons describe the stored status unless time has moved it on since the
        # last recomputation (a camera turning stale); then the history's last change says why.
        "status_reason": outcome.reasons if outcome.status == camera.status else "",
        "status_by_moderator": outcome.expert and outcome.status == camera.status,
        "attributes": attribute_rows(camera),
        "photos": [s for s in reversed(sightings) if s.photo and not s.photo_hidden][:PHOTOS_ON_PAGE],
        "history": history(
            camera, sightings=sightings, votes=votes, events=_status_events(camera), moves=_moves(camera)
        ),
        "fov": field_of_view,
        "wedge": field_of_view["ring"] if field_of_view else None,
        "verify_url": verify_url(camera),
        "flag_form": FlagForm(),
    }
    return render(request, "mapapp/camera_detail.html", context)


def _newest_photo(camera: Camera) -> Sighting | None:
    return (
        Sighting.objects.filter(camera=camera, status=Sighting.Status.PROCESSED, photo_hidden=False)
        .exclude(photo="")
        .exclude(photo__isnull=True)
        .order_by("-observed_at", "-pk")
        .first()
    )


def popup(request: HttpRequest, pk: int) -> HttpResponse:
    """The popup's content as raw strings: the map inserts them with textContent, never as HTML."""
    camera = Camera.objects.published().filter(pk=pk).first()
    if camera is None:
        raise Http404("No such camera on the public map.")
    agreement = camera.agreement or {}
    photo = _newest_photo(camera)
    response = JsonResponse(
        {
            "id": camera.pk,
            "status": camera.status,
            "status_label": camera.get_status_display(),
            "camera_type": camera.camera_type,
            "camera_mount": camera.camera_mount,
            "operator": camera.operator,
            "operator_type": camera.operator_type,
            "direction": camera.direction,
            "labels": {name: (agreement.get(name) or {}).get("label") or None for name in POPUP_ATTRIBUTES},
            "display": {
                "camera_type": camera.get_camera_type_display(),
                "camera_mount": camera.get_camera_mount_display(),
                "operator_type": camera.get_operator_type_display(),
            },
            "photo": photo.photo.url if photo is not None else None,
            "url": reverse("camera_detail", args=[camera.pk]),
            "verify_url": verify_url(camera),
        }
    )
    response["Cache-Control"] = "public, max-age=60"
    return response
