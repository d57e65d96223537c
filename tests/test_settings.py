"""The settings file: works with zero variables, fails loudly naming a bad one, deploys cleanly."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from tests.support import BASE_DIR

PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DATABASES['default']['ENGINE']); print(s.CELERY_BROKER_URL); print(s.EMAIL_BACKEND); "
    "print(s.DEBUG); print(getattr(s, 'CELERY_TASK_ALWAYS_EAGER', False))"
)


def run_with_env(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "camerawatch.settings",
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_site_starts_with_zero_environment_variables_on_sqlite_and_a_serverless_broker(tmp_path):
    result = run_with_env(["-c", PRINT_SETTINGS], {"CAMERAWATCH_VAR_DIR": str(tmp_path)})

    assert result.returncode == 0, result.stderr
    engine, broker, email, _debug, eager = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert broker.startswith("filesystem://")
    assert email == "django.core.mail.backends.console.EmailBackend"
    assert eager == "False", "tasks must really go through the broker to a worker"
    assert (tmp_path / "broker").is_dir()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://root@localhost/camerawatch"),
        ("DATABASE_URL", "not a url at all"),
        ("DATABASE_CONN_MAX_AGE", "forever"),
        ("CELERY_BROKER_URL", "http://127.0.0.1:6379"),
        ("CACHE_URL", "memcached://127.0.0.1"),
        ("NOMINATIM_URL", "ftp://nominatim.example"),
        ("NOMINATIM_TIMEOUT", "soon"),
        ("TILE_URL", "https://tiles.example/tile.png"),
        ("EMAIL_PORT", "-1"),
    ],
)
def test_a_bad_value_stops_start_up_with_an_error_naming_the_variable(tmp_path, variable, value):
    env = {"CAMERAWATCH_VAR_DIR": str(tmp_path), variable: value}
    if variable == "EMAIL_PORT":
        env["EMAIL_HOST"] = "smtp.example"
    result = run_with_env(["manage.py", "check"], env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]


def test_debug_off_refuses_the_built_in_development_secret_key(tmp_path):
    result = run_with_env(["manage.py", "check"], {"CAMERAWATCH_VAR_DIR": str(tmp_path), "DEBUG": "false"})

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr.splitlines()[-1]


def test_check_deploy_prints_no_warnings_with_production_values(tmp_path):
    env = {
        "CAMERAWATCH_VAR_DIR": str(tmp_path),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "camerawatch.example.org",
    }
    result = run_with_env(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr
