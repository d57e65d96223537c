"""`manage.py import_osm FILE`: OpenStreetMap surveillance nodes become cameras, each with one import sighting."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from mapapp import imports, vocab


class Command(BaseCommand):
    help = (
        'Import OSM surveillance nodes from Overpass JSON (a list of elements or {"elements": [...]}) or a '
        "GeoJSON FeatureCollection of Points. Re-importing a file updates in place. The whole file is checked "
        "before anything is written; a bad file changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--surveillance-type",
            metavar="TYPE",
            help="value for nodes without surveillance:type, e.g. ALPR for DeFlock's files "
            f"({', '.join(vocab.SURVEILLANCE_TYPE.values)})",
        )

    def handle(self, *args: Any, file: Path, surveillance_type: str | None, **options: Any) -> None:
        started = time.perf_counter()
        try:
            elements = imports.parse_osm(imports.read_json(file))
            # disable=None: a live bar on a terminal, silence in cron logs and tests.
            with tqdm(total=len(elements.nodes), unit="node", desc="Importing", file=sys.stderr, disable=None) as bar:
                summary = imports.osm_import(
                    elements=elements,
                    surveillance_type_default=surveillance_type,
                    source=file.name,
                    progress=bar.update,
                )
        except imports.ImportRejected as exc:
            raise CommandError(f"{file}: {exc}. Nothing was imported.") from None
        self.stdout.write(summary.report())
        self.stdout.write(f"\nDone in {time.perf_counter() - started:.1f} s.")
