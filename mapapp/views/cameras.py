"""A camera's public page and the JSON its map popup loads (being built: see issue 5)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    raise Http404("not built yet")


def popup(request: HttpRequest, pk: int) -> HttpResponse:
    raise Http404("not built yet")
