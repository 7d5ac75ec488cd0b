"""Settings for the test suite: a plain Oscar shop with the app installed.

``OSCAR_RECOVERY_TEST_DB=postgres`` runs on the local PostgreSQL (the tox postgres envs);
anything else runs on SQLite in memory.
"""

import os

from oscar.defaults import *  # noqa: F403

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

TEST_DB = os.environ.get("OSCAR_RECOVERY_TEST_DB", "sqlite")
if TEST_DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("OSCAR_RECOVERY_PG_NAME", "test"),
            "USER": os.environ.get("OSCAR_RECOVERY_PG_USER", "postgres"),
            "HOST": os.environ.get("OSCAR_RECOVERY_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("OSCAR_RECOVERY_PG_PORT", "5432"),
            # A fixed name lets the Celery worker process of the integration tier join in.
            "TEST": {"NAME": os.environ.get("OSCAR_RECOVERY_PG_TEST_NAME", "test_oscar_recovery")},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "oscar_recovery",
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "oscar.apps.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
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
    "widget_tweaks",
    "haystack",
    "treebeard",
    "sorl.thumbnail",
    "django_tables2",
    "anymail",
]
SITE_ID = 1

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
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
    }
]
AUTHENTICATION_BACKENDS = [
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
LANGUAGE_CODE = "en-gb"
LANGUAGES = [("en-gb", "English"), ("de", "Deutsch"), ("ar", "العربية")]
# The other languages oscar_recovery ships translations for.
LANGUAGES += [("fa", "فارسی"), ("ko", "한국어"), ("ro", "Română")]
USE_TZ = True
STATIC_URL = "/static/"
MEDIA_ROOT = "/tmp/oscar_recovery_test_media"
EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
ANYMAIL = {"WEBHOOK_SECRET": "esp:webhook-secret"}
OSCAR_RECOVERY_POSTAL_ADDRESS = "Test Shop Ltd, 1 High Street, London"
if os.environ.get("OSCAR_RECOVERY_TEST_EMAIL_DIR"):
    # The integration tier's worker process: the test reads what it sent from files.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ["OSCAR_RECOVERY_TEST_EMAIL_DIR"]
if os.environ.get("OSCAR_RECOVERY_TEST_RECORD_DIR"):
    # The integration tier's sending workers (tests/integration/test_send_workers.py).
    EMAIL_BACKEND = "tests.support.backends.RecordingBackend"
OSCAR_RECOVERY_SEND_RATE = os.environ.get("OSCAR_RECOVERY_TEST_SEND_RATE") or None
OSCAR_ALLOW_ANON_CHECKOUT = True
OSCAR_DEFAULT_CURRENCY = "GBP"

CELERY_BROKER_URL = os.environ.get("OSCAR_RECOVERY_REDIS_URL", "redis://127.0.0.1:6379/15")
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_TASK_ALWAYS_EAGER = False
# The integration tier's worker consumes a queue of its own, so parallel runs never meet.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("OSCAR_RECOVERY_CELERY_QUEUE", "celery")
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"  # what Oscar's own models use

# Outgoing webhooks: tests post to a server on localhost, and retries come quickly (also in
# the integration tier's worker process).
OSCAR_RECOVERY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
OSCAR_RECOVERY_WEBHOOK_BACKOFF = 1
OSCAR_RECOVERY_WEBHOOK_BACKOFF_MAX = 2

# Recovery dashboard
from oscar_recovery.dashboard.navigation import RECOVERY_NAVIGATION  # noqa: E402

INSTALLED_APPS += ["oscar_recovery.dashboard.apps.RecoveryDashboardConfig"]
OSCAR_DASHBOARD_NAVIGATION = [*OSCAR_DASHBOARD_NAVIGATION, RECOVERY_NAVIGATION]  # noqa: F405

# The browser tests (tests/browser) serve the shop under the sandbox's strict CSP: Django 6's
# CSP support, or the same for Django 5.2 (sandbox/csp.py). A view that sets its own policy
# keeps it.
from sandbox.csp import CONTEXT_PROCESSOR_PATH, MIDDLEWARE_PATH, STRICT_POLICY  # noqa: E402

MIDDLEWARE.insert(0, MIDDLEWARE_PATH)
TEMPLATES[0]["OPTIONS"]["context_processors"].append(CONTEXT_PROCESSOR_PATH)
SECURE_CSP = STRICT_POLICY
