"""Public map pages (being built: see issue 5)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def neighbourhood(request: HttpRequest, slug: str) -> HttpResponse:
    raise Http404("not built yet")


def neighbourhood_embed(request: HttpRequest, slug: str) -> HttpResponse:
    raise Http404("not built yet")


def overview_map(request: HttpRequest) -> HttpResponse:
    raise Http404("not built yet")


def cameras_in_bbox(request: HttpRequest) -> HttpResponse:
    raise Http404("not built yet")
