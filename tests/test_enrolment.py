"""Abandoned journeys enter the best-matching campaign; a holdout share is never emailed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from oscar.test.factories import UserFactory, create_order

from oscar_recovery.campaigns.enrolment import enrol_journeys, in_holdout
from oscar_recovery.constants import (
    CampaignTrigger,
    CheckoutStep,
    CustomerType,
    JourneyStatus,
    ValueTier,
)
from oscar_recovery.models import Campaign, CampaignEnrolment, CampaignStep
from oscar_recovery.sweep.stages import run_sweep
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db


def campaign(name="Default", *, steps=(1, 24, 72), holdout=0, **fields) -> Campaign:
    campaign = Campaign.objects.create(name=name, is_active=True, holdout_percent=holdout, **fields)
    for position, hours in enumerate(steps, start=1):
        CampaignStep.objects.create(
            campaign=campaign, position=position, delay=timedelta(hours=hours), subject=name
        )
    return campaign


def abandoned(**fields):
    return make_journey(quiet_for=timedelta(hours=1), status=JourneyStatus.ABANDONED, **fields)


def test_the_sweep_enrols_abandoned_journeys_and_schedules_the_first_step():
    default = campaign()
    journey = make_journey(quiet_for=timedelta(hours=1))

    run_sweep()

    enrolment = CampaignEnrolment.objects.get()
    journey.refresh_from_db()
    assert enrolment.journey == journey and enrolment.campaign == default
    assert enrolment.next_step.position == 1
    assert enrolment.next_send_at == journey.abandoned_at + timedelta(hours=1)
    assert not enrolment.is_holdout


def test_the_highest_priority_matching_campaign_wins_and_enrolment_happens_once():
    campaign("Low", priority=10)
    high = campaign("High", priority=200)
    journey = make_journey(quiet_for=timedelta(hours=1))
    run_sweep()
    enrol_journeys([journey.pk])
    assert list(CampaignEnrolment.objects.values_list("campaign", flat=True)) == [high.pk]


def test_inactive_or_stepless_campaigns_enrol_nobody():
    campaign("Off").__class__.objects.update(is_active=False)
    Campaign.objects.create(name="Empty", is_active=True)
    make_journey(quiet_for=timedelta(hours=1))
    run_sweep()
    assert not CampaignEnrolment.objects.exists()


@pytest.mark.parametrize(
    ("fields", "journey_fields", "enrolled"),
    [
        ({"min_basket_value": Decimal("50")}, {"total": Decimal("49.99")}, False),
        ({"min_basket_value": Decimal("50")}, {"total": Decimal("50.00")}, True),
        ({"max_basket_value": Decimal("20")}, {"total": Decimal("25")}, False),
        ({"min_step": CheckoutStep.SHIPPING_ADDRESS}, {"furthest_step": 20}, False),
        ({"min_step": CheckoutStep.SHIPPING_ADDRESS}, {"furthest_step": 30}, True),
        ({"trigger": CampaignTrigger.CHECKOUT_ABANDONED}, {"furthest_step": 10}, False),
        ({"trigger": CampaignTrigger.CHECKOUT_ABANDONED}, {"furthest_step": 20}, True),
        ({"exclude_staff": True}, {"is_staff": True}, False),
        ({}, {"is_bot": True}, False),
    ],
)
def test_audience_conditions(fields, journey_fields, enrolled):
    campaign(**fields)
    journey = abandoned(**journey_fields)
    enrol_journeys([journey.pk])
    assert CampaignEnrolment.objects.exists() is enrolled


def test_new_and_returning_customers_and_value_tiers(settings):
    settings.OSCAR_RECOVERY_VALUE_TIERS = {"medium": 100, "high": 500}
    campaign(
        "Returning high value",
        customer_type=CustomerType.RETURNING,
        value_tier=ValueTier.HIGH,
        priority=300,
    )
    campaign("New", customer_type=CustomerType.NEW, priority=200)
    campaign("Everyone else", priority=100)

    loyal = UserFactory(email="loyal@example.com")
    order = create_order(user=loyal)
    order.total_incl_tax = Decimal("600.00")
    order.save()
    guest_before = create_order()
    guest_before.guest_email = "guest-again@example.com"
    guest_before.total_incl_tax = Decimal("20.00")
    guest_before.save()

    loyal_journey = abandoned(user=loyal, email=loyal.email)
    new_journey = abandoned(email="first@example.com")
    returning_low = abandoned(email="guest-again@example.com")
    enrol_journeys([loyal_journey.pk, new_journey.pk, returning_low.pk])

    chosen = dict(CampaignEnrolment.objects.values_list("journey_id", "campaign__name"))
    assert chosen == {
        loyal_journey.pk: "Returning high value",
        new_journey.pk: "New",
        returning_low.pk: "Everyone else",
    }


def test_the_holdout_share_is_close_to_its_percentage_and_stable():
    default = campaign(holdout=20)
    journeys = [abandoned() for _ in range(400)]
    enrol_journeys([j.pk for j in journeys])
    holdout = CampaignEnrolment.objects.filter(is_holdout=True).count()
    assert 50 <= holdout <= 110  # 20% of 400 is 80; a fair hash lands near it
    assert all(
        in_holdout(default, e.journey) == e.is_holdout
        for e in CampaignEnrolment.objects.select_related("journey")
    )
