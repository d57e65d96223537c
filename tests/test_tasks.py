"""The processing task: queued after commit, run by a real worker, idempotent."""

from __future__ import annotations

import pytest

from mapapp import services
from mapapp.models import Assignment, Camera, Sighting
from mapapp.tasks import dedupe_sighting
from tests.support import wait_until

SPOT = {"lat": 47.3769, "lon": 8.5417, "camera_type": "dome"}


def _status(sighting_id: int) -> str:
    return Sighting.objects.values_list("status", flat=True).get(pk=sighting_id)


@pytest.mark.worker
def test_a_real_worker_process_marks_a_submitted_sighting_processed(celery_worker, volunteer):
    result = services.sighting_submit(reporter=volunteer, data=SPOT)

    assert wait_until(lambda: _status(result.sighting.pk) == "processed", timeout=60), celery_worker.log()
    assert Sighting.objects.get(pk=result.sighting.pk).processed_at is not None


def test_the_task_is_queued_only_after_the_sighting_commits(django_capture_on_commit_callbacks, volunteer):
    with django_capture_on_commit_callbacks() as callbacks:
        result = services.sighting_submit(reporter=volunteer, data=SPOT)
        assert _status(result.sighting.pk) == "pending"
    assert len(callbacks) == 1


def test_running_the_task_twice_changes_nothing_the_second_time(volunteer):
    sighting = services.sighting_submit(reporter=volunteer, data=SPOT).sighting

    camera_id = dedupe_sighting(sighting.pk)
    first = Sighting.objects.get(pk=sighting.pk)
    cameras_after_first = list(Camera.objects.values_list("pk", "lat", "lon", "sighting_count", "updated_at"))
    assert dedupe_sighting(sighting.pk) is None
    second = Sighting.objects.get(pk=sighting.pk)

    assert camera_id is not None
    assert (
        (first.status, first.processed_at, first.camera_id)
        == (
            second.status,
            second.processed_at,
            second.camera_id,
        )
        == ("processed", first.processed_at, camera_id)
    )
    assert list(Camera.objects.values_list("pk", "lat", "lon", "sighting_count", "updated_at")) == cameras_after_first
    assert Assignment.objects.filter(sighting=sighting).count() == 1


def test_the_task_ignores_a_sighting_that_no_longer_exists(db):
    assert dedupe_sighting(987654) is None
    assert not Camera.objects.exists()
