"""Submitting a sighting on the web, and the reporter's view of it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from .. import services
from ..forms import SightingForm
from ..models import Camera, Neighbourhood, Sighting


@login_required
def new(request: HttpRequest) -> HttpResponse:
    form = SightingForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.sighting_submit(
                reporter=request.user,
                data=form.sighting_data(),
                photo=form.cleaned_data.get("photo"),
                source=Sighting.Source.WEB,
                client_id=form.cleaned_data.get("client_id"),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except services.IdempotencyConflict:
            # The page was submitted twice with different content: treat it as a new form.
            form.add_error(None, "This form was already submitted. Please reload the page and try again.")
        else:
            return redirect("sighting_detail", pk=result.sighting.pk)
    return render(request, "mapapp/sighting_form.html", {"form": form, "map_center": _start_view(form)})


def _start_view(form: SightingForm) -> dict[str, float]:
    """Where the picker opens: the typed position, else the area with data, else the world."""
    lat, lon = form["lat"].value(), form["lon"].value()
    try:
        return {"lat": float(lat), "lon": float(lon), "zoom": 18}
    except (TypeError, ValueError):
        pass
    area = Neighbourhood.objects.order_by("-area_km2").first()
    if area is not None:
        return {"lat": (area.min_lat + area.max_lat) / 2, "lon": (area.min_lon + area.max_lon) / 2, "zoom": 15}
    camera = Camera.objects.order_by("-last_seen").first()
    if camera is not None:
        return {"lat": camera.lat, "lon": camera.lon, "zoom": 15}
    return {"lat": 20.0, "lon": 0.0, "zoom": 2}


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    # Only the reporter sees their own sighting page: a sighting tells where someone walked, when.
    sighting = get_object_or_404(Sighting, pk=pk, reporter=request.user)
    return render(request, "mapapp/sighting_detail.html", {"sighting": sighting})
