"""Connects the recommender to Oscar's orders: each order's bought-together pairs are
counted later, by a task."""

from django.dispatch import receiver
from oscar.apps.order.signals import order_placed

from oscar_recovery.recommendations import cooccurrence
from oscar_recovery.utils import never_raises


@receiver(order_placed, dispatch_uid="oscar_recovery.recommendations_order")
def on_order_placed_recommendations(sender, order, user=None, **kwargs):
    # The order's pairs are counted by a Celery task after the checkout's transaction
    # commits: nothing of it can slow or fail the checkout.
    never_raises(cooccurrence.schedule_order)(order)
