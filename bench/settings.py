"""Bench settings: the test shop, on a file database, with or without the app installed.

``BENCH_WITH_APP=0`` removes oscar_recovery from INSTALLED_APPS (no receivers connected).
``BENCH_EMAIL_BACKEND`` replaces the email backend (the send-path bench's worker processes
use ``bench.mail.EmailBackend``).
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

if os.environ.get("BENCH_WITH_APP", "1") == "0":
    INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "oscar_recovery"]
if os.environ.get("OSCAR_RECOVERY_TEST_DB", "sqlite") != "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE", "/tmp/oscar_recovery_bench.sqlite3"),
        }
    }
if os.environ.get("BENCH_EMAIL_BACKEND"):
    EMAIL_BACKEND = os.environ["BENCH_EMAIL_BACKEND"]
DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": False}
