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
    # Retention: small batches every hour keep each run and every lock short.
    "oscar-recovery-purge": {
        "task": "oscar_recovery.purge",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3600},
    },
    # Recommendations: the full rebuild trims and forgets what incremental updates add.
    "oscar-recovery-build-recommendations": {
        "task": "oscar_recovery.build_recommendations",
        "schedule": crontab(hour=3, minute=17),
        "options": {"expires": 3600},
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

# The weekly summary email to staff, Monday morning (the worker's timezone, CELERY_TIMEZONE).
BEAT_SCHEDULE["oscar-recovery-weekly-summary"] = {
    "task": "oscar_recovery.weekly_summary",
    "schedule": crontab(minute=0, hour=7, day_of_week=1),
    # A summary that could not go out within a day is skipped, not sent late twice.
    "options": {"expires": 24 * 3600},
}

# Webhook deliveries whose task was lost are handed over again; old log entries go.
BEAT_SCHEDULE["oscar-recovery-webhooks-housekeeping"] = {
    "task": "oscar_recovery.webhooks_housekeeping",
    "schedule": timedelta(minutes=5),
    "options": {"expires": 300},
}

# Retargeting audiences: hourly, but each audience syncs once a day
# (OSCAR_RECOVERY_AUDIENCE_SYNC_INTERVAL) or when its back-off after a failure ends.
BEAT_SCHEDULE["oscar-recovery-sync-audiences"] = {
    "task": "oscar_recovery.sync_audiences",
    "schedule": timedelta(hours=1),
    "options": {"expires": 3600},
}
