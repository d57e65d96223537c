"""The discussion thread, flags, and the moderators' page. Who may do what is the services' call.

Pages show volunteers by their handle only. A ban names a sighting; its reporter is looked up
here, so no page has to carry a user id, username or email.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .. import services
from ..forms import CommentForm, FlagForm, ModerationActionForm
from ..models import Assignment, AuditEvent, Camera, Comment, Flag, Sighting
from .verification import attribute_rows

LOW_SCORE_DAYS = 30
LOW_SCORE_LIMIT = 50
QUEUE_LIMIT = 200


# --- Discussion and flags -------------------------------------------------------------------------


def _discussion_page(
    request: HttpRequest,
    camera: Camera,
    *,
    comment_form: CommentForm | None = None,
    flag_form: FlagForm | None = None,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    moderator = services.is_moderator(request.user)
    comments = Comment.objects.filter(camera=camera).select_related("author__profile").order_by("created_at", "pk")
    if not moderator:
        comments = comments.filter(hidden=False)
    sightings = Sighting.objects.filter(camera=camera, status=Sighting.Status.PROCESSED).order_by("-observed_at")
    context = {
        "camera": camera,
        "attributes": attribute_rows(camera),
        "comments": comments,
        "sightings": sightings[:20],
        "comment_form": comment_form or CommentForm(),
        "flag_form": flag_form or FlagForm(),
        "is_moderator": moderator,
        "error": error,
    }
    return render(request, "mapapp/discussion.html", context, status=status)


def _camera(pk: int) -> Camera:
    return get_object_or_404(Camera, pk=pk)


def discussion(request: HttpRequest, pk: int) -> HttpResponse:
    camera = _camera(pk)
    if camera.merged_into_id is not None:
        return redirect("camera_discussion", pk=camera.merged_into_id)
    if request.method != "POST":
        return _discussion_page(request, camera)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _discussion_page(request, camera, comment_form=form, status=400)
    try:
        services.comment_post(author=request.user, camera_id=camera.pk, body=form.cleaned_data["body"])
    except PermissionDenied as exc:
        return _discussion_page(request, camera, status=403, error=str(exc))
    except ValidationError as exc:
        form.add_error(None, exc)
        return _discussion_page(request, camera, comment_form=form, status=400)
    messages.success(request, "Your comment is posted.")
    return redirect("camera_discussion", pk=camera.pk)


def _flag(request: HttpRequest, camera: Camera, **target: int) -> HttpResponse:
    form = FlagForm(request.POST)
    if not form.is_valid():
        return _discussion_page(request, camera, flag_form=form, status=400)
    try:
        services.flag_raise(flagger=request.user, reason=form.cleaned_data["reason"], **target)
    except ObjectDoesNotExist as exc:
        raise Http404("Nothing to flag here.") from exc
    except PermissionDenied as exc:
        return _discussion_page(request, camera, status=403, error=str(exc))
    except ValidationError as exc:
        form.add_error(None, exc)
        return _discussion_page(request, camera, flag_form=form, status=400)
    messages.success(request, "Thank you: a moderator will look at it.")
    return redirect("camera_discussion", pk=camera.pk)


@require_POST
@login_required
def camera_flag(request: HttpRequest, pk: int) -> HttpResponse:
    camera = _camera(pk)
    return _flag(request, camera, camera_id=camera.pk)


@require_POST
@login_required
def sighting_flag(request: HttpRequest, pk: int) -> HttpResponse:
    sighting = get_object_or_404(Sighting.objects.exclude(status=Sighting.Status.HIDDEN), pk=pk)
    if sighting.camera_id is None:
        raise Http404("This sighting is not on the map yet.")
    return _flag(request, sighting.camera, sighting_id=sighting.pk)


# --- The moderators' page -------------------------------------------------------------------------


def _moderate_page(request: HttpRequest, *, status: int = 200, errors: list[str] | None = None) -> HttpResponse:
    since = timezone.now() - timedelta(days=LOW_SCORE_DAYS)
    low_scores = (
        Assignment.objects.filter(
            kind__in=[Assignment.Kind.MATCHED, Assignment.Kind.REGROUPED],
            score__lt=settings.MODERATION_LOW_SCORE,
            created_at__gte=since,
        )
        .select_related("sighting", "camera")
        .order_by("-created_at")[:LOW_SCORE_LIMIT]
    )
    flags = (
        Flag.objects.open()
        .select_related("camera", "sighting__reporter__profile", "flagger__profile")
        .order_by("created_at")[:QUEUE_LIMIT]
    )
    disputed = (
        Camera.objects.live()
        .filter(status=Camera.Status.DISPUTED)
        .prefetch_related(Prefetch("sightings", queryset=Sighting.objects.order_by("-observed_at")))
        .order_by("status_changed_at")[:QUEUE_LIMIT]
    )
    context = {
        "disputed": disputed,
        "flags": flags,
        "low_scores": low_scores,
        "low_score": settings.MODERATION_LOW_SCORE,
        "low_score_days": LOW_SCORE_DAYS,
        "statuses": Camera.Status.choices,
        "errors": errors or [],
        "admin_cameras": reverse("admin:mapapp_camera_changelist"),
        "admin_sightings": reverse("admin:mapapp_sighting_changelist"),
        "recent_actions": AuditEvent.objects.exclude(actor=None).order_by("-created_at")[:20],
    }
    return render(request, "mapapp/moderate.html", context, status=status)


def _not_a_moderator(request: HttpRequest) -> HttpResponse:
    return render(request, "mapapp/moderate.html", {"denied": "Only moderators can do this."}, status=403)


@login_required
def moderate(request: HttpRequest) -> HttpResponse:
    if not services.is_moderator(request.user):
        return _not_a_moderator(request)
    return _moderate_page(request)


def _reporter(sighting_id: int) -> int:
    return Sighting.objects.values_list("reporter_id", flat=True).get(pk=sighting_id)


# Each action: (target, actor, reason, status) -> the service call.
ACTIONS: dict[str, Callable[..., AuditEvent]] = {
    "sighting_hide": lambda t, a, r, s: services.sighting_hide(sighting_id=t, actor=a, reason=r),
    "sighting_unhide": lambda t, a, r, s: services.sighting_unhide(sighting_id=t, actor=a, reason=r),
    "photo_hide": lambda t, a, r, s: services.photo_hide(sighting_id=t, actor=a, reason=r),
    "photo_unhide": lambda t, a, r, s: services.photo_hide(sighting_id=t, actor=a, reason=r, hidden=False),
    "volunteer_ban": lambda t, a, r, s: services.volunteer_ban(user_id=_reporter(t), actor=a, reason=r),
    "volunteer_unban": lambda t, a, r, s: services.volunteer_unban(user_id=_reporter(t), actor=a, reason=r),
    "expert_verdict": lambda t, a, r, s: services.camera_expert_verdict(camera_id=t, actor=a, status=s, reason=r),
    "flag_resolve": lambda t, a, r, s: services.flag_resolve(flag_id=t, actor=a, resolution=r),
    "comment_hide": lambda t, a, r, s: services.comment_hide(comment_id=t, actor=a, reason=r),
    "comment_unhide": lambda t, a, r, s: services.comment_hide(comment_id=t, actor=a, reason=r, hidden=False),
}


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [message for messages_ in error.message_dict.values() for message in messages_]
    return error.messages


@require_POST
@login_required
def moderate_action(request: HttpRequest) -> HttpResponse:
    if not services.is_moderator(request.user):
        return _not_a_moderator(request)
    form = ModerationActionForm(request.POST)
    if not form.is_valid():
        errors = [f"{name}: {message}" for name, field_errors in form.errors.items() for message in field_errors]
        return _moderate_page(request, status=400, errors=errors)
    data = form.cleaned_data
    try:
        ACTIONS[data["action"]](data["target"], request.user, data["reason"], data["status"])
    except ObjectDoesNotExist as exc:
        raise Http404("Nothing with that id.") from exc
    except PermissionDenied as exc:
        return render(request, "mapapp/moderate.html", {"denied": str(exc)}, status=403)
    except ValidationError as exc:
        return _moderate_page(request, status=400, errors=_messages(exc))
    messages.success(request, f"Done: {dict(form.fields['action'].choices)[data['action']].lower()}.")
    target = data.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("moderate")
