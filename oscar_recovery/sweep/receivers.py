"""Connects browse abandonment to the shop's orders: an order ends the shopper's open browse
journeys (their emails stop). Runs from the outbox after the checkout
(``signals.order_recorded``); every send also checks the address's orders meanwhile."""

from django.dispatch import receiver

from oscar_recovery import signals
from oscar_recovery.models import CartJourney
from oscar_recovery.sweep import browse
from oscar_recovery.utils import never_raises


@receiver(signals.order_recorded, sender=CartJourney, dispatch_uid="oscar_recovery.browse_order")
def on_order_recorded_browse(sender, order, at, **kwargs):
    never_raises(browse.end_with_order)(order, now=at)
