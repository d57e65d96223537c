"""Invariants the database itself holds, whatever code path writes."""

from __future__ import annotations

import random

import pytest
from django.db import IntegrityError, connection, transaction

from mapapp import services
from mapapp.models import AuditEvent, Camera, Sighting


def insert_sighting(reporter, **fields):
    """Write straight to the table, skipping every Python-side check, to reach the constraints."""
    with transaction.atomic():
        Sighting.objects.bulk_create([Sighting(reporter=reporter, **{"lat": 10.0, "lon": 10.0, **fields})])


@pytest.mark.parametrize(
    "fields",
    [
        {"lat": 91.0},
        {"lat": -90.5},
        {"lon": 180.5},
        {"lon": -181.0},
        {"lat": float("nan")},
        {"direction": 360},
        {"direction": 400},
        {"accuracy_m": -1.0},
        {"camera_type": "spaceship"},
        {"camera_mount": "wall/ceiling"},
        {"surveillance_type": "drone"},
        {"status": "lost"},
    ],
)
def test_the_database_refuses_an_impossible_sighting(volunteer, fields):
    with pytest.raises(IntegrityError):
        insert_sighting(volunteer, **fields)
    assert Sighting.objects.count() == 0


def test_the_database_accepts_the_edges_of_the_valid_ranges(volunteer):
    insert_sighting(volunteer, lat=90.0, lon=-180.0, direction=0)
    insert_sighting(volunteer, lat=-90.0, lon=180.0, direction=359)
    assert Sighting.objects.count() == 2


def test_a_volunteer_cannot_store_two_sightings_under_one_idempotency_key(volunteer, second_volunteer):
    insert_sighting(volunteer, client_id="abc")
    insert_sighting(second_volunteer, client_id="abc")  # another volunteer's key space
    insert_sighting(volunteer, client_id=None)
    insert_sighting(volunteer, client_id=None)  # no key means no idempotency, not a clash

    with pytest.raises(IntegrityError):
        insert_sighting(volunteer, client_id="abc")
    assert Sighting.objects.count() == 4


def test_a_camera_with_an_impossible_position_is_refused(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Camera.objects.bulk_create([Camera(lat=95.0, lon=0.0)])


def test_two_cameras_cannot_claim_one_openstreetmap_node(db):
    Camera.objects.create(lat=1.0, lon=1.0, osm_id=42, provenance="osm")
    with pytest.raises(IntegrityError), transaction.atomic():
        Camera.objects.create(lat=1.0, lon=1.0, osm_id=42, provenance="osm")


def test_a_bounding_box_query_on_cameras_uses_the_lat_lon_index(db):
    rng = random.Random(7)
    Camera.objects.bulk_create(
        [Camera(lat=40 + rng.random(), lon=-74 + rng.random()) for _ in range(5000)], batch_size=1000
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    plan = Camera.objects.in_bbox(-73.6, 40.40, -73.59, 40.41).explain()

    assert "camera_lat_lon_idx" in plan, plan


def test_a_bounding_box_query_finds_exactly_the_cameras_inside(db):
    inside = Camera.objects.create(lat=40.5, lon=-73.5)
    Camera.objects.create(lat=40.5, lon=-72.5)
    Camera.objects.create(lat=41.5, lon=-73.5)

    assert list(Camera.objects.in_bbox(-74, 40, -73, 41)) == [inside]


def test_the_audit_log_cannot_be_edited_or_deleted(db):
    event = services.audit_record(action="test", target=None, reason="because")

    event.reason = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.update(reason="rewritten")
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE mapapp_auditevent SET reason = 'rewritten'")

    assert AuditEvent.objects.get().reason == "because"
