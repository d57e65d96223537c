"""Rate limits of the open-data API, and the headers that tell a client where it stands.

Three tiers, rates in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (env THROTTLE_ANON,
THROTTLE_USER, THROTTLE_RESEARCHER): anonymous clients by IP address, signed-in clients (token or
session) by account, and accounts in the "researcher" group by account at a higher rate. The
streamed export also counts against a separate, smaller "export" budget (THROTTLE_EXPORT), because
one export can cost the database what thousands of pages do.

Counting is a fixed window per client: one cache counter, `add` then `incr`. Why not DRF's
SimpleRateThrottle, which the token and geocoder endpoints use: it keeps a list of every request's
time in the window and reads and rewrites the whole list on each request, so at a researcher's
1,200/min each request moves ~10 kB through the cache, and parallel requests overwrite each other's
list (lost counts). A counter is constant work and, on Redis, atomic. The price is that a client
can spend a window's budget at its very end and the next one's at once; to keep clients from all
resetting on the same second, each client's windows are shifted by a fixed offset from its key.

Headers (GitHub's names, which most HTTP client libraries already understand):
* `X-RateLimit-Limit`: requests allowed per window; `X-RateLimit-Remaining`: left in this one;
* `X-RateLimit-Reset`: Unix time (seconds) at which the window starts afresh;
* `X-RateLimit-Scope`: which budget applied (anon, user, researcher, export).
With several budgets the headers describe the tightest. A 429 adds `Retry-After` (seconds).
"""

from __future__ import annotations

import math
import time
import zlib
from typing import Any

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

RESEARCHER_GROUP = "researcher"
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def tier(user: Any) -> str:
    """anon, user or researcher. Cached on the user object: one small query per request at most."""
    if not user or not user.is_authenticated:
        return "anon"
    cached = getattr(user, "_api_tier", None)
    if cached is None:
        cached = "researcher" if user.groups.filter(name=RESEARCHER_GROUP).exists() else "user"
        user._api_tier = cached
    return cached


def parse_rate(rate: str) -> tuple[int, int]:
    """("60/min") -> (60, 60): requests per window, window seconds (as DRF reads rates)."""
    number, period = rate.split("/")
    return int(number), PERIODS[period[0]]


def describe_rate(rate: str | None, noun: str = "requests") -> str:
    """("60/min") -> "60 requests a minute", for people."""
    if not rate:
        return f"unlimited {noun}"
    number, seconds = parse_rate(rate)
    return f"{number} {noun} {WINDOW_WORDS[seconds]}"


WINDOW_WORDS = {1: "a second", 60: "a minute", 3600: "an hour", 86400: "a day"}


class _FixedWindowThrottle(BaseThrottle):
    scope = ""
    rate: str | None = None
    num_requests = 0
    duration = 1
    count = 0
    reset = 0.0
    now = 0.0

    def scope_for(self, request: Any) -> str:
        raise NotImplementedError

    def allow_request(self, request: Any, view: Any) -> bool:
        self.scope = self.scope_for(request)
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if not self.rate:
            return True
        self.num_requests, self.duration = parse_rate(self.rate)
        user = request.user
        ident = f"u{user.pk}" if user and user.is_authenticated else f"ip{self.get_ident(request)}"
        offset = zlib.crc32(f"{self.scope}:{ident}".encode()) % self.duration
        self.now = time.time()
        window = math.floor((self.now - offset) / self.duration)
        self.reset = (window + 1) * self.duration + offset
        key = f"throttle:{self.scope}:{ident}:{window}"
        try:
            self.count = cache.incr(key)
        except ValueError:  # the window's first request (or its count just expired)
            self.count = 1 if cache.add(key, 1, timeout=self.duration + 1) else cache.incr(key)
        return self.count <= self.num_requests

    def wait(self) -> float:
        return max(0.0, self.reset - self.now)

    @property
    def remaining(self) -> int:
        return max(0, self.num_requests - self.count)


class ApiRateThrottle(_FixedWindowThrottle):
    """Every open-data request: anon, user or researcher."""

    def scope_for(self, request: Any) -> str:
        return tier(request.user)


class ExportRateThrottle(_FixedWindowThrottle):
    """The streamed full exports, one budget for everyone (per IP or account)."""

    def scope_for(self, request: Any) -> str:
        return "export"


def rate_headers(throttles: list[_FixedWindowThrottle]) -> dict[str, str]:
    """The X-RateLimit-* headers for the tightest of the budgets this request was counted against."""
    counted = [t for t in throttles if getattr(t, "rate", None)]
    if not counted:
        return {}
    tightest = min(counted, key=lambda t: (t.remaining, -t.reset))
    return {
        "X-RateLimit-Limit": str(tightest.num_requests),
        "X-RateLimit-Remaining": str(tightest.remaining),
        "X-RateLimit-Reset": str(math.ceil(tightest.reset)),
        "X-RateLimit-Scope": tightest.scope,
    }
