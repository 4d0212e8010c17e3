"""Settings, all read from the environment with development defaults (the README has the table)."""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None


def env_float(name: str, default: float) -> float:
    # Timeouts and intervals only; never money.
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, not {raw!r}.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# --- Core -----------------------------------------------------------------------------------------

DEVELOPMENT_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105
DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY in {"", DEVELOPMENT_SECRET_KEY}:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a long random value when DJANGO_DEBUG is off; "
        "refusing to start with a missing or development key."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name this server's host names when DJANGO_DEBUG is off.")

# The address at which this server is reached; the embedded simulator and wallet sign-in messages use it.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "parsec.sim",
    "customers",
    "fees",
    "orders",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "builder_platform.urls"
WSGI_APPLICATION = "builder_platform.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write one file: WAL lets readers run beside a writer, the busy timeout
    # waits for a lock instead of failing, and IMMEDIATE takes the write lock at BEGIN so two
    # transactions never deadlock upgrading a read lock.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
    }
    # A file, not memory, so a Celery worker thread and the live server share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Internationalisation, static files ------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at start-up when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve app static files without collectstatic in development

# --- Security (production) ------------------------------------------------------------------------

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- REST API ----------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["customers.authentication.PartnerApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["customers.authentication.IsPartner"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "builder_platform.api.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "builder_platform.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Builder platform partner API",
    "DESCRIPTION": "Onboard customers, place orders through Parsec, read fills, fees and statements.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

# --- Partners and wallets ---------------------------------------------------------------------------

# Sign-In with Ethereum (EIP-4361) messages name this domain and URI; wallets show them to the user.
SIWE_DOMAIN = env_str("SIWE_DOMAIN", urlsplit(SITE_URL).netloc)
SIWE_URI = env_str("SIWE_URI", SITE_URL)
SIWE_CHAIN_ID = env_int("SIWE_CHAIN_ID", 137)
WALLET_CHALLENGE_TTL_SECONDS = env_int("WALLET_CHALLENGE_TTL_SECONDS", 300)
API_KEY_TOUCH_INTERVAL_SECONDS = 60  # last_used_at is written at most this often per key

# --- Parsec ------------------------------------------------------------------------------------------

PARSEC_API_KEY = env_str("PARSEC_API_KEY")
# The embedded simulator is the venue unless a real Parsec key is configured.
PARSEC_SIMULATOR = env_bool("PARSEC_SIMULATOR", not PARSEC_API_KEY)
PARSEC_SIMULATOR_API_KEY = env_str("PARSEC_SIMULATOR_API_KEY", "pk_sim_embedded_builder_key")
PARSEC_BASE_URL = env_str(
    "PARSEC_BASE_URL", f"{SITE_URL}/sim/api/v1" if PARSEC_SIMULATOR else "https://api.parsecapi.com/api/v1"
).rstrip("/")
if not PARSEC_API_KEY and PARSEC_SIMULATOR:
    PARSEC_API_KEY = PARSEC_SIMULATOR_API_KEY
PARSEC_CONNECT_TIMEOUT = env_float("PARSEC_CONNECT_TIMEOUT", 3.0)
PARSEC_READ_TIMEOUT = env_float("PARSEC_READ_TIMEOUT", 10.0)
PARSEC_READ_RETRIES = env_int("PARSEC_READ_RETRIES", 2)  # read-only calls only; a create is never retried

# --- Celery --------------------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_FILESYSTEM_DIR = Path(env_str("CELERY_FILESYSTEM_DIR", str(VAR_DIR / "celery")))
    for folder in ("queue", "processed", "control"):
        (BROKER_FILESYSTEM_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(BROKER_FILESYSTEM_DIR / "queue"),
        "processed_folder": str(BROKER_FILESYSTEM_DIR / "processed"),
        "control_folder": str(BROKER_FILESYSTEM_DIR / "control"),
        "store_processed": False,
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Queues: a backlog of one kind of work never starves another. The worker of `make run` consumes all.
TASK_QUEUE_NAMES = ("default", "provisioning", "submission", "cancel", "reconciliation")
CELERY_TASK_ROUTES = {
    "customers.*": {"queue": "provisioning"},
    "orders.submit": {"queue": "submission"},
    "orders.sweep_outbox": {"queue": "submission"},
    "orders.cancel": {"queue": "cancel"},
    "orders.reconcile*": {"queue": "reconciliation"},
    "fees.*": {"queue": "default"},
}
CELERY_BEAT_SCHEDULE: dict = {}

# --- Logging ---------------------------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # httpx logs every request URL at INFO; ours carry no secrets, but keep the noise down.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
