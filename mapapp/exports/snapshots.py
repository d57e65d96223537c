"""Versioned open-data snapshots: every public camera as gzip GeoJSON, CSV and OSM XML, with a manifest.

The nightly task (mapapp.tasks.export_snapshot, 03:00 UTC) and `manage.py export_snapshot` write
them, and /data/ lists and serves them (mapapp/views/data.py). Each snapshot is a folder named for
its version, the UTC minute it was taken:

    SNAPSHOT_ROOT/2026-11-22T0300Z/
        cameras.geojson.gz  cameras.csv.gz  cameras.osm.gz  manifest.json

The rows and columns are those of the API's export: mapapp/exports/__init__.py decides what is
public and formats.py prints it, so the API and the files cannot disagree on privacy.

Guarantees, and how they are kept:
* Nothing half-written is published. Each file is written under a `.tmp` name, flushed to disk and
  renamed into place, and the manifest is written last. A folder without manifest.json is
  incomplete: it is never listed and none of its files is served. A failure (an exception or
  Ctrl-C) removes the folder. A writer that is killed outright leaves its folder behind, and the
  next writer removes it.
* One state of the database. The three files come from three queries in one read transaction. On
  PostgreSQL it is REPEATABLE READ, where every statement sees the snapshot of the first. On SQLite
  every transaction is serializable, and in WAL mode a read transaction sees the database as of its
  first read until it ends. It is opened DEFERRED, not IMMEDIATE as our settings open writers, so
  volunteers' writes carry on during the export instead of queueing behind it. A caller that is
  already inside a transaction (a test) gets that transaction's view.
* Constant memory. Rows stream from a server-side cursor (chunked reads on SQLite) through the
  format writers into gzip, about a thousand rows at a time.
* One writer at a time. The writer takes an exclusive flock on SNAPSHOT_ROOT/.lock and does not
  wait for it: a second writer (another worker, or the command) gets SnapshotBusy. The kernel
  releases the lock when its process dies, so a killed worker never leaves it held. A version id
  exists at most once, so a second snapshot in the same minute returns the first.
* Pruning. After each snapshot only the newest SNAPSHOT_KEEP complete snapshots stay, and killed
  writers' leftovers are removed. This runs under the lock, so it never removes a snapshot that is
  being written. A download already under way survives the removal (POSIX unlink).

The manifest's checksums and sizes are those of the .gz files as stored and downloaded, so
`sha256sum` checks a download. The gzip headers carry no file name and no time.

Filters are the API's camera filters (mapapp/api/filters.py: the query parameters of
/api/v1/cameras/export/, with the same validation), as a dict of strings, for example
{"neighbourhood": "old-town", "status": "verified,disputed"}. No filters (the default) means every
public camera. The manifest records the filters and /data/ shows them, so nobody mistakes a
partial snapshot for the whole city.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from ..api.filters import CameraFilter
from ..models import Camera
from . import formats, precision, public_cameras, public_rows

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
VERSION_FORMAT = "%Y-%m-%dT%H%MZ"
VERSION_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{4}Z")
LOCK_FILE = ".lock"
# Rows per database round trip (a server-side cursor on PostgreSQL), as in the API's export.
FETCH_ROWS = 2000
# zlib's default level. Level 9 takes about twice the time for files about 2% smaller.
COMPRESS_LEVEL = 6

# Called with a file's name and the rows written to it so far, after each chunk (about 1,000 rows).
Progress = Callable[[str, int], None]


class SnapshotError(Exception):
    """A snapshot cannot be written as asked. Nothing was written."""


class BadFilter(SnapshotError, ValueError):
    """An unknown filter, or a value the API's filter refuses (the message says which and why)."""


class SnapshotBusy(SnapshotError):
    """Another process is writing a snapshot."""


@dataclass(frozen=True)
class FileSpec:
    name: str
    format: str
    media_type: str
    description: str
    # Only cameras that are not in OpenStreetMap yet (formats.osm_xml_chunks writes no others).
    new_to_osm_only: bool = False

    def chunks(self, rows: Iterable[Any], members: Mapping[str, Any]) -> Iterator[bytes]:
        if self.format == "geojson":
            return formats.geojson_chunks(rows, members=members)
        if self.format == "csv":
            return formats.csv_chunks(rows)
        return formats.osm_xml_chunks(rows)


FILES: tuple[FileSpec, ...] = (
    FileSpec(
        "cameras.geojson.gz",
        "geojson",
        "application/geo+json",
        "RFC 7946 FeatureCollection of Points ([lon, lat]). Every column except lat and lon is a property. "
        "The licence, attribution and citation are top-level members.",
    ),
    FileSpec(
        "cameras.csv.gz",
        "csv",
        "text/csv",
        "RFC 4180, UTF-8, a header row. Text cells that a spreadsheet would run as a formula start with '.",
    ),
    FileSpec(
        "cameras.osm.gz",
        "osm",
        "application/vnd.openstreetmap.data+xml",
        "OSM XML for review in JOSM, never for upload: only cameras not in OpenStreetMap yet, as new nodes.",
        new_to_osm_only=True,
    ),
)


@dataclass(frozen=True)
class Snapshot:
    version: str
    path: Path
    manifest: dict[str, Any]
    # True when this call wrote it; False when it was already there (the same minute) or listed.
    created: bool = False

    @property
    def files(self) -> list[dict[str, Any]]:
        return self.manifest["files"]


# --- Reading -------------------------------------------------------------------------------------


def _root(root: Path | str | None) -> Path:
    return Path(root if root is not None else settings.SNAPSHOT_ROOT)


def snapshot_get(version: str, *, root: Path | str | None = None) -> Snapshot | None:
    """The complete snapshot of this version, or None. A folder without a manifest is not one."""
    if not VERSION_RE.fullmatch(version):
        return None
    folder = _root(root) / version
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError:  # written atomically, so only a hand-edited manifest gets here
        log.warning("snapshot %s has an unreadable manifest; not listed", folder)
        return None
    return Snapshot(version=version, path=folder, manifest=manifest)


def snapshots_list(*, root: Path | str | None = None) -> list[Snapshot]:
    """Complete snapshots, newest first. Version ids sort chronologically as text."""
    folder = _root(root)
    if not folder.is_dir():
        return []
    versions = sorted((entry.name for entry in folder.iterdir() if VERSION_RE.fullmatch(entry.name)), reverse=True)
    return [snapshot for version in versions if (snapshot := snapshot_get(version, root=folder)) is not None]


def snapshot_file(version: str, filename: str, *, root: Path | str | None = None) -> Path | None:
    """The path of a file that a complete snapshot's manifest lists (or of the manifest), else None.

    The URL's version and file name only pick from what is on the list, so they cannot lead
    anywhere else. `../x`, `.tmp` files and the files of incomplete snapshots are not on it.
    """
    snapshot = snapshot_get(version, root=root)
    if snapshot is None:
        return None
    if filename != MANIFEST and filename not in {entry["name"] for entry in snapshot.files}:
        return None
    path = snapshot.path / filename
    return path if path.parent == snapshot.path and path.is_file() else None


# --- Filters -------------------------------------------------------------------------------------


def snapshot_cameras(filters: Mapping[str, object] | None = None) -> tuple[QuerySet[Camera], dict[str, str]]:
    """The public cameras that the filters select, and the filters as recorded (strings, sorted).

    A filter set to None counts as absent, so a command can pass its unset options through. An
    empty value is refused rather than ignored: a manifest that named a filter which did nothing
    would mislead.
    """
    given = {name: str(value).strip() for name, value in (filters or {}).items() if value is not None}
    known = sorted(CameraFilter.base_filters)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise BadFilter(f"Unknown filter {', '.join(unknown)}; snapshots take {', '.join(known)}.")
    empty = sorted(name for name, value in given.items() if not value)
    if empty:
        raise BadFilter(f"Filter {', '.join(empty)} has no value; give one or leave the filter out.")
    filterset = CameraFilter(data=given, queryset=public_cameras())
    if not filterset.is_valid():
        raise BadFilter("; ".join(f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items()))
    return filterset.qs, dict(sorted(given.items()))


# --- Writing -------------------------------------------------------------------------------------


@contextmanager
def snapshot_lock(root: Path | str | None = None) -> Iterator[None]:
    """Hold the writers' lock, or raise SnapshotBusy at once if another process holds it."""
    folder = _root(root)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SnapshotBusy(
                f"Another snapshot is being written (its lock, {folder / LOCK_FILE}, is held). Try again later."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def snapshot_write(
    *,
    filters: Mapping[str, object] | None = None,
    now: datetime | None = None,
    root: Path | str | None = None,
    keep: int | None = None,
    progress: Progress | None = None,
) -> Snapshot:
    """Write the snapshot of this minute (`now`, default the current time), then prune old ones.

    Bad filters raise BadFilter before anything touches the disk. If this minute's snapshot
    already exists with the same filters, it is returned as it is (`created` False). With other
    filters, SnapshotError is raised: a version id names one set of files.
    """
    cameras, used = snapshot_cameras(filters)
    folder_root = _root(root)
    keep = settings.SNAPSHOT_KEEP if keep is None else keep
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    generated = (now or timezone.now()).astimezone(UTC).replace(microsecond=0)
    version = generated.strftime(VERSION_FORMAT)
    with snapshot_lock(folder_root):
        existing = snapshot_get(version, root=folder_root)
        if existing is not None:
            if existing.manifest.get("filters") != used:
                raise SnapshotError(
                    f"Snapshot {version} already exists with other filters ({existing.manifest.get('filters')}); "
                    "a version holds one set of files. Try again in a minute."
                )
            return existing
        folder = folder_root / version
        if folder.exists():  # a killed writer's leftover; we hold the lock, so nobody is writing it
            shutil.rmtree(folder)
        folder.mkdir()
        try:
            manifest = _write_snapshot(
                folder, cameras, version=version, generated=generated, filters=used, progress=progress
            )
        except BaseException:  # KeyboardInterrupt too: nothing half-written stays
            shutil.rmtree(folder, ignore_errors=True)
            raise
        _fsync_dir(folder_root)
        snapshots_prune(keep=keep, root=folder_root)
    return Snapshot(version=version, path=folder, manifest=manifest, created=True)


def snapshots_prune(*, keep: int, root: Path | str | None = None) -> list[str]:
    """Remove all but the newest `keep` complete snapshots, and incomplete folders. Returns the
    versions removed. Call it with the lock held: it takes every incomplete folder for a dead
    writer's leftover."""
    folder = _root(root)
    removed = [snapshot.version for snapshot in snapshots_list(root=folder)[keep:]]
    for version in removed:
        # The manifest first: the snapshot stops being listed at once, before its files go.
        (folder / version / MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(folder / version, ignore_errors=True)
    for entry in folder.iterdir():
        if VERSION_RE.fullmatch(entry.name) and entry.is_dir() and not (entry / MANIFEST).exists():
            log.warning("removing incomplete snapshot folder %s (a writer died while writing it)", entry)
            shutil.rmtree(entry, ignore_errors=True)
    return removed


def _write_snapshot(
    folder: Path,
    cameras: QuerySet[Camera],
    *,
    version: str,
    generated: datetime,
    filters: dict[str, str],
    progress: Progress | None,
) -> dict[str, Any]:
    """The three files, then the manifest. Returns the manifest."""
    citation_url = settings.SNAPSHOT_BASE_URL + reverse("data_file", args=[version, MANIFEST])
    licence = formats.licence_members(accessed=generated.date(), url=citation_url)
    members = {**licence, "snapshot": version}
    entries = []
    with _one_database_state():
        for spec in FILES:
            selected = cameras.filter(osm_id__isnull=True) if spec.new_to_osm_only else cameras
            rows = _Counted(public_rows(selected.order_by("id")).iterator(chunk_size=FETCH_ROWS))

            def report(spec: FileSpec = spec, rows: _Counted = rows) -> None:
                if progress is not None:
                    progress(spec.name, rows.count)

            path = folder / spec.name
            _write_gzip(path, spec.chunks(rows, members), after_chunk=report)
            entries.append(
                {
                    "name": spec.name,
                    "format": spec.format,
                    "media_type": spec.media_type,
                    "compression": "gzip",
                    "rows": rows.count,
                    "bytes": path.stat().st_size,
                    "sha256": _sha256(path),
                    "description": spec.description,
                }
            )
    _fsync_dir(folder)  # the files' renames are on disk before the manifest's
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "title": "CameraWatch surveillance cameras",
        "version": version,
        "generated_at": generated.isoformat().replace("+00:00", "Z"),
        "filters": filters,
        "filters_note": "Query parameters of /api/v1/cameras/export/ that selected the cameras; "
        "{} means every public camera.",
        "public_date_precision": precision(),
        "dates": "Days in UTC, or the first day of their month (public_date_precision), never times.",
        **licence,
        "columns": [{"name": name, "description": formats.COLUMN_DOCS[name]} for name in formats.PUBLIC_COLUMNS],
        "files": entries,
        "checksums": "bytes and sha256 are those of the .gz file as downloaded.",
    }
    _write_atomically(folder / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n")
    _fsync_dir(folder)
    return manifest


@contextmanager
def _one_database_state() -> Iterator[None]:
    """A read transaction that makes every query see the same database state (see the module docstring)."""
    if connection.in_atomic_block:
        yield
    elif connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    else:
        with _sqlite_deferred(), transaction.atomic():
            yield


@contextmanager
def _sqlite_deferred() -> Iterator[None]:
    """Transactions that begin here begin DEFERRED: a reader that does not hold the write lock.

    Django reads the mode when atomic() issues BEGIN, and resets it whenever it connects, so this
    connects first. Only the snapshot's own transaction begins inside (nested atomics are savepoints).
    """
    connection.ensure_connection()
    mode = connection.transaction_mode
    connection.transaction_mode = "DEFERRED"
    try:
        yield
    finally:
        connection.transaction_mode = mode


class _Counted:
    """The rows, counted as they stream past."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        for row in self._rows:
            self.count += 1
            yield row


def _write_gzip(path: Path, chunks: Iterable[bytes], *, after_chunk: Callable[[], None]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "xb") as raw:
        # No file name and mtime 0 in the header: the same rows make the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=COMPRESS_LEVEL, mtime=0) as packed:
            for chunk in chunks:
                packed.write(chunk)
                after_chunk()
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(tmp, path)


def _write_atomically(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "xb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    """Make the renames in a folder durable (a power cut must not bring back a manifest without its files)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
