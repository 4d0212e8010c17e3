"""Settings, all read from the environment with development defaults (the README has the table).

Over 400 lines of flat declarations, grouped by concern, with the checks that refuse a bad value at start.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from parsec.sim.fault_names import FAULTS as SIM_FAULTS

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime files (SQLite, broker folders, static files, beat schedule). Nothing here creates folders:
# builder_platform.folders does, when a process starts (manage.py, WSGI, Celery).
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


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
# Django's own check (security.W009) asks for at least 50 characters and 5 different ones.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
if not DEBUG and SECRET_KEY in {"", DEVELOPMENT_SECRET_KEY}:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a long random value when DJANGO_DEBUG is off; "
        "refusing to start with a missing or development key."
    )
if not DEBUG and (
    len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH or len(set(SECRET_KEY)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
):
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY is too weak: use at least {SECRET_KEY_MIN_LENGTH} characters with at least "
        f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} different ones (for example: python -c "
        '"import secrets; print(secrets.token_urlsafe(50))").'
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
    # Swagger UI and Redoc as static files of our own: the docs must open on a machine without internet.
    "drf_spectacular_sidecar",
    "parsec.sim",
    "generations",
    "events",
    "audit",
    "ratelimits",
    "customers",
    "halts",
    "referrals",
    "fees",
    "orders",
    "affiliates",
    "portfolio",
    "webhooks",
    "web",
    "workers",
]

MIDDLEWARE = [
    # Before everything, so every log line and every answer (JsonErrorsMiddleware's too) has its id.
    "builder_platform.request_ids.RequestIdMiddleware",
    # The read caches' generation is read once per request (generations.store).
    "generations.store.ReadGenerationMiddleware",
    # Outside JsonErrorsMiddleware, so the X-RateLimit-* headers survive an answer it rewrites.
    "ratelimits.limits.RateLimitHeadersMiddleware",
    # Next, so that under /api/ and /app/ it also turns other middleware's error pages into JSON.
    "builder_platform.errors.JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # ?ref=<code> on any web page: counts the click and remembers the code in a signed cookie.
    "web.referral_links.ReferralQueryMiddleware",
]

ROOT_URLCONF = "builder_platform.urls"
WSGI_APPLICATION = "builder_platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "builder_platform" / "templates"],  # the project's own pages (API docs)
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
# Times with their seconds everywhere they are shown (admin lists, inlines, detail pages).
FORMAT_MODULE_PATH = "builder_platform.formats"
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"  # created at process start: whitenoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve app static files without collectstatic in development

# --- Security (production) ------------------------------------------------------------------------


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """ "X-Forwarded-Proto: https" -> ("HTTP_X_FORWARDED_PROTO", "https"); "off" -> None."""
    raw = env_str(name, "X-Forwarded-Proto: https")
    if raw.lower() in {"off", "none", "false", "0"}:
        return None
    header, separator, value = raw.partition(":")
    if not separator or not header.strip() or not value.strip():
        raise ImproperlyConfigured(
            f'{name} must look like "X-Forwarded-Proto: https" or be "off", not {raw!r}.'
        )
    return "HTTP_" + header.strip().upper().replace("-", "_"), value.strip()


if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    # Trust the proxy's header saying the request came over HTTPS. Only behind a proxy that sets it
    # (and strips it from clients): turn it off otherwise.
    SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Load balancers probe over plain HTTP: a redirect would read as "down".
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)  # a year, as browsers' preload lists ask
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if SECURE_HSTS_SECONDS < 0:
        raise ImproperlyConfigured("SECURE_HSTS_SECONDS must be 0 (off) or a positive number of seconds.")
SESSION_COOKIE_HTTPONLY = True
# Admin messages can carry a freshly minted API key: keep them server-side, not in a signed cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
X_FRAME_OPTIONS = "DENY"
# Under /api/ and /app/ a failed CSRF check answers JSON in the error shape; elsewhere Django's page.
CSRF_FAILURE_VIEW = "builder_platform.errors.csrf_failure"
# Larger bodies answer 413 under /api/ and /app/ before anything reads them (Django's default, 2.5 MiB).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)

# --- REST API ----------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["customers.authentication.PartnerApiKeyAuthentication"],
    # IsPartner first (401 without a key), then a read key's 403 on any write.
    "DEFAULT_PERMISSION_CLASSES": [
        "customers.authentication.IsPartner",
        "customers.authentication.KeyScopeAllowsMethod",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["builder_platform.inputs.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "builder_platform.api.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "builder_platform.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["ratelimits.limits.PartnerRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Builder platform partner API",
    "DESCRIPTION": "Onboard customers, place orders through Parsec, read fills, fees and statements; "
    "refer end-users and read your commissions and payouts.",
    "VERSION": "1",
    # 3.1: nullable objects and enums are JSON Schema (oneOf [..., null]), which validators and client
    # generators read the same way; 3.0's `nullable` beside a $ref is read differently by each.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Served from our own static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No online validator badge: it would send the schema's address to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "TAGS": [
        {"name": "customers", "description": "A partner's end-users, their wallets and provisioning."},
        {"name": "orders", "description": "Orders placed through Parsec for a customer, and their fees."},
        {"name": "markets", "description": "What can be traded where (Parsec's exchanges and markets)."},
        {"name": "fees", "description": "The partner's fee statement."},
        {
            "name": "affiliates",
            "description": "Referral codes, the customers they brought, commissions, payouts and statements.",
        },
    ],
}

# --- Partners and wallets ---------------------------------------------------------------------------

# Sign-In with Ethereum (EIP-4361) messages name this domain and URI; wallets show them to the user.
SIWE_DOMAIN = env_str("SIWE_DOMAIN", urlsplit(SITE_URL).netloc)
SIWE_URI = env_str("SIWE_URI", SITE_URL)
SIWE_CHAIN_ID = env_int("SIWE_CHAIN_ID", 137)
WALLET_CHALLENGE_TTL_SECONDS = env_int("WALLET_CHALLENGE_TTL_SECONDS", 300)
# Unused, unexpired challenges one address may hold at once (per customer, or for web sign-in).
WALLET_CHALLENGE_MAX_OPEN = env_int("WALLET_CHALLENGE_MAX_OPEN", 5)
# Used web sign-in challenges are deleted after this many days; unused ones an hour after they expire.
# Used wallet-link challenges are kept: each is the message a customer's wallet signed to link it.
WALLET_CHALLENGE_RETENTION_DAYS = env_int("WALLET_CHALLENGE_RETENTION_DAYS", 30)
API_KEY_TOUCH_INTERVAL_SECONDS = 60  # last_used_at is written at most this often per key
# The per-process read caches (API keys, customers, active halts: generations.store) are dropped when the
# shared generation moves, and at the latest after this long: a backstop for a bump lost to a process
# that died between its commit and its Redis INCR. 0 turns the caches off.
READ_CACHE_MAX_AGE_SECONDS = env_int("READ_CACHE_MAX_AGE_SECONDS", 60)

# --- Rate limits (ratelimits; token buckets in SHARED_STORE_URL's Redis, else the database) ----------------

RATE_LIMITS_ENABLED = env_bool("RATE_LIMITS_ENABLED", True)  # off: no limit at all (load tests)
# Each partner's API budget: PARTNER_API_BURST requests at once, refilled at PARTNER_API_RATE a second.
# A partner's own figures (admin, "Partner rate limits") replace these for it.
PARTNER_API_RATE = env_int("PARTNER_API_RATE", 50)
PARTNER_API_BURST = env_int("PARTNER_API_BURST", 100)
# Anonymous web sign-in challenges one client address may ask for per minute (in a burst, or spread).
SIGN_IN_CHALLENGES_PER_IP_PER_MINUTE = env_int("SIGN_IN_CHALLENGES_PER_IP_PER_MINUTE", 10)
# Proxies in front of the app that append to X-Forwarded-For; 0 trusts none and reads REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if (
    min(PARTNER_API_RATE, PARTNER_API_BURST, SIGN_IN_CHALLENGES_PER_IP_PER_MINUTE) < 1
    or TRUSTED_PROXY_COUNT < 0
):
    raise ImproperlyConfigured(
        "PARTNER_API_RATE, PARTNER_API_BURST and SIGN_IN_CHALLENGES_PER_IP_PER_MINUTE must be at least 1 "
        "(RATE_LIMITS_ENABLED=false turns limits off), TRUSTED_PROXY_COUNT not negative."
    )

# --- Parsec ------------------------------------------------------------------------------------------

PARSEC_API_KEY = env_str("PARSEC_API_KEY")
# The simulator's documented builder key: fine on a laptop, never on a server anyone can reach (it
# would let anyone who knows a customer id list and cancel its orders, or set its fee to 0).
PARSEC_SIMULATOR_DEFAULT_API_KEY = "pk_sim_embedded_builder_key"
# In debug the embedded simulator is the venue unless a real Parsec key is configured; with debug off
# it runs only when asked for explicitly, with a key of its own.
PARSEC_SIMULATOR = env_bool("PARSEC_SIMULATOR", DEBUG and not PARSEC_API_KEY)
PARSEC_SIMULATOR_API_KEY = env_str("PARSEC_SIMULATOR_API_KEY", PARSEC_SIMULATOR_DEFAULT_API_KEY)
if not DEBUG and PARSEC_SIMULATOR and PARSEC_SIMULATOR_API_KEY == PARSEC_SIMULATOR_DEFAULT_API_KEY:
    raise ImproperlyConfigured(
        "PARSEC_SIMULATOR_API_KEY must be set to a secret of your own when the simulator runs with "
        "DJANGO_DEBUG off; the documented default key is public."
    )
if not DEBUG and not PARSEC_SIMULATOR and not PARSEC_API_KEY:
    raise ImproperlyConfigured(
        "PARSEC_API_KEY must be set when DJANGO_DEBUG is off (the embedded simulator is off in production; "
        "to run it on purpose set PARSEC_SIMULATOR=true and PARSEC_SIMULATOR_API_KEY)."
    )
PARSEC_BASE_URL = env_str(
    "PARSEC_BASE_URL", f"{SITE_URL}/sim/api/v1" if PARSEC_SIMULATOR else "https://api.parsecapi.com/api/v1"
).rstrip("/")
if not PARSEC_API_KEY and PARSEC_SIMULATOR:
    PARSEC_API_KEY = PARSEC_SIMULATOR_API_KEY
PARSEC_CONNECT_TIMEOUT = env_float("PARSEC_CONNECT_TIMEOUT", 3.0)
PARSEC_READ_TIMEOUT = env_float("PARSEC_READ_TIMEOUT", 10.0)
PARSEC_READ_RETRIES = env_int("PARSEC_READ_RETRIES", 2)  # read-only calls only; a create is never retried
# An idle connection to Parsec is kept this long, under the server's own idle timeout (see ParsecClient).
PARSEC_KEEPALIVE_SECONDS = env_float("PARSEC_KEEPALIVE_SECONDS", 1.5)
if PARSEC_KEEPALIVE_SECONDS < 0:
    raise ImproperlyConfigured(
        "PARSEC_KEEPALIVE_SECONDS must be 0 or more seconds (0: a new connection per call)."
    )
# One Parsec rate budget for the whole deployment (ratelimits.parsec_budget; buckets in SHARED_STORE_URL's
# Redis, else the database): the builder's QPS pool, and each builder user's limit (0: none of ours).
PARSEC_RATE_LIMIT_ENABLED = env_bool("PARSEC_RATE_LIMIT_ENABLED", True)
PARSEC_POOL_QPS = env_int("PARSEC_POOL_QPS", 500)
PARSEC_USER_QPS = env_int("PARSEC_USER_QPS", 0)
PARSEC_RATE_HEADROOM = env_float("PARSEC_RATE_HEADROOM", 0.05)  # spend this fraction under each limit
PARSEC_RATE_MAX_WAIT_SECONDS = env_float("PARSEC_RATE_MAX_WAIT_SECONDS", 5.0)  # then the task retries later
if PARSEC_POOL_QPS < 1 or PARSEC_USER_QPS < 0 or not 0 <= PARSEC_RATE_HEADROOM < 0.9:
    raise ImproperlyConfigured(
        "PARSEC_POOL_QPS must be at least 1, PARSEC_USER_QPS 0 or more, PARSEC_RATE_HEADROOM from 0 to 0.9"
    )

# Portfolio and market depth: how long public market data is reused (seconds). Balances and positions
# are private and never cached.
PORTFOLIO_MARKET_CACHE_SECONDS = env_int("PORTFOLIO_MARKET_CACHE_SECONDS", 10)
PORTFOLIO_BOOK_CACHE_SECONDS = env_int("PORTFOLIO_BOOK_CACHE_SECONDS", 1)  # order books and dry runs

# Embedded simulator (read only while PARSEC_SIMULATOR is on). Its escrow is a local stand-in: the
# addresses are fixed, made-up values, not Parsec's contracts.
PARSEC_SIM_SEED = env_int("PARSEC_SIM_SEED", 7)  # prices, book depth and random faults derive from it


def env_fault_rates(name: str) -> dict[str, float]:
    """ "error-503=0.02,rate-limit=0.01" -> {"error-503": 0.02, "rate-limit": 0.01}; each rate from 0 to 1.

    Only the simulator's fault names, and rates that add up to at most 1 (one fault per request).
    """
    rates: dict[str, float] = {}
    for item in env_list(name, []):
        fault, separator, raw_rate = item.partition("=")
        try:
            rate = float(raw_rate)
        except ValueError:
            rate = -1.0
        if not separator or not fault.strip() or not 0 <= rate <= 1:
            raise ImproperlyConfigured(
                f"{name} must be a comma-separated list of fault=rate with rates from 0 to 1 (for example "
                f'"error-503=0.02,rate-limit=0.01"), not {item!r}.'
            )
        if fault.strip() not in SIM_FAULTS:
            raise ImproperlyConfigured(
                f"{name} must be a comma-separated list of fault=rate with faults among "
                f"{', '.join(SIM_FAULTS)}; there is no fault {fault.strip()!r}."
            )
        rates[fault.strip()] = rate
    if sum(rates.values()) > 1:
        raise ImproperlyConfigured(
            f"{name} must be a comma-separated list of fault=rate whose rates add up to at most 1 "
            f"(one fault per request at most), not {sum(rates.values()):g}."
        )
    return rates


# Random faults per request, e.g. "error-503=0.02,rate-limit=0.01,apply-then-drop=0.005".
PARSEC_SIM_FAULT_RATES = env_fault_rates("PARSEC_SIM_FAULT_RATES")
PARSEC_SIM_LATENCY_SECONDS = env_float("PARSEC_SIM_LATENCY_SECONDS", 0.5)
PARSEC_SIM_HOLD_SECONDS = env_float("PARSEC_SIM_HOLD_SECONDS", 30.0)  # > the client's read timeout
PARSEC_SIM_RETRY_AFTER_SECONDS = env_int("PARSEC_SIM_RETRY_AFTER_SECONDS", 1)
# The simulator's own rate limits over a sliding second (0: off): the builder's pool, and each builder
# user's (a user's qps_limit, set with PATCH, takes precedence).
PARSEC_SIM_POOL_QPS = env_int("PARSEC_SIM_POOL_QPS", 0)
PARSEC_SIM_USER_QPS = env_int("PARSEC_SIM_USER_QPS", 0)
PARSEC_SIM_FILL_INTERVAL_SECONDS = env_float("PARSEC_SIM_FILL_INTERVAL_SECONDS", 5.0)
# Share of an order's size a resting order fills per interval while the price allows it.
PARSEC_SIM_FILL_CHUNK_FRACTION = env_str("PARSEC_SIM_FILL_CHUNK_FRACTION", "0.25")
PARSEC_SIM_PRICE_BUCKET_SECONDS = env_int("PARSEC_SIM_PRICE_BUCKET_SECONDS", 60)
PARSEC_SIM_BOOK_DEPTH = env_int("PARSEC_SIM_BOOK_DEPTH", 100)  # shares a taker finds at the touch, +/- 50%
PARSEC_SIM_TAKER_FEE_BPS = env_int("PARSEC_SIM_TAKER_FEE_BPS", 10)  # exchange fee on taker fills
# Every builder user's USDC balance before its first fill or fee, in whole USDC. Large by default so
# suites and benchmarks never run dry; set it small to see Parsec's 402 insufficient_funds.
PARSEC_SIM_STARTING_BALANCE_USDC = env_int("PARSEC_SIM_STARTING_BALANCE_USDC", 1_000_000_000)
PARSEC_SIM_FEE_ESCROW_ENABLED = env_bool("PARSEC_SIM_FEE_ESCROW_ENABLED", True)
PARSEC_SIM_FEE_BPS = env_int("PARSEC_SIM_FEE_BPS", 25)
PARSEC_SIM_MIN_FEE_BPS = env_int("PARSEC_SIM_MIN_FEE_BPS", 1)
PARSEC_SIM_MAX_FEE_BPS = env_int("PARSEC_SIM_MAX_FEE_BPS", 50)  # the builder tier's cap (Iron: 50 bps)
PARSEC_SIM_MIN_FEE_USDC = env_int("PARSEC_SIM_MIN_FEE_USDC", 10_000)  # USDC base units
PARSEC_SIM_AFFILIATE_FEE_BPS = env_int("PARSEC_SIM_AFFILIATE_FEE_BPS", 5000)
PARSEC_SIM_ESCROW_CONTRACT_ADDRESS = env_str(
    "PARSEC_SIM_ESCROW_CONTRACT_ADDRESS", "0x39F35887e583ed7d6eFf6fa472359371145ba549"
)
PARSEC_SIM_TREASURY_ADDRESS = env_str(
    "PARSEC_SIM_TREASURY_ADDRESS", "0x24FF2f416594bEF1d4FC99BC47e239BA1FfFA81e"
)
PARSEC_SIM_AFFILIATE_ADDRESS = env_str(
    "PARSEC_SIM_AFFILIATE_ADDRESS", "0x39Bc708AdD3A470e59192d3c2d108e57178C80a9"
)

# --- Celery --------------------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
BROKER_FILESYSTEM_DIR = Path(env_str("CELERY_FILESYSTEM_DIR", str(VAR_DIR / "celery")))
# Where state shared by every process lives (rate budgets, control generations): a Redis URL, by default the
# broker's when the broker is Redis; empty means none, and such state lives in the database instead.
SHARED_STORE_URL = env_str(
    "SHARED_STORE_URL", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(BROKER_FILESYSTEM_DIR / "queue"),
        "processed_folder": str(BROKER_FILESYSTEM_DIR / "processed"),
        "control_folder": str(BROKER_FILESYSTEM_DIR / "control"),
        "store_processed": False,
        # kombu polls the folder once per interval (default 1 s), which caps a worker at
        # concurrency-many tasks per interval; order submission needs it far shorter.
        "polling_interval": env_float("CELERY_FILESYSTEM_POLLING_INTERVAL", 0.05),
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Queues: a backlog of one kind of work never starves another. `make run` runs two workers: `worker`
# (prefork) for the CPU-bound ones, `io` (threads) for those that wait on Parsec or a partner's server.
TASK_QUEUE_NAMES = ("default", "provisioning", "submission", "cancel", "reconciliation", "webhooks")
IO_QUEUE_NAMES = ("submission", "cancel", "reconciliation", "webhooks")
# Celery's Django fixup closes a task's database connection before and after every task unless this is
# set; then it closes one every CELERY_DB_REUSE_MAX tasks: a new PostgreSQL connection per task cost more
# than the submit task itself (benchmarks/orders_drain.py).
# SQLite (CONN_MAX_AGE 0, one file) keeps Celery's default of a fresh connection per task.
# Nothing else checks a kept connection's health between tasks, so after a database restart a thread's
# broken connection fails its tasks (claims not yet made, or answers left to reconciliation: never a
# second send) until it is recycled; a small number bounds that to a few dozen tasks per thread.
CELERY_DB_REUSE_MAX = env_int(
    "CELERY_DB_REUSE_MAX", 0 if DATABASES["default"]["ENGINE"].endswith("sqlite3") else 50
)
# Threads of a thread-pool (`io`) worker started without --concurrency: orders in flight per process.
# Each thread holds at most one database connection. SQLite takes one writer at a time, so more
# threads there only queue on its lock.
CELERY_IO_CONCURRENCY = env_int(
    "CELERY_IO_CONCURRENCY", 4 if DATABASES["default"]["ENGINE"].endswith("sqlite3") else 16
)
CELERY_TASK_ROUTES = {
    "customers.*": {"queue": "provisioning"},
    "orders.submit": {"queue": "submission"},
    "orders.sweep_outbox": {"queue": "submission"},
    "orders.cancel": {"queue": "cancel"},
    "orders.fire_dead_man_switches": {"queue": "cancel"},  # a stop must not wait behind submissions
    "orders.reconcile*": {"queue": "reconciliation"},
    "orders.purge_idempotency_keys": {"queue": "default"},
    "fees.*": {"queue": "default"},
    "affiliates.*": {"queue": "default"},
    "events.*": {"queue": "default"},
    "ratelimits.*": {"queue": "default"},
    "webhooks.*": {"queue": "webhooks"},
}

# A worker touches its heartbeat row this often while it consumes; /readyz answers 503 when no worker
# was seen for WORKER_HEARTBEAT_MAX_AGE_SECONDS.
WORKER_HEARTBEAT_INTERVAL_SECONDS = env_float("WORKER_HEARTBEAT_INTERVAL_SECONDS", 10.0)
WORKER_HEARTBEAT_MAX_AGE_SECONDS = env_int("WORKER_HEARTBEAT_MAX_AGE_SECONDS", 60)
# /readyz answers 503 when an order has been queued and due this long without being sent (workers seen
# but their pool runs nothing, or beat gone): the sweep re-enqueues after ORDER_OUTBOX_STALE_SECONDS.
ORDER_SUBMISSION_STALL_SECONDS = env_int("ORDER_SUBMISSION_STALL_SECONDS", 120)
if not 0 < WORKER_HEARTBEAT_INTERVAL_SECONDS < WORKER_HEARTBEAT_MAX_AGE_SECONDS:
    raise ImproperlyConfigured(
        "WORKER_HEARTBEAT_INTERVAL_SECONDS must be positive and shorter than "
        "WORKER_HEARTBEAT_MAX_AGE_SECONDS."
    )

# --- Fees ------------------------------------------------------------------------------------------------

ESCROW_CONFIG_REFRESH_SECONDS = env_float("ESCROW_CONFIG_REFRESH_SECONDS", 300.0)
# An escrow config older than this (Parsec unreachable since) blocks new fee-bearing orders with a 503.
ESCROW_CONFIG_MAX_AGE_SECONDS = env_int("ESCROW_CONFIG_MAX_AGE_SECONDS", 3600)
if ESCROW_CONFIG_MAX_AGE_SECONDS <= 0 or ESCROW_CONFIG_REFRESH_SECONDS <= 0:
    raise ImproperlyConfigured(
        "ESCROW_CONFIG_MAX_AGE_SECONDS and ESCROW_CONFIG_REFRESH_SECONDS must be positive numbers of seconds."
    )
BUILDER_TIER_MAX_FEE_BPS = env_int("BUILDER_TIER_MAX_FEE_BPS", 50)  # Iron 50, Bronze 75, Silver 100, ...
if not 0 <= BUILDER_TIER_MAX_FEE_BPS <= 10_000:
    raise ImproperlyConfigured(
        f"BUILDER_TIER_MAX_FEE_BPS must be from 0 to 10000 basis points, not {BUILDER_TIER_MAX_FEE_BPS}."
    )
# The partner fee floor while no escrow config was ever fetched.
FEE_MIN_BPS_FALLBACK = env_int("FEE_MIN_BPS_FALLBACK", 1)
FEE_AUTH_DEADLINE_SECONDS = env_int("FEE_AUTH_DEADLINE_SECONDS", 300)
if not 60 <= FEE_AUTH_DEADLINE_SECONDS <= 86_400:
    raise ImproperlyConfigured("FEE_AUTH_DEADLINE_SECONDS must be between 60 and 86400 seconds.")
FEE_STATEMENT_MAX_DAYS = env_int("FEE_STATEMENT_MAX_DAYS", 366)  # the longest range a statement covers

# --- Affiliate program -----------------------------------------------------------------------------------

# How long a referral link's signed cookie attributes a first sign-in.
REFERRAL_ATTRIBUTION_DAYS = env_int("REFERRAL_ATTRIBUTION_DAYS", 30)
# A booked commission is pending this long before it can be paid out (refunds, fraud review).
COMMISSION_HOLD_DAYS = env_int("COMMISSION_HOLD_DAYS", 7)
# A partner's payout for a period is made only from this many USDC; below it everything carries over.
PAYOUT_MINIMUM_USDC = env_int("PAYOUT_MINIMUM_USDC", 10)
if REFERRAL_ATTRIBUTION_DAYS <= 0 or COMMISSION_HOLD_DAYS < 0 or PAYOUT_MINIMUM_USDC <= 0:
    raise ImproperlyConfigured(
        "REFERRAL_ATTRIBUTION_DAYS and PAYOUT_MINIMUM_USDC must be positive, "
        "COMMISSION_HOLD_DAYS not negative."
    )

# --- Orders ----------------------------------------------------------------------------------------------

# A submit attempt older than this is presumed dead (its worker died); longer than connect + read timeout.
ORDER_SUBMIT_LEASE_SECONDS = env_int("ORDER_SUBMIT_LEASE_SECONDS", 60)
# A fee-less order still unsent this long after creation fails (a fee-bearing one gives up at its deadline).
ORDER_SUBMIT_GIVE_UP_SECONDS = env_int("ORDER_SUBMIT_GIVE_UP_SECONDS", 600)
# A submit task claims up to this many due queued orders in one conditional UPDATE, sends them at once
# and records Parsec's common answers in one transaction (1: one order per task, the per-order path).
ORDER_SUBMIT_BATCH_SIZE = env_int("ORDER_SUBMIT_BATCH_SIZE", 16)
# Threads per process making the batches' HTTP calls to Parsec (no database connection each): the most
# creates one worker process has in flight at once, whatever its number of task threads.
ORDER_SUBMIT_SEND_THREADS = env_int("ORDER_SUBMIT_SEND_THREADS", 16)
ORDER_SUBMIT_BACKOFF_BASE_SECONDS = env_float("ORDER_SUBMIT_BACKOFF_BASE_SECONDS", 1.0)
ORDER_SUBMIT_BACKOFF_MAX_SECONDS = env_float("ORDER_SUBMIT_BACKOFF_MAX_SECONDS", 60.0)
# An order is not sent when its fee authorization's deadline is closer than this (Parsec checks it later).
ORDER_FEE_DEADLINE_MARGIN_SECONDS = env_int("ORDER_FEE_DEADLINE_MARGIN_SECONDS", 10)
ORDER_OUTBOX_SWEEP_INTERVAL_SECONDS = env_float("ORDER_OUTBOX_SWEEP_INTERVAL_SECONDS", 10.0)
ORDER_OUTBOX_STALE_SECONDS = env_int("ORDER_OUTBOX_STALE_SECONDS", 30)  # queued and due this long: re-enqueue
ORDER_RECONCILE_INTERVAL_SECONDS = env_float("ORDER_RECONCILE_INTERVAL_SECONDS", 5.0)
# Reconcile runs one worker process makes at once; a run beyond it is put back on the queue a second
# later, so a backlog of reads (slow listings) never holds every thread of an `io` worker, whose other
# threads send creates and cancels.
ORDER_RECONCILE_CONCURRENCY = env_int("ORDER_RECONCILE_CONCURRENCY", max(1, CELERY_IO_CONCURRENCY // 4))
# The dead-man switch (POST /api/v1/heartbeat): the bounds of cancel_after_seconds, and how often beat
# fires the switches past their deadline (a switch fires at most this late).
HEARTBEAT_MIN_SECONDS = env_int("HEARTBEAT_MIN_SECONDS", 5)
HEARTBEAT_MAX_SECONDS = env_int("HEARTBEAT_MAX_SECONDS", 86400)
DEAD_MAN_SWITCH_CHECK_SECONDS = env_float("DEAD_MAN_SWITCH_CHECK_SECONDS", 2.0)
ORDER_RECONCILE_START_MARGIN_SECONDS = env_int("ORDER_RECONCILE_START_MARGIN_SECONDS", 300)
ORDER_RECONCILE_CLOCK_SKEW_SECONDS = env_int("ORDER_RECONCILE_CLOCK_SKEW_SECONDS", 30)
# An order in doubt is sent again only after this many listings without it, spanning the grace period.
ORDER_RECONCILE_MISSES_BEFORE_RESEND = env_int("ORDER_RECONCILE_MISSES_BEFORE_RESEND", 3)
ORDER_RECONCILE_RESEND_GRACE_SECONDS = env_int("ORDER_RECONCILE_RESEND_GRACE_SECONDS", 60)
ORDER_RECONCILE_LIST_LIMIT = env_int("ORDER_RECONCILE_LIST_LIMIT", 500)  # Parsec's maximum page
ORDER_IDEMPOTENCY_KEY_TTL_HOURS = env_int("ORDER_IDEMPOTENCY_KEY_TTL_HOURS", 24)
# A key still in flight this long belongs to a request that died; a new request may take it over.
ORDER_IDEMPOTENCY_IN_FLIGHT_TIMEOUT_SECONDS = env_int("ORDER_IDEMPOTENCY_IN_FLIGHT_TIMEOUT_SECONDS", 60)
ORDER_EXCHANGES_CACHE_SECONDS = env_int("ORDER_EXCHANGES_CACHE_SECONDS", 60)
ORDER_MARKETS_CACHE_SECONDS = env_int("ORDER_MARKETS_CACHE_SECONDS", 10)
# --- Events and webhooks ----------------------------------------------------------------------------------

WEBHOOK_EVENT_RETENTION_DAYS = env_int("WEBHOOK_EVENT_RETENTION_DAYS", 30)
# Private, loopback and link-local webhook URLs are refused unless this is on (on in the embedded
# defaults, so a receiver on this machine works).
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", DEBUG)
# Plain http:// URLs only while debug is on, by default (read here from DJANGO_DEBUG: the test runner
# turns settings.DEBUG off, and its local receivers speak http).
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", DEBUG)
WEBHOOK_DISABLE_AFTER_HOURS = env_int("WEBHOOK_DISABLE_AFTER_HOURS", 72)
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env_float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 3.0)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)
# Seconds to wait after attempt 1, 2, ... fails (Standard Webhooks' schedule); its length is the number
# of attempts: after the last one the delivery is failed (and can be resent).
try:
    WEBHOOK_RETRY_SCHEDULE_SECONDS = tuple(
        float(item)
        for item in env_list(
            "WEBHOOK_RETRY_SCHEDULE_SECONDS", ["0", "5", "300", "1800", "7200", "18000", "36000", "36000"]
        )
    )
except ValueError:
    raise ImproperlyConfigured("WEBHOOK_RETRY_SCHEDULE_SECONDS must be comma-separated seconds.") from None
# Attempts one endpoint may have in flight at once: a slow partner never holds every worker.
# One by default: `make run`'s worker has two slots, so one endpoint can never hold both.
WEBHOOK_ENDPOINT_MAX_IN_FLIGHT = env_int("WEBHOOK_ENDPOINT_MAX_IN_FLIGHT", 1)
WEBHOOK_BUSY_RETRY_SECONDS = env_float("WEBHOOK_BUSY_RETRY_SECONDS", 1.0)
# An attempt holds its delivery this long (longer than the total timeout); past it the sweep retries.
WEBHOOK_DELIVERY_LEASE_SECONDS = env_int("WEBHOOK_DELIVERY_LEASE_SECONDS", 30)
# Retries due within this many seconds are sent as a delayed message; later ones by the sweep.
WEBHOOK_COUNTDOWN_MAX_SECONDS = env_float("WEBHOOK_COUNTDOWN_MAX_SECONDS", 60.0)
WEBHOOK_SWEEP_INTERVAL_SECONDS = env_float("WEBHOOK_SWEEP_INTERVAL_SECONDS", 10.0)
# A message sent this long ago whose attempt has not run is presumed lost and sent again (a backlog in
# the queue delays messages; copies of them would only grow it).
WEBHOOK_SWEEP_PRESUMED_LOST_SECONDS = env_float("WEBHOOK_SWEEP_PRESUMED_LOST_SECONDS", 300.0)
if WEBHOOK_DELIVERY_LEASE_SECONDS <= WEBHOOK_TIMEOUT_SECONDS or WEBHOOK_ENDPOINT_MAX_IN_FLIGHT < 1:
    raise ImproperlyConfigured(
        "WEBHOOK_DELIVERY_LEASE_SECONDS must exceed WEBHOOK_TIMEOUT_SECONDS, and "
        "WEBHOOK_ENDPOINT_MAX_IN_FLIGHT must be at least 1."
    )

# One component per enum, named for what it is (orders and customers both have a `status`).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "OrderStatus": "orders.models.Order.Status",
    "OrderSide": "orders.models.Order.Side",
    "CustomerStatus": "customers.models.Customer.Status",
    "WalletRole": "customers.models.Wallet.Role",
    "FeeAuthorizationState": "fees.models.FeeAuthorization.State",
    "WebhookDeliveryStatus": "webhooks.models.WebhookDelivery.Status",
    "ExchangeId": "parsec.contract.EXCHANGES",
    "OrderType": "parsec.contract.ORDER_TYPES",
    "ApiKeyScope": "customers.models.PartnerApiKey.Scope",
}
# The enum hook as by default, then the 403 key_read_only on every write operation and the partner
# budget's X-RateLimit-* / Retry-After headers on every answer (each declared in one place).
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "customers.authentication.read_key_refusals_in_schema",
    "ratelimits.schema.rate_limit_headers_in_schema",
]

# --- Web frontend ---------------------------------------------------------------------------------------

WEB_SITE_NAME = env_str("WEB_SITE_NAME", "Builder Markets")

# --- Beat schedule ------------------------------------------------------------------------------------

CELERY_BEAT_SCHEDULE = {
    # Re-enqueue customers whose provisioning a lost message or exhausted retries left undone.
    "customers.sweep_provisioning": {"task": "customers.sweep_provisioning", "schedule": 60.0},
    "fees.refresh_escrow_config": {
        "task": "fees.refresh_escrow_config",
        "schedule": ESCROW_CONFIG_REFRESH_SECONDS,
    },
    "orders.sweep_outbox": {"task": "orders.sweep_outbox", "schedule": ORDER_OUTBOX_SWEEP_INTERVAL_SECONDS},
    "orders.reconcile": {"task": "orders.reconcile", "schedule": ORDER_RECONCILE_INTERVAL_SECONDS},
    "orders.fire_dead_man_switches": {
        "task": "orders.fire_dead_man_switches",
        "schedule": DEAD_MAN_SWITCH_CHECK_SECONDS,
    },
    "orders.purge_idempotency_keys": {"task": "orders.purge_idempotency_keys", "schedule": 3600.0},
    "customers.purge_wallet_challenges": {"task": "customers.purge_wallet_challenges", "schedule": 3600.0},
    # Held commissions become available once their hold ends.
    "affiliates.release_commissions": {"task": "affiliates.release_commissions", "schedule": 3600.0},
    # On the 1st of each month, the payout run for the month before.
    "affiliates.payout_run": {
        "task": "affiliates.payout_run",
        "schedule": crontab(minute=30, hour=0, day_of_month=1),
    },
    "webhooks.sweep": {"task": "webhooks.sweep", "schedule": WEBHOOK_SWEEP_INTERVAL_SECONDS},
    "events.purge": {"task": "events.purge", "schedule": 3600.0},
    # Database buckets (no shared Redis) of clients gone quiet: one row per client address otherwise stays.
    "ratelimits.purge_buckets": {"task": "ratelimits.purge_buckets", "schedule": 3600.0},
}

# --- Metrics and traces ---------------------------------------------------------------------------------

# GET /metrics (Prometheus text format) and the admin's metrics dashboard; off: no middleware, no counting.
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
# Every process writes its counters here (prometheus_client's multiprocess mode); `make run` empties it
# at start. Created when a process starts (builder_platform.folders).
METRICS_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics")))
# Sent by the scraper as "Authorization: Bearer <token>". Empty: only a request from this machine
# (loopback, not through a proxy) may read /metrics, and only while METRICS_LOOPBACK_WITHOUT_TOKEN is on.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_LOOPBACK_WITHOUT_TOKEN = env_bool("METRICS_LOOPBACK_WITHOUT_TOKEN", DEBUG)
# The dashboard's minute samples are kept this long.
METRICS_SAMPLE_RETENTION_HOURS = env_int("METRICS_SAMPLE_RETENTION_HOURS", 24)
if METRICS_SAMPLE_RETENTION_HOURS < 1:
    raise ImproperlyConfigured("METRICS_SAMPLE_RETENTION_HOURS must be at least 1.")
INSTALLED_APPS.append("monitoring")
# First, so it times every other middleware and sees the status they answered.
MIDDLEWARE.insert(0, "monitoring.middleware.RequestMetricsMiddleware")
CELERY_TASK_ROUTES["monitoring.*"] = {"queue": "default"}
CELERY_BEAT_SCHEDULE["monitoring.sample"] = {"task": "monitoring.sample", "schedule": 60.0}
# OpenTelemetry traces are sent only when OTEL_EXPORTER_OTLP_ENDPOINT is set (read by monitoring.tracing).

# --- Logging ---------------------------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# json: one JSON object per line, for a log collector (production's default); text: readable lines.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json").lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "builder_platform.logs.TextFormatter"},
        "json": {"()": "builder_platform.logs.JsonFormatter"},
    },
    "filters": {
        "client_errors": {"()": "builder_platform.logs.ClientErrorLevelFilter"},
        # Request id, partner, task, order and customer on every record (builder_platform.logs).
        "context": {"()": "builder_platform.logs.LogContextFilter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # httpx logs every request URL at INFO; ours carry no secrets, but keep the noise down.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # A 4xx, Parsec's 501 for an unsupported order type, a foreign Host or an oversized body is the
        # caller's mistake, not a server error: at most WARNING (a logger's filters are not inherited).
        "django.request": {"filters": ["client_errors"]},
        "django.security.DisallowedHost": {"filters": ["client_errors"]},
        "django.security.RequestDataTooBig": {"filters": ["client_errors"]},
        # Beat sends a few periodic tasks every few seconds; one INFO line per send, receipt and
        # success buries everything else. Failures still log at WARNING and above.
        "celery.beat": {"level": env_str("CELERY_ROUTINE_LOG_LEVEL", "WARNING")},
        "celery.app.trace": {"level": env_str("CELERY_ROUTINE_LOG_LEVEL", "WARNING")},
        "celery.worker.strategy": {"level": env_str("CELERY_ROUTINE_LOG_LEVEL", "WARNING")},
    },
}
