"""Address search through Nominatim (OpenStreetMap) and distances on the WGS-84 ellipsoid.

This is the only module that imports geopy, so the rules that Nominatim's usage policy sets
live here and nowhere else. The policy asks for an identifying User-Agent, at most one request
per second for the whole application, and caching of repeated queries.

Privacy matters here. A volunteer's search usually names the street they are standing in, so
no query text is logged, and the cache keys are keyed hashes of the normalised query.
geopy's own debug and info records carry the request URL and the service's error bodies, so
they are dropped (see `_DropGeopyChatter`). We use urllib rather than requests so that
urllib3 never logs the URL either.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac
from geopy.adapters import URLLibAdapter
from geopy.distance import geodesic
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim
from geopy.location import Location

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
# Nominatim refuses limits above 40.
MAX_LIMIT = 40
# How long a search waits for its turn at the upstream service before it gives up as "busy".
# The volunteer is waiting, and a queue that grows without bound would only hide an overload.
MAX_WAIT_SECONDS = 2.0

# "v1" lets a change of the stored shape start from an empty cache rather than misread old rows.
_CACHE_PREFIX = "geo:search:v1"
_LOCK_KEY = "geo:nominatim:lock"
_LAST_CALL_KEY = "geo:nominatim:last-call"
_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Place:
    label: str
    lat: float
    lon: float


class InvalidQuery(ValueError):
    """The volunteer's input is at fault (it is empty or too long), not the service.

    The message can be shown to the volunteer as it is.
    """


class GeocoderUnavailable(Exception):
    """The service is unreachable, timed out, answered with an error, or answered garbage.

    The message names the kind of failure and never carries query text or response bodies.
    """


class GeocoderBusy(GeocoderUnavailable):
    """No upstream turn came free within MAX_WAIT_SECONDS: we are at the policy's rate limit."""


class _DropGeopyChatter(logging.Filter):
    """Drop geopy's records below WARNING.

    geopy logs the full request URL (with the query) at DEBUG, and the service's error body
    (which may echo the query) at INFO. Its warnings carry neither.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def _silence_geopy() -> None:
    geopy_logger = logging.getLogger("geopy")
    if not any(isinstance(f, _DropGeopyChatter) for f in geopy_logger.filters):
        geopy_logger.addFilter(_DropGeopyChatter())


_silence_geopy()


def normalise_query(query: str) -> str:
    """Strip the query and collapse its whitespace, so that stray spaces don't miss the cache.

    Case is kept for the service and folded only for the cache key.
    """
    text = " ".join(query.split())
    if not text:
        raise InvalidQuery("Type an address or place name to search for.")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"Searches can be at most {MAX_QUERY_CHARS} characters long.")
    return text


def search(query: str, *, limit: int = 5) -> list[Place]:
    """Return up to `limit` places matching `query`, best first, or [] when nothing matches.

    An answer is cached for GEOCODE_CACHE_SECONDS whether it is empty or not, so asking again
    costs the service nothing and never counts against the rate limit. A query that has to go
    upstream waits for its turn (see `_upstream_turn`).

    Raises InvalidQuery (a ValueError) for an empty or overlong query, GeocoderBusy when no turn
    comes free in time, and GeocoderUnavailable for any failure of the service.
    """
    text = normalise_query(query)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    key = _cache_key(text, limit)
    cached = cache.get(key)
    if cached is not None:
        return [Place(label, lat, lon) for label, lat, lon in cached]

    with _upstream_turn():
        places = _ask_nominatim(text, limit)
    # Store plain tuples rather than pickled Places, so a later change to Place can't break
    # reading rows that are already cached.
    cache.set(key, [(p.label, p.lat, p.lon) for p in places], settings.GEOCODE_CACHE_SECONDS)
    return places


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Return the distance in metres between two (lat, lon) points on the WGS-84 ellipsoid.

    The order is (lat, lon), which is geopy's order and the reverse of GeoJSON's. A geodesic
    is accurate to well under a millimetre. A spherical (haversine) distance can be off by up
    to about 0.5%, and at a few metres that matters when we decide whether two sightings are
    the same camera.
    """
    return float(geodesic(a, b).meters)


def _cache_key(text: str, limit: int) -> str:
    # The key is keyed with SECRET_KEY. A plain hash of a short address could be reversed by
    # hashing likely addresses, so anyone who can list the keys could do that.
    digest = salted_hmac(_CACHE_PREFIX, text.casefold(), algorithm="sha256").hexdigest()
    return f"{_CACHE_PREFIX}:{limit}:{digest}"


@contextmanager
def _upstream_turn() -> Iterator[None]:
    """Hold the application's single turn at Nominatim, NOMINATIM_MIN_INTERVAL after the last one.

    The limit applies to the whole application, so its state lives in the shared Django cache,
    not in this process. geopy's RateLimiter only counts calls within one process. A lock
    (cache.add) is held for the whole call, so calls never overlap. The interval is counted
    from the end of the previous call, not its start, so it holds where Nominatim measures it.
    Measured from the start, a request delayed on its way out could land just before the next
    one.

    The end time is stored as a wall-clock timestamp, not left to a key's expiry, because the
    Redis and memcached backends round expiries to whole seconds. Across several web processes
    the cache has to be a shared one (CACHE_URL=redis://...). With locmem, each process
    enforces the interval only on itself.
    """
    interval = settings.NOMINATIM_MIN_INTERVAL
    if interval <= 0:
        yield
        return
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    token = uuid.uuid4().hex
    # The timeout only frees the lock if its holder dies. It covers the longest legitimate hold:
    # the wait, then a call whose connect and read may each take NOMINATIM_TIMEOUT.
    lock_seconds = math.ceil(MAX_WAIT_SECONDS + 2 * settings.NOMINATIM_TIMEOUT) + 1
    while not cache.add(_LOCK_KEY, token, lock_seconds):
        if time.monotonic() >= deadline:
            raise GeocoderBusy("no upstream turn came free in time")
        time.sleep(_POLL_SECONDS)
    try:
        last_end = cache.get(_LAST_CALL_KEY)
        wait = 0.0 if last_end is None else last_end + interval - time.time()
        if wait > deadline - time.monotonic():
            raise GeocoderBusy("no upstream turn came free in time")
        if wait > 0:
            time.sleep(wait)
        try:
            yield
        finally:
            cache.set(_LAST_CALL_KEY, time.time(), math.ceil(interval) + 1)
    finally:
        if cache.get(_LOCK_KEY) == token:
            cache.delete(_LOCK_KEY)


def _geocoder() -> Nominatim:
    # Built on each call: it is cheap, and settings changed by tests take effect at once.
    url = urlsplit(settings.NOMINATIM_URL)
    return Nominatim(
        scheme=url.scheme,
        domain=url.netloc + url.path.rstrip("/"),
        user_agent=settings.NOMINATIM_USER_AGENT,
        timeout=settings.NOMINATIM_TIMEOUT,
        adapter_factory=URLLibAdapter,
    )


def _ask_nominatim(text: str, limit: int) -> list[Place]:
    geocoder = _geocoder()  # a bad configuration is a bug to see, not an outage to hide
    try:
        found = geocoder.geocode(text, exactly_one=False, limit=limit)
        return [_place(location) for location in found or []]
    # Valid JSON of the wrong shape fails inside geopy's parser as TypeError, KeyError or
    # AttributeError. OSError covers the network errors that geopy does not wrap.
    except (GeopyError, OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        reason = _describe(exc)
        logger.warning("Nominatim search failed: %s", reason)
        # `from None`: geopy's messages can include the response body, which may echo the query.
        raise GeocoderUnavailable(reason) from None


def _place(location: Location) -> Place:
    lat, lon = float(location.latitude), float(location.longitude)
    if not (math.isfinite(lat) and math.isfinite(lon)) or not isinstance(location.address, str):
        raise ValueError("result without a usable position or label")
    return Place(label=location.address, lat=lat, lon=lon)


def _describe(exc: BaseException) -> str:
    """Name the failure for logs and errors with the exception type and HTTP status only."""
    status = getattr(exc.__cause__, "status_code", None)
    return type(exc).__name__ + (f" (HTTP {status})" if status else "")
