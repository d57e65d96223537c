"""Rate limits of the open-data API: tiers, headers on every answer, a 429 that says when, and the
tokens that buy a higher tier (made on the profile page).

Rates are shrunk with override_settings (the throttles read them per request); the cache that
counts requests starts empty in every test (tests/conftest.py).
"""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mapapp.models import Camera
from tests.conftest import api_client_for, client_for
from tests.test_settings import run_with_env

URL = "/api/v1/cameras/"
EXPORT = "/api/v1/cameras/export/"
OPEN_DATA_URLS = ("/api/v1/", URL, EXPORT, "/api/v1/neighbourhoods/", "/api/v1/stats/")


def rates(**rates: str):
    merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}
    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged})


def anonymous(ip: str = "203.0.113.7") -> APIClient:
    return APIClient(REMOTE_ADDR=ip)


@pytest.fixture
def one_camera(db) -> Camera:
    return Camera.objects.create(lat=47.37, lon=8.54, sighting_count=1)


# Counting tests use day-long windows, so a window cannot start afresh in the middle of a test.


@rates(anon="3/day")
def test_every_answer_says_the_limit_what_is_left_and_when_the_window_starts_afresh(one_camera):
    client = anonymous()

    answers = [client.get(URL) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a["X-RateLimit-Limit"] for a in answers] == ["3", "3", "3"]
    assert [a["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert {a["X-RateLimit-Scope"] for a in answers} == {"anon"}
    assert len({a["X-RateLimit-Reset"] for a in answers}) == 1
    assert time.time() < int(answers[0]["X-RateLimit-Reset"]) <= time.time() + 86400 + 1


@rates(anon="5/min")
def test_a_minute_window_starts_afresh_within_a_minute(one_camera):
    response = anonymous().get(URL)

    assert time.time() < int(response["X-RateLimit-Reset"]) <= time.time() + 61


@rates(anon="2/day")
def test_past_the_limit_a_429_says_when_to_retry_in_its_headers_and_body(one_camera):
    client = anonymous()
    client.get(URL)
    client.get(URL)

    response = client.get(URL)

    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    wait = int(response["Retry-After"])
    assert 0 < wait <= 86400
    assert abs(int(response["X-RateLimit-Reset"]) - (time.time() + wait)) <= 2
    body = response.json()
    assert body["retry_after"] == wait
    assert f"Retry in {wait} seconds" in body["detail"]
    assert "anonymous clients may make 2 requests per day" in body["detail"]
    assert body["retry_at"].endswith("Z")
    assert "/me/" in body["help"]
    assert response["X-RateLimit-Remaining"] == "0"
    assert response["X-RateLimit-Limit"] == "2"


@rates(anon="1/day")
def test_a_429_is_json_even_when_csv_was_asked_for(one_camera):
    client = anonymous()
    client.get(URL, {"format": "csv"})

    response = client.get(URL, {"format": "csv"})

    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "Retry in" in response.json()["detail"]


@rates(anon="1/day")
@pytest.mark.parametrize("url", OPEN_DATA_URLS)
def test_every_open_data_endpoint_is_throttled_with_headers(one_camera, url):
    client = anonymous()

    first, second = client.get(url), client.get(url)

    assert first.status_code == 200
    assert first["X-RateLimit-Remaining"] == "0"
    assert second.status_code == 429
    assert "Retry-After" in second


@rates(anon="2/day")
def test_bad_requests_count_against_the_budget_too(one_camera):
    client = anonymous()
    assert client.get(URL, {"bbox": "nonsense"}).status_code == 400
    assert client.get(URL, {"camera_typ": "dome"}).status_code == 400

    assert client.get(URL).status_code == 429


@rates(anon="1/day")
def test_one_address_being_throttled_does_not_slow_another(one_camera):
    anonymous("203.0.113.7").get(URL)

    assert anonymous("203.0.113.7").get(URL).status_code == 429
    assert anonymous("198.51.100.9").get(URL).status_code == 200


@rates(anon="1/day", user="3/day", researcher="5/day")
def test_a_token_buys_the_signed_in_rate_and_a_researcher_account_a_higher_one(one_camera, volunteer, researcher):
    volunteer_client, researcher_client = api_client_for(volunteer), api_client_for(researcher)

    volunteer_answers = [volunteer_client.get(URL).status_code for _ in range(4)]
    researcher_answers = [researcher_client.get(URL).status_code for _ in range(6)]

    assert volunteer_answers == [200, 200, 200, 429]
    assert researcher_answers == [200] * 5 + [429]
    assert researcher_client.get("/api/v1/")["X-RateLimit-Scope"] == "researcher"


@rates(user="2/day")
def test_the_budget_follows_the_account_not_the_address(one_camera, volunteer):
    api_client_for(volunteer).get(URL, REMOTE_ADDR="203.0.113.7")
    api_client_for(volunteer).get(URL, REMOTE_ADDR="198.51.100.9")

    assert api_client_for(volunteer).get(URL, REMOTE_ADDR="192.0.2.1").status_code == 429
    assert anonymous("192.0.2.1").get(URL).status_code == 200


@rates(anon="100/day", export="1/hour")
def test_exports_have_a_budget_of_their_own_on_top(one_camera):
    client = anonymous()
    assert client.get(EXPORT, {"format": "csv"}).status_code == 200

    again = client.get(EXPORT, {"format": "csv"})

    assert again.status_code == 429
    assert again.json()["scope"] == "export"
    assert "1 exports per hour" in again.json()["detail"]
    assert 0 < int(again["Retry-After"]) <= 3600
    assert client.get(URL).status_code == 200


@rates(anon="1/day")
def test_the_sighting_api_keeps_its_own_rules(one_camera, volunteer):
    client = api_client_for(volunteer)

    for _ in range(3):
        assert client.get("/api/v1/sightings/").status_code == 200


def test_the_default_rates_come_from_the_environment(tmp_path):
    show = "import django; django.setup(); from django.conf import settings as s; " + (
        "print(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])"
    )
    env = {"CAMERAWATCH_VAR_DIR": str(tmp_path), "THROTTLE_ANON": "7/min", "THROTTLE_RESEARCHER": "5000/hour"}

    result = run_with_env(["-c", show], env)

    assert result.returncode == 0, result.stderr
    assert "'anon': '7/min'" in result.stdout
    assert "'researcher': '5000/hour'" in result.stdout
    assert "'user': '300/min'" in result.stdout


@pytest.mark.parametrize(("name", "value"), [("THROTTLE_ANON", "lots"), ("THROTTLE_EXPORT", "10/fortnight")])
def test_a_malformed_rate_stops_the_start_naming_the_variable(tmp_path, name, value):
    result = run_with_env(["-c", "import django; django.setup()"], {"CAMERAWATCH_VAR_DIR": str(tmp_path), name: value})

    assert result.returncode != 0
    assert name in result.stderr


# --- Tokens from the profile page ------------------------------------------------------------------


def token_on(html: str) -> str:
    match = re.search(r'<code id="new-token">([0-9a-f]{40})</code>', html)
    assert match, "no token on the page"
    return match.group(1)


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_researcher_creates_a_token_on_the_profile_page_and_sees_it_once(researcher):
    page = client_for(researcher)
    assert "You have no token" in page.get("/me/").content.decode()

    created = page.post("/me/", {"token": "rotate"})

    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    key = token_on(created.content.decode())
    assert with_token(key).get("/api/v1/")["X-RateLimit-Scope"] == "researcher"
    later = page.get("/me/").content.decode()
    assert key not in later
    assert "You have a token" in later


@rates(anon="60/min", user="300/min", researcher="5000/hour", export="20/hour")
def test_the_page_explains_the_limits_for_the_account_in_words(researcher, volunteer):
    researcher_page = client_for(researcher).get("/me/").content.decode()
    volunteer_page = client_for(volunteer).get("/me/").content.decode()

    assert "5000 requests an hour (your account is a researcher account)" in researcher_page
    assert "300 requests a minute (researcher accounts get 5000 requests an hour)" in volunteer_page
    assert "up to 60 requests a minute from one IP address" in volunteer_page
    assert "20 exports an hour" in volunteer_page


def test_replacing_the_token_stops_the_old_one_and_deleting_stops_any(researcher):
    page = client_for(researcher)
    old = token_on(page.post("/me/", {"token": "rotate"}).content.decode())
    new = token_on(page.post("/me/", {"token": "rotate"}).content.decode())

    assert new != old
    assert with_token(old).get("/api/v1/").status_code == 401
    assert with_token(new).get("/api/v1/").status_code == 200

    gone = page.post("/me/", {"token": "revoke"})

    assert "Your token is deleted" in gone.content.decode()
    assert with_token(new).get("/api/v1/").status_code == 401


def test_the_token_buttons_need_the_csrf_token_and_a_signed_in_account(researcher):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(researcher)

    assert strict.post("/me/", {"token": "rotate"}).status_code == 403
    assert Client().post("/me/", {"token": "rotate"}).status_code == 302  # to the login page
    assert not Token.objects.filter(user=researcher).exists()
    assert client_for(researcher).post("/me/", {"token": "steal"}).status_code == 400
