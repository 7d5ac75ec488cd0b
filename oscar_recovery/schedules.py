"""A Celery beat schedule to merge into your project's ``CELERY_BEAT_SCHEDULE``::

from oscar_recovery.schedules import BEAT_SCHEDULE
CELERY_BEAT_SCHEDULE = {**BEAT_SCHEDULE}
"""

from datetime import timedelta

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "oscar-recovery-sweep": {
        "task": "oscar_recovery.sweep",
        "schedule": timedelta(minutes=1),
        # A sweep that could not start within a minute is replaced by the next one.
        "options": {"expires": 60},
    },
    # Recommendations: the full rebuild trims and forgets what incremental updates add.
    "oscar-recovery-build-recommendations": {
        "task": "oscar_recovery.build_recommendations",
        "schedule": crontab(hour=3, minute=17),
        "options": {"expires": 3600},
    },
}
