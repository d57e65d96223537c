"""Writing a generated demo city to the database (see generate.py for what the city is)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import geometry, services
from ..models import Assignment, Camera, Neighbourhood, Sighting
from .generate import DEMO_EMAIL_DOMAIN, DEMO_PASSWORD, DEMO_USERNAME, DemoAlreadySeeded, DemoCity, DemoSummary

# --- The write service ------------------------------------------------------------------------


def demo_data_exists() -> bool:
    demo_cameras = Camera.objects.filter(provenance=Camera.Provenance.DEMO)
    return Neighbourhood.objects.filter(is_demo=True).exists() or demo_cameras.exists()


def _account(*, username: str, password: str | None) -> AbstractBaseUser:
    """The demo account, signed up unless it exists (an existing account is left as it is)."""
    user = get_user_model().objects.filter(username=username).first()
    if user is not None:
        services.profile_ensure(user=user)
        return user
    # password=None gives an unusable password without a slow hash: nobody logs in as them.
    return services.volunteer_signup(username=username, email=f"{username}@{DEMO_EMAIL_DOMAIN}", password=password)


@transaction.atomic
def demo_seed(*, city: DemoCity) -> DemoSummary:
    """Write a generated city: neighbourhoods, accounts, cameras and their processed sightings.

    Raises DemoAlreadySeeded if demo data exists. Sightings carry client_id "demo-<n>", so even
    a racing second run is stopped by the unique constraint rather than duplicating them.
    """
    if demo_data_exists():
        raise DemoAlreadySeeded("The demo city is already in the database.")
    hoods = [
        Neighbourhood(
            name=n.name,
            slug=n.slug,
            polygon=n.polygon,
            **dict(zip(("min_lon", "min_lat", "max_lon", "max_lat"), geometry.bbox(n.polygon), strict=True)),
            area_km2=geometry.area_km2(n.polygon),
            source="demo",
            is_demo=True,
        )
        for n in city.neighbourhoods
    ]
    Neighbourhood.objects.bulk_create(hoods)
    volunteers = [_account(username=name, password=None) for name in city.volunteers]
    _account(username=DEMO_USERNAME, password=DEMO_PASSWORD)

    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    observed = [midnight - timedelta(days=s.observed_day, seconds=-s.observed_second) for s in city.sightings]
    seen: dict[int, list] = {}
    for s, when in zip(city.sightings, observed, strict=True):
        seen.setdefault(s.camera, []).append(when)
    cameras = [
        Camera(
            lat=c.lat,
            lon=c.lon,
            neighbourhood=hoods[c.neighbourhood],
            provenance=Camera.Provenance.DEMO,
            agreement=c.agreement,
            sighting_count=len(seen[i]),
            first_seen=min(seen[i]),
            last_seen=max(seen[i]),
            **c.attributes,
        )
        for i, c in enumerate(city.cameras)
    ]
    Camera.objects.bulk_create(cameras, batch_size=500)
    sightings = []
    for n, (s, when) in enumerate(zip(city.sightings, observed, strict=True), start=1):
        submitted = when + timedelta(seconds=s.submit_delay_s)
        sightings.append(
            Sighting(
                reporter=volunteers[s.volunteer],
                camera=cameras[s.camera],
                lat=s.lat,
                lon=s.lon,
                accuracy_m=s.accuracy_m,
                observed_at=when,
                submitted_at=submitted,
                processed_at=submitted + timedelta(seconds=2 + n % 20),
                notes=s.notes,
                source=Sighting.Source.WEB,
                status=Sighting.Status.PROCESSED,
                client_id=f"demo-{n}",
                **s.attributes,
            )
        )
    Sighting.objects.bulk_create(sightings, batch_size=500)
    # History as if the worker had processed them: the first sighting of a camera founded it.
    founders: set[int] = set()
    history = []
    for sighting in sightings:
        kind = Assignment.Kind.MATCHED if sighting.camera_id in founders else Assignment.Kind.FOUNDED
        founders.add(sighting.camera_id)
        history.append(
            Assignment(sighting=sighting, camera_id=sighting.camera_id, kind=kind, created_at=sighting.processed_at)
        )
    Assignment.objects.bulk_create(history, batch_size=500)
    summary = DemoSummary(len(hoods), len(cameras), len(sightings), len(volunteers))
    services.audit_record(
        action="demo_seed",
        target=None,
        reason="Fictional demo city for development (mapapp/demo/).",
        data={"seed": city.seed, "center": list(city.center), **summary.__dict__},
    )
    return summary
