"""Journeys built directly, for tests about what happens to journeys after capture."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from oscar_recovery.constants import JourneyStatus
from oscar_recovery.models import CartJourney


def make_journey(*, quiet_for: timedelta, status=JourneyStatus.ACTIVE, **fields) -> CartJourney:
    """A saved journey whose last activity was ``quiet_for`` ago."""
    journey = journey_row(quiet_for=quiet_for, status=status, **fields)
    journey.save()
    return journey


def journey_row(*, quiet_for: timedelta, status=JourneyStatus.ACTIVE, **fields) -> CartJourney:
    """An unsaved journey, for bulk_create."""
    last = timezone.now() - quiet_for
    defaults = {
        "status": status,
        "created_at": last,
        "last_activity_at": last,
        "basket_reached_at": last,
        "num_lines": 1,
        "num_items": 1,
        "total": Decimal("10.00"),
        "currency": "GBP",
        "lines": [{"title": "Thing", "quantity": 1, "unit_price": "10.00", "line_total": "10.00"}],
        "email": "shopper@example.com",
    }
    if status == JourneyStatus.ABANDONED:
        defaults["abandoned_at"] = last
    defaults.update(fields)
    return CartJourney(**defaults)
