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
    # The dashboard's daily figures: today and yesterday often, the days that late orders
    # and clicks still change hourly. The overview shows when they were computed.
    "oscar-recovery-aggregate-stats": {
        "task": "oscar_recovery.aggregate_stats",
        "schedule": timedelta(minutes=15),
        "kwargs": {"days": 2},
        "options": {"expires": 15 * 60},
    },
    "oscar-recovery-aggregate-stats-window": {
        "task": "oscar_recovery.aggregate_stats",
        "schedule": timedelta(hours=1),
        "options": {"expires": 60 * 60},
    },
}
