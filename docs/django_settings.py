"""The Django settings the documentation is built with: Oscar's own app list with this app
before it, on an in-memory SQLite database that the build never opens. autodoc needs an app
registry to import the app's modules; nothing here needs the tests or the sandbox, so the
documentation builds from the sdist too."""

from oscar import INSTALLED_APPS as OSCAR_APPS
from oscar.defaults import *  # noqa: F403

SECRET_KEY = "docs-only"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
_shop = OSCAR_APPS.index("oscar.config.Shop")
INSTALLED_APPS = [
    *OSCAR_APPS[:_shop],
    "oscar_recovery",  # before Oscar's apps, as the install guides say
    *OSCAR_APPS[_shop:],
    "oscar_recovery.dashboard.apps.RecoveryDashboardConfig",
]
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
