"""`manage.py export_snapshot [--neighbourhood SLUG] [--status STATUS[,STATUS...]]`: an open-data snapshot now."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat
from tqdm import tqdm

from mapapp.api.filters import PUBLIC_STATUSES
from mapapp.exports.snapshots import Snapshot, SnapshotError, snapshot_write


class _Bars:
    """One progress line per file, counting its rows. Silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.bar: tqdm | None = None

    def __call__(self, name: str, rows: int) -> None:
        if name != self.name:
            self.close()
            self.name = name
            self.bar = tqdm(unit=" rows", desc=name, file=sys.stderr, disable=None)
        self.bar.update(rows - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    help = (
        "Write an open-data snapshot of the public cameras now: gzip GeoJSON, CSV and OSM XML with a "
        "manifest, in SNAPSHOT_ROOT, listed on /data/. The oldest snapshots beyond SNAPSHOT_KEEP are "
        "removed. The nightly Celery task does the same for every public camera."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--neighbourhood", metavar="SLUG", help="only the cameras in this neighbourhood")
        parser.add_argument(
            "--status",
            metavar="STATUS[,STATUS...]",
            help=f"only cameras with this status, or one of several separated by commas: {', '.join(PUBLIC_STATUSES)}",
        )

    def handle(self, *args: Any, neighbourhood: str | None, status: str | None, **options: Any) -> None:
        bars = _Bars()
        try:
            snapshot = snapshot_write(filters={"neighbourhood": neighbourhood, "status": status}, progress=bars)
        except SnapshotError as exc:
            raise CommandError(f"{exc} Nothing was written.") from None
        finally:
            bars.close()
        self.stdout.write(summary(snapshot))


def summary(snapshot: Snapshot) -> str:
    manifest = snapshot.manifest
    filters = ", ".join(f"{k}={v}" for k, v in manifest["filters"].items()) or "none (every public camera)"
    lines = [
        f"Snapshot {snapshot.version} {'written' if snapshot.created else 'already there (this minute)'}: "
        f"{snapshot.path}",
        f"  generated {manifest['generated_at']}; filters: {filters}; dates to the "
        f"{manifest['public_date_precision']}; licence {manifest['license']['id']}",
    ]
    width = max(len(f["name"]) for f in manifest["files"])
    for f in manifest["files"]:
        lines.append(
            f"  {f['name']:<{width}}  {f['rows']:>9,} rows  {filesizeformat(f['bytes']):>9}  sha256 {f['sha256']}"
        )
    lines.append(f"  manifest: {snapshot.path / 'manifest.json'}")
    return "\n".join(lines)
