"""Connects the recommender to the shop's orders: each order's bought-together pairs are
counted later, by a task of their own (``signals.order_recorded`` is sent from the outbox,
after the checkout)."""

from django.dispatch import receiver

from oscar_recovery import signals
from oscar_recovery.models import CartJourney
from oscar_recovery.recommendations import cooccurrence
from oscar_recovery.utils import never_raises


@receiver(
    signals.order_recorded, sender=CartJourney, dispatch_uid="oscar_recovery.recommendations_order"
)
def on_order_recorded_recommendations(sender, order, **kwargs):
    never_raises(cooccurrence.schedule_order)(order)
