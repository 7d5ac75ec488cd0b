"""Bench settings: the test shop, on a file database, with or without the app installed.

``BENCH_WITH_APP=0`` removes oscar_recovery and its dashboard from INSTALLED_APPS (no
receivers connected), from the dashboard navigation and from the URLs.
``BENCH_EMAIL_BACKEND`` replaces the email backend (the send-path bench's worker processes
use ``bench.mail.EmailBackend``).
``BENCH_SQLITE_TEMPLATE``: a migrated SQLite file copied to a missing ``BENCH_SQLITE`` (the
benches' smoke runs in the test suite start from the test database, not from no tables).
"""

import os
import shutil

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, OSCAR_DASHBOARD_NAVIGATION, RECOVERY_NAVIGATION

if os.environ.get("BENCH_WITH_APP", "1") == "0":
    INSTALLED_APPS = [app for app in INSTALLED_APPS if not app.startswith("oscar_recovery")]
    OSCAR_DASHBOARD_NAVIGATION = [
        item for item in OSCAR_DASHBOARD_NAVIGATION if item is not RECOVERY_NAVIGATION
    ]
    ROOT_URLCONF = "bench.urls_without_app"
if os.environ.get("OSCAR_RECOVERY_TEST_DB", "sqlite") != "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE", "/tmp/oscar_recovery_bench.sqlite3"),
            # As the sandbox runs SQLite (see sandbox/settings.py).
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"},
        }
    }
    _template = os.environ.get("BENCH_SQLITE_TEMPLATE")
    if _template and not os.path.exists(DATABASES["default"]["NAME"]):
        shutil.copyfile(_template, DATABASES["default"]["NAME"])
if os.environ.get("BENCH_EMAIL_BACKEND"):
    EMAIL_BACKEND = os.environ["BENCH_EMAIL_BACKEND"]
DEBUG = False
LOGGING = {"version": 1, "disable_existing_loggers": False}
