"""CameraWatch settings: one file, driven by environment variables.

It runs with zero variables: SQLite under var/ and a filesystem Celery broker, so a newcomer's
`make run` needs no server. Setting DATABASE_URL and CELERY_BROKER_URL moves the same code to
PostgreSQL and Redis/RabbitMQ. Every variable is read through a small typed helper, and a value
that cannot be used raises ImproperlyConfigured naming the variable, at start-up rather than at
the first request that happens to touch it.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CAMERAWATCH_VAR_DIR") or BASE_DIR / "var")


def env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: str) -> bool:
    value = env(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false, 1/0, yes/no), got {value!r}")


def envint(name: str, default: str, *, minimum: int | None = None) -> int:
    raw = env(name, default)
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def envfloat(name: str, default: str, *, minimum: float | None = None) -> float:
    raw = env(name, default)
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if value != value or (minimum is not None and value < minimum):
        raise ImproperlyConfigured(f"{name} must be a number of at least {minimum}, got {raw!r}")
    return value


def envurl(name: str, default: str, *, schemes: set[str]) -> str:
    value = env(name, default).strip()
    parts = urlsplit(value)
    if parts.scheme not in schemes or (parts.scheme != "filesystem" and not parts.netloc):
        allowed = ", ".join(sorted(schemes))
        raise ImproperlyConfigured(f"{name} must be a URL with scheme {allowed}, got {value!r}")
    return value


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# --- Core -----------------------------------------------------------------------------------

DEBUG = envbool("DEBUG", "true")

_INSECURE_KEY = "insecure-dev-key-set-SECRET_KEY-in-production"
SECRET_KEY = env("SECRET_KEY", _INSECURE_KEY)
if not DEBUG and (SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 50):
    # With DEBUG off the site is presumably public; a guessable key would let anyone forge
    # sessions and password-reset links.
    raise ImproperlyConfigured("SECRET_KEY must be set to a random value of 50+ characters when DEBUG is off")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_NAME = env("SITE_NAME", "CameraWatch")

INSTALLED_APPS = [
    # First, so our registration/ templates (login, password reset) win over the admin's.
    "mapapp",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    # The open-data API's camera filters (mapapp/api/filters.py).
    "django_filters",
    # The API's OpenAPI schema and docs page; the sidecar ships Swagger UI as our own static files.
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves our own copies of Leaflet & co. in production too, so no page depends on a CDN.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "camerawatch.urls"
WSGI_APPLICATION = "camerawatch.wsgi.application"
ASGI_APPLICATION = "camerawatch.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mapapp.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

_DEFAULT_DB = f"sqlite:///{VAR_DIR / 'camerawatch.sqlite3'}"
_db_url = env("DATABASE_URL", _DEFAULT_DB)
try:
    _db = dj_database_url.parse(_db_url, conn_max_age=envint("DATABASE_CONN_MAX_AGE", "60", minimum=0))
except Exception as exc:  # dj-database-url raises several types for a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from None
if _db["ENGINE"] not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
    raise ImproperlyConfigured(f"DATABASE_URL must point at SQLite or PostgreSQL, got engine {_db['ENGINE']}")

if _db["ENGINE"] == "django.db.backends.sqlite3":
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        # The web process and the Celery worker write the same file. WAL lets readers run during
        # a write, and IMMEDIATE transactions take the write lock at BEGIN, so two writers queue
        # on the busy timeout instead of failing half-way with "database is locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not ":memory:", so a real Celery worker process can open the test database too.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test_camerawatch.sqlite3")}
DATABASES = {"default": _db}
# The dedupe task prepares its few recurring statements on PostgreSQL (mapapp/services/roundtrips.py),
# which saves a parse and a plan per statement. Set false behind a transaction-pooling pgbouncer
# older than 1.21, which cannot route prepared statements.
DATABASE_PREPARED_STATEMENTS = envbool("DATABASE_PREPARED_STATEMENTS", "true")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (geocoder results and its rate limit) --------------------------------------------

_cache_url = env("CACHE_URL", "locmem://")
if _cache_url.startswith("locmem://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
elif _cache_url.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}}
else:
    raise ImproperlyConfigured(f"CACHE_URL must start with locmem:// or redis://, got {_cache_url!r}")

# --- Auth -----------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

EMAIL_HOST = env("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = envint("EMAIL_PORT", "587", minimum=1)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "true")
else:
    # Password-reset mails are printed by the web process; no mail server is needed to try it.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "CameraWatch <noreply@localhost>")

# --- I18N, static and media -----------------------------------------------------------------

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# In development and tests WhiteNoise serves straight from STATICFILES_DIRS; production runs
# collectstatic into STATIC_ROOT (see README).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))

# Uploads above this go to a temporary file instead of memory; the photo limit itself is
# enforced (with a clear message) in mapapp.photos.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
PHOTO_MAX_BYTES = 10 * 1024 * 1024

# --- Security (production values when DEBUG is off; `check --deploy` is clean) ---------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "true")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000", minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "true")
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "true")
    if envbool("BEHIND_TLS_PROXY", "false"):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

# --- Django REST framework ------------------------------------------------------------------

REST_FRAMEWORK = {
    # /api/schema/ is generated from the views and their extend_schema annotations (mapapp/api/).
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Token first: its WWW-Authenticate header makes an anonymous request a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    # Behind a proxy, throttle by the client address the proxy forwards, not the proxy's own.
    "NUM_PROXIES": 1 if envbool("BEHIND_TLS_PROXY", "false") else None,
    "DEFAULT_THROTTLE_RATES": {
        # Password guessing through the token endpoint, per client IP.
        "auth": env("THROTTLE_AUTH", "10/min"),
        # Address searches per volunteer: enough to type and refine, not a free geocoder for scripts.
        "geocode": env("THROTTLE_GEOCODE", "30/min"),
    },
}

# --- Researcher API -------------------------------------------------------------------------
# The open-data API (mapapp/api/open_data.py) and its formats (mapapp/exports/).


def envrate(name: str, default: str) -> str:
    """A DRF throttle rate such as 60/min: a whole number, a slash, then s, min, hour or day."""
    value = env(name, default).strip()
    number, _, period = value.partition("/")
    if not number.isdecimal() or int(number) < 1 or period not in {"s", "sec", "m", "min", "h", "hour", "d", "day"}:
        raise ImproperlyConfigured(f"{name} must be a rate such as 60/min (per s, min, hour or day), got {value!r}")
    return value


REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] |= {
    # Anonymous readers, per IP address: enough to page through a neighbourhood by hand or script.
    "anon": envrate("THROTTLE_ANON", "60/min"),
    # Signed-in accounts (token or session), per account.
    "user": envrate("THROTTLE_USER", "300/min"),
    # Accounts in the "researcher" group, per account.
    "researcher": envrate("THROTTLE_RESEARCHER", "1200/min"),
    # Streamed full exports (/api/v1/cameras/export/), per IP or account, on top of the above: one
    # export of a big city costs the database what thousands of pages do.
    "export": envrate("THROTTLE_EXPORT", "20/hour"),
}
# Dates in the API and exports: the first day of their month ("month", the default) or UTC days
# ("day"), never times (mapapp/exports/__init__.py). Month by default because the camera pages
# print months next to handles: a day from the API, joined to a page's handles by camera id,
# would date that volunteer's walk. An operator whose pages name no one may choose "day".
PUBLIC_DATE_PRECISION = env("PUBLIC_DATE_PRECISION", "month").strip().lower()
if PUBLIC_DATE_PRECISION not in {"day", "month"}:
    raise ImproperlyConfigured(f"PUBLIC_DATE_PRECISION must be day or month, got {PUBLIC_DATE_PRECISION!r}")

# --- OpenAPI ----------------------------------------------------------------------------------
# /api/schema/ (OpenAPI 3) and /api/docs/ (Swagger UI) from drf-spectacular. The UI's scripts, CSS
# and icon come from drf-spectacular-sidecar as our own static files: no CDN learns who reads the
# docs, and the page works offline. The licence repeats mapapp/exports/formats.py's LICENCE
# constants (settings must not import the app); tests/test_api_schema.py checks they agree.

SPECTACULAR_SETTINGS = {
    "TITLE": "CameraWatch API",
    "VERSION": "v1",
    "DESCRIPTION": """\
Crowdsourced surveillance cameras as open data, and the volunteers' sighting and vote API.

**Open data** (`/api/v1/cameras/`, `/neighbourhoods/`, `/stats/`): read-only, for anyone. Cameras
come as JSON, GeoJSON (RFC 7946, `[lon, lat]`), CSV (RFC 4180, UTF-8) or OSM XML (for review in
JOSM, never for upload); pick one with `?format=` or an `Accept` header. Pages are keyset cursors:
follow `next` (in the body and the `Link` header) until it is absent. Dates are UTC days or the
first day of their month, never times. `/api/v1/cameras/export/` streams every matching camera.

**Authentication**: none for open data. Volunteers and researchers send `Authorization: Token <key>`
(create the key on /me/ or with `POST /api/v1/auth/token/`); a signed-in browser's session works
too (unsafe methods then need the CSRF token). A token raises the rate limits.

**Rate limits**: per client and window; every open-data answer carries `X-RateLimit-Limit`,
`X-RateLimit-Remaining`, `X-RateLimit-Reset` (Unix time) and `X-RateLimit-Scope`; a 429 adds
`Retry-After` (seconds).

**Licence**: the data is under the Open Data Commons Open Database License (ODbL) 1.0. Attribute it
as "© CameraWatch contributors, ODbL 1.0; includes data © OpenStreetMap contributors", and share
alike what you derive from it. Cite it with the day you read it (the data changes daily), as the
`citation` member of each JSON answer spells out: *CameraWatch contributors. CameraWatch
surveillance camera data. <API URL> (accessed YYYY-MM-DD). Open Data Commons Open Database License
(ODbL) v1.0, https://opendatacommons.org/licenses/odbl/1-0/; includes data © OpenStreetMap
contributors.*
""",
    "LICENSE": {
        "name": "Open Data Commons Open Database License (ODbL) v1.0",
        "url": "https://opendatacommons.org/licenses/odbl/1-0/",
    },
    # Tags from the path after /api/v1/ (cameras, sightings, ...), not "api".
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # /api/v1/ only (not the web pages' JSON helpers), and the open-data bodies' named schemas,
    # which no serializer describes (mapapp/api/schema.py and shapes.py).
    "PREPROCESSING_HOOKS": ["mapapp.api.schema.api_paths_only"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "mapapp.api.shapes.add_components"],
    # The schema documents the API, not the schema and docs endpoints themselves.
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components: read-only fields stay out of request bodies.
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per vocabulary wherever it appears, instead of names guessed from each serializer.
    "ENUM_NAME_OVERRIDES": {
        "CameraStatusEnum": "mapapp.models.CameraStatus",
        "SightingStatusEnum": "mapapp.models.SightingStatus",
        "VerdictEnum": "mapapp.models.VoteVerdict",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {
        "deepLinking": True,
        # Swagger UI would otherwise show a badge fetched from validator.swagger.io, handing that
        # third party our schema URL on every visit.
        "validatorUrl": None,
    },
}

# --- Open-data snapshots ---------------------------------------------------------------------
# Nightly gzip GeoJSON, CSV and OSM XML of every public camera with a manifest (licence, counts,
# SHA-256), one folder per version, listed and served on /data/ (mapapp/exports/snapshots.py).
SNAPSHOT_ROOT = Path(env("SNAPSHOT_ROOT", str(VAR_DIR / "snapshots")))
# How many snapshots stay; each new one removes the oldest beyond this (14 nightly = two weeks).
SNAPSHOT_KEEP = envint("SNAPSHOT_KEEP", "14", minimum=1)
# The site's public address (https://cameras.example.org), for the citation in each manifest: the
# nightly task has no request to learn it from. Unset, the citation names the path alone.
SNAPSHOT_BASE_URL = (
    envurl("SNAPSHOT_BASE_URL", "", schemes={"http", "https"}).rstrip("/") if env("SNAPSHOT_BASE_URL", "") else ""
)

# --- Celery ---------------------------------------------------------------------------------

_DEFAULT_BROKER = "filesystem://"
CELERY_BROKER_URL = envurl(
    "CELERY_BROKER_URL", _DEFAULT_BROKER, schemes={"filesystem", "redis", "rediss", "amqp", "amqps", "pyamqp"}
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: messages are files in a folder shared by the web process and
    # the worker. Real queueing (not eager mode) with no server; `filesystem:///some/dir` picks
    # the folder, the bare default uses var/broker.
    _broker_dir = Path(urlsplit(CELERY_BROKER_URL).path or VAR_DIR / "broker")
    (_broker_dir / "out").mkdir(parents=True, exist_ok=True)
    # The folder lives in the transport options; a host part only keeps kombu from warning.
    CELERY_BROKER_URL = "filesystem://localhost/"
    # kombu's filesystem transport with atomic message files (see camerawatch/broker.py).
    CELERY_BROKER_TRANSPORT = "camerawatch.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        # Broadcast (remote control) exchanges; kombu's default would be ./control in the CWD.
        "control_folder": str(_broker_dir / "control"),
        # Consumed messages are deleted; the database, not the broker, is our record.
        "store_processed": False,
        # Consumers poll the folder. kombu's default (1 s) caps a worker at one task a second: with
        # late acks and a prefetch of one it sleeps a full interval after every message.
        "polling_interval": 0.1,
    }
# Tasks are idempotent, so a message is acknowledged only after the task finishes: a worker that
# dies mid-task leaves the message to be delivered again instead of losing the sighting.
CELERY_TASK_ACKS_LATE = True
# ...and a task whose worker process was killed is re-queued rather than marked failed.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# With late acks, prefetching many messages would strand them on a busy or dying worker.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Task state lives in our tables (Sighting.status), so no result backend is needed.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Celery's Django fixup closes every database connection after every task unless this is set: on
# PostgreSQL that is a new connection per task (several ms, cold caches, and the dedupe task's
# prepared statements lost). With it, a worker keeps its connection; mapapp/tasks.py still ends
# each task with Django's close_old_connections(), so a connection that broke, or outlived
# DATABASE_CONN_MAX_AGE, is replaced, as after a web request. (The fixup reads the name as is.)
CELERY_DB_REUSE_MAX = envint("CELERY_DB_REUSE_MAX", "1000", minimum=0)
# One named queue; tests use a private one so a developer's running worker never eats their tasks.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "camerawatch")
# A broker that is down at worker start is retried, not fatal: the worker comes up with it.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing from a request gives up quickly; the sighting is already committed and the
# pending-sightings sweeper re-queues it, so a slow broker must not hang the volunteer's request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often cached public maps and neighbourhood stats are brought up to date (seconds).
MAP_REFRESH_SECONDS = envint("MAP_REFRESH_SECONDS", "20", minimum=1)
CELERY_BEAT_SCHEDULE = {
    # The sweeper re-queues sightings stuck in "pending" (a lost broker message, a worker killed
    # before it acked on a broker without redelivery). Every minute is cheap: one indexed query.
    "sweep-pending-sightings": {"task": "mapapp.tasks.sweep_pending_sightings", "schedule": 60.0},
    # Cameras age into "stale" with no event to trigger it; once an hour finds those that crossed
    # the line (an indexed range query) and reconsiders them.
    "mark-stale-cameras": {"task": "mapapp.tasks.mark_stale_cameras", "schedule": 3600.0},
    # Likewise a vote's settle period ends with no event; hourly judges the votes whose came due.
    "judge-due-votes": {"task": "mapapp.tasks.judge_due_votes", "schedule": 3600.0},
    # Cached public maps whose cameras changed are rebuilt on this tick, which is what debounces
    # them: a burst of changes costs one render per neighbourhood per interval.
    "refresh-maps": {"task": "mapapp.tasks.refresh_maps", "schedule": float(MAP_REFRESH_SECONDS)},
    # The open-data snapshot (/data/), nightly at 03:00 UTC (Celery's default timezone), when
    # volunteers are few: its read transaction then holds the fewest row versions back.
    "export-snapshot": {"task": "mapapp.tasks.export_snapshot", "schedule": crontab(hour=3, minute=0)},
}

# --- Dedupe ---------------------------------------------------------------------------------
# See mapapp/dedupe/__init__.py for the scoring and bench/README.md for how the defaults were
# chosen (the accuracy benchmark's F1 per radius).
DEDUPE_RADIUS_M = envfloat("DEDUPE_RADIUS_M", "25", minimum=1)
DEDUPE_ACCURACY_CAP_M = envfloat("DEDUPE_ACCURACY_CAP_M", "15", minimum=0)
DEDUPE_DIRECTION_TOLERANCE = envfloat("DEDUPE_DIRECTION_TOLERANCE", "45", minimum=0)
DEDUPE_THRESHOLD = envfloat("DEDUPE_THRESHOLD", "0")
# A sighting still pending after this long is re-queued by the sweeper. Longer than a task's
# worst retry back-off in normal operation, so a healthy queue is never double-fed.
SWEEP_PENDING_AFTER_SECONDS = envint("SWEEP_PENDING_AFTER_SECONDS", "300", minimum=1)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Verification and consensus ---------------------------------------------------------------
# See mapapp/consensus/__init__.py for the rules (also shown on /transparency/).
# Verified: this many distinct volunteers besides the reporter say it is there (Amnesty used 3
# volunteers per location in all, i.e. the reporter and 2 more).
CONSENSUS_VERIFY_CONFIRMATIONS = envint("CONSENSUS_VERIFY_CONFIRMATIONS", "2", minimum=1)
# Disputed: weighted "not there" exceeds weighted confirmations by this much (a new account weighs 0.25).
CONSENSUS_DISPUTE_MARGIN = envfloat("CONSENSUS_DISPUTE_MARGIN", "1.0", minimum=0.01)
# Removed: "gone" votes after the last confirmation, from this many volunteers weighing this much.
CONSENSUS_REMOVAL_WEIGHT = envfloat("CONSENSUS_REMOVAL_WEIGHT", "1.0", minimum=0.01)
CONSENSUS_REMOVAL_MIN_VOTERS = envint("CONSENSUS_REMOVAL_MIN_VOTERS", "2", minimum=1)
# Stale: not confirmed for 18 months (StreetComplete re-asks about cameras on a similar cycle).
CONSENSUS_STALE_AFTER_DAYS = envint("CONSENSUS_STALE_AFTER_DAYS", "548", minimum=1)
# A vote cast after its camera reached a status is judged against it (and moves the voter's
# trust) only if the status still holds this long after the vote: time for others to join a
# dissent before the first dissenters lose weight (mapapp/consensus/trust.py).
CONSENSUS_SETTLE_AFTER_DAYS = envint("CONSENSUS_SETTLE_AFTER_DAYS", "30", minimum=1)
# The moderator queue lists automatic merges scoring below this (dedupe scores run 0..1).
MODERATION_LOW_SCORE = envfloat("MODERATION_LOW_SCORE", "0.5", minimum=0)

# --- Maps and geocoding ---------------------------------------------------------------------

TILE_URL = env("TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
if "{z}" not in TILE_URL or "{x}" not in TILE_URL or "{y}" not in TILE_URL:
    raise ImproperlyConfigured(f"TILE_URL must contain {{z}}, {{x}} and {{y}} placeholders, got {TILE_URL!r}")
TILE_ATTRIBUTION = env("TILE_ATTRIBUTION", "© OpenStreetMap contributors")
# Each process keeps the neighbourhood polygons in memory to place every camera it writes, and
# re-checks whether they changed (one small query) at most this often. A reload of the polygons
# is fully applied after twice this (mapapp/services/neighbourhoods.py). 0 checks on every write.
AREA_INDEX_TTL_SECONDS = envint("AREA_INDEX_TTL_SECONDS", "30", minimum=0)

NOMINATIM_URL = envurl("NOMINATIM_URL", "https://nominatim.openstreetmap.org", schemes={"http", "https"})
# Nominatim's usage policy requires an identifying user agent.
NOMINATIM_USER_AGENT = env("NOMINATIM_USER_AGENT", "CameraWatch/0.1 (self-hosted instance)")
if not NOMINATIM_USER_AGENT.strip():
    raise ImproperlyConfigured("NOMINATIM_USER_AGENT must not be empty (Nominatim's policy requires one)")
# The public Nominatim allows one request per second for the whole application.
NOMINATIM_MIN_INTERVAL = envfloat("NOMINATIM_MIN_INTERVAL", "1.0", minimum=0)
NOMINATIM_TIMEOUT = envfloat("NOMINATIM_TIMEOUT", "5", minimum=0.1)
GEOCODE_CACHE_SECONDS = envint("GEOCODE_CACHE_SECONDS", "86400", minimum=0)

# --- Logging --------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
