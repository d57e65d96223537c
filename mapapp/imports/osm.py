"""OpenStreetMap surveillance nodes: parse and normalise (pure), then write cameras and sightings."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import services, vocab
from ..models import Assignment, Camera, CameraAttributes, Sighting
from ..services.neighbourhoods import area_index
from .common import ImportRejected, describe

OSM_USERNAME, OSM_HANDLE = "openstreetmap", "OpenStreetMap"
# Nodes per round of queries. Each round is two look-ups plus bulk writes; 2,000 keeps every
# statement well under SQLite's and PostgreSQL's parameter limits.
BATCH_SIZE = 2000
OSM_ID_MAX = 2**63 - 1  # BigIntegerField
OPERATOR_MAX_LENGTH = CameraAttributes._meta.get_field("operator").max_length
DIRTY_VALUES_KEPT = 25  # per attribute in the audit record; a messy file has a thousand distinct ones

TAG_KEYS = vocab.TAG_KEYS  # the OSM keys each attribute is read from (and exported to)
OUTCOMES = (vocab.CLEAN, vocab.MAPPED, vocab.DIRTY, vocab.MISSING)


# --- OSM: parsing (pure) -----------------------------------------------------------------------


@dataclass(frozen=True)
class OsmNode:
    osm_id: int
    lat: float
    lon: float
    tags: dict[str, Any]


@dataclass(frozen=True)
class OsmElements:
    """A file's nodes, validated, plus what was left out and why."""

    nodes: list[OsmNode]
    # Ways, relations and non-Point features. They are not imported, not even by their "center":
    # `Camera.osm_id` holds *node* ids, and way 123 is a different object from node 123.
    skipped: int = 0
    # Repeats of an identical node, as Overpass prints with several `out` statements.
    duplicates: int = 0


def parse_osm(document: Any) -> OsmElements:
    """Validate an Overpass or GeoJSON document completely; the first problem raises ImportRejected.

    Accepted shapes: a bare list of `{type, id, lat, lon, tags}` (elements without `type` are
    nodes, as in DeFlock's files), `{"elements": [...]}` as Overpass prints it, and a GeoJSON
    FeatureCollection of Points whose properties are the tags (overpass-turbo and osmtogeojson
    exports). A node id appearing twice with different data is an error, since one of the two
    would be silently lost.
    """
    if isinstance(document, list):
        candidates = _overpass_candidates(document)
    elif isinstance(document, dict) and isinstance(document.get("elements"), list):
        candidates = _overpass_candidates(document["elements"])
    elif isinstance(document, dict) and document.get("type") == "FeatureCollection":
        if not isinstance(document.get("features"), list):
            raise ImportRejected('the FeatureCollection has no "features" list')
        candidates = _geojson_candidates(document["features"])
    else:
        raise ImportRejected(
            'expected Overpass JSON (a list of elements, or an object with an "elements" list) '
            f"or a GeoJSON FeatureCollection, got {describe(document)}"
        )
    nodes: dict[int, OsmNode] = {}
    first_label: dict[int, str] = {}
    skipped = duplicates = 0
    for label, element in candidates:
        if element is None:
            skipped += 1
            continue
        node = _node(label, element)
        if node.osm_id in nodes:
            if nodes[node.osm_id] != node:
                raise ImportRejected(
                    f"{label}: node {node.osm_id} also appears as {first_label[node.osm_id]}, with different data"
                )
            duplicates += 1
            continue
        nodes[node.osm_id] = node
        first_label[node.osm_id] = label
    return OsmElements(nodes=list(nodes.values()), skipped=skipped, duplicates=duplicates)


Candidate = tuple[str, dict[str, Any] | None]  # (label for messages, element in Overpass form or None to skip)


def _overpass_candidates(elements: list[Any]) -> Iterator[Candidate]:
    for i, element in enumerate(elements):
        label = f"element {i}"
        if not isinstance(element, dict):
            raise ImportRejected(f"{label} is {describe(element)}, not an object")
        yield label, (element if element.get("type", "node") == "node" else None)


def _geojson_candidates(features: list[Any]) -> Iterator[Candidate]:
    for i, feature in enumerate(features):
        label = f"feature {i}"
        if not isinstance(feature, dict):
            raise ImportRejected(f"{label} is {describe(feature)}, not an object")
        geom = feature.get("geometry")
        props = feature.get("properties") or {}
        if not isinstance(props, dict) or not (geom is None or isinstance(geom, dict)):
            raise ImportRejected(f"{label}: properties and geometry must be objects")
        kind, osm_id = _geojson_id(feature, props)
        if geom is None or geom.get("type") != "Point" or kind != "node":
            yield label, None
            continue
        coords = geom.get("coordinates")
        if not isinstance(coords, list) or len(coords) < 2:
            raise ImportRejected(f"{label}: Point coordinates must be [lon, lat], got {coords!r}")
        # osmtogeojson's older output nests the tags; overpass-turbo's flattens them beside "@id" etc.
        if isinstance(props.get("tags"), dict):
            tags = props["tags"]
        else:
            tags = {k: v for k, v in props.items() if not k.startswith("@") and k != "id"}
        yield label, {"id": osm_id, "lon": coords[0], "lat": coords[1], "tags": tags}


def _geojson_id(feature: dict[str, Any], props: dict[str, Any]) -> tuple[str, Any]:
    """("node", 123) from a feature id "node/123", or from property "@id" or "id"."""
    raw = next((r for r in (feature.get("id"), props.get("@id"), props.get("id")) if r is not None), None)
    if isinstance(raw, str):
        kind, _, number = raw.rpartition("/")
        raw = int(number) if number.isdecimal() else raw
        return kind or "node", raw
    return "node", raw


def _node(label: str, element: dict[str, Any]) -> OsmNode:
    osm_id = element.get("id")
    if osm_id is None:
        raise ImportRejected(f"{label}: id is missing")
    if isinstance(osm_id, bool) or not isinstance(osm_id, int) or not 0 < osm_id <= OSM_ID_MAX:
        raise ImportRejected(f"{label}: id must be a positive whole number, got {osm_id!r}")
    where = f"{label} (node {osm_id})"
    lat = _coordinate(where, element, "lat", 90)
    lon = _coordinate(where, element, "lon", 180)
    tags = element.get("tags") or {}
    if not isinstance(tags, dict):
        raise ImportRejected(f"{where}: tags must be an object, got {describe(tags)}")
    return OsmNode(osm_id=osm_id, lat=lat, lon=lon, tags=tags)


def _coordinate(where: str, element: dict[str, Any], key: str, limit: int) -> float:
    value = element.get(key)
    if value is None:
        raise ImportRejected(f"{where}: {key} is missing")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ImportRejected(f"{where}: {key} must be a number, got {value!r}")
    # Python's json accepts NaN and Infinity, which pass no range check by comparison alone.
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise ImportRejected(f"{where}: {key} {value} is outside -{limit}..{limit}")
    return float(value)


# --- OSM: normalising (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class NormalisedTags:
    attributes: dict[str, Any]  # model field -> value to store
    outcomes: dict[str, str]  # model field -> clean/mapped/dirty/missing
    dirty: dict[str, str]  # model field -> the raw value that could not be used


def surveillance_type_value(raw: str) -> str:
    """The vocabulary value for a `--surveillance-type` option; synonyms ("alpr") are accepted."""
    value, outcome = vocab.SURVEILLANCE_TYPE.normalise(raw)
    if outcome not in (vocab.CLEAN, vocab.MAPPED):
        choices = ", ".join(vocab.SURVEILLANCE_TYPE.values)
        raise ImportRejected(f"surveillance type must be one of {choices}, got {raw!r}")
    return value


def normalise_tags(tags: Mapping[str, Any], *, surveillance_type_default: str | None = None) -> NormalisedTags:
    """Map one node's raw tags onto the attribute fields.

    A missing `surveillance:type` takes `surveillance_type_default` (a vocabulary value) when given,
    and is still counted as missing: the count describes the file, not what we stored.
    """
    attributes: dict[str, Any] = {}
    outcomes: dict[str, str] = {}
    dirty: dict[str, str] = {}
    for name in CameraAttributes.ATTRIBUTE_FIELDS:
        raw = next((tags[k] for k in TAG_KEYS[name] if not _blank(tags.get(k))), None)
        if name in vocab.BY_FIELD:
            value, outcome = vocab.BY_FIELD[name].normalise(raw)
            if name == "surveillance_type" and outcome == vocab.MISSING and surveillance_type_default:
                value = surveillance_type_default
        elif name == "direction":
            value, outcome = vocab.normalise_direction(raw)
        elif name == "height":
            value, outcome = vocab.normalise_height(raw)
        elif name == "camera_angle":
            value, outcome = vocab.normalise_angle(raw)
        else:  # operator: free text
            value, outcome = _operator(raw)
        attributes[name], outcomes[name] = value, outcome
        if outcome == vocab.DIRTY:
            dirty[name] = str(raw)
    return NormalisedTags(attributes=attributes, outcomes=outcomes, dirty=dirty)


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _operator(raw: Any) -> tuple[str, str]:
    if _blank(raw):
        return "", vocab.MISSING
    text = str(raw).strip()
    if len(text) > OPERATOR_MAX_LENGTH:
        return text[:OPERATOR_MAX_LENGTH], vocab.MAPPED
    return text, vocab.CLEAN


@dataclass
class ImportSummary:
    source: str = ""
    nodes: int = 0
    created: int = 0
    updated: int = 0  # nodes already imported before (whether or not anything differed)
    unchanged: int = 0  # of those, how many needed no write at all
    skipped: int = 0
    duplicates: int = 0
    surveillance_type_default: str | None = None
    outcomes: dict[str, Counter[str]] = field(
        default_factory=lambda: {name: Counter() for name in CameraAttributes.ATTRIBUTE_FIELDS}
    )
    dirty_values: dict[str, Counter[str]] = field(
        default_factory=lambda: {name: Counter() for name in CameraAttributes.ATTRIBUTE_FIELDS}
    )
    stored_for_dirty: dict[str, Any] = field(default_factory=dict)

    def tally(self, normalised: NormalisedTags) -> None:
        for name, outcome in normalised.outcomes.items():
            self.outcomes[name][outcome] += 1
        for name, raw in normalised.dirty.items():
            self.dirty_values[name][raw] += 1
            self.stored_for_dirty[name] = normalised.attributes[name]

    def as_dict(self) -> dict[str, Any]:
        """JSON for the audit record; only the most common dirty values of each attribute."""
        return {
            "source": self.source,
            "nodes": self.nodes,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "duplicates": self.duplicates,
            "surveillance_type_default": self.surveillance_type_default,
            "outcomes": {name: {o: counts[o] for o in OUTCOMES} for name, counts in self.outcomes.items()},
            "dirty_values": {
                name: dict(counts.most_common(DIRTY_VALUES_KEPT))
                for name, counts in self.dirty_values.items()
                if counts
            },
        }

    def report(self, *, examples: int = 8) -> str:
        lines = [
            f"{self.source or 'OSM data'}: {self.nodes:,} nodes; {self.created:,} created, {self.updated:,} updated "
            f"({self.unchanged:,} already up to date); {self.skipped:,} skipped (not nodes), "
            f"{self.duplicates:,} duplicates.",
        ]
        if not self.nodes:
            return lines[0]
        lines += ["", f"{'tag':<36}" + "".join(f"{o:>9}" for o in OUTCOMES)]
        for name, counts in self.outcomes.items():
            row = f"{'/'.join(TAG_KEYS[name]):<36}" + "".join(f"{counts[o]:>9,}" for o in OUTCOMES)
            if name == "surveillance_type" and self.surveillance_type_default and counts[vocab.MISSING]:
                row += f"  (missing ones set to {self.surveillance_type_default})"
            lines.append(row)
        if any(self.dirty_values.values()):
            lines += ["", "Dirty values, with the value stored instead (the raw tags are kept in osm_tags):"]
        for name, counts in self.dirty_values.items():
            if counts:
                stored = self.stored_for_dirty[name]
                shown = ", ".join(f"{raw!r} ×{n}" for raw, n in counts.most_common(examples))
                more = f", and {len(counts) - examples:,} other values" if len(counts) > examples else ""
                lines.append(f"  {'/'.join(TAG_KEYS[name])} → {'empty' if stored is None else stored}: {shown}{more}")
        return "\n".join(lines)


# --- OSM: writing ------------------------------------------------------------------------------

# The neighbourhood follows the position (imported cameras skip summary_values, which places the rest).
CAMERA_SYNCED = ("lat", "lon", "osm_tags", *CameraAttributes.ATTRIBUTE_FIELDS, "neighbourhood_id")
# camera_id is set when the sighting is created and never re-synced: after that, the sighting's
# camera is dedupe's and the moderators' to change (with history), not the importer's.
SIGHTING_SYNCED = ("lat", "lon", *CameraAttributes.ATTRIBUTE_FIELDS)


@transaction.atomic
def osm_import(
    *,
    elements: OsmElements,
    surveillance_type_default: str | None = None,
    source: str = "",
    progress: Callable[[int], object] | None = None,
) -> ImportSummary:
    """Create or update one Camera and one import Sighting per OSM node, all or nothing.

    Idempotent: cameras are keyed by `osm_id` and sightings by (OpenStreetMap system user,
    "osm-node-<id>"), so importing a file again updates in place. Only OSM-owned fields are
    updated (position, raw tags, attributes); status, vote counts and sighting_count belong to
    the volunteers' side and are left alone. A row whose values are unchanged is not written, so a
    re-import does not make every camera look freshly changed in "changed since" feeds.

    `progress` is called with the number of nodes written after each batch.
    """
    default = surveillance_type_value(surveillance_type_default) if surveillance_type_default else None
    summary = ImportSummary(
        source=source,
        nodes=len(elements.nodes),
        skipped=elements.skipped,
        duplicates=elements.duplicates,
        surveillance_type_default=default,
    )
    reporter = services.system_user(username=OSM_USERNAME, handle=OSM_HANDLE)
    now = timezone.now()
    for start in range(0, len(elements.nodes), BATCH_SIZE):
        batch = elements.nodes[start : start + BATCH_SIZE]
        rows = [(node, normalise_tags(node.tags, surveillance_type_default=default)) for node in batch]
        for _, normalised in rows:
            summary.tally(normalised)
        camera_ids = _write_cameras(rows, now=now, summary=summary)
        _write_sightings(rows, camera_ids=camera_ids, reporter=reporter, now=now)
        if progress is not None:
            progress(len(batch))
    services.audit_record(action="osm_import", target=None, data=summary.as_dict())
    return summary


Rows = list[tuple[OsmNode, NormalisedTags]]


def _write_cameras(rows: Rows, *, now: datetime, summary: ImportSummary) -> dict[int, int]:
    """Camera pk per node id of the batch."""
    existing = {
        row["osm_id"]: row
        for row in Camera.objects.filter(osm_id__in=[node.osm_id for node, _ in rows]).values(
            "pk", "osm_id", *CAMERA_SYNCED
        )
    }
    new: list[Camera] = []
    changed: list[Camera] = []
    hoods = area_index().locate_many([node.lat for node, _ in rows], [node.lon for node, _ in rows])
    for (node, normalised), hood in zip(rows, hoods, strict=True):
        values = {
            "lat": node.lat,
            "lon": node.lon,
            "osm_tags": node.tags,
            **normalised.attributes,
            "neighbourhood_id": hood,
        }
        row = existing.get(node.osm_id)
        if row is None:
            new.append(
                Camera(
                    osm_id=node.osm_id,
                    provenance=Camera.Provenance.OSM,
                    status=Camera.Status.REPORTED,
                    sighting_count=1,
                    first_seen=now,
                    last_seen=now,
                    **values,
                )
            )
        elif any(row[k] != v for k, v in values.items()):
            changed.append(Camera(pk=row["pk"], updated_at=now, **values))  # bulk_update skips auto_now
        else:
            summary.unchanged += 1
    Camera.objects.bulk_create(new, batch_size=500)
    Camera.objects.bulk_update(changed, [*CAMERA_SYNCED, "updated_at"], batch_size=500)
    summary.created += len(new)
    summary.updated += len(existing)
    return {osm_id: row["pk"] for osm_id, row in existing.items()} | {c.osm_id: c.pk for c in new}


def _write_sightings(rows: Rows, *, camera_ids: dict[int, int], reporter: AbstractBaseUser, now: datetime) -> None:
    by_client_id = {f"osm-node-{node.osm_id}": (node, normalised) for node, normalised in rows}
    existing = {
        row["client_id"]: row
        for row in Sighting.objects.filter(reporter=reporter, client_id__in=list(by_client_id)).values(
            "pk", "client_id", *SIGHTING_SYNCED
        )
    }
    new: list[Sighting] = []
    changed: list[Sighting] = []
    for client_id, (node, normalised) in by_client_id.items():
        values = {"lat": node.lat, "lon": node.lon, **normalised.attributes}
        row = existing.get(client_id)
        if row is None:
            new.append(
                Sighting(
                    camera_id=camera_ids[node.osm_id],
                    reporter=reporter,
                    client_id=client_id,
                    source=Sighting.Source.IMPORT,
                    status=Sighting.Status.PROCESSED,
                    processed_at=now,
                    observed_at=now,
                    submitted_at=now,
                    **values,
                )
            )
        elif any(row[k] != v for k, v in values.items()):
            changed.append(Sighting(pk=row["pk"], **values))
    Sighting.objects.bulk_create(new, batch_size=500)
    Assignment.objects.bulk_create(
        (Assignment(sighting=s, camera_id=s.camera_id, kind=Assignment.Kind.IMPORTED, created_at=now) for s in new),
        batch_size=500,
    )
    Sighting.objects.bulk_update(changed, list(SIGHTING_SYNCED), batch_size=500)
