"""The sighting API: submit (JSON or multipart), retry safely, read back only your own, leak nobody."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.utils import timezone
from PIL import Image

from mapapp import services
from mapapp.models import Sighting
from tests.conftest import api_client_for

URL = "/api/v1/sightings/"
SPOT = {"lat": 47.3769, "lon": 8.5417, "camera_type": "dome", "direction": 90}
EVERY_FIELD = {
    "lat": 47.3769,
    "lon": 8.5417,
    "surveillance_type": "camera",
    "camera_type": "dome",
    "camera_mount": "pole",
    "surveillance": "public",
    "zone": "traffic",
    "direction": 270,
    "operator": "City of Zurich",
    "operator_type": "government",
    "height": 4.5,
    "camera_angle": 30.0,
    "notes": "Above the tram stop, facing the square.",
    "observed_at": "2024-05-01T09:30:00Z",
    "accuracy_m": 8.0,
}


def _jpeg(name: str = "photo.jpg") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 130, 140)).save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def _submit(user: object, payload: dict, *, fmt: str = "json"):
    return api_client_for(user).post(URL, payload, format=fmt)


# --- Creating -------------------------------------------------------------------------------


def test_a_json_submission_is_stored_pending_with_the_given_values(volunteer):
    response = _submit(volunteer, {**EVERY_FIELD, "client_id": "phone-1"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["camera"], body["source"], body["photo"]) == ("pending", None, "api", None)
    assert response["Location"] == f"http://testserver{URL}{body['id']}/"

    stored = Sighting.objects.get()
    assert stored.pk == body["id"]
    assert stored.reporter == volunteer
    assert stored.client_id == "phone-1"
    assert stored.source == "api"
    assert stored.observed_at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    for name, value in EVERY_FIELD.items():
        if name != "observed_at":
            assert getattr(stored, name) == value, name
            assert body[name] == value, name


def test_a_multipart_submission_without_a_photo_is_stored(volunteer):
    response = _submit(
        volunteer, {"lat": "47.3769", "lon": "8.5417", "direction": "", "camera_type": "fixed"}, fmt="multipart"
    )

    assert response.status_code == 201, response.json()
    stored = Sighting.objects.get()
    assert (stored.lat, stored.lon, stored.direction, stored.camera_type) == (47.3769, 8.5417, None, "fixed")
    assert response.json()["photo"] is None


def test_a_multipart_submission_with_a_jpeg_gets_a_photo_url(volunteer, isolated_media):
    response = _submit(volunteer, {**SPOT, "photo": _jpeg("alice_realname_front_door.jpg")}, fmt="multipart")

    assert response.status_code == 201, response.json()
    url = response.json()["photo"]
    assert url.startswith("http://testserver/media/photos/")
    assert url.endswith(".jpg")
    # The uploaded file's name can identify its owner, so it is not reused.
    assert "alice" not in url
    stored = Sighting.objects.get()
    assert (isolated_media / stored.photo.name).is_file()
    with Image.open(stored.photo.path) as image:
        assert image.format == "JPEG"


# --- Idempotent retries ---------------------------------------------------------------------


def test_a_retry_with_the_same_client_id_replays_the_first_answer(volunteer):
    payload = {**EVERY_FIELD, "client_id": "retry-me"}
    first = _submit(volunteer, payload)
    second = _submit(volunteer, payload)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Sighting.objects.count() == 1


def test_reusing_a_client_id_for_a_different_sighting_is_refused(volunteer):
    first = _submit(volunteer, {**SPOT, "client_id": "reused"})
    second = _submit(volunteer, {**SPOT, "lat": 48.0, "client_id": "reused"})

    assert first.status_code == 201
    assert second.status_code == 422
    assert list(second.json()) == ["client_id"]
    assert Sighting.objects.count() == 1
    assert Sighting.objects.get().lat == SPOT["lat"]


def test_the_same_client_id_from_another_volunteer_is_their_own_sighting(volunteer, second_volunteer):
    mine = _submit(volunteer, {**SPOT, "client_id": "uuid-from-a-shared-app"})
    theirs = _submit(second_volunteer, {**SPOT, "client_id": "uuid-from-a-shared-app"})

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert Sighting.objects.get(pk=theirs.json()["id"]).reporter == second_volunteer


def _post_at_once(clients: list, payload: dict) -> list:
    """POST the same payload from several threads released together; each thread has its own connection."""
    barrier = threading.Barrier(len(clients))
    responses: list = [None] * len(clients)
    failures: list[BaseException] = []

    def post(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            responses[i] = clients[i].post(URL, payload, format="json")
        except BaseException as exc:  # re-raised in the main thread below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    return responses


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submissions_with_one_client_id_store_one_sighting(volunteer):
    for round_no in range(5):
        client_id = f"race-{round_no}"
        clients = [api_client_for(volunteer), api_client_for(volunteer)]

        responses = _post_at_once(clients, {**SPOT, "client_id": client_id})

        assert sorted(r.status_code for r in responses) == [200, 201], [r.content for r in responses]
        assert responses[0].json() == responses[1].json()
        assert Sighting.objects.filter(client_id=client_id).count() == 1
    assert Sighting.objects.count() == 5


# --- Refusing bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "fmt", "field"),
    [
        pytest.param({**SPOT, "lat": 91}, "json", "lat", id="lat-91"),
        pytest.param({**SPOT, "lon": -181}, "json", "lon", id="lon-minus-181"),
        pytest.param({**SPOT, "lat": "abc"}, "json", "lat", id="lat-abc"),
        pytest.param({**SPOT, "lat": "NaN"}, "multipart", "lat", id="lat-NaN-multipart"),
        pytest.param({**SPOT, "lon": "Infinity"}, "multipart", "lon", id="lon-Infinity-multipart"),
        pytest.param({**SPOT, "lat": "Infinity"}, "json", "lat", id="lat-Infinity-string"),
        pytest.param({**SPOT, "direction": 400}, "json", "direction", id="direction-400"),
        pytest.param({**SPOT, "direction": -1}, "json", "direction", id="direction-minus-1"),
        pytest.param({**SPOT, "camera_type": "spaceship"}, "json", "camera_type", id="camera-type-spaceship"),
        pytest.param({"camera_type": "dome"}, "json", "lat", id="missing-lat"),
        pytest.param({"camera_type": "dome"}, "json", "lon", id="missing-lon"),
        pytest.param({**SPOT, "accuracy_m": -5}, "json", "accuracy_m", id="accuracy-minus-5"),
        pytest.param({**SPOT, "observed_at": "2099-01-01T00:00:00Z"}, "json", "observed_at", id="far-future"),
        pytest.param({**SPOT, "camera_typ": "dome"}, "json", "camera_typ", id="unknown-field"),
        pytest.param({**SPOT, "status": "processed"}, "json", "status", id="read-only-field"),
        pytest.param({**SPOT, "client_id": "x" * 65}, "json", "client_id", id="client-id-65-chars"),
        pytest.param(
            {**SPOT, "photo": SimpleUploadedFile("x.jpg", b"just some text\n", content_type="image/jpeg")},
            "multipart",
            "photo",
            id="text-file-named-jpg",
        ),
    ],
)
def test_bad_input_is_refused_field_by_field_and_stores_nothing(volunteer, payload, fmt, field):
    response = _submit(volunteer, payload, fmt=fmt)

    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert isinstance(errors[field], list)
    assert errors[field]
    assert Sighting.objects.count() == 0


def test_an_unknown_field_is_named_alongside_other_errors(volunteer):
    response = _submit(volunteer, {"lon": 8.5, "camera_typ": "dome"})

    assert response.status_code == 400
    assert response.json() == {"camera_typ": ["Unknown field."], "lat": ["This field is required."]}


def test_a_json_body_with_a_bare_nan_is_a_parse_error(volunteer):
    response = api_client_for(volunteer).post(URL, '{"lat": NaN, "lon": 8.5}', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert Sighting.objects.count() == 0


# --- Who may read what ----------------------------------------------------------------------


def test_an_anonymous_submission_is_a_401_with_a_challenge(db):
    response = api_client_for(None).post(URL, SPOT, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert Sighting.objects.count() == 0


def test_an_anonymous_visitor_cannot_read_sightings(volunteer):
    sighting = services.sighting_submit(reporter=volunteer, data=SPOT).sighting
    anonymous = api_client_for(None)

    assert anonymous.get(URL).status_code == 401
    assert anonymous.get(f"{URL}{sighting.pk}/").status_code == 401


def test_a_volunteer_reads_back_their_own_sighting(volunteer):
    created = _submit(volunteer, EVERY_FIELD).json()

    response = api_client_for(volunteer).get(f"{URL}{created['id']}/")

    assert response.status_code == 200
    assert response.json() == created


def test_another_volunteers_sighting_looks_the_same_as_a_missing_one(volunteer, second_volunteer):
    created = _submit(volunteer, SPOT).json()
    snooper = api_client_for(second_volunteer)

    theirs = snooper.get(f"{URL}{created['id']}/")
    missing = snooper.get(f"{URL}{created['id'] + 1000}/")

    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()


def test_the_list_pages_through_only_my_own_sightings_newest_first(volunteer, second_volunteer):
    # Submission times deliberately out of id order (an offline phone uploading a backlog).
    minutes_ago = [30, 10, 50, 20, 40]
    mine = {}
    for minutes in minutes_ago:
        pk = services.sighting_submit(reporter=volunteer, data=SPOT).sighting.pk
        Sighting.objects.filter(pk=pk).update(submitted_at=timezone.now() - timedelta(minutes=minutes))
        mine[pk] = minutes
    services.sighting_submit(reporter=second_volunteer, data=SPOT)
    client = api_client_for(volunteer)

    seen, url = [], f"{URL}?page_size=2"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [item["id"] for item in page["results"]]
        url = page["next"]

    assert seen == sorted(mine, key=mine.get)


# --- Privacy --------------------------------------------------------------------------------


def test_no_response_names_the_reporter(volunteer):
    client = api_client_for(volunteer)
    created = client.post(URL, {**EVERY_FIELD, "client_id": "c1"}, format="json")
    responses = [
        created,
        client.post(URL, {**EVERY_FIELD, "client_id": "c1"}, format="json"),
        client.post(URL, {**EVERY_FIELD, "client_id": "c1", "lat": 1.0}, format="json"),
        client.post(URL, {**SPOT, "lat": 91}, format="json"),
        client.get(f"{URL}{created.json()['id']}/"),
        client.get(URL),
    ]

    for response in responses:
        text = response.content.decode()
        assert volunteer.username not in text
        assert volunteer.email not in text
        assert "private.example" not in text
        assert "reporter" not in text
    assert set(created.json()) == {
        "id",
        "status",
        "camera",
        "lat",
        "lon",
        *Sighting.ATTRIBUTE_FIELDS,
        "notes",
        "observed_at",
        "submitted_at",
        "accuracy_m",
        "source",
        "photo",
    }
