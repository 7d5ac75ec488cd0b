"""Connects campaigns to the sweep: abandoned journeys are enrolled. Connected from
:meth:`oscar_recovery.apps.RecoveryConfig.ready`."""

from django.dispatch import receiver

from oscar_recovery import signals
from oscar_recovery.campaigns import enrolment
from oscar_recovery.models import CartJourney


@receiver(signals.journeys_abandoned, sender=CartJourney, dispatch_uid="oscar_recovery.enrol")
def on_journeys_abandoned(sender, journey_ids, **kwargs):
    enrolment.enrol_journeys(journey_ids)
