"""Which orders recovery emails earned.

An order from a journey whose shopper clicked a recovery email within
``OSCAR_RECOVERY_ATTRIBUTION_WINDOW`` before ordering is *recovered*, and its revenue is
credited to that email's campaign, step and variant (the last click wins, as in most ESP
reports). An order without such a click is *converted*: the shopper came back on their own.
Holdout journeys are never emailed, so they always end converted: comparing their
conversion rate with the emailed journeys' gives the campaign's true lift.

**One order, one channel** (:func:`credit_order`, used by the email attribution here and the
prompts' conversions in :func:`oscar_recovery.prompts.service.record_conversion`, so every
table and export reads the same credit):

1. a recovery-email click within ``OSCAR_RECOVERY_ATTRIBUTION_WINDOW`` gets the order (the
   email tables' "Recovered orders");
2. otherwise the prompt the shopper saw or used last, within
   ``OSCAR_RECOVERY_PROMPTS_ATTRIBUTION_WINDOW``, gets it (the prompts table's "Orders");
3. every other prompt seen in its window, and any prompt when an email got the order,
   counts the order as *assisted* (the prompts table's "Assisted orders"), never as its own.

A click is the stronger touch: it is a deliberate return, where a prompt's "shown" is an
impression on a page the shopper was visiting anyway. Counting both would count one order
twice on the same dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

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


@dataclass(frozen=True)
class OrderCredit:
    """Which touch gets an order under the rule above; at most one of ``message`` and
    ``prompt_id`` is set."""

    #: The clicked email that gets the order.
    message: RecoveryMessage | None = None
    #: The prompt that gets the order (only when no email does).
    prompt_id: int | None = None
    #: Prompts that preceded the order without getting it.
    assisted_prompt_ids: frozenset[int] = frozenset()


def credit_order(
    journey: CartJourney,
    placed_at: datetime,
    prompt_touches: Mapping[int, datetime] | None = None,
) -> OrderCredit:
    """The one attribution rule: an email click in its window first; else the latest prompt
    touch (``{prompt id: time of its last touch}``, already within the prompts' window); the
    other prompts assisted. Equal prompt times go to the higher prompt id, so the answer
    never depends on query order."""
    touches = dict(prompt_touches or {})
    message = last_click(journey, placed_at)
    if message is not None:
        return OrderCredit(message=message, assisted_prompt_ids=frozenset(touches))
    if not touches:
        return OrderCredit()
    winner = max(touches, key=lambda prompt_id: (touches[prompt_id], prompt_id))
    return OrderCredit(prompt_id=winner, assisted_prompt_ids=frozenset(touches) - {winner})


def attribute_order(journey: CartJourney, order) -> CartJourney:
    """Record the order's revenue on the journey and whether an email earned it
    (:func:`credit_order`)."""
    message = credit_order(journey, order.date_placed).message
    with transaction.atomic():
        journey.order_total = order.total_incl_tax
        journey.attributed_message = message
        if message is not None:
            status.recover(journey)
        journey.save(update_fields=["order_total", "attributed_message", "status"])
    return journey
