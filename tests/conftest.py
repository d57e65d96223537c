"""Shared personas and real-service fixtures.

Personas: `volunteer` (alice), `second_volunteer` (bob), `moderator` (carol), `researcher` (dave)
and `anonymous`. Their usernames and emails are distinctive on purpose, so privacy tests can search
pages and exports for them.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mapapp import services
from tests.support import BASE_DIR, WorkerProcess

PASSWORD = "correct-horse-battery-staple"
IN_CI = os.environ.get("CI", "").lower() == "true"
DATASETS = Path(os.environ.get("CAMERAWATCH_DATASETS") or BASE_DIR.parent / "shared" / "datasets")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Give each test run its own SQLite file, so parallel runs on one machine never collide."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db["TEST"]["NAME"] = str(Path(db["TEST"]["NAME"]).with_suffix(f".{os.getpid()}.sqlite3"))


@pytest.fixture(scope="session", autouse=True)
def real_services_in_ci() -> None:
    """In CI the suite runs on PostgreSQL and Redis, or not at all: no silent fallback."""
    if not IN_CI:
        return
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    broker = settings.CELERY_BROKER_URL
    if engine != "django.db.backends.postgresql" or not broker.startswith("redis"):
        pytest.exit(f"CI must use PostgreSQL and Redis, got {engine} and {broker}", returncode=3)
    from camerawatch.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=3)
    except Exception as exc:  # any failure to reach the broker stops the run
        pytest.exit(f"Cannot reach the Celery broker {broker}: {exc}", returncode=3)


@pytest.fixture(scope="session", autouse=True)
def private_task_queue() -> Iterator[str]:
    """Send this run's tasks to a queue of its own, so a developer's running worker never eats them."""
    from camerawatch.celery import app

    queue = f"camerawatch-test-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    yield queue
    # Tests without a worker leave their messages behind; don't let them pile up on the broker.
    with contextlib.suppress(Exception):
        app.control.purge()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: object) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Throttles and the geocoder cache live in the cache; each test starts with it empty."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def fresh_area_index() -> None:
    """Every camera write looks its neighbourhood up in a per-process cache of the polygons; each
    test starts without it, so no test's (rolled back) neighbourhoods place another's cameras."""
    from mapapp.services.neighbourhoods import area_index_reset

    area_index_reset()


@pytest.fixture(autouse=True)
def isolated_media(settings: object, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _person(username: str) -> object:
    return services.volunteer_signup(username=username, email=f"{username}@private.example", password=PASSWORD)


@pytest.fixture
def volunteer(db: None) -> object:
    return _person("alice_realname")


@pytest.fixture
def second_volunteer(db: None) -> object:
    return _person("bob_realname")


@pytest.fixture
def moderator(db: None) -> object:
    user = _person("carol_realname")
    user.is_staff = True
    user.save()
    services.role_grant(user=user, role="moderator")
    return user


@pytest.fixture
def researcher(db: None) -> object:
    user = _person("dave_realname")
    services.role_grant(user=user, role="researcher")
    return user


@pytest.fixture
def anonymous() -> Client:
    return Client()


def client_for(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_client_for(user: object | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def datasets() -> Path:
    """The real third-party data beside the checkout. Skips on a newcomer's machine, never in CI."""
    if not DATASETS.is_dir():
        if IN_CI:
            pytest.fail(f"CI needs the shared datasets at {DATASETS}, and they are missing")
        pytest.skip(f"the shared datasets are not at {DATASETS} (see ../shared/datasets/README.md)")
    return DATASETS


@pytest.fixture
def celery_worker(transactional_db: None, private_task_queue: str, tmp_path: Path):
    """A real Celery worker process on the configured broker (Redis in CI), consuming this run's queue.

    Tests that use it must commit their data (transactional_db), because the worker is another
    process with its own database connection.
    """
    from camerawatch.celery import app

    app.control.purge()
    worker = WorkerProcess(queue=private_task_queue, log_path=tmp_path / "worker.log").start()
    yield worker
    worker.stop()
