"""Which orders recovery emails earned.

An order from a journey whose shopper clicked a recovery email within
``OSCAR_RECOVERY_ATTRIBUTION_WINDOW`` before ordering is *recovered*, and its revenue is
credited to that email's campaign, step and variant (the last click wins, as in most ESP
reports). An order without such a click is *converted*: the shopper came back on their own.
Holdout journeys are never emailed, so they always end converted: comparing their
conversion rate with the emailed journeys' gives the campaign's true lift.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from oscar_recovery import app_settings
from oscar_recovery.journeys import status
from oscar_recovery.models import CartJourney, RecoveryMessage


def last_click(journey: CartJourney, placed_at) -> RecoveryMessage | None:
    """The latest click within the window, on this journey's emails or those of guest
    journeys merged into it (a shopper who clicked as a guest and then logged in)."""
    return (
        RecoveryMessage.objects.filter(
            Q(journey=journey) | Q(journey__merged_into=journey),
            clicked_at__isnull=False,
            clicked_at__lte=placed_at,
            clicked_at__gte=placed_at - app_settings.ATTRIBUTION_WINDOW,
        )
        .order_by("-clicked_at")
        .first()
    )


def attribute_order(journey: CartJourney, order) -> CartJourney:
    """Record the order's revenue on the journey and whether an email earned it."""
    message = last_click(journey, order.date_placed)
    with transaction.atomic():
        journey.order_total = order.total_incl_tax
        journey.attributed_message = message
        if message is not None:
            status.recover(journey)
        journey.save(update_fields=["order_total", "attributed_message", "status"])
    return journey
