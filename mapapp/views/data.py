"""/data/: the open-data snapshots to download, their licence, and where the live API is.

A file is served only if a complete snapshot's manifest lists it, or if it is that manifest
(mapapp.exports.snapshots.snapshot_file). The version must look like one (2026-11-22T0300Z), and
the file name must be on the list, so no path from the URL reaches the filesystem unchecked:
`../`, `.tmp` files and the files of an incomplete snapshot are 404s. The files are immutable
once published, so they may be cached for good. A web server in front may serve SNAPSHOT_ROOT
itself; these views mean the site needs none to work.
"""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_safe

from ..exports import formats
from ..exports.snapshots import FILES, MANIFEST, snapshot_file, snapshots_list

IMMUTABLE = "public, max-age=31536000, immutable"


def _api_docs() -> str:
    # The OpenAPI docs live in camerawatch/urls.py under this name.
    try:
        return reverse("api-docs")
    except NoReverseMatch:
        return "/api/docs/"


@require_safe
def data(request: HttpRequest) -> HttpResponse:
    snapshots = snapshots_list()
    latest = snapshots[0].manifest if snapshots else None
    context = {
        "snapshots": snapshots,
        "latest": latest,
        "licence": formats.LICENCE,
        "attribution": formats.ATTRIBUTION,
        "files": FILES,
        "columns": [(name, formats.COLUMN_DOCS[name]) for name in formats.PUBLIC_COLUMNS],
        "keep": settings.SNAPSHOT_KEEP,
        "api_root": reverse("api:root"),
        "api_docs": _api_docs(),
    }
    return render(request, "mapapp/data.html", context)


@require_safe
def data_file(request: HttpRequest, version: str, filename: str) -> FileResponse:
    path = snapshot_file(version, filename)
    if path is None:
        raise Http404("No such snapshot file.")
    try:
        handle = path.open("rb")
    except FileNotFoundError:  # pruned between the check and here
        raise Http404("No such snapshot file.") from None
    if filename == MANIFEST:
        response = FileResponse(handle, content_type="application/json")
    else:
        # A .gz file to keep, not a compressed transfer: no Content-Encoding, or a browser would
        # unpack it on the way and the SHA-256 in the manifest would not match what was saved.
        response = FileResponse(
            handle, as_attachment=True, filename=f"camerawatch-{version}-{filename}", content_type="application/gzip"
        )
    for name, value in formats.licence_headers().items():
        response[name] = value
    response["Cache-Control"] = IMMUTABLE
    return response
