"""Settings of the sandbox: a small django-oscar 4.2 shop with oscar-recovery installed, for
trying the app by hand on http://127.0.0.1:8000/ . It needs nothing but Python: SQLite holds
the data, every email the shop sends lands in the outbox at /outbox/ instead of a mail server,
Celery tasks run eagerly in the web process instead of on a broker, and a thread inside
``runserver`` runs the recovery sweep every minute instead of a scheduler. ``SANDBOX_*``
environment variables switch these to the real thing. Nothing here is fit for production:
DEBUG is on, the secret key is public and the outbox is open to anyone.
"""

import hashlib
import os
from datetime import timedelta
from decimal import Decimal
from importlib.util import find_spec
from pathlib import Path

from oscar.defaults import *  # noqa: F403

BASE_DIR = Path(__file__).resolve().parent


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def link_host(addr: str) -> str:
    """The ``host:port`` emails link to for the address the server listens on: a wildcard
    address (``0.0.0.0:8001``) is reachable here as 127.0.0.1 on that port."""
    host, _, port = addr.rpartition(":")
    if not host:  # runserver accepts a bare port
        host, port = "127.0.0.1", addr
    if host in ("0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return f"{host}:{port}"


#: Where the sandbox is served (``runserver``/``gunicorn`` address); links in emails follow it.
SANDBOX_ADDR = os.environ.get("SANDBOX_ADDR", "127.0.0.1:8000")
SANDBOX_LINK_HOST = link_host(SANDBOX_ADDR)
DEBUG = _env_flag("SANDBOX_DEBUG", True)
SECRET_KEY = os.environ.get(
    "SANDBOX_SECRET_KEY", "sandbox-insecure-key-only-for-local-demos-never-deploy-this-1234"
)
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", SANDBOX_LINK_HOST.rpartition(":")[0]] + [
    host for host in os.environ.get("SANDBOX_ALLOWED_HOSTS", "").split(",") if host
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        # Requests and the sweep thread write concurrently: taking the write lock up front
        # and waiting for it avoids SQLite's "database is locked" on lock upgrades. WAL lets
        # readers go on while one writes, and with synchronous=NORMAL a commit does not wait
        # for the disk (still atomic; only a power cut can lose the newest commits), as
        # SQLite recommends for WAL: one email's ESP mark cost a disk flush without it.
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        },
    }
}
if os.environ.get("SANDBOX_PG_NAME"):
    # The production topology (README, *Production*; tests/integration/test_topology.py).
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["SANDBOX_PG_NAME"],
            "USER": os.environ.get("SANDBOX_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("SANDBOX_PG_PASSWORD", ""),
            "HOST": os.environ.get("SANDBOX_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("SANDBOX_PG_PORT", "5432"),
            # Seconds a server thread keeps its connection (0: one per request, Django's
            # default); production hosts keep them, as bench/load.py does.
            "CONN_MAX_AGE": int(os.environ.get("SANDBOX_PG_CONN_MAX_AGE", "0")),
            "CONN_HEALTH_CHECKS": True,
        }
    }
# Oscar's migrations use AutoField; saying so silences models.W042 for its apps.
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    # Before Oscar so that the app's templates can override Oscar's.
    "oscar_recovery",
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "sandbox.apps.checkout.apps.CheckoutConfig",  # fork: fake card payment
    "oscar.apps.address.apps.AddressConfig",
    "sandbox.apps.shipping.apps.ShippingConfig",  # fork: fixed prices, free over a threshold
    "oscar.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "oscar.apps.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "oscar.apps.offer.apps.OfferConfig",
    "oscar.apps.order.apps.OrderConfig",
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "oscar.apps.dashboard.apps.DashboardConfig",
    "oscar.apps.dashboard.reports.apps.ReportsDashboardConfig",
    "oscar.apps.dashboard.users.apps.UsersDashboardConfig",
    "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig",
    "oscar.apps.dashboard.catalogue.apps.CatalogueDashboardConfig",
    "oscar.apps.dashboard.offers.apps.OffersDashboardConfig",
    "oscar.apps.dashboard.partners.apps.PartnersDashboardConfig",
    "oscar.apps.dashboard.pages.apps.PagesDashboardConfig",
    "oscar.apps.dashboard.ranges.apps.RangesDashboardConfig",
    "oscar.apps.dashboard.reviews.apps.ReviewsDashboardConfig",
    "oscar.apps.dashboard.vouchers.apps.VouchersDashboardConfig",
    "oscar.apps.dashboard.communications.apps.CommunicationsDashboardConfig",
    "oscar.apps.dashboard.shipping.apps.ShippingDashboardConfig",
    # 3rd-party apps that Oscar depends on
    "widget_tweaks",
    "haystack",
    "treebeard",
    "sorl.thumbnail",
    "django_tables2",
    "anymail",
    "sandbox.demo.apps.DemoConfig",
]

# The shipping fork keeps Oscar's models unchanged, so it uses Oscar's migrations as they are
# rather than a copy that would drift on upgrades.
MIGRATION_MODULES = {"shipping": "oscar.apps.shipping.migrations"}

SITE_ID = 1

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]
if find_spec("whitenoise"):
    # Optional (the ``sandbox`` extra installs it): serves static files with DEBUG off too,
    # straight from the finders so no collectstatic is needed.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
    WHITENOISE_USE_FINDERS = True

ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = "sandbox.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project templates come first so they override Oscar's (checkout payment pages).
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
            ],
        },
    },
]

AUTHENTICATION_BACKENDS = [
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Like Haystack's simple backend (no search server, no index) but it honours the filters that
# Oscar's catalogue and category pages use; the simple backend leaves those pages empty.
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "sandbox.demo.search.InMemoryEngine"}}
# There is no index to keep up to date on every save.
HAYSTACK_SIGNAL_PROCESSOR = "haystack.signals.BaseSignalProcessor"

LANGUAGE_CODE = "en-gb"
LANGUAGES = [("en-gb", "English"), ("de", "Deutsch"), ("fr", "Français")]
# The languages oscar_recovery ships translations for.
LANGUAGES += [("ar", "العربية"), ("fa", "فارسی"), ("ko", "한국어"), ("ro", "Română")]
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static_collected"
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"

# Oscar
OSCAR_SHOP_NAME = "Recovery Sandbox"
OSCAR_SHOP_TAGLINE = "oscar-recovery demo shop"
OSCAR_DEFAULT_CURRENCY = "GBP"
OSCAR_ALLOW_ANON_CHECKOUT = True

# The app's master switch for capture (journeys, addresses, consent from shop requests):
# SANDBOX_RECOVERY_CAPTURE=0 turns it off (bench/load.py compares the two).
OSCAR_RECOVERY_CAPTURE_ENABLED = _env_flag("SANDBOX_RECOVERY_CAPTURE", True)

# Short, so a person trying the sandbox sees baskets marked abandoned within minutes.
OSCAR_RECOVERY_ABANDON_AFTER = timedelta(
    minutes=float(os.environ.get("SANDBOX_ABANDON_MINUTES", "2"))
)
OSCAR_FROM_EMAIL = DEFAULT_FROM_EMAIL = "Recovery Sandbox <shop@example.com>"
OSCAR_INITIAL_ORDER_STATUS = OSCAR_INITIAL_LINE_STATUS = "Pending"
OSCAR_ORDER_STATUS_PIPELINE = {
    "Pending": ("Being processed", "Cancelled"),
    "Being processed": ("Complete", "Cancelled"),
    "Complete": (),
    "Cancelled": (),
}

# Baskets whose total (incl. tax) reaches this ship free (sandbox.apps.shipping.repository).
SANDBOX_FREE_SHIPPING_THRESHOLD = Decimal(
    os.environ.get("SANDBOX_FREE_SHIPPING_THRESHOLD", "50.00")
)
# Recovery emails show the gap to free delivery and products that close it.
OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = SANDBOX_FREE_SHIPPING_THRESHOLD
OSCAR_RECOVERY_SITE_URL = os.environ.get("SANDBOX_SITE_URL", f"http://{SANDBOX_LINK_HOST}")
OSCAR_RECOVERY_POSTAL_ADDRESS = "Recovery Sandbox Ltd\n1 Example Street\nLondon EC1A 1AA"
# The demo campaign's emails follow each other within minutes (sandbox_demo_data), so the
# per-address pause between recovery emails is off; production keeps the 20 h default.
OSCAR_RECOVERY_ADDRESS_COOLDOWN = timedelta(0)
# Minutes after abandonment of the demo campaign's three emails (instead of 1 h, 24 h, 72 h).
SANDBOX_STEP_MINUTES = [
    float(m) for m in os.environ.get("SANDBOX_STEP_MINUTES", "1,5,15").split(",") if m.strip()
]

# Email: stored and shown at /outbox/ unless a real backend is named.
EMAIL_BACKEND = os.environ.get("SANDBOX_EMAIL_BACKEND", "sandbox.demo.mail.OutboxBackend")
# The ESP tracking URLs are mounted: an ESP must prove itself with basic auth (they answer 404
# without it, check W031).
# The default is derived from SECRET_KEY, whose own default is public: anyone who reads
# this file can forge tracking events for a sandbox left on its defaults. Set
# SANDBOX_SECRET_KEY, or SANDBOX_WEBHOOK_SECRET ("user:password"), wherever the sandbox is
# reachable by others or a real ESP posts to it.
ANYMAIL = {
    "WEBHOOK_SECRET": os.environ.get(
        "SANDBOX_WEBHOOK_SECRET", "sandbox:" + hashlib.sha256(SECRET_KEY.encode()).hexdigest()[:24]
    )
}

# Celery: no broker means tasks run inline, right where they are queued.
SANDBOX_CELERY_BROKER_URL = os.environ.get("SANDBOX_CELERY_BROKER_URL", "")
if SANDBOX_CELERY_BROKER_URL:
    CELERY_BROKER_URL = SANDBOX_CELERY_BROKER_URL
    # A queue of its own, so sandboxes (or test runs) sharing one Redis never meet.
    CELERY_TASK_DEFAULT_QUEUE = os.environ.get("SANDBOX_CELERY_QUEUE", "celery")
else:
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
    # Nothing is ever published in eager mode; this keeps Celery from dialling a local AMQP.
    CELERY_BROKER_URL = "memory://"

# Seconds between two runs of ``recovery_sweep`` inside runserver (0 turns the thread off), or
# of Celery beat's sweep with a broker.
SANDBOX_SWEEP_SECONDS = int(os.environ.get("SANDBOX_SWEEP_SECONDS", "60"))
OSCAR_RECOVERY_SWEEP_INTERVAL = timedelta(seconds=SANDBOX_SWEEP_SECONDS or 60)
if SANDBOX_CELERY_BROKER_URL:
    from oscar_recovery.schedules import BEAT_SCHEDULE

    CELERY_BEAT_SCHEDULE = {**BEAT_SCHEDULE}
    CELERY_BEAT_SCHEDULE["oscar-recovery-sweep"] = {
        **BEAT_SCHEDULE["oscar-recovery-sweep"],
        "schedule": timedelta(seconds=SANDBOX_SWEEP_SECONDS or 60),
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # Routine per-minute work (the sweep's summary) logs at DEBUG: SANDBOX_LOG_LEVEL=DEBUG.
    "loggers": {
        name: {
            "handlers": ["console"],
            "level": os.environ.get("SANDBOX_LOG_LEVEL", "INFO"),
            "propagate": False,
        }
        for name in ("sandbox", "oscar_recovery", "oscar.checkout")
    },
}

# Staff alerts and webhooks: an alert email (see /outbox/) for baskets from £100, and
# webhooks to a receiver on this machine allowed. Without a broker, tasks run inline, so
# webhook retries are few and short here.
OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE = Decimal("100.00")
OSCAR_RECOVERY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
if not SANDBOX_CELERY_BROKER_URL:
    OSCAR_RECOVERY_WEBHOOK_TIMEOUT = 3
    OSCAR_RECOVERY_WEBHOOK_MAX_RETRIES = 1


# Health endpoint (/recovery/health/) for uptime monitors: staff, or this bearer token.
OSCAR_RECOVERY_HEALTH_TOKEN = os.environ.get("SANDBOX_HEALTH_TOKEN", "")

# Privacy: the sandbox is a UK shop; the gateway template shows the notice.
OSCAR_RECOVERY_LAWFUL_BASIS = os.environ.get("SANDBOX_LAWFUL_BASIS", "soft_opt_in")

# Recovery dashboard (Dashboard > Cart recovery)
from oscar_recovery.dashboard.navigation import RECOVERY_NAVIGATION  # noqa: E402

INSTALLED_APPS += ["oscar_recovery.dashboard.apps.RecoveryDashboardConfig"]
OSCAR_DASHBOARD_NAVIGATION = [*OSCAR_DASHBOARD_NAVIGATION, RECOVERY_NAVIGATION]  # noqa: F405

# A strict Content-Security-Policy on every page (sandbox/csp.py: Django 6's own CSP support,
# or the same for Django 5.2), so the shop shows that the prompts need no inline code.
from sandbox.csp import CONTEXT_PROCESSOR_PATH, MIDDLEWARE_PATH, STRICT_POLICY  # noqa: E402

MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, MIDDLEWARE_PATH
)
MIDDLEWARE.append("sandbox.csp.DashboardPolicyMiddleware")
TEMPLATES[0]["OPTIONS"]["context_processors"].append(CONTEXT_PROCESSOR_PATH)
SECURE_CSP = STRICT_POLICY
