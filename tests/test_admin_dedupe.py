"""The admin's split, merge and undo-merge actions, as a moderator uses them in the browser.

An action first asks for a reason on an intermediate page; only a second POST with a reason
applies it, through the same services as everything else.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from geopy.distance import geodesic

from mapapp import services
from mapapp.models import Assignment, AuditEvent, Camera, Sighting
from tests.conftest import client_for
from tests.support import dedupe_rows

ZURICH = (47.3769, 8.5417)
SIGHTINGS = "/admin/mapapp/sighting/"
CAMERAS = "/admin/mapapp/camera/"

Point = tuple[float, float]


def moved(point: Point, metres: float, bearing: float) -> Point:
    p = geodesic(meters=metres).destination(point, bearing)
    return p.latitude, p.longitude


def report(reporter: object, point: Point) -> services.ProcessResult:
    sighting = services.sighting_submit(reporter=reporter, data={"lat": point[0], "lon": point[1]}).sighting
    result = services.sighting_process(sighting_id=sighting.pk)
    assert result is not None
    return result


def grant(user: object, *codenames: str) -> object:
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="mapapp", codename__in=codenames))
    return user


@pytest.fixture
def admin(moderator):
    """The moderator's browser, allowed to change sightings and cameras in the admin."""
    return client_for(grant(moderator, "change_sighting", "change_camera"))


def act(client, url: str, action: str, ids: list[int], **extra: str):
    return client.post(url, {"action": action, "_selected_action": [str(i) for i in ids], **extra}, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def camera_of_two(volunteer, second_volunteer) -> tuple[int, int, int]:
    """(camera id, alice's sighting id, bob's sighting id) of one camera seen twice."""
    a = report(volunteer, ZURICH)
    b = report(second_volunteer, moved(ZURICH, 8, 90))
    assert a.camera_id == b.camera_id
    return a.camera_id, a.sighting_id, b.sighting_id


def test_splitting_a_sighting_asks_for_a_reason_first(admin, camera_of_two):
    _, _, bob = camera_of_two
    before = dedupe_rows()

    page = act(admin, SIGHTINGS, "split_sightings", [bob])

    assert page.status_code == 200
    assert b"Give each of these sightings a camera of its own?" in page.content
    assert b'name="reason"' in page.content
    assert f'name="_selected_action" value="{bob}"'.encode() in page.content
    assert dedupe_rows() == before


def test_a_moderator_splits_a_sighting_off_with_a_reason(admin, moderator, camera_of_two):
    old, _, bob = camera_of_two

    page = act(admin, SIGHTINGS, "split_sightings", [bob], apply="1", reason="two cameras on the corner")

    new = Sighting.objects.get(pk=bob).camera_id
    assert new != old
    assert messages_of(page) == [f"Split off into camera(s) {new}."]
    event = AuditEvent.objects.get(action="sighting_split")
    assert (event.actor, event.reason, event.target_id) == (moderator, "two cameras on the corner", bob)
    assert Assignment.objects.filter(sighting_id=bob).latest("pk").actor == moderator


def test_an_empty_reason_asks_again_and_changes_nothing(admin, camera_of_two):
    _, _, bob = camera_of_two
    before = dedupe_rows()

    page = act(admin, SIGHTINGS, "split_sightings", [bob], apply="1", reason="   ")

    assert page.status_code == 200
    assert b"Please give a reason; it goes into the public audit log." in page.content
    assert dedupe_rows() == before


def test_a_refused_split_shows_why_and_changes_nothing(admin, volunteer):
    only = report(volunteer, ZURICH)
    before = dedupe_rows()

    page = act(admin, SIGHTINGS, "split_sightings", [only.sighting_id], apply="1", reason="split")

    assert messages_of(page) == ["This sighting is already its camera's only sighting; there is nothing to split."]
    assert dedupe_rows() == before


@pytest.fixture
def two_cameras(volunteer, second_volunteer) -> tuple[int, int]:
    a = report(volunteer, ZURICH)
    b = report(second_volunteer, moved(ZURICH, 40, 0))
    assert a.camera_id < b.camera_id
    return a.camera_id, b.camera_id


def test_a_moderator_merges_cameras_into_the_oldest_and_undoes_it(admin, moderator, two_cameras):
    older, newer = two_cameras

    asked = act(admin, CAMERAS, "merge_cameras", [newer, older])
    assert f"Merge these cameras into camera {older}?".encode() in asked.content
    merged = act(admin, CAMERAS, "merge_cameras", [newer, older], apply="1", reason="one camera")

    assert messages_of(merged) == [f"Merged 1 camera(s) into camera {older}."]
    assert list(Camera.objects.live().values_list("pk", flat=True)) == [older]
    assert Camera.objects.get(pk=newer).merged_into_id == older
    event = AuditEvent.objects.get(action="camera_merge")
    assert (event.actor, event.reason) == (moderator, "one camera")

    undone = act(admin, CAMERAS, "unmerge_cameras", [newer], apply="1", reason="two cameras after all")

    assert messages_of(undone) == ["Restored 1 camera(s)."]
    assert set(Camera.objects.live().values_list("pk", flat=True)) == {older, newer}
    assert Camera.objects.get(pk=newer).sighting_count == 1
    event = AuditEvent.objects.get(action="camera_unmerge")
    assert (event.actor, event.reason, event.target_id) == (moderator, "two cameras after all", newer)


def test_merging_a_single_camera_shows_an_error_and_changes_nothing(admin, two_cameras):
    older, _ = two_cameras
    before = dedupe_rows()

    page = act(admin, CAMERAS, "merge_cameras", [older], apply="1", reason="merge")

    assert messages_of(page) == ["Select at least two cameras to merge."]
    assert dedupe_rows() == before


def test_undoing_the_merge_of_a_live_camera_shows_why_and_changes_nothing(admin, two_cameras):
    older, _ = two_cameras
    before = dedupe_rows()

    page = act(admin, CAMERAS, "unmerge_cameras", [older], apply="1", reason="undo")

    assert messages_of(page) == ["This camera was not merged into another one."]
    assert dedupe_rows() == before


def test_a_merge_refused_half_way_changes_nothing(admin, moderator, two_cameras, researcher):
    older, newer = two_cameras
    third = report(researcher, moved(ZURICH, 80, 0)).camera_id
    fourth = report(researcher, moved(ZURICH, 300, 0)).camera_id
    services.camera_merge(source_id=third, target_id=fourth, actor=moderator, reason="earlier")
    before = dedupe_rows()

    page = act(admin, CAMERAS, "merge_cameras", [older, newer, third], apply="1", reason="all one")

    assert messages_of(page) == ["Only live cameras can be merged; one of these was already merged away."]
    assert Camera.objects.get(pk=newer).merged_into_id is None, "the first merge was applied all the same"
    assert dedupe_rows() == before


def test_staff_who_may_only_view_cameras_are_not_offered_the_merge_action(researcher, two_cameras):
    researcher.is_staff = True
    researcher.save()
    browser = client_for(grant(researcher, "view_camera"))
    before = dedupe_rows()

    page = act(browser, CAMERAS, "merge_cameras", list(two_cameras), apply="1", reason="just looking")

    assert Camera.objects.live().count() == 2, "a view-only user merged two cameras"
    assert dedupe_rows() == before
    assert b"merge_cameras" not in browser.get(CAMERAS).content
    assert page.status_code == 200
