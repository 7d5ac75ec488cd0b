"""Connects staff alerts to the sweep. The receiver only queues work, guarded, so neither
the sweep nor a shop request can fail because of an alert."""

from django.dispatch import receiver

from oscar_recovery import signals
from oscar_recovery.models import CartJourney
from oscar_recovery.reporting import alerts
from oscar_recovery.utils import never_raises


@receiver(signals.journeys_abandoned, sender=CartJourney, dispatch_uid="oscar_recovery.alerts")
def on_journeys_abandoned_alert(sender, journey_ids, **kwargs):
    never_raises(alerts.queue_abandoned_alerts)(journey_ids)
