"""A Celery beat schedule to merge into your project's ``CELERY_BEAT_SCHEDULE``::

from oscar_recovery.schedules import BEAT_SCHEDULE
CELERY_BEAT_SCHEDULE = {**BEAT_SCHEDULE}
"""

from datetime import timedelta

BEAT_SCHEDULE = {
    "oscar-recovery-sweep": {
        "task": "oscar_recovery.sweep",
        "schedule": timedelta(minutes=1),
        # A sweep that could not start within a minute is replaced by the next one.
        "options": {"expires": 60},
    },
    # Retention: small batches every hour keep each run and every lock short.
    "oscar-recovery-purge": {
        "task": "oscar_recovery.purge",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3600},
    },
}
