"""Which cameras and which of their columns the public may have: the API's and the bulk snapshots' reads.

mapapp/exports/formats.py prints rows; this module decides what is in them, in one place, so the
API and the nightly snapshot cannot drift apart on privacy:

* Cameras: live (not merged away), not removed, and with at least one visible sighting. A camera
  whose sightings moderators all hid has no public page: its position is its reporters' (see
  mapapp/views/cameras.py), so it is in no export either.
* People: never. No username, email, user id or handle; a camera's volunteers appear only as the
  count `contributors`.
* Times: never. Dates are cut to UTC days (PUBLIC_DATE_PRECISION "day") or to the first day of
  their month ("month") in SQL, before a row reaches Python. A camera's first_seen is the moment a
  volunteer stood there, and its updated_at the moment someone voted; to the second, they would
  trace a volunteer's walks. Filters and orderings work on the same cut values, so a client cannot
  recover the time by bisecting `updated_since`.

`contributors` is derived, not counted: the volunteers who currently vouch for the camera, that
is its first reporter plus `confirmations` (distinct other volunteers whose latest word is that it
is there; mapapp/consensus). An OpenStreetMap import has no volunteer reporter, so it adds none.
Volunteers whose latest vote was "not there" or "gone" are not counted. This costs no query per
row and cannot drift from the consensus that stored `confirmations`.

City stats (`city_stats`) add up the neighbourhoods' stored stats and the cameras outside them;
`city_stats_refresh()` keeps a copy in the cache, so readers never wait for the computation.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, DateField, F, Func, IntegerField, Max, QuerySet

from ..models import Camera, Neighbourhood
from ..services.neighbourhoods import stats_from
from .formats import PUBLIC_COLUMNS

DAY, MONTH = "day", "month"

__all__ = [
    "CITY_STATS_MAX_AGE",
    "PUBLIC_COLUMNS",
    "city_stats",
    "city_stats_cached",
    "city_stats_refresh",
    "fetch",
    "public_cameras",
    "public_date",
    "public_rows",
    "public_stats",
    "public_value",
    "since",
]


def precision() -> str:
    return getattr(settings, "PUBLIC_DATE_PRECISION", DAY)


def public_date(when: datetime | date | None) -> date | None:
    """A datetime cut to the public precision (a UTC day, or the first day of its month)."""
    if when is None:
        return None
    day = when.astimezone(UTC).date() if isinstance(when, datetime) else when
    return day.replace(day=1) if precision() == MONTH else day


def since(when: datetime | date) -> datetime:
    """The start of the public period containing `when`, as an aware UTC datetime.

    `updated_at >= since(x)` is exactly "public `updated` >= public_date(x)", and it can use an index.
    """
    day = public_date(when)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class PublicDate(Func):
    """A timestamp column cut to its UTC day or month, as a date, in SQL.

    Not Django's Trunc: that returns a timestamp on PostgreSQL and converts each value to a date
    in Python, a function call per date per row, which was a quarter of a page's time. Here the
    database returns dates, which need no conversion on PostgreSQL (SQLite's text dates get
    DateField's usual parse).
    """

    output_field = DateField()

    def __init__(self, field: str, unit: str) -> None:
        super().__init__(F(field))
        self.unit = unit

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.source_expressions[0])
        if self.unit == MONTH:
            return f"(date_trunc('month', ({sql}) AT TIME ZONE 'UTC'))::date", params
        return f"(({sql}) AT TIME ZONE 'UTC')::date", params

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        # Django keeps SQLite datetimes as UTC text, "YYYY-MM-DD HH:MM:SS.ffffff".
        sql, params = compiler.compile(self.source_expressions[0])
        modifier = ", 'start of month'" if self.unit == MONTH else ""
        return f"date({sql}{modifier})", params

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        raise NotImplementedError(f"PublicDate supports PostgreSQL and SQLite, not {connection.vendor}")


class Contributors(Func):
    """`confirmations`, plus one for the first reporter unless the camera is an OSM import, in SQL."""

    output_field = IntegerField()

    def __init__(self) -> None:
        super().__init__(F("confirmations"), F("provenance"))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        confirmations, params = compiler.compile(self.source_expressions[0])
        provenance, more = compiler.compile(self.source_expressions[1])
        return f"({confirmations} + CASE WHEN {provenance} = %s THEN 0 ELSE 1 END)", [
            *params,
            *more,
            Camera.Provenance.OSM.value,
        ]

    def get_db_converters(self, connection: Any) -> list[Any]:
        # Both databases return an int for int + int; Django's default here is an int() call per row.
        return self.output_field.get_db_converters(connection)


def _cut(field: str) -> PublicDate:
    return PublicDate(field, precision())


def _expressions() -> dict[str, Any]:
    """The query behind each public column that is not a plain model field of the same name."""
    return {
        "contributors": Contributors(),
        "first_seen": _cut("first_seen"),
        "last_seen": _cut("last_seen"),
        "last_confirmed": _cut("last_confirmed_at"),
        "neighbourhood": F("neighbourhood__slug"),
        "updated": _cut("updated_at"),
    }


def public_value(column: str) -> Any:
    """The expression for a public column, for filtering and ordering on what clients see."""
    return _expressions().get(column, F(column))


def public_cameras() -> QuerySet[Camera]:
    """The cameras anyone may see (see the module docstring)."""
    return Camera.objects.published()


def fetch(rows: QuerySet) -> list[tuple[Any, ...]]:
    """All rows of a `public_rows()` query (sliced, for a page), straight from the database cursor.

    Django's own row iterator costs about 1.5 ms per 1,000 rows on top of the database, a fifth of
    a GeoJSON page; the SQL is Django's, only the Python loop around it is skipped. No column
    needs a converter on PostgreSQL (dates come as dates); SQLite gives dates as ISO text, which
    every format prints the same way.
    """
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing, e.g. a value out of the column's range
        return []
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def public_rows(cameras: QuerySet[Camera], columns: tuple[str, ...] = PUBLIC_COLUMNS) -> QuerySet:
    """Tuples of the public columns, dates already cut, ready for mapapp.exports.formats.

    Computed columns are annotated under a `pub_` alias because several share a model field's
    name (first_seen, neighbourhood), which Django does not allow an annotation to take.
    """
    computed = _expressions()
    aliases = {f"pub_{name}": computed[name] for name in columns if name in computed}
    names = [f"pub_{name}" if name in computed else name for name in columns]
    return cameras.annotate(**aliases).values_list(*names)


# --- Stats ----------------------------------------------------------------------------------------

BREAKDOWN_KEYS = ("by_status", "by_type", "by_mount", "by_operator_type")
CITY_STATS_KEY = "exports:city-stats"
# How old the city stats may be when served. The map refresh task should call city_stats_refresh()
# more often than this, so no reader ever waits for the computation.
CITY_STATS_MAX_AGE = 60


def public_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """A neighbourhood's stored stats as published: counts as stored, the last change only as a day."""
    last = stats.get("last_update")
    return {
        "cameras": int(stats.get("cameras", 0)),
        "per_km2": stats.get("per_km2"),
        "verified_share": stats.get("verified_share"),
        **{key: dict(stats.get(key) or {}) for key in BREAKDOWN_KEYS},
        "last_update": public_date(datetime.fromisoformat(last)) if last else None,
    }


def city_stats() -> dict[str, Any]:
    """City-wide totals: the neighbourhoods' stored stats added up, plus the cameras outside them.

    No scan of the cameras inside neighbourhoods: their stats are the ones the map refresh task
    keeps (mapapp/services/neighbourhoods.py). The cameras outside every neighbourhood are one
    GROUP BY through camera_nbhd_status_idx (neighbourhood_id IS NULL): cheap where neighbourhoods
    cover the city, about 100 ms per 50,000 cameras outside them on PostgreSQL. Hence the cache.
    """
    totals: dict[str, Counter[str]] = {key: Counter() for key in BREAKDOWN_KEYS}
    inside = hoods = 0
    area = 0.0
    latest: list[str] = []
    for stats, area_km2 in Neighbourhood.objects.values_list("stats", "area_km2"):
        stats = stats or {}
        hoods += 1
        area += area_km2
        inside += int(stats.get("cameras", 0))
        for key in BREAKDOWN_KEYS:
            totals[key].update(stats.get(key) or {})
        latest.append(stats.get("last_update") or "")
    outside_rows = (
        Camera.objects.published()
        .filter(neighbourhood__isnull=True)
        .values("status", "camera_type", "camera_mount", "operator_type")
        .annotate(n=Count("pk"), latest=Max("updated_at"))
        .order_by()
    )
    outside = stats_from(outside_rows, area_km2=0)
    for key in BREAKDOWN_KEYS:
        totals[key].update(outside[key])
    latest.append(outside["last_update"] or "")
    last = max((datetime.fromisoformat(x) for x in latest if x), default=None)
    total = inside + outside["cameras"]
    return {
        "cameras": total,
        "neighbourhoods": hoods,
        "cameras_in_neighbourhoods": inside,
        "cameras_outside_neighbourhoods": outside["cameras"],
        "area_km2": area,
        "per_km2": inside / area if area > 0 else None,
        "verified_share": totals["by_status"][Camera.Status.VERIFIED] / total if total else None,
        **{key: dict(counts) for key, counts in totals.items()},
        "last_update": public_date(last),
    }


def city_stats_refresh() -> dict[str, Any]:
    """Compute the city stats and keep them in the cache for readers. Returns them."""
    stats = city_stats()
    cache.set(CITY_STATS_KEY, {"stats": stats, "at": time.time()}, timeout=None)
    return stats


def city_stats_cached() -> dict[str, Any]:
    """The city stats, at most CITY_STATS_MAX_AGE seconds old; computed here only if nobody has."""
    entry = cache.get(CITY_STATS_KEY)
    if entry is None or entry["at"] < time.time() - CITY_STATS_MAX_AGE:
        return city_stats_refresh()
    return entry["stats"]
