"""Dedupe in the database: a sighting joins its camera or founds one; moderators split, merge, undo.

Positions come from geopy's geodesic `destination`, so every offset is a real distance on the
WGS-84 ellipsoid. Sightings are submitted as a volunteer would (services.sighting_submit) and
processed with the service the dedupe task calls.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from geopy.distance import geodesic

from mapapp import services
from mapapp.imports import osm_import, parse_osm
from mapapp.models import Assignment, AuditEvent, Camera, Sighting, Vote
from tests.conftest import _person
from tests.support import dedupe_rows

ZURICH = (47.3769, 8.5417)

Point = tuple[float, float]


def moved(point: Point, metres: float, bearing: float) -> Point:
    p = geodesic(meters=metres).destination(point, bearing)
    return p.latitude, p.longitude


def metres_between(a: Point, b: Point) -> float:
    return geodesic(a, b).meters


def submit(reporter: object, point: Point, **attrs: Any) -> int:
    data = {"lat": point[0], "lon": point[1], **attrs}
    return services.sighting_submit(reporter=reporter, data=data).sighting.pk


def report(reporter: object, point: Point, **attrs: Any) -> services.ProcessResult:
    """Submit a sighting and process it, as the dedupe worker would (with the position it is sent)."""
    sighting_id = submit(reporter, point, **attrs)
    at = Sighting.objects.values_list("lat", "lon").get(pk=sighting_id)
    result = services.sighting_process(sighting_id=sighting_id, at=at)
    assert result is not None
    return result


def position(camera: Camera) -> Point:
    return camera.lat, camera.lon


# --- A sighting joins its camera or founds one --------------------------------------------------


def test_a_second_volunteers_sighting_8_m_away_joins_the_first_volunteers_camera(volunteer, second_volunteer):
    here, there = ZURICH, moved(ZURICH, 8, 60)

    first = report(volunteer, here, camera_type="dome")
    second = report(second_volunteer, there, camera_type="dome")

    assert (first.founded, second.founded) == (True, False)
    assert second.camera_id == first.camera_id
    assert Camera.objects.count() == 1
    history = list(Assignment.objects.order_by("pk").values_list("kind", "score", "distance_m"))
    assert [kind for kind, *_ in history] == ["founded", "matched"]
    assert history[0][1:] == (None, None)
    assert history[1][1] == pytest.approx(1 - (8 / 25) ** 2, abs=0.005)  # proximity only: no directions given
    assert history[1][2] == pytest.approx(8, abs=0.05)
    camera = Camera.objects.get()
    assert metres_between(position(camera), here) == pytest.approx(4, abs=0.5)
    assert metres_between(position(camera), there) == pytest.approx(4, abs=0.5)
    assert camera.sighting_count == 2
    assert camera.camera_type == "dome"
    assert camera.agreement["camera_type"] == {"share": 1.0, "reports": 2, "label": "unanimous"}


def test_the_same_volunteers_second_sighting_3_m_away_founds_a_second_camera(volunteer):
    first = report(volunteer, ZURICH)
    second = report(volunteer, moved(ZURICH, 3, 120))

    assert (first.founded, second.founded) == (True, True)
    assert first.camera_id != second.camera_id
    assert Camera.objects.live().count() == 2


def test_two_alprs_on_one_pole_facing_opposite_lanes_stay_two_cameras(volunteer, second_volunteer):
    east = report(volunteer, ZURICH, surveillance_type="ALPR", camera_mount="pole", direction=90)
    west = report(second_volunteer, moved(ZURICH, 2, 0), surveillance_type="ALPR", camera_mount="pole", direction=270)

    assert west.founded
    assert east.camera_id != west.camera_id
    assert sorted(Camera.objects.values_list("direction", flat=True)) == [90, 270]


def test_two_reports_of_one_alpr_facing_80_and_100_degrees_are_one_camera(volunteer, second_volunteer):
    first = report(volunteer, ZURICH, surveillance_type="ALPR", camera_mount="pole", direction=80)
    second = report(second_volunteer, moved(ZURICH, 2, 0), surveillance_type="ALPR", camera_mount="pole", direction=100)

    assert second.camera_id == first.camera_id
    camera = Camera.objects.get()
    assert (camera.direction, camera.sighting_count) == (90, 2)


def test_a_sighting_60_m_away_founds_a_new_camera(volunteer, second_volunteer):
    first = report(volunteer, ZURICH)
    far = report(second_volunteer, moved(ZURICH, 60, 200))

    assert far.founded
    assert far.camera_id != first.camera_id
    assert Camera.objects.get(pk=first.camera_id).sighting_count == 1


def test_a_volunteer_confirms_an_imported_osm_camera_instead_of_duplicating_it(volunteer):
    node = {"type": "node", "id": 4242, "lat": ZURICH[0], "lon": ZURICH[1], "tags": {"man_made": "surveillance"}}
    osm_import(elements=parse_osm([node]))
    imported = Camera.objects.get()

    result = report(volunteer, moved(ZURICH, 6, 300))

    assert not result.founded
    assert result.camera_id == imported.pk
    camera = Camera.objects.get()
    assert camera.osm_id == 4242
    assert camera.provenance == Camera.Provenance.OSM
    assert camera.sighting_count == 2


def test_a_camera_takes_the_operator_its_volunteers_named(volunteer, second_volunteer):
    report(volunteer, ZURICH, operator="Stadtpolizei Zürich")
    report(second_volunteer, moved(ZURICH, 5, 0), operator="Stadtpolizei Zürich")

    assert Camera.objects.get().operator == "Stadtpolizei Zürich"


def test_a_camera_nobody_named_an_operator_for_has_a_blank_operator(volunteer, second_volunteer):
    report(volunteer, ZURICH)
    report(second_volunteer, moved(ZURICH, 5, 0))

    assert Camera.objects.get().operator == ""


def test_processing_a_sighting_twice_changes_nothing_the_second_time(volunteer, second_volunteer):
    report(volunteer, ZURICH)
    sighting_id = submit(second_volunteer, moved(ZURICH, 5, 10))
    assert services.sighting_process(sighting_id=sighting_id) is not None
    before = dedupe_rows()

    assert services.sighting_process(sighting_id=sighting_id) is None
    assert dedupe_rows() == before
    assert Assignment.objects.filter(sighting_id=sighting_id).count() == 1


def test_processing_a_rejected_or_missing_sighting_does_nothing(volunteer):
    rejected = submit(volunteer, ZURICH)
    Sighting.objects.filter(pk=rejected).update(status=Sighting.Status.REJECTED)

    assert services.sighting_process(sighting_id=rejected) is None
    assert services.sighting_process(sighting_id=rejected + 1000) is None
    assert not Camera.objects.exists()
    assert not Assignment.objects.exists()
    assert Sighting.objects.get(pk=rejected).status == Sighting.Status.REJECTED


def test_a_decision_made_on_a_position_the_sighting_has_since_left_writes_nothing(volunteer, second_volunteer):
    """The claim is conditional on the position the decision used (processing.py)."""
    from django.db import transaction

    from mapapp.services import processing

    report(volunteer, ZURICH)
    sighting_id = submit(second_volunteer, moved(ZURICH, 5, 10))
    before = dedupe_rows()
    with transaction.atomic():
        params = processing.dedupe_params()
        stale, _, _ = processing._read_pending(sighting_id, params)
        around = processing._lock_and_read(stale, params)
        Sighting.objects.filter(pk=sighting_id).update(lat=stale["lat"] + 0.01)  # edited meanwhile

        assert processing._decide_and_write(stale, around, params) is None
        transaction.set_rollback(True)
    assert dedupe_rows() == before


def test_a_sighting_moved_before_processing_is_placed_at_its_new_position(volunteer, second_volunteer):
    first = report(volunteer, ZURICH)
    sighting_id = submit(second_volunteer, moved(ZURICH, 5, 10))
    far = moved(ZURICH, 500, 10)
    Sighting.objects.filter(pk=sighting_id).update(lat=far[0], lon=far[1])

    result = services.sighting_process(sighting_id=sighting_id)

    assert result is not None
    assert result.founded
    assert result.camera_id != first.camera_id
    assert metres_between(position(Camera.objects.get(pk=result.camera_id)), far) < 0.01


def test_the_position_sent_with_the_task_lets_it_join_the_camera_there(volunteer, second_volunteer):
    first = report(volunteer, ZURICH)
    point = moved(ZURICH, 5, 10)
    sighting_id = submit(second_volunteer, point)

    result = services.sighting_process(sighting_id=sighting_id, at=point)

    assert result is not None
    assert result.camera_id == first.camera_id
    assert Sighting.objects.get(pk=sighting_id).camera_id == first.camera_id


def test_the_first_read_brings_the_area_only_when_the_sighting_is_still_where_it_was_queued(volunteer):
    from django.db import transaction

    from mapapp.services import processing

    report(volunteer, ZURICH)
    sighting_id = submit(volunteer, moved(ZURICH, 5, 10))
    row = Sighting.objects.values("lat", "lon").get(pk=sighting_id)
    params = processing.dedupe_params()
    with transaction.atomic():
        _, _, around = processing._read_pending(sighting_id, params, (row["lat"], row["lon"]))
        _, _, stale = processing._read_pending(sighting_id, params, (row["lat"] + 1e-6, row["lon"]))
        _, _, unsent = processing._read_pending(sighting_id, params)

    assert around is not None
    assert len(around.cameras) == 1
    assert stale is None
    assert unsent is None


def test_a_sighting_moved_after_it_was_queued_is_placed_at_its_new_position(volunteer, second_volunteer):
    first = report(volunteer, ZURICH)
    queued_at = moved(ZURICH, 5, 10)
    sighting_id = submit(second_volunteer, queued_at)
    far = moved(ZURICH, 500, 10)
    Sighting.objects.filter(pk=sighting_id).update(lat=far[0], lon=far[1])

    result = services.sighting_process(sighting_id=sighting_id, at=queued_at)

    assert result is not None
    assert result.founded
    assert result.camera_id != first.camera_id
    assert metres_between(position(Camera.objects.get(pk=result.camera_id)), far) < 0.01


# --- Moderators: split, merge and undo ------------------------------------------------------------


@pytest.fixture
def camera_of_two(volunteer, second_volunteer) -> tuple[Camera, Sighting, Sighting]:
    """One camera from two volunteers' sightings 8 m apart: (camera, alice's, bob's)."""
    first = report(volunteer, ZURICH, camera_type="dome")
    second = report(second_volunteer, moved(ZURICH, 8, 90), camera_type="fixed")
    assert first.camera_id == second.camera_id
    return (
        Camera.objects.get(pk=first.camera_id),
        Sighting.objects.get(pk=first.sighting_id),
        Sighting.objects.get(pk=second.sighting_id),
    )


def test_a_moderator_splits_a_sighting_off_into_a_camera_of_its_own(camera_of_two, moderator):
    old, kept, split = camera_of_two

    change = services.sighting_split(sighting_id=split.pk, actor=moderator, reason="two cameras, one per corner")

    new = change.camera
    assert new.pk != old.pk
    assert list(new.sightings.values_list("pk", flat=True)) == [split.pk]
    assert (new.sighting_count, new.camera_type) == (1, "fixed")
    assert position(new) == (split.lat, split.lon)
    old.refresh_from_db()
    assert (old.sighting_count, old.camera_type) == (1, "dome")
    assert position(old) == pytest.approx((kept.lat, kept.lon))
    assert Sighting.objects.get(pk=split.pk).pinned
    assignment = Assignment.objects.filter(sighting=split).latest("pk")
    assert (assignment.kind, assignment.camera_id, assignment.previous_camera_id, assignment.actor) == (
        "split",
        new.pk,
        old.pk,
        moderator,
    )
    event = AuditEvent.objects.get(pk=change.event_id)
    assert (event.action, event.actor, event.reason) == ("sighting_split", moderator, "two cameras, one per corner")
    assert event.data == {"from_camera": old.pk, "to_camera": new.pk}


def test_merging_a_split_camera_back_leaves_one_live_camera_and_a_tombstone(camera_of_two, moderator):
    old, _, split = camera_of_two
    new = services.sighting_split(sighting_id=split.pk, actor=moderator, reason="looked like two").camera

    change = services.camera_merge(source_id=new.pk, target_id=old.pk, actor=moderator, reason="it was one after all")

    assert list(Camera.objects.live().values_list("pk", flat=True)) == [old.pk]
    assert change.camera.pk == old.pk
    assert change.camera.sighting_count == 2
    tombstone = Camera.objects.get(pk=new.pk)
    assert (tombstone.merged_into_id, tombstone.sighting_count) == (old.pk, 0)
    assert Sighting.objects.get(pk=split.pk).camera_id == old.pk
    assert Assignment.objects.filter(sighting=split).latest("pk").kind == "merged"
    event = AuditEvent.objects.get(pk=change.event_id)
    assert (event.action, event.actor, event.reason, event.target_id) == (
        "camera_merge",
        moderator,
        "it was one after all",
        old.pk,
    )
    assert event.data["source"] == new.pk
    assert event.data["sightings"] == [split.pk]


def test_undoing_a_merge_restores_the_same_camera_with_its_sightings(camera_of_two, moderator):
    old, kept, split = camera_of_two
    new = services.sighting_split(sighting_id=split.pk, actor=moderator, reason="two").camera
    services.camera_merge(source_id=new.pk, target_id=old.pk, actor=moderator, reason="one")
    before_merge_position = position(new)

    change = services.camera_unmerge(camera_id=new.pk, actor=moderator, reason="two after all")

    assert change.camera.pk == new.pk
    assert change.camera.merged_into_id is None
    assert list(change.camera.sightings.values_list("pk", flat=True)) == [split.pk]
    assert position(change.camera) == pytest.approx(before_merge_position)
    assert change.camera.sighting_count == 1
    old.refresh_from_db()
    assert (old.sighting_count, position(old)) == (1, pytest.approx((kept.lat, kept.lon)))
    assert set(Camera.objects.live().values_list("pk", flat=True)) == {old.pk, new.pk}
    assert Assignment.objects.filter(sighting=split).latest("pk").kind == "unmerged"
    event = AuditEvent.objects.get(pk=change.event_id)
    assert (event.action, event.actor, event.reason) == ("camera_unmerge", moderator, "two after all")


@pytest.fixture
def two_cameras(volunteer, second_volunteer) -> tuple[Camera, Camera]:
    """Two cameras 40 m apart, each from one sighting: (older, newer)."""
    a = report(volunteer, ZURICH)
    b = report(second_volunteer, moved(ZURICH, 40, 0))
    assert a.camera_id != b.camera_id
    return Camera.objects.get(pk=a.camera_id), Camera.objects.get(pk=b.camera_id)


def vote(camera: Camera, voter: object, verdict: str, *, minutes_ago: int) -> Vote:
    v = Vote.objects.create(camera=camera, voter=voter, verdict=verdict)
    Vote.objects.filter(pk=v.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes_ago))
    return v


def verdicts(camera: Camera) -> dict[str, str]:
    return dict(Vote.objects.filter(camera=camera).values_list("voter__username", "verdict"))


def test_votes_move_with_a_merge_and_a_voter_on_both_cameras_keeps_the_most_recent(two_cameras, moderator, researcher):
    target, source = two_cameras
    erin, frank = _person("erin_realname"), _person("frank_realname")
    vote(source, erin, "confirm", minutes_ago=5)
    vote(target, frank, "confirm", minutes_ago=5)
    vote(source, researcher, "not_there", minutes_ago=1)  # the newer of dave's two votes
    vote(target, researcher, "confirm", minutes_ago=30)

    services.camera_merge(source_id=source.pk, target_id=target.pk, actor=moderator, reason="same camera")

    assert verdicts(target) == {"erin_realname": "confirm", "frank_realname": "confirm", "dave_realname": "not_there"}
    assert not Vote.objects.filter(camera=source).exists()


def test_undoing_a_merge_gives_the_restored_camera_back_the_vote_the_merge_dropped(two_cameras, moderator, researcher):
    target, source = two_cameras
    vote(source, researcher, "not_there", minutes_ago=30)  # older: dropped by the merge
    vote(target, researcher, "confirm", minutes_ago=1)
    services.camera_merge(source_id=source.pk, target_id=target.pk, actor=moderator, reason="same camera")
    assert verdicts(target) == {"dave_realname": "confirm"}

    services.camera_unmerge(camera_id=source.pk, actor=moderator, reason="not the same")

    assert verdicts(source) == {"dave_realname": "not_there"}
    assert verdicts(target) == {"dave_realname": "confirm"}


def test_undoing_a_merge_gives_the_target_camera_back_its_older_vote_too(two_cameras, moderator, researcher):
    target, source = two_cameras
    vote(source, researcher, "not_there", minutes_ago=1)  # newer: it wins, the target's vote is dropped
    vote(target, researcher, "confirm", minutes_ago=30)
    services.camera_merge(source_id=source.pk, target_id=target.pk, actor=moderator, reason="same camera")

    services.camera_unmerge(camera_id=source.pk, actor=moderator, reason="not the same")

    assert verdicts(source) == {"dave_realname": "not_there"}
    assert verdicts(target) == {"dave_realname": "confirm"}


def test_chained_merges_can_be_undone_in_reverse_order(volunteer, second_volunteer, researcher, moderator):
    a, b, c = (
        report(p, moved(ZURICH, 40 * i, 0)).camera_id for i, p in enumerate((volunteer, second_volunteer, researcher))
    )
    services.camera_merge(source_id=a, target_id=b, actor=moderator, reason="one")
    services.camera_merge(source_id=b, target_id=c, actor=moderator, reason="one")
    assert Camera.objects.get(pk=a).merged_into_id == c  # links to a forward to the live camera

    services.camera_unmerge(camera_id=b, actor=moderator, reason="undo the second merge")
    services.camera_unmerge(camera_id=a, actor=moderator, reason="undo the first merge")

    assert set(Camera.objects.live().values_list("pk", flat=True)) == {a, b, c}
    assert all(Camera.objects.get(pk=pk).sighting_count == 1 for pk in (a, b, c))


def test_undoing_the_first_of_two_chained_merges_first_is_refused_and_writes_nothing(
    volunteer, second_volunteer, researcher, moderator
):
    a, b, c = (
        report(p, moved(ZURICH, 40 * i, 0)).camera_id for i, p in enumerate((volunteer, second_volunteer, researcher))
    )
    services.camera_merge(source_id=a, target_id=b, actor=moderator, reason="one")
    services.camera_merge(source_id=b, target_id=c, actor=moderator, reason="one")
    before = dedupe_rows()

    with pytest.raises(ValidationError, match=f"Camera {b}, which this camera was merged into, has since been merged"):
        services.camera_unmerge(camera_id=a, actor=moderator, reason="undo the first merge")
    assert dedupe_rows() == before


def test_merging_a_camera_into_itself_is_refused_and_writes_nothing(two_cameras, moderator):
    camera, _ = two_cameras
    before = dedupe_rows()

    with pytest.raises(ValidationError, match="cannot be merged into itself"):
        services.camera_merge(source_id=camera.pk, target_id=camera.pk, actor=moderator, reason="oops")
    assert dedupe_rows() == before


def test_merging_a_tombstone_is_refused_and_writes_nothing(two_cameras, volunteer, moderator, researcher):
    target, source = two_cameras
    services.camera_merge(source_id=source.pk, target_id=target.pk, actor=moderator, reason="same")
    third = report(researcher, moved(ZURICH, 200, 90)).camera_id
    before = dedupe_rows()

    with pytest.raises(ValidationError, match="Only live cameras can be merged"):
        services.camera_merge(source_id=source.pk, target_id=third, actor=moderator, reason="again")
    with pytest.raises(ValidationError, match="Only live cameras can be merged"):
        services.camera_merge(source_id=third, target_id=source.pk, actor=moderator, reason="into a tombstone")
    assert dedupe_rows() == before


def test_splitting_a_cameras_only_sighting_is_refused_and_writes_nothing(volunteer, moderator):
    only = report(volunteer, ZURICH)
    before = dedupe_rows()

    with pytest.raises(ValidationError, match="already its camera's only sighting"):
        services.sighting_split(sighting_id=only.sighting_id, actor=moderator, reason="split")
    assert dedupe_rows() == before


def test_splitting_a_sighting_that_is_still_pending_is_refused(volunteer, moderator):
    pending = submit(volunteer, ZURICH)
    before = dedupe_rows()

    with pytest.raises(ValidationError, match="Only a processed sighting"):
        services.sighting_split(sighting_id=pending, actor=moderator, reason="split")
    assert dedupe_rows() == before


def test_undoing_a_merge_of_a_live_camera_is_refused_and_writes_nothing(two_cameras, moderator):
    camera, _ = two_cameras
    before = dedupe_rows()

    with pytest.raises(ValidationError, match="was not merged into another one"):
        services.camera_unmerge(camera_id=camera.pk, actor=moderator, reason="undo")
    assert dedupe_rows() == before


# --- A new sighting regroups the cameras around it -------------------------------------------------


@pytest.fixture
def bridged(volunteer, second_volunteer, researcher) -> dict[str, int]:
    """Two cameras 30 m apart (beyond the gate), then a third report right between them.

    With the third report the three form one camera: its centre is within a gate of each.
    """
    a = report(volunteer, ZURICH)
    b = report(second_volunteer, moved(ZURICH, 30, 0))
    assert a.camera_id != b.camera_id
    erin = _person("erin_realname")
    Vote.objects.create(camera_id=b.camera_id, voter=erin, verdict="confirm")
    c = report(researcher, moved(ZURICH, 15, 0))
    return {"a": a.camera_id, "b": b.camera_id, "b_sighting": b.sighting_id, "c": c.camera_id}


def test_a_sighting_that_shows_two_cameras_are_one_merges_them_with_history(bridged):
    a, b = bridged["a"], bridged["b"]

    assert bridged["c"] == a  # equal shares: the older camera keeps its id
    assert list(Camera.objects.live().values_list("pk", flat=True)) == [a]
    assert Camera.objects.get(pk=a).sighting_count == 3
    assert Camera.objects.get(pk=b).merged_into_id == a
    moved_here = Assignment.objects.filter(sighting_id=bridged["b_sighting"]).latest("pk")
    assert (moved_here.kind, moved_here.camera_id, moved_here.previous_camera_id) == ("regrouped", a, b)
    event = AuditEvent.objects.get(action="camera_auto_merge")
    assert (event.target_id, event.actor, event.data["source"]) == (a, None, b)
    assert verdicts(Camera.objects.get(pk=a)) == {"erin_realname": "confirm"}


def test_a_moderator_undoes_an_automatic_merge_and_the_next_sighting_respects_it(bridged, moderator):
    a, b = bridged["a"], bridged["b"]

    services.camera_unmerge(camera_id=b, actor=moderator, reason="two cameras, 30 m apart")
    assert set(Camera.objects.live().values_list("pk", flat=True)) == {a, b}
    assert list(Sighting.objects.filter(camera_id=b).values_list("pk", "pinned")) == [(bridged["b_sighting"], True)]
    assert verdicts(Camera.objects.get(pk=b)) == {"erin_realname": "confirm"}

    report(_person("frank_realname"), moved(ZURICH, 15, 0))

    assert set(Camera.objects.live().values_list("pk", flat=True)) == {a, b}
    assert Sighting.objects.get(pk=bridged["b_sighting"]).camera_id == b


def test_a_sighting_next_to_a_split_camera_does_not_undo_the_split(camera_of_two, moderator, researcher):
    old, _, split = camera_of_two
    new = services.sighting_split(sighting_id=split.pk, actor=moderator, reason="two cameras").camera

    joined = report(researcher, moved(ZURICH, 4, 90))

    assert joined.camera_id in {old.pk, new.pk}
    assert set(Camera.objects.live().values_list("pk", flat=True)) == {old.pk, new.pk}
    assert Sighting.objects.get(pk=split.pk).camera_id == new.pk


def test_tombstones_are_neither_live_nor_public(two_cameras, moderator):
    target, source = two_cameras
    services.camera_merge(source_id=source.pk, target_id=target.pk, actor=moderator, reason="same")

    assert list(Camera.objects.live().values_list("pk", flat=True)) == [target.pk]
    assert list(Camera.objects.public().values_list("pk", flat=True)) == [target.pk]
    Camera.objects.filter(pk=target.pk).update(status=Camera.Status.REMOVED)
    assert list(Camera.objects.live().values_list("pk", flat=True)) == [target.pk]
    assert not Camera.objects.public().exists()


# --- The sweeper ----------------------------------------------------------------------------------


def submitted_ago(sighting_id: int, seconds: float) -> None:
    Sighting.objects.filter(pk=sighting_id).update(submitted_at=timezone.now() - timedelta(seconds=seconds))


def test_the_sweeper_requeues_pending_sightings_older_than_the_cutoff_and_leaves_fresh_ones(
    volunteer, second_volunteer
):
    stuck = submit(volunteer, ZURICH)
    submitted_ago(stuck, 600)
    fresh = submit(second_volunteer, moved(ZURICH, 500, 0))
    done = report(second_volunteer, moved(ZURICH, 900, 0)).sighting_id
    submitted_ago(done, 600)

    assert services.sightings_sweep(older_than_s=120) == [stuck]
    assert services.sightings_sweep(older_than_s=0) == [stuck, fresh]
    assert Sighting.objects.get(pk=stuck).status == Sighting.Status.PENDING  # the task, not the sweeper, processes


def test_the_sweeper_waits_SWEEP_PENDING_AFTER_SECONDS_by_default(settings, volunteer, second_volunteer):
    settings.SWEEP_PENDING_AFTER_SECONDS = 300
    older, newer = submit(volunteer, ZURICH), submit(second_volunteer, moved(ZURICH, 500, 0))
    submitted_ago(older, 301)
    submitted_ago(newer, 299)

    assert services.sightings_sweep() == [older]


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_loses_its_claim_commits_none_of_its_writes(volunteer, second_volunteer):
    """In its own transaction on PostgreSQL the COMMIT goes out with the writes (processing.py);
    a claim that matches no row must then abort the batch before that COMMIT."""
    from django.db import DataError, connection, transaction

    from mapapp.services import processing

    if connection.vendor != "postgresql":
        pytest.skip("the COMMIT joins the write batch only on PostgreSQL (SQLite has no round trips)")
    report(volunteer, ZURICH)
    sighting_id = submit(second_volunteer, moved(ZURICH, 5, 10))
    before = dedupe_rows()
    params = processing.dedupe_params()
    with transaction.atomic():
        row, reserved_id, _ = processing._read_pending(sighting_id, params, None)
        around = processing._lock_and_read(row, params)
        Sighting.objects.filter(pk=sighting_id).update(status=Sighting.Status.REJECTED)  # meanwhile
        with pytest.raises(DataError) as lost:
            processing._decide_and_write(row, around, params, reserved_id, commit=True)

    assert lost.value.__cause__.sqlstate == processing.NOT_CLAIMED
    assert dedupe_rows() == before
    assert Sighting.objects.get(pk=sighting_id).status == Sighting.Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_a_worker_in_its_own_transaction_commits_its_decision(volunteer, second_volunteer):
    first = report(volunteer, ZURICH)
    sighting_id = submit(second_volunteer, moved(ZURICH, 5, 10))

    result = services.sighting_process(sighting_id=sighting_id, at=moved(ZURICH, 5, 10))

    assert result is not None
    assert result.camera_id == first.camera_id
    assert Sighting.objects.get(pk=sighting_id).status == Sighting.Status.PROCESSED
    assert Camera.objects.get(pk=first.camera_id).sighting_count == 2
