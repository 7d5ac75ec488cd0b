"""The Celery app the integration tier's worker process runs (``-A tests.support.celery_app``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("oscar_recovery_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["oscar_recovery"])
