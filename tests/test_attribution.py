"""Recovered vs converted: a click within the attribution window earns the order."""

from datetime import timedelta

import pytest
from django.utils import timezone

from oscar_recovery.constants import JourneyStatus, MessageStatus
from oscar_recovery.models import Campaign, CampaignStep, RecoveryMessage
from oscar_recovery.outcomes.attribution import attribute_order, last_click
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db


class PlacedOrder:
    """What attribution reads from an order."""

    def __init__(self, total="52.50", placed_at=None):
        self.total_incl_tax = total
        self.date_placed = placed_at or timezone.now()


@pytest.fixture
def steps():
    campaign = Campaign.objects.create(name="Default")
    return [
        CampaignStep.objects.create(
            campaign=campaign, position=n, delay=timedelta(hours=n), subject=f"Email {n}"
        )
        for n in (1, 2)
    ]


def clicked(journey, step, ago: timedelta) -> RecoveryMessage:
    return RecoveryMessage.objects.create(
        journey=journey,
        step=step,
        status=MessageStatus.CLICKED,
        sent_at=timezone.now() - ago - timedelta(minutes=5),
        clicked_at=timezone.now() - ago,
    )


def test_a_click_within_the_window_makes_the_journey_recovered(steps):
    journey = make_journey(quiet_for=timedelta(days=1), status=JourneyStatus.CONVERTED)
    message = clicked(journey, steps[0], timedelta(days=1))

    attribute_order(journey, PlacedOrder())

    journey.refresh_from_db()
    assert journey.status == JourneyStatus.RECOVERED
    assert journey.attributed_message == message
    assert str(journey.order_total) == "52.50"


def test_the_last_click_gets_the_credit(steps):
    journey = make_journey(quiet_for=timedelta(days=3), status=JourneyStatus.CONVERTED)
    clicked(journey, steps[0], timedelta(days=2))
    later = clicked(journey, steps[1], timedelta(hours=1))

    assert last_click(journey, timezone.now()) == later


def test_a_click_older_than_the_window_does_not_count(steps, settings):
    settings.OSCAR_RECOVERY_ATTRIBUTION_WINDOW = timedelta(days=5)
    journey = make_journey(quiet_for=timedelta(days=7), status=JourneyStatus.CONVERTED)
    clicked(journey, steps[0], timedelta(days=6))

    attribute_order(journey, PlacedOrder())

    journey.refresh_from_db()
    assert journey.status == JourneyStatus.CONVERTED
    assert journey.attributed_message is None
    assert str(journey.order_total) == "52.50"  # revenue is known either way, for lift


def test_a_click_on_a_guest_journey_merged_at_login_counts(steps):
    journey = make_journey(quiet_for=timedelta(days=1), status=JourneyStatus.CONVERTED)
    guest = make_journey(
        quiet_for=timedelta(days=1), status=JourneyStatus.MERGED, merged_into=journey
    )
    message = clicked(guest, steps[0], timedelta(hours=3))

    attribute_order(journey, PlacedOrder())

    journey.refresh_from_db()
    assert journey.attributed_message == message


def test_an_unclicked_email_earns_nothing(steps):
    journey = make_journey(quiet_for=timedelta(days=1), status=JourneyStatus.CONVERTED)
    RecoveryMessage.objects.create(
        journey=journey, step=steps[0], status=MessageStatus.OPENED, sent_at=timezone.now()
    )

    attribute_order(journey, PlacedOrder())

    journey.refresh_from_db()
    assert journey.status == JourneyStatus.CONVERTED
