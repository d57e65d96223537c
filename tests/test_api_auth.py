"""The token endpoint: a password buys a token that the API accepts, and guessing is throttled."""

from __future__ import annotations

from django.conf import settings
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from mapapp.models import Sighting
from tests.conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token/"
SIGHTINGS_URL = "/api/v1/sightings/"
BAD_CREDENTIALS = ["Unable to log in with provided credentials."]


def _ask_for_token(username: str, password: str, *, ip: str = "203.0.113.7"):
    return APIClient(REMOTE_ADDR=ip).post(TOKEN_URL, {"username": username, "password": password}, format="json")


def test_a_token_from_the_endpoint_lets_a_volunteer_submit(volunteer):
    response = _ask_for_token(volunteer.username, PASSWORD)
    assert response.status_code == 200
    token = response.json()["token"]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    submitted = client.post(SIGHTINGS_URL, {"lat": 47.37, "lon": 8.54}, format="json")

    assert submitted.status_code == 201
    assert Sighting.objects.get(pk=submitted.json()["id"]).reporter == volunteer


def test_asking_twice_returns_the_same_token(volunteer):
    assert _ask_for_token(volunteer.username, PASSWORD).json() == _ask_for_token(volunteer.username, PASSWORD).json()


def test_a_made_up_token_is_refused(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    response = client.post(SIGHTINGS_URL, {"lat": 47.37, "lon": 8.54}, format="json")

    assert response.status_code == 401
    assert Sighting.objects.count() == 0


def test_a_wrong_password_is_a_400_with_a_clear_message(volunteer):
    response = _ask_for_token(volunteer.username, "not-the-password")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": BAD_CREDENTIALS}


def test_an_unknown_username_gets_the_same_answer_as_a_wrong_password(db):
    response = _ask_for_token("nobody_by_this_name", "whatever")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": BAD_CREDENTIALS}


def test_missing_credentials_are_named(db):
    response = APIClient().post(TOKEN_URL, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_guessing_past_the_configured_rate_is_throttled_even_with_the_right_password(volunteer):
    # The rate operators configure (THROTTLE_AUTH, 10/min by default), not a test-only value.
    allowed, _ = ScopedRateThrottle().parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth"])

    for _ in range(allowed):
        assert _ask_for_token(volunteer.username, "guess").status_code == 400
    response = _ask_for_token(volunteer.username, PASSWORD)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "token" not in response.json()


def test_one_address_being_throttled_does_not_lock_out_another(volunteer):
    allowed, _ = ScopedRateThrottle().parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth"])
    for _ in range(allowed + 1):
        _ask_for_token(volunteer.username, "guess", ip="203.0.113.7")

    assert _ask_for_token(volunteer.username, PASSWORD, ip="198.51.100.2").status_code == 200
