"""The verification queue and the vote form. The rules live in services.verification."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .. import services
from ..forms import VoteForm
from ..models import Camera, Neighbourhood, Sighting

PHOTOS_PER_CAMERA = 3


def _near(request: HttpRequest) -> tuple[float, float] | None:
    try:
        lat, lon = float(request.GET["lat"]), float(request.GET["lon"])
    except (KeyError, ValueError):
        return None
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return lat, lon
    return None


def public_photos(camera: Camera) -> list[Sighting]:
    """Photos anyone may see: processed sightings whose photo no moderator hid."""
    return [s for s in camera.visible_sightings if s.photo][:PHOTOS_PER_CAMERA]


def attribute_rows(camera: Camera) -> list[dict[str, Any]]:
    """Each agreed attribute with its value as shown, and how much the reports agree."""
    rows = []
    for name, agreement in sorted((camera.agreement or {}).items()):
        try:
            field = Camera._meta.get_field(name)
        except FieldDoesNotExist:  # an attribute the model no longer has: skip, do not fail the page
            continue
        display = getattr(camera, f"get_{name}_display", None)
        value = display() if display else getattr(camera, name)
        rows.append(
            {
                "label": field.verbose_name,
                "value": value if value not in (None, "") else "unknown",
                "agreement": agreement.get("label", ""),
                "reports": agreement.get("reports"),
                "share": agreement.get("share"),
            }
        )
    return rows


def _queue_page(
    request: HttpRequest, *, status: int = 200, bound: tuple[int, VoteForm] | None = None, error: str = ""
) -> HttpResponse:
    neighbourhood = None
    if slug := request.GET.get("neighbourhood"):
        neighbourhood = get_object_or_404(Neighbourhood, slug=slug)
    near = _near(request)
    queue = services.verification_queue(
        near=near, neighbourhood_id=neighbourhood.pk if neighbourhood else None, user=request.user
    )
    visible = Sighting.objects.filter(status=Sighting.Status.PROCESSED, photo_hidden=False).order_by("-observed_at")
    cameras = Camera.objects.prefetch_related(Prefetch("sightings", queryset=visible, to_attr="visible_sightings"))
    by_pk = cameras.in_bulk([entry.camera.pk for entry in queue])
    entries = []
    for entry in queue:
        camera = by_pk[entry.camera.pk]
        bound_here = bound is not None and bound[0] == camera.pk
        form = bound[1] if bound_here else VoteForm(auto_id=f"id_c{camera.pk}_%s")
        entries.append(
            {
                "camera": camera,
                "distance_m": entry.distance_m,
                "photos": public_photos(camera),
                "attributes": attribute_rows(camera),
                "form": form,
            }
        )
    context = {
        "entries": entries,
        "near": near,
        "neighbourhood": neighbourhood,
        "neighbourhoods": Neighbourhood.objects.all(),
        "error": error,
    }
    return render(request, "mapapp/verify.html", context, status=status)


def queue(request: HttpRequest) -> HttpResponse:
    return _queue_page(request)


@require_POST
@login_required
def vote(request: HttpRequest, pk: int) -> HttpResponse:
    form = VoteForm(request.POST, auto_id=f"id_c{pk}_%s")
    if not form.is_valid():
        return _queue_page(request, status=400, bound=(pk, form))
    try:
        services.vote_cast(
            voter=request.user,
            camera_id=pk,
            verdict=form.cleaned_data["verdict"],
            corrections=form.corrections(),
        )
    except Camera.DoesNotExist as exc:
        raise Http404("No such camera.") from exc
    except PermissionDenied as exc:
        return _queue_page(request, status=403, error=str(exc))
    except ValidationError as exc:
        form.add_error(None, exc)
        return _queue_page(request, status=400, bound=(pk, form))
    messages.success(request, f"Thank you: your verdict on camera #{pk} is recorded.")
    return redirect("verify")
