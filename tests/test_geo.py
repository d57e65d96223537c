"""Address search (mapapp.geo and the /geocode/ endpoint) against a fake Nominatim on 127.0.0.1.

The public geocoding service is the one thing this suite may not call, so these tests point
NOMINATIM_URL at a real HTTP server on 127.0.0.1. Everything between the view and the socket
is real: geopy, the cache, the rate limit and the throttle.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from mapapp import geo
from tests.conftest import client_for
from tests.support import local_http_server

URL = reverse("geocode")
USER_AGENT = "CameraWatch-tests/1.0 (geo@camerawatch.example)"
INTERVAL = 0.2
UNAVAILABLE = "Address search is unavailable right now. You can still place the camera on the map."

# What Nominatim's /search answers (format=jsonv2 shape; coordinates are strings).
THEATERPLATZ = [
    {
        "place_id": 131848223,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
        "osm_type": "way",
        "osm_id": 24468521,
        "lat": "50.9799104",
        "lon": "11.3262845",
        "category": "highway",
        "type": "pedestrian",
        "place_rank": 26,
        "importance": 0.0533,
        "addresstype": "road",
        "name": "Theaterplatz",
        "display_name": "Theaterplatz, Altstadt, Weimar, Thüringen, 99423, Deutschland",
        "boundingbox": ["50.9793", "50.9804", "11.3255", "11.3271"],
    },
    {
        "place_id": 131201745,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
        "osm_type": "node",
        "osm_id": 2950611311,
        "lat": "50.9797436",
        "lon": "11.3266133",
        "category": "highway",
        "type": "bus_stop",
        "place_rank": 30,
        "importance": 0.00001,
        "addresstype": "highway",
        "name": "Theaterplatz",
        "display_name": "Theaterplatz, Heinrich-Heine-Straße, Altstadt, Weimar, Thüringen, 99423, Deutschland",
        "boundingbox": ["50.9796", "50.9798", "11.3265", "11.3267"],
    },
]
EXPECTED = [
    {"label": "Theaterplatz, Altstadt, Weimar, Thüringen, 99423, Deutschland", "lat": 50.9799104, "lon": 11.3262845},
    {
        "label": "Theaterplatz, Heinrich-Heine-Straße, Altstadt, Weimar, Thüringen, 99423, Deutschland",
        "lat": 50.9797436,
        "lon": 11.3266133,
    },
]


def answer_theaterplatz(request: BaseHTTPRequestHandler) -> tuple[int, object]:
    return 200, THEATERPLATZ


@dataclass
class Seen:
    path: str
    params: dict[str, list[str]]
    user_agent: str
    at: float


@dataclass
class FakeNominatim:
    """Records every request it gets, and answers with `reply(request) -> (status, body)`."""

    reply: Callable[[BaseHTTPRequestHandler], tuple[int, object]] = answer_theaterplatz
    seen: list[Seen] = field(default_factory=list)

    def handle(self, request: BaseHTTPRequestHandler) -> tuple[int, object]:
        url = urlsplit(request.path)
        self.seen.append(Seen(url.path, parse_qs(url.query), request.headers.get("User-Agent", ""), time.monotonic()))
        return self.reply(request)

    def gaps(self) -> list[float]:
        arrivals = sorted(s.at for s in self.seen)
        return [b - a for a, b in itertools.pairwise(arrivals)]


@pytest.fixture(scope="module")
def nominatim_server() -> Iterator[tuple[FakeNominatim, str]]:
    """One server for the module: stopping one takes half a second (serve_forever's poll)."""
    fake = FakeNominatim()
    with local_http_server(fake.handle) as url:
        yield fake, url


@pytest.fixture
def nominatim(settings: object, nominatim_server: tuple[FakeNominatim, str]) -> FakeNominatim:
    fake, url = nominatim_server
    fake.reply = answer_theaterplatz
    fake.seen = []
    settings.NOMINATIM_URL = url
    settings.NOMINATIM_USER_AGENT = USER_AGENT
    settings.NOMINATIM_MIN_INTERVAL = INTERVAL
    settings.NOMINATIM_TIMEOUT = 2
    return fake


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections. It is bound but not listening, so no other
    process can start listening on it during the test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def html_error_page(request: BaseHTTPRequestHandler) -> tuple[int, object]:
    """A proxy's HTML page served with status 200. The shared helper only speaks JSON, so this
    reply is written here, and the helper's own JSON reply goes to a sink."""
    body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    request.send_response(200)
    request.send_header("Content-Type", "text/html")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)
    request.wfile = io.BytesIO()
    return 200, None


def slow_answer(request: BaseHTTPRequestHandler) -> tuple[int, object]:
    time.sleep(0.6)
    return 200, THEATERPLATZ


def test_a_volunteer_gets_the_places_nominatim_found(volunteer: object, nominatim: FakeNominatim) -> None:
    response = client_for(volunteer).get(URL, {"q": "Theaterplatz, Weimar"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"results": EXPECTED}


def test_nothing_found_is_an_empty_list_not_an_error(volunteer: object, nominatim: FakeNominatim) -> None:
    nominatim.reply = lambda request: (200, [])

    response = client_for(volunteer).get(URL, {"q": "Nowhere Street 999"})

    assert response.status_code == 200
    assert response.json() == {"results": []}


def test_the_request_names_us_and_asks_search_for_the_tidied_query(volunteer: object, nominatim: FakeNominatim) -> None:
    client_for(volunteer).get(URL, {"q": "  Theaterplatz,\t  Weimar \n"})

    [seen] = nominatim.seen
    assert seen.path == "/search"
    assert seen.params["q"] == ["Theaterplatz, Weimar"]
    assert seen.params["limit"] == ["5"]
    assert seen.user_agent == USER_AGENT


def test_a_nominatim_url_with_a_path_prefix_keeps_the_prefix(settings: object, nominatim: FakeNominatim) -> None:
    settings.NOMINATIM_URL += "/nominatim/"

    geo.search("Theaterplatz, Weimar")

    assert [s.path for s in nominatim.seen] == ["/nominatim/search"]


def test_the_results_are_never_kept_by_the_browser(volunteer: object, nominatim: FakeNominatim) -> None:
    response = client_for(volunteer).get(URL, {"q": "Theaterplatz, Weimar"})

    assert "no-store" in response["Cache-Control"]


def test_a_repeated_search_is_answered_from_the_cache(volunteer: object, nominatim: FakeNominatim) -> None:
    client = client_for(volunteer)

    first = client.get(URL, {"q": "Theaterplatz, Weimar"})
    again = client.get(URL, {"q": "  THEATERPLATZ,   weimar "})

    assert first.json() == again.json() == {"results": EXPECTED}
    assert len(nominatim.seen) == 1


def test_an_empty_answer_is_cached_too(nominatim: FakeNominatim) -> None:
    nominatim.reply = lambda request: (200, [])

    assert geo.search("Nowhere Street 999") == []
    assert geo.search("nowhere street 999") == []
    assert len(nominatim.seen) == 1


def test_an_outage_is_not_cached(volunteer: object, nominatim: FakeNominatim) -> None:
    client = client_for(volunteer)
    nominatim.reply = lambda request: (500, {"error": "Internal Server Error"})
    assert client.get(URL, {"q": "Theaterplatz, Weimar"}).status_code == 503

    nominatim.reply = answer_theaterplatz
    response = client.get(URL, {"q": "Theaterplatz, Weimar"})

    assert response.json() == {"results": EXPECTED}
    assert len(nominatim.seen) == 2


def test_two_searches_in_quick_succession_are_spaced_by_the_minimum_interval(nominatim: FakeNominatim) -> None:
    geo.search("Theaterplatz, Weimar")
    geo.search("Markt, Weimar")

    [gap] = nominatim.gaps()
    assert gap >= INTERVAL


def test_simultaneous_searches_take_turns_at_the_service(nominatim: FakeNominatim) -> None:
    queries = ["Theaterplatz, Weimar", "Markt, Weimar", "Frauenplan, Weimar"]
    threads = [threading.Thread(target=geo.search, args=(q,)) for q in queries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(nominatim.seen) == 3
    assert min(nominatim.gaps()) >= INTERVAL


def test_a_search_that_cannot_get_a_turn_in_time_is_told_the_service_is_busy(
    settings: object, volunteer: object, nominatim: FakeNominatim
) -> None:
    settings.NOMINATIM_MIN_INTERVAL = 30  # far longer than a search may wait for its turn
    client = client_for(volunteer)
    assert client.get(URL, {"q": "Theaterplatz, Weimar"}).status_code == 200

    busy = client.get(URL, {"q": "Markt, Weimar"})
    cached = client.get(URL, {"q": "Theaterplatz, Weimar"})

    assert busy.status_code == 503
    assert "busy" in busy.json()["error"]
    assert "place the camera on the map" in busy.json()["error"]
    assert busy["Retry-After"] == "1"
    assert cached.json() == {"results": EXPECTED}, "a cached answer must not wait for a turn"
    assert len(nominatim.seen) == 1


def test_an_unreachable_service_answers_503_with_a_way_forward(
    settings: object, volunteer: object, closed_port: int
) -> None:
    settings.NOMINATIM_URL = f"http://127.0.0.1:{closed_port}"

    response = client_for(volunteer).get(URL, {"q": "Theaterplatz, Weimar"})

    assert response.status_code == 503
    assert response.json() == {"error": UNAVAILABLE}


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(lambda request: (500, {"error": "Internal Server Error"}), id="server-error"),
        pytest.param(html_error_page, id="not-json"),
        pytest.param(lambda request: (200, {"unexpected": "shape"}), id="json-of-the-wrong-shape"),
        pytest.param(lambda request: (200, [{"display_name": "Nowhere", "lat": "north"}]), id="bad-coordinates"),
        pytest.param(slow_answer, id="timeout"),
    ],
)
def test_a_failing_service_answers_503_with_a_way_forward(
    settings: object, volunteer: object, nominatim: FakeNominatim, reply: Callable
) -> None:
    settings.NOMINATIM_TIMEOUT = 0.2
    nominatim.reply = reply

    response = client_for(volunteer).get(URL, {"q": "Theaterplatz, Weimar"})

    assert response.status_code == 503
    assert response.json() == {"error": UNAVAILABLE}


def test_a_signed_out_visitor_gets_401_json_not_a_login_page(anonymous: object, nominatim: FakeNominatim) -> None:
    response = anonymous.get(URL, {"q": "Theaterplatz, Weimar"})

    assert response.status_code == 401
    assert "Sign in" in response.json()["error"]
    assert nominatim.seen == []


@pytest.mark.parametrize(
    "params", [{}, {"q": ""}, {"q": "  \t "}, {"q": "x" * 201}], ids=["none", "empty", "blank", "long"]
)
def test_an_empty_or_overlong_query_is_rejected_with_400(
    volunteer: object, nominatim: FakeNominatim, params: dict[str, str]
) -> None:
    response = client_for(volunteer).get(URL, params)

    assert response.status_code == 400
    assert response.json()["error"]
    assert nominatim.seen == []


def test_a_query_of_200_characters_is_still_searched(volunteer: object, nominatim: FakeNominatim) -> None:
    response = client_for(volunteer).get(URL, {"q": "  " + "x" * 200 + "  "})

    assert response.status_code == 200


def test_the_31st_search_in_a_minute_is_throttled_for_that_volunteer_only(
    volunteer: object, second_volunteer: object, nominatim: FakeNominatim
) -> None:
    client = client_for(volunteer)
    for _ in range(30):
        assert client.get(URL, {"q": "Theaterplatz, Weimar"}).status_code == 200

    throttled = client.get(URL, {"q": "Theaterplatz, Weimar"})
    other = client_for(second_volunteer).get(URL, {"q": "Theaterplatz, Weimar"})

    assert throttled.status_code == 429
    assert "Too many" in throttled.json()["error"]
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert other.status_code == 200


def test_the_query_never_reaches_the_logs(
    caplog: pytest.LogCaptureFixture, volunteer: object, nominatim: FakeNominatim
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(volunteer)

    assert client.get(URL, {"q": "Zwiebelmarkt 12, Weimar"}).status_code == 200
    # A failing service that echoes the query in its error body, as many do.
    nominatim.reply = lambda request: (500, {"error": f"Search failed for {request.path}"})
    assert client.get(URL, {"q": "Rollplatz 7, Weimar"}).status_code == 503

    logged = "\n".join([caplog.text, *(r.exc_text or "" for r in caplog.records)]).casefold()
    assert "Nominatim search failed" in caplog.text, "the failure itself is logged"
    assert "zwiebelmarkt" not in logged
    assert "rollplatz" not in logged


def meridian_offset_deg(lat: float, metres: float) -> float:
    """Degrees of latitude spanning `metres` northward, from the WGS-84 meridional radius of
    curvature at the arc's midpoint. Over 1 km it is exact to well under a millimetre, and it
    is worked out here so the test doesn't check geopy against itself."""
    a, f = 6_378_137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    mid = lat
    for _ in range(3):
        radius = a * (1 - e2) / (1 - e2 * math.sin(math.radians(mid)) ** 2) ** 1.5
        mid = lat + math.degrees(metres / radius) / 2
    return math.degrees(metres / radius)


@pytest.mark.parametrize("lat", [0.0, 51.5, 70.0])
def test_two_points_1_km_apart_along_a_meridian_are_1000_m_apart(lat: float) -> None:
    # At the equator a spherical earth would say 1005.6 m, so this also rules out haversine.
    north = lat + meridian_offset_deg(lat, 1000)

    assert geo.distance_m((lat, 11.3), (north, 11.3)) == pytest.approx(1000, abs=1)
