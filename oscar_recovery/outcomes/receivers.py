"""Connects outcomes: the ESP's tracking events (through django-anymail), and the order
that ends a journey (its enrolment stops, the order is attributed). Each receiver is
guarded: nothing it does can fail the webhook request or the checkout."""

from anymail.signals import tracking
from django.dispatch import receiver

from oscar_recovery import signals
from oscar_recovery.campaigns import dispatch
from oscar_recovery.models import CartJourney
from oscar_recovery.outcomes import attribution
from oscar_recovery.outcomes import tracking as tracking_events
from oscar_recovery.utils import never_raises


@receiver(tracking, dispatch_uid="oscar_recovery.tracking")
def on_tracking_event(sender, event, esp_name, **kwargs):
    # A receiver that raises makes anymail answer 400 and the ESP retry the whole batch;
    # one bad event must not do that, so failures are logged instead.
    never_raises(tracking_events.apply_tracking_event)(event, esp_name)


@receiver(signals.journey_ended, sender=CartJourney, dispatch_uid="oscar_recovery.stop")
def on_journey_ended(sender, journey, order, **kwargs):
    never_raises(dispatch.stop_enrolment)(journey.pk, "order_placed")
    never_raises(attribution.attribute_order)(journey, order)
