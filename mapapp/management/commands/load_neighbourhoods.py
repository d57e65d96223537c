"""`manage.py load_neighbourhoods FILE.geojson`: named polygons become neighbourhoods."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from mapapp import imports


class Command(BaseCommand):
    help = (
        "Load neighbourhoods from a GeoJSON FeatureCollection of Polygons/MultiPolygons. Loading the same file "
        "again updates in place (by slug). The whole file is checked before anything is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--name-field", default="name", help="the property holding the name (default: name)")

    def handle(self, *args: Any, file: Path, name_field: str, **options: Any) -> None:
        try:
            features = imports.parse_neighbourhoods(imports.read_json(file), name_field=name_field)
            with tqdm(total=len(features), unit="area", desc="Loading", file=sys.stderr, disable=None) as bar:
                summary = imports.neighbourhoods_load(features=features, source=file.name, progress=bar.update)
        except imports.ImportRejected as exc:
            raise CommandError(f"{file}: {exc}. Nothing was loaded.") from None
        self.stdout.write(summary.report())
