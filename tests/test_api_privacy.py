"""The personal-data scan: no public endpoint, in any format, names a volunteer or dates their walk.

Data is built through the real services (sightings submitted and processed, a vote, a moderator
hiding a sighting, the neighbourhood stats refresh) by people with distinctive usernames, emails
and handles, at exact, distinctive times. Then every open-data endpoint is called in every format,
anonymously and with a researcher's token, and every response (body and headers) is searched.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from mapapp import services
from mapapp.models import Camera, Neighbourhood, Sighting
from mapapp.services.neighbourhoods import neighbourhoods_stats_refresh
from tests.conftest import _person, api_client_for
from tests.test_map_pages import load_areas, square

CENTRE = (47.3769, 8.5417)
HIDDEN_SPOT = (47.381234, 8.547654)  # where the hidden sighting was: its position is its reporter's
ALICE_AT = datetime(2024, 5, 17, 13, 37, 42, 123456, tzinfo=UTC)
BOB_AT = datetime(2024, 5, 18, 7, 8, 9, tzinfo=UTC)
NOTES = "I live above the bakery, flat 3"
FORMATS = ("json", "geojson", "csv", "osm")
# What a leak would look like besides the people's own names: a field that points at a person, as
# a JSON key or string ("reporter"), an OSM tag key (k="reporter"), a CSV header cell, or an id column.
PERSON_FIELDS = ("reporter", "voter", "user", "username", "email", "handle", "actor", "profile", "client_id")
PERSON_IDS = (b"user_id", b"reporter_id", b"voter_id", b"actor_id", b"author_id", b"flagger_id")
TIME_OF_DAY = re.compile(rb"\d{2}:\d{2}")


def seen(reporter: object, at: tuple[float, float], when: datetime, **fields: object) -> Sighting:
    data = {"lat": at[0], "lon": at[1], "observed_at": when, "camera_type": "dome", **fields}
    sighting = services.sighting_submit(reporter=reporter, data=data).sighting
    services.sighting_process(sighting_id=sighting.pk)
    return Sighting.objects.get(pk=sighting.pk)


@pytest.fixture
def city(volunteer, second_volunteer, moderator, researcher) -> dict[str, object]:
    load_areas(("Old Town", square(*CENTRE, 0.01)))
    erin = _person("erin_realname")
    first = seen(volunteer, CENTRE, ALICE_AT, notes=NOTES, operator="City Police")
    seen(second_volunteer, (CENTRE[0] + 0.00002, CENTRE[1]), BOB_AT)
    seen(second_volunteer, (CENTRE[0] + 0.003, CENTRE[1]), BOB_AT, camera_type="fixed")  # a second page
    services.vote_cast(voter=erin, camera_id=first.camera_id, verdict="confirm")
    hidden = seen(volunteer, HIDDEN_SPOT, ALICE_AT)
    services.sighting_hide(sighting_id=hidden.pk, actor=moderator, reason="Shows the reporter's house")
    neighbourhoods_stats_refresh()
    people = [volunteer, second_volunteer, moderator, researcher, erin]
    assert Camera.objects.get(pk=first.camera_id).confirmations >= 1  # the data really has volunteers in it
    return {"camera": first.camera_id, "hidden_camera": hidden.camera_id, "people": people}


def responses(client: APIClient, camera_id: int, hidden_id: int) -> list[tuple[str, object]]:
    """Every open-data answer: each endpoint in each of its formats, and the pages a cursor leads to."""
    calls = [("/api/v1/", {}), ("/api/v1/stats/", {})]
    for kind in FORMATS:
        calls += [
            ("/api/v1/cameras/", {"format": kind}),
            ("/api/v1/cameras/", {"format": kind, "ordering": "updated", "page_size": 1}),
            ("/api/v1/cameras/", {"format": kind, "ordering": "-first_seen", "page_size": 1}),
            ("/api/v1/cameras/", {"format": kind, "updated_since": ALICE_AT.isoformat()}),
            ("/api/v1/cameras/export/", {"format": kind}),
            (f"/api/v1/cameras/{camera_id}/", {"format": kind}),
            (f"/api/v1/cameras/{hidden_id}/", {"format": kind}),
        ]
    for kind in ("json", "geojson"):
        calls += [("/api/v1/neighbourhoods/", {"format": kind}), ("/api/v1/neighbourhoods/old-town/", {"format": kind})]
    out = []
    for url, params in calls:
        response = client.get(url, params)
        out.append((f"{url} {params}", response))
        if response.status_code == 200 and response.get("Link", "").count('rel="next"'):
            nxt = response["Link"].split(">")[0].lstrip("<")
            out.append((f"next of {url} {params}", client.get(nxt)))
            out.append(("its cursor", _cursor_as_response(nxt)))
    return out


class _Text:
    """A decoded cursor, searched like a response."""

    def __init__(self, data: bytes) -> None:
        self.content, self.status_code, self.streaming = data, 200, False

    def items(self) -> list[tuple[str, str]]:
        return []


def _cursor_as_response(url: str) -> _Text:
    raw = parse_qs(urlsplit(url).query)["cursor"][0]
    return _Text(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


def everything(response: object) -> bytes:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    headers = "\n".join(f"{k}: {v}" for k, v in response.items()).encode()
    return body + b"\n" + headers


@pytest.mark.parametrize("who", ["anonymous", "researcher"])
@override_settings(
    REST_FRAMEWORK={
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "1000/min"},
    }
)
def test_no_public_answer_names_a_volunteer_or_gives_a_time(city, who):
    client = APIClient() if who == "anonymous" else api_client_for(city["people"][3])
    people = city["people"]
    forbidden = [p.username for p in people] + [p.email for p in people] + [p.profile.handle for p in people]
    forbidden += [NOTES, "Shows the reporter's house", f"{HIDDEN_SPOT[0]}", f"{HIDDEN_SPOT[1]}"]
    forbidden += [str(int(ALICE_AT.timestamp())), str(int(BOB_AT.timestamp())), ALICE_AT.isoformat()[:16]]

    answers = responses(client, city["camera"], city["hidden_camera"])

    # 30 endpoint-format pairs answer, and each of the 8 paged ones leads to a next page and a cursor.
    assert sum(r.status_code == 200 for _, r in answers) == 30 + 8 + 8
    for name, response in answers:
        data = everything(response)
        lowered = data.lower()
        for secret in forbidden:
            assert secret.lower().encode() not in lowered, f"{name} leaks {secret!r}"
        for field in PERSON_FIELDS:
            assert f'"{field}"'.encode() not in lowered, f"{name} has a {field!r} field"
        assert not any(field in lowered for field in PERSON_IDS), f"{name} has a person's id column"
        first_line = lowered.split(b"\r\n")[0].split(b",")
        assert not {f.encode() for f in PERSON_FIELDS} & set(first_line), f"{name} has a person column"
        body = data.split(b"\n" + "\n".join(f"{k}: {v}" for k, v in response.items()).encode())[0]
        assert not TIME_OF_DAY.search(body), f"{name} gives a time of day: {TIME_OF_DAY.search(body)}"


@override_settings(PUBLIC_DATE_PRECISION="day")  # an operator's choice; the default is month
def test_the_published_camera_shows_its_volunteers_only_as_a_count_and_its_dates_as_days(city):
    row = APIClient().get(f"/api/v1/cameras/{city['camera']}/").json()

    assert row["contributors"] == 1 + row["confirmations"]
    assert row["contributors"] >= 2
    assert row["first_seen"] == "2024-05-17"
    assert row["last_seen"] == "2024-05-18"


def test_a_camera_whose_sightings_are_all_hidden_is_in_no_answer(city):
    hidden = city["hidden_camera"]

    assert APIClient().get(f"/api/v1/cameras/{hidden}/").status_code == 404
    assert hidden not in [r["id"] for r in APIClient().get("/api/v1/cameras/").json()["results"]]
    export = b"".join(APIClient().get("/api/v1/cameras/export/", {"format": "csv"}).streaming_content)
    assert f"{HIDDEN_SPOT[0]}".encode() not in export


@override_settings(PUBLIC_DATE_PRECISION="day")  # an operator's choice; the default is month
def test_a_neighbourhoods_last_change_is_published_as_a_day(city):
    stored = Neighbourhood.objects.get(slug="old-town")
    assert "T" in stored.stats["last_update"]  # the stored value has a time; the API must cut it

    published = APIClient().get("/api/v1/neighbourhoods/old-town/").json()["last_update"]

    assert published == stored.stats["last_update"][:10]
