"""Connects browse abandonment to Oscar's orders: an order ends the shopper's open browse
journeys (their emails stop). Guarded: it can never fail the checkout."""

from django.dispatch import receiver
from oscar.apps.order.signals import order_placed

from oscar_recovery.sweep import browse
from oscar_recovery.utils import never_raises


@receiver(order_placed, dispatch_uid="oscar_recovery.browse_order")
def on_order_placed_browse(sender, order, user=None, **kwargs):
    never_raises(browse.end_with_order)(order)
