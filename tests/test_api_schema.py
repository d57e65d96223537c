"""The OpenAPI schema and its docs page, and the API fuzzed against the schema (schemathesis).

The fuzzer loads /api/schema/ from the app itself and calls every operation in-process through the
WSGI application, on a city built through the real services (cameras with varied attributes,
votes, a merge, neighbourhoods), with a volunteer's token where an operation needs one. Each
answer must not be a 5xx, and its status, content type, headers and body must be what the schema
says. Examples are few and derandomized, so a run is quick and repeatable; in CI it runs on
PostgreSQL like the rest of the suite.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import schemathesis
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import checks

from camerawatch.wsgi import application
from mapapp import services
from mapapp.exports import formats as fmt
from mapapp.models import Camera, Neighbourhood, Sighting
from tests.conftest import PASSWORD, _person
from tests.test_map_pages import load_areas, square

CENTRE = (47.3769, 8.5417)
# Every throttle far out of reach: the fuzzer sends hundreds of requests a minute.
UNTHROTTLED = {
    **settings.REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {scope: "100000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
}
EXAMPLES = 25
# No 5xx, and status, content type, headers and body as documented. (Not the checks that need a
# stateful run or expect every invalid input to be refused with a 4xx; see the fuzzer below.)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


# --- The schema ---------------------------------------------------------------------------------


def test_the_schema_generates_valid_with_no_warnings(tmp_path: Path) -> None:
    GENERATOR_STATS.reset()  # only this generation's warnings count
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert out.read_text().startswith("openapi: 3.")


def test_the_schema_names_the_odbl_licence_and_how_to_cite(anonymous) -> None:
    response = anonymous.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    info = response.json()["info"]
    assert info["license"] == {"name": fmt.LICENCE_NAME, "url": fmt.LICENCE_URL}
    assert fmt.ATTRIBUTION in info["description"]
    assert "accessed YYYY-MM-DD" in info["description"]


def test_the_schema_documents_the_filters_formats_and_errors(anonymous) -> None:
    schema = anonymous.get("/api/schema/", {"format": "json"}).json()
    cameras = schema["paths"]["/api/v1/cameras/"]["get"]
    params = {p["name"]: p for p in cameras["parameters"] if p["in"] == "query"}
    assert {"bbox", "status", "camera_type", "updated_since", "ordering", "cursor", "page_size", "format"} <= set(
        params
    )
    assert set(params["format"]["schema"]["enum"]) == {"json", "geojson", "csv", "osm"}
    assert params["status"]["schema"]["type"] == "array"
    assert params["status"]["explode"] is False
    assert set(cameras["responses"]["200"]["content"]) == {
        "application/json",
        "application/geo+json",
        "text/csv",
        "application/vnd.openstreetmap.data+xml",
        "application/xml",
    }
    assert {"400", "401", "406", "429"} <= set(cameras["responses"])
    assert "Retry-After" in cameras["responses"]["429"]["headers"]
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}


# --- The docs page -------------------------------------------------------------------------------


class _Assets(HTMLParser):
    """The URLs a page makes the browser load: scripts, stylesheets and icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if tag in ("script", "link", "img", "source", "iframe") and values.get(name):
                self.urls.append(values[name])


def test_the_docs_page_loads_nothing_from_another_origin(anonymous) -> None:
    response = anonymous.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    parser = _Assets()
    parser.feed(html)
    assert any(url.endswith("swagger-ui-bundle.js") for url in parser.urls), parser.urls
    for url in parser.urls:
        parts = urlsplit(url)
        assert parts.netloc in ("", "testserver"), url
        assert anonymous.get(parts.path).status_code == 200, url
    # Nor anywhere else in the page: no CDN, and no validator badge fetched from swagger.io.
    assert not re.search(r"https?://(?!testserver)", html), re.findall(r"https?://[^\s\"'<>]+", html)
    assert '"validatorUrl": null' in html


# --- What the fuzzer found ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [("updated_since", "50%"), ("bbox", "8.5,47.3,8.6,%d")])
def test_a_percent_sign_in_a_filter_is_a_400_that_quotes_it(anonymous, db, name, value) -> None:
    response = anonymous.get("/api/v1/cameras/", {name: value})
    assert response.status_code == 400
    assert value in response.json()[name][0]


@pytest.mark.parametrize("url", ["/api/v1/cameras/-1/", "/api/v1/neighbourhoods/%C3%84%0A/", "/api/v1/no-such-thing/"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_url_under_the_api_that_names_nothing_is_a_json_404(anonymous, url, method) -> None:
    response = getattr(anonymous, method)(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "/api/docs/" in response.json()["detail"]


def test_an_api_url_without_its_slash_still_redirects_to_it(anonymous) -> None:
    response = anonymous.get("/api/v1/cameras")
    assert response.status_code == 301
    assert response["Location"] == "/api/v1/cameras/"


# --- The fuzzer ----------------------------------------------------------------------------------


def _seen(reporter: object, lat: float, lon: float, **fields: object) -> Sighting:
    data = {"lat": lat, "lon": lon, "observed_at": datetime(2024, 5, 17, 13, 37, tzinfo=UTC), **fields}
    sighting = services.sighting_submit(reporter=reporter, data=data).sighting
    services.sighting_process(sighting_id=sighting.pk)
    return Sighting.objects.get(pk=sighting.pk)


@pytest.fixture
def city(transactional_db: None) -> dict:
    """A few cameras of every kind. Transactional, so each fuzzed request commits on its own as in
    production, and one that failed in the database cannot poison the requests after it."""
    load_areas(("Old Town", square(*CENTRE, 0.01)), ("Harbour", square(CENTRE[0], CENTRE[1] + 0.03, 0.01)))
    alice, bob, erin, dave = (_person(f"{name}_realname") for name in ("alice", "bob", "erin", "dave"))
    moderator = _person("carol_realname")
    services.role_grant(user=moderator, role="moderator")
    first = _seen(alice, *CENTRE, camera_type="dome", camera_mount="pole", operator="City Police", direction=90)
    _seen(bob, CENTRE[0] + 0.00002, CENTRE[1], camera_type="dome")
    _seen(bob, CENTRE[0] + 0.003, CENTRE[1], camera_type="fixed", operator="=HYPERLINK(1)", height=4.5)
    _seen(alice, CENTRE[0], CENTRE[1] + 0.03, camera_type="panning", zone="traffic", camera_angle=30)
    _seen(alice, CENTRE[0] + 0.2, CENTRE[1], operator='Outside <every> "neighbourhood"')  # no neighbourhood
    a = _seen(bob, CENTRE[0] + 0.006, CENTRE[1])
    b = _seen(erin, CENTRE[0] + 0.0062, CENTRE[1] + 0.0015)
    services.vote_cast(voter=erin, camera_id=first.camera_id, verdict="confirm")
    services.vote_cast(voter=dave, camera_id=first.camera_id, verdict="confirm", corrections={"camera_mount": "wall"})
    if a.camera_id != b.camera_id:
        services.camera_merge(source_id=b.camera_id, target_id=a.camera_id, actor=moderator, reason="One camera")
    token, _ = Token.objects.get_or_create(user=alice)
    return {
        "token": token.key,
        "login": {"username": alice.username, "password": PASSWORD},
        "id": list(Camera.objects.values_list("pk", flat=True)) + list(Sighting.objects.values_list("pk", flat=True)),
        "slug": list(Neighbourhood.objects.values_list("slug", flat=True)),
    }


@pytest.fixture
def api_schema(city: dict, settings: object, request: pytest.FixtureRequest) -> schemathesis.BaseSchema:
    """The schema as the app serves it, with the app to call in-process and the throttles out of reach."""
    settings.REST_FRAMEWORK = UNTHROTTLED
    cache.clear()
    # schemathesis 4.32 reads the node's `_nodeid`, which pytest 9.2 no longer has (it keeps `_id`).
    request.node._nodeid = request.node.nodeid
    config = schemathesis.Config.from_dict(
        # Few examples per operation and phase, the same ones on every run (locally and in CI).
        {"seed": 20240517, "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"}}
    )
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=config)

    # Random ids, slugs and passwords almost never match anything: half the time, use real ones.
    @schema.hook
    def before_generate_path_parameters(context: schemathesis.HookContext, strategy: st.SearchStrategy) -> object:
        names = [name for name in ("id", "slug") if "{" + name + "}" in context.operation.path]
        real = st.fixed_dictionaries({name: st.sampled_from(city[name]) for name in names})
        return strategy | real if names else strategy

    @schema.hook
    def before_generate_body(context: schemathesis.HookContext, strategy: st.SearchStrategy) -> object:
        return strategy | st.just(city["login"]) if context.operation.path.endswith("/auth/token/") else strategy

    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis_settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_keeps_to_the_schema(case: schemathesis.Case, city: dict) -> None:
    """Every operation, with valid and invalid input (schemathesis' examples, coverage and fuzzing
    phases), each in its own subtest."""
    # The volunteer's token where the operation needs one; open data is fuzzed as the public sees it.
    needs_token = {} not in case.operation.definition.raw.get("security", [{}])
    headers = {"Authorization": f"Token {city['token']}"} if needs_token else {}
    case.call_and_validate(headers=headers, checks=CHECKS)
