"""Settings, read from the environment (and an optional `.env` file).

Every variable has a laptop default, so `bin/run` works on a fresh clone.
With DEBUG off, the secrets have no default: a missing one stops start-up
with an error that names the variable.
"""

import datetime
import ipaddress
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from imgbed_site import devsecrets

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _secret(name):
    """A secret from NAME or from the file named by NAME_FILE (Docker/systemd style)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc}") from exc
    return env.str(name, default="")


DEBUG = env.bool("DEBUG", default=True)

# Where the laptop defaults keep their state: the SQLite database, staged
# uploads, the filesystem broker and the generated dev keys.
DATA_DIR = Path(env.str("IMGBED_DATA_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = _secret("SECRET_KEY")
_encryption_keys = _secret("IMGBED_ENCRYPTION_KEYS")
if not SECRET_KEY or not _encryption_keys:
    if not DEBUG:
        missing = [
            n for n, v in (("SECRET_KEY", SECRET_KEY), ("IMGBED_ENCRYPTION_KEYS", _encryption_keys)) if not v
        ]
        raise ImproperlyConfigured(
            f"{', '.join(missing)} must be set when DEBUG is off "
            "Generate an encryption key with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        )
    dev = devsecrets.load_or_create(DATA_DIR / "dev-secrets.env")
    SECRET_KEY = SECRET_KEY or dev["SECRET_KEY"]
    _encryption_keys = _encryption_keys or dev["IMGBED_ENCRYPTION_KEYS"]

# Fernet keys, comma separated, newest first: the first encrypts, all decrypt.
IMGBED_ENCRYPTION_KEYS = [k.strip() for k in _encryption_keys.split(",") if k.strip()]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The public base URL of this site. The OAuth redirect URI registered in
# Microsoft Entra is built from it, so it must be what browsers see.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")

# Override Microsoft's hosts (proxies, sovereign clouds, the test emulator).
# Empty means: use the hosts of the channel's cloud.
ONEDRIVE_LOGIN_URL = env.str("ONEDRIVE_LOGIN_URL", default="").rstrip("/")
ONEDRIVE_GRAPH_URL = env.str("ONEDRIVE_GRAPH_URL", default="").rstrip("/")
# Seconds to wait for Microsoft before giving up on one HTTP call.
ONEDRIVE_HTTP_TIMEOUT = env.float("ONEDRIVE_HTTP_TIMEOUT", default=30.0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles, so that its runserver (which prints SITE_URL, not the bound address) is the one run.
    "imgbed_site",
    "django.contrib.staticfiles",
    "django_celery_results",
    "channels.apps.ChannelsConfig",
    "uploads.apps.UploadsConfig",
    "library.apps.LibraryConfig",
    "ops.apps.OpsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files under gunicorn without a separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "imgbed_site.unavailable.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "imgbed_site.urls"
WSGI_APPLICATION = "imgbed_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# An empty variable counts as unset, like a missing one.
DATABASES = {
    "default": env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
    ),
}
# A new connection costs several ms per request and per task (SQLite's too: it
# opens the file and sets its pragmas), so each process keeps its own.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web and workers are separate processes writing to one file: WAL lets
    # readers go on during a write, and waiting beats "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # Tests start real workers in other processes, so the test database is a file too.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
# On a laptop, serve static files straight from the apps (no collectstatic).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Where uploads wait for a worker. Local disk by default; any Django storage
    # (e.g. storages.backends.s3.S3Storage with its AWS_* settings) when web and
    # workers run on different machines.
    "staging": {
        "BACKEND": env.str("IMGBED_STAGING_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("IMGBED_STAGING_OPTIONS", default={"location": str(DATA_DIR / "staging")}),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SITE_URL.startswith("https://"))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# HTTPS only: plain http:// requests are redirected, and browsers told (HSTS) never to try
# http:// again for this long. Off unless set, as a laptop or a test serves http://. Behind a
# TLS proxy the request counts as HTTPS when gunicorn trusts the proxy's X-Forwarded-Proto
# (its FORWARDED_ALLOW_IPS, loopback by default).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
# Both bind every subdomain of the site's domain to HTTPS, preloading for good: the owner's call.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Uploads.
IMGBED_MAX_UPLOAD_SIZE = env.int("IMGBED_MAX_UPLOAD_SIZE", default=1024**3)
# Categories (image, video, audio, document, archive, text), exact types or
# wildcards (image/*), judged from the bytes.
IMGBED_ALLOWED_TYPES = env.list("IMGBED_ALLOWED_TYPES", default=["image", "video", "audio"])
# An image whose header claims more pixels than this is refused (a decompression bomb for its
# viewers); 0: no limit. 500 million is well above any camera's.
IMGBED_MAX_IMAGE_PIXELS = env.int("IMGBED_MAX_IMAGE_PIXELS", default=500_000_000)
# Anyone may upload without a code or token (ImgBed's behaviour with no authCode set).
IMGBED_PUBLIC_UPLOADS = env.bool("IMGBED_PUBLIC_UPLOADS", default=False)
# Wrong API tokens, auth codes and admin passwords from one address: after this many within the
# window (seconds), its credentials are refused with 429 until the window ends (uploads.throttle).
IMGBED_AUTH_FAILURE_LIMIT = env.int("IMGBED_AUTH_FAILURE_LIMIT", default=20)
IMGBED_AUTH_FAILURE_WINDOW = env.int("IMGBED_AUTH_FAILURE_WINDOW", default=600)
# Upload-session fragment size: a multiple of 320 KiB, under 60 MiB.
IMGBED_FRAGMENT_SIZE = env.int("IMGBED_FRAGMENT_SIZE", default=10 * 1024 * 1024)
if IMGBED_FRAGMENT_SIZE % (320 * 1024) or not 0 < IMGBED_FRAGMENT_SIZE < 60 * 1024 * 1024:
    raise ImproperlyConfigured(
        f"IMGBED_FRAGMENT_SIZE={IMGBED_FRAGMENT_SIZE} must be a multiple of 327680 (320 KiB) below 60 MiB, "
        "e.g. 10485760 (10 MiB)."
    )
# How many large files (over two fragments) may start going to their channel while their
# request is still receiving them (staging on local disk only); 0 turns it off. Each holds a
# worker for as long as the person's upload lasts, so keep it below the worker concurrency.
IMGBED_EARLY_START_MAX = env.int("IMGBED_EARLY_START_MAX", default=1)
# A worker waiting on an early-started file that brings no new bytes for this long (seconds)
# lets it go; the file is then sent once the request has it all.
IMGBED_RECEIVE_STALL = env.float("IMGBED_RECEIVE_STALL", default=20.0)
# How long a worker's claim on an upload lasts unrenewed before another may take it over
# (seconds). A worker renews its claims every third of this from a thread (uploads.leases),
# so a killed worker's uploads resume about this long after it died.
IMGBED_UPLOAD_LEASE = env.int("IMGBED_UPLOAD_LEASE", default=30)
# How long a channel's download URL is reused before a new one is fetched (seconds).
IMGBED_DOWNLOAD_URL_TTL = env.int("IMGBED_DOWNLOAD_URL_TTL", default=300)
# After a moved file's copy is at its new path (S3, WebDAV, local), how long the old copy stays
# for reads and redirects already under way (seconds; at most 900).
IMGBED_MOVE_GRACE = min(env.int("IMGBED_MOVE_GRACE", default=600), 900)
# Part size of S3 multipart uploads in bytes (at least 5 MiB): a larger file goes up in parts of this size.
IMGBED_S3_PART_SIZE = env.int("IMGBED_S3_PART_SIZE", default=8 * 1024 * 1024)
# Files on local channels handed to the front web server instead of streamed by Django:
# "nginx" (X-Accel-Redirect to IMGBED_SENDFILE_PREFIX + the file's absolute path, an internal
# location) or "apache" (X-Sendfile, mod_xsendfile). Off by default: only behind a server set up for it.
IMGBED_SENDFILE = env.str("IMGBED_SENDFILE", default="")
IMGBED_SENDFILE_PREFIX = env.str("IMGBED_SENDFILE_PREFIX", default="/_imgbed_local")
if IMGBED_SENDFILE not in ("", "nginx", "apache"):
    raise ImproperlyConfigured("IMGBED_SENDFILE must be empty, nginx or apache.")
# Longest wait a task sleeps in place for Retry-After; longer waits reschedule the task.
IMGBED_MAX_INLINE_WAIT = env.float("IMGBED_MAX_INLINE_WAIT", default=60.0)
# Longest wait for more of a request body (0: no bound), and the slowest average rate, in bytes per
# second, a body may arrive at beyond that first wait (0: none); a body that falls behind gets a 408.
IMGBED_BODY_TIMEOUT = env.float("IMGBED_BODY_TIMEOUT", default=30.0)
IMGBED_BODY_MIN_RATE = env.int("IMGBED_BODY_MIN_RATE", default=1024)
if IMGBED_BODY_TIMEOUT < 0 or IMGBED_BODY_MIN_RATE < 0:
    raise ImproperlyConfigured("IMGBED_BODY_TIMEOUT and IMGBED_BODY_MIN_RATE may not be negative.")

# Front servers (IPs and CIDR ranges; "unix" for one on a Unix socket) whose X-Forwarded-For is
# believed: the client's address for the upload block-list and the files' records. Empty: the
# direct peer is the client and X-Forwarded-For is ignored.
IMGBED_TRUSTED_PROXIES = env.list("IMGBED_TRUSTED_PROXIES", default=[])
for _proxy in IMGBED_TRUSTED_PROXIES:
    try:
        if _proxy.strip().lower() != "unix":
            ipaddress.ip_network(_proxy.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"IMGBED_TRUSTED_PROXIES: {_proxy!r} is not an IP address, a CIDR range (like 10.0.0.0/8) or unix."
        ) from None

# Celery. The laptop default is kombu's filesystem transport: no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "filesystem://"
_broker_dir = DATA_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport does not create its folders.
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Otherwise kombu writes its broadcast exchange into the current directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # kombu polls the folder once a second by default: every task would wait for it.
        "polling_interval": env.float("CELERY_BROKER_POLLING_INTERVAL", default=0.1),
    }
    if CELERY_BROKER_URL.startswith("filesystem://")
    else {}
)
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "imgbed_site.broker:Transport"
elif CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT = "imgbed_site.broker:FilesystemTransport"
# Uploads spend their time waiting on the network, so threads in one process run them as well
# as forked processes do, for a fraction of the memory (each prefork process is a copy of
# Django, some 60 MiB). CELERY_WORKER_POOL=prefork gives each upload a process of its own.
CELERY_WORKER_POOL = env.str("CELERY_WORKER_POOL", default="threads")
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=8)
CELERY_TASK_ACKS_LATE = True
# Tasks outside the apps' tasks modules (autodiscovery finds only those).
CELERY_IMPORTS = ["uploads.relocation"]
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A pool process killed mid-task: its message is requeued after this wait (10 s by default, to
# collect a result it may have sent; these tasks send none), and resumes once its claim lapses.
CELERY_WORKER_LOST_WAIT = 2.0
# One message at a time per pool process: a long upload must not sit on others' messages.
# The filesystem transport (one machine, one worker: with several, a busy one would sit on
# messages another could run) sleeps a polling interval whenever it may not take another
# message, so there each process holds a few.
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int(
    "CELERY_WORKER_PREFETCH_MULTIPLIER", default=4 if CELERY_BROKER_URL.startswith("filesystem://") else 1
)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Task outcomes in the database, visible in the admin and on the operations page.
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = datetime.timedelta(days=env.int("IMGBED_TASK_RESULT_DAYS", default=7))
CELERY_WORKER_SEND_TASK_EVENTS = True

# Where Flower runs, for a link on the operations page (empty: no link).
FLOWER_URL = env.str("FLOWER_URL", default="")

# Schedules (seconds). One beat runs them; each is also a management command.
IMGBED_TOKEN_REFRESH_INTERVAL = env.int("IMGBED_TOKEN_REFRESH_INTERVAL", default=24 * 3600)
IMGBED_QUOTA_INTERVAL = env.int("IMGBED_QUOTA_INTERVAL", default=5 * 60)
IMGBED_RECONCILE_INTERVAL = env.int("IMGBED_RECONCILE_INTERVAL", default=30)
# A pending upload untouched this long is sent to the workers again.
IMGBED_RECONCILE_AFTER = env.int("IMGBED_RECONCILE_AFTER", default=5 * 60)
IMGBED_CLEAN_STAGING_INTERVAL = env.int("IMGBED_CLEAN_STAGING_INTERVAL", default=3600)
# Only the beat holding the site's lease (a row in the database) sends them: a second beat, on this
# machine or another, stands by and takes over when the holder stops renewing it (stopped or died).
CELERY_BEAT_SCHEDULER = "imgbed_site.beat:LeaseScheduler"
IMGBED_BEAT_LEASE = env.int("IMGBED_BEAT_LEASE", default=30)
# Beat wakes up at least this often, to renew its lease several times per lease.
CELERY_BEAT_MAX_LOOP_INTERVAL = min(5.0, IMGBED_BEAT_LEASE / 3)
CELERY_BEAT_SCHEDULE = {
    "refresh-tokens": {"task": "channels.tasks.refresh_tokens", "schedule": IMGBED_TOKEN_REFRESH_INTERVAL},
    "pull-quotas": {"task": "channels.tasks.pull_quotas", "schedule": IMGBED_QUOTA_INTERVAL},
    "reconcile-uploads": {"task": "uploads.tasks.reconcile_uploads", "schedule": IMGBED_RECONCILE_INTERVAL},
    "clean-staging": {"task": "uploads.tasks.clean_staging", "schedule": IMGBED_CLEAN_STAGING_INTERVAL},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Auth codes, OAuth codes and tokens arrive in query strings: masked in any line logged here.
    "filters": {"redact_secrets": {"()": "imgbed_site.redaction.RedactSecrets"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        # Django's own format for runserver's request lines.
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # urllib3 and msal log request URLs and bodies at DEBUG; tokens travel in them.
        "urllib3": {"level": "WARNING"},
        "msal": {"level": "WARNING"},
        # botocore logs each request's signed headers and presigned parameters at DEBUG.
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "s3transfer": {"level": "WARNING"},
        # runserver logs every request line, query included (Django's default, plus the filter).
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
