"""`manage.py recluster [--neighbourhood SLUG | --bbox MINLON,MINLAT,MAXLON,MAXLAT]`."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max, Min
from tqdm import tqdm

from mapapp import services
from mapapp.models import Camera, Neighbourhood

BBox = tuple[float, float, float, float]


def parse_bbox(text: str) -> BBox:
    parts = text.split(",")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError:
        raise CommandError(f"--bbox must be four numbers MINLON,MINLAT,MAXLON,MAXLAT, got {text!r}") from None
    if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)):
        raise CommandError(f"--bbox must be finite numbers, got {text!r}")
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise CommandError(
            f"--bbox {text!r} is not a box: need -180 <= MINLON < MAXLON <= 180 and -90 <= MINLAT < MAXLAT <= 90 "
            "(longitude first, as in GeoJSON)"
        )
    return min_lon, min_lat, max_lon, max_lat


class Command(BaseCommand):
    help = (
        "Rebuild cameras from their sightings with the batch dedupe, one transaction per region. "
        "Camera ids are kept where a camera survives; emptied cameras forward to their heir. "
        "Without options, every camera is reclustered in tiles of --tile degrees."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--neighbourhood", metavar="SLUG", help="only cameras inside this neighbourhood")
        where.add_argument("--bbox", metavar="MINLON,MINLAT,MAXLON,MAXLAT")
        parser.add_argument(
            "--tile", type=float, default=0.05, help="tile size in degrees when reclustering everything (0.05)"
        )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parse_args = parser.parse_args

        def glued(args: Sequence[str] | None = None, namespace: Any = None) -> Any:
            # argparse reads "-122.4,47.5,..." (west of Greenwich) as an option, not as the value of
            # --bbox; glue it on as "--bbox=-122.4,..." so the natural spelling works.
            args = list(sys.argv[2:] if args is None else args)
            for i in range(len(args) - 1):
                if args[i] == "--bbox" and args[i + 1].startswith("-"):
                    args[i : i + 2] = [f"--bbox={args[i + 1]}"]
                    break
            return parse_args(args, namespace)

        parser.parse_args = glued  # type: ignore[method-assign]
        return parser

    def handle(self, *args: Any, neighbourhood: str | None, bbox: str | None, tile: float, **options: Any) -> None:
        if not 0.001 <= tile <= 10:
            raise CommandError(f"--tile must be between 0.001 and 10 degrees, got {tile}")
        # Parsed here rather than as an argparse type, so a bad box is a CommandError (a clear
        # message on the command line) instead of a traceback.
        regions = self._regions(neighbourhood, parse_bbox(bbox) if bbox is not None else None, tile)
        totals = services.ReclusterResult()
        with tqdm(total=len(regions), unit="region", desc="Reclustering", file=sys.stderr, disable=None) as bar:
            for label, box, polygon in regions:
                result = services.recluster_region(bbox=box, polygon=polygon, label=label)
                totals.cameras_before += result.cameras_before
                totals.cameras_after += result.cameras_after
                totals.sightings += result.sightings
                totals.moved += result.moved
                totals.created += result.created
                totals.retired += result.retired
                bar.update(1)
        self.stdout.write(
            f"{len(regions):,} region(s), {totals.sightings:,} sightings: {totals.cameras_before:,} cameras before, "
            f"{totals.cameras_after:,} after; {totals.moved:,} sightings moved, {len(totals.created):,} cameras "
            f"created, {len(totals.retired):,} retired (they forward to their heir)."
        )

    def _regions(self, slug: str | None, bbox: BBox | None, tile: float) -> list[tuple[str, BBox, dict | None]]:
        if slug is not None:
            area = Neighbourhood.objects.filter(slug=slug).first()
            if area is None:
                raise CommandError(f"No neighbourhood with slug {slug!r}. See the admin for the loaded ones.")
            return [(f"neighbourhood {slug}", (area.min_lon, area.min_lat, area.max_lon, area.max_lat), area.polygon)]
        if bbox is not None:
            return [(f"bbox {bbox}", bbox, None)]
        extent = Camera.objects.live().aggregate(Min("lat"), Max("lat"), Min("lon"), Max("lon"))
        if extent["lat__min"] is None:
            return []
        cells = {
            (math.floor(lat / tile), math.floor(lon / tile))
            for lat, lon in Camera.objects.live().values_list("lat", "lon").iterator(chunk_size=5000)
        }
        return [
            (
                f"tile {row},{col}",
                (col * tile, row * tile, min(180.0, (col + 1) * tile), min(90.0, (row + 1) * tile)),
                None,
            )
            for row, col in sorted(cells)
        ]
