"""The Django settings the documentation is built with: the test suite's plain Oscar shop
(``tests/settings.py``), on an in-memory SQLite database that the build never opens. autodoc
needs an app registry to import the app's modules."""

from tests.settings import *  # noqa: F403

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
# A test dependency that nothing documented imports: the docs extra does not install it.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "sorl.thumbnail"]  # noqa: F405
