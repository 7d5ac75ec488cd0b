"""The audience definitions that segments and request-time targeting share.

Campaigns choose a journey's audience when it is abandoned, from the orders of its account
and address, and prompts choose theirs on each page view, from the visitor's cookies: both
happen before the sweep has brought a contact's facts up to date, so they keep evaluating
at that moment. They do it with the functions here, and the built-in segments compile the
same definitions to SQL, so "returning customer", "high value" and "returning visitor" are
one definition each, wherever they are read.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import F, Q

from oscar_recovery import app_settings
from oscar_recovery.constants import ValueTier
from oscar_recovery.prompts import app_settings as prompt_settings

_NEVER = Decimal("Infinity")


def tier_thresholds() -> tuple[Decimal, Decimal]:
    """Lifetime spend from which a customer is medium and high value
    (``OSCAR_RECOVERY_VALUE_TIERS``; a tier left out is never reached)."""
    tiers = app_settings.VALUE_TIERS
    return (
        Decimal(str(tiers.get("medium", _NEVER))),
        Decimal(str(tiers.get("high", _NEVER))),
    )


def value_tier(spent: Decimal) -> str:
    """The value tier of a customer who has spent ``spent`` in all."""
    medium, high = tier_thresholds()
    if spent >= high:
        return ValueTier.HIGH
    if spent >= medium:
        return ValueTier.MEDIUM
    return ValueTier.LOW


def tier_bounds(tier: str) -> tuple[Decimal | None, Decimal | None] | None:
    """The lifetime spend of ``tier`` as (at least, below), ``None`` for no bound; ``None``
    as a whole when no spend reaches the tier. The same boundaries as :func:`value_tier`."""
    medium, high = tier_thresholds()
    lower, upper = {
        ValueTier.LOW: (None, medium),
        ValueTier.MEDIUM: (medium, high),
        ValueTier.HIGH: (high, None),
    }[tier]
    if lower is not None and not lower.is_finite():
        return None
    if upper is not None and not upper.is_finite():
        upper = None
    if lower is not None and upper is not None and upper <= lower:
        return None
    return lower, upper


def is_returning_customer(order_count: int) -> bool:
    """A customer with an earlier order is returning; without one, new."""
    return order_count > 0


def is_returning_visitor(first_seen: datetime, visit_started: datetime) -> bool:
    """Whether a visitor first seen at ``first_seen`` is returning on a visit that began at
    ``visit_started``: first seen more than ``OSCAR_RECOVERY_PROMPTS_VISIT_GAP`` before."""
    return visit_started - first_seen > prompt_settings.VISIT_GAP


def returning_visitor_q() -> Q:
    """:func:`is_returning_visitor` over contacts: first seen more than the visit gap
    before they were last seen (the start of the last visit is not kept; its last page
    stands for it)."""
    return Q(last_seen_at__gt=F("first_seen_at") + prompt_settings.VISIT_GAP)
