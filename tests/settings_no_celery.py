"""A shop with no Celery at all: no Celery app, no ``CELERY_*`` setting, no broker. Used by
``tests/no_celery_shop.py`` (run in a process of its own by ``tests/test_handoff.py``)."""

import os
import sys
import types
from pathlib import Path

# tests.settings borrows the sandbox's CSP module, and importing the ``sandbox`` package
# would create the sandbox's Celery app. Its modules are made importable without running
# its __init__, so this shop really has no Celery app.
_sandbox = types.ModuleType("sandbox")
_sandbox.__path__ = [str(Path(__file__).resolve().parents[1] / "sandbox")]
sys.modules.setdefault("sandbox", _sandbox)

from tests.settings import *  # noqa: E402, F403

for _name in [name for name in globals() if name.startswith("CELERY_")]:
    del globals()[_name]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["OSCAR_RECOVERY_NO_CELERY_DB"],
    }
}
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["OSCAR_RECOVERY_NO_CELERY_MAIL"]
