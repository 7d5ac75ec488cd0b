"""The sandbox's Celery app. Without ``SANDBOX_CELERY_BROKER_URL`` tasks run eagerly inside
the web process; with it, start a worker with ``celery -A sandbox worker`` from the repo root."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings")

app = Celery("sandbox")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
