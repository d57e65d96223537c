"""Importers: OpenStreetMap surveillance nodes (osm.py) and neighbourhood polygons (neighbourhoods.py).

Each import has a pure half that reads a decoded JSON document and validates all of it, and a
service half that writes it in one transaction, so a bad file changes nothing.
"""

from .common import ImportRejected, read_json
from .neighbourhoods import LoadSummary, NeighbourhoodFeature, assign_slugs, neighbourhoods_load, parse_neighbourhoods
from .osm import ImportSummary, OsmElements, OsmNode, normalise_tags, osm_import, parse_osm, surveillance_type_value

__all__ = [
    "ImportRejected",
    "ImportSummary",
    "LoadSummary",
    "NeighbourhoodFeature",
    "OsmElements",
    "OsmNode",
    "assign_slugs",
    "neighbourhoods_load",
    "normalise_tags",
    "osm_import",
    "parse_neighbourhoods",
    "parse_osm",
    "read_json",
    "surveillance_type_value",
]
