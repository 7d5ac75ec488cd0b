"""Due campaign steps become messages exactly once; enrolments move on and stop on orders."""

from datetime import timedelta

import pytest
from django.utils import timezone
from oscar.test import factories
from oscar.test.factories import BasketFactory

from oscar_recovery.campaigns.dispatch import dispatch_due
from oscar_recovery.campaigns.enrolment import enrol_journeys
from oscar_recovery.constants import (
    ConsentSource,
    EnrolmentStatus,
    JourneyStatus,
    MessageStatus,
    SkipReason,
)
from oscar_recovery.models import Campaign, CampaignEnrolment, CampaignStep, RecoveryMessage
from tests.support.factories import make_journey
from tests.support.outbox import run_followups

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    campaign = Campaign.objects.create(name="Default", is_active=True, holdout_percent=0)
    for position, hours in enumerate((1, 24, 72), start=1):
        CampaignStep.objects.create(
            campaign=campaign, position=position, delay=timedelta(hours=hours), subject="Hi"
        )
    return campaign


def enrolled_journey(abandoned_ago: timedelta, **fields):
    journey = make_journey(quiet_for=abandoned_ago, status=JourneyStatus.ABANDONED, **fields)
    enrol_journeys([journey.pk])
    return journey


def positions(journey) -> list[int]:
    return sorted(journey.messages.values_list("step__position", flat=True))


def test_only_the_due_step_is_dispatched_and_the_next_one_scheduled(campaign):
    journey = enrolled_journey(timedelta(hours=2))

    created = dispatch_due()

    assert positions(journey) == [1]
    assert RecoveryMessage.objects.get().pk == created[0]
    enrolment = CampaignEnrolment.objects.get()
    assert enrolment.next_step.position == 2
    assert enrolment.next_send_at == journey.abandoned_at + timedelta(hours=24)


def test_dispatching_again_creates_nothing_twice(campaign):
    journey = enrolled_journey(timedelta(hours=2))
    dispatch_due()
    assert dispatch_due() == []
    assert positions(journey) == [1]


def verified(journey):
    """The address's holder has shown it is theirs: here, with a customer account."""
    factories.UserFactory(email=journey.email)
    return journey


def test_later_steps_follow_as_time_passes_and_the_enrolment_completes(campaign):
    journey = verified(enrolled_journey(timedelta(hours=2)))
    dispatch_due()
    dispatch_due(now=timezone.now() + timedelta(hours=23))
    assert positions(journey) == [1, 2]
    dispatch_due(now=timezone.now() + timedelta(hours=71))
    assert positions(journey) == [1, 2, 3]
    assert CampaignEnrolment.objects.get().status == EnrolmentStatus.COMPLETED


def test_a_shopper_who_is_back_on_the_site_is_not_emailed(campaign):
    journey = enrolled_journey(timedelta(hours=2))
    type(journey).objects.filter(pk=journey.pk).update(status=JourneyStatus.ACTIVE)
    assert dispatch_due() == []


def test_steps_count_from_the_latest_abandonment(campaign):
    journey = verified(enrolled_journey(timedelta(hours=2)))
    dispatch_due()
    # Came back, left again ten minutes ago: step 2 is 24 h from now, not from the first time.
    type(journey).objects.filter(pk=journey.pk).update(
        abandoned_at=timezone.now() - timedelta(minutes=10)
    )
    assert dispatch_due(now=timezone.now() + timedelta(hours=23)) == []
    enrolment = CampaignEnrolment.objects.get()
    assert enrolment.next_send_at > timezone.now() + timedelta(hours=23)


def test_holdout_journeys_get_skipped_rows_and_no_email(campaign):
    campaign.holdout_percent = 50
    campaign.save()
    journeys = [enrolled_journey(timedelta(hours=2)) for _ in range(40)]
    created = dispatch_due()
    holdout = RecoveryMessage.objects.filter(skip_reason=SkipReason.HOLDOUT)
    assert holdout.exists() and holdout.filter(status=MessageStatus.SKIPPED).count() == len(holdout)
    assert len(created) + holdout.count() == len(journeys)
    assert not holdout.filter(pk__in=created).exists()


def test_an_order_stops_the_enrolment(campaign):
    from oscar.test.factories import create_order

    from oscar_recovery.journeys.writes import end_with_order

    journey = enrolled_journey(timedelta(hours=2), basket=BasketFactory())
    order = create_order()
    order.basket = journey.basket
    order.save()

    end_with_order(order)
    run_followups()

    enrolment = CampaignEnrolment.objects.get(journey=journey)
    assert enrolment.status == EnrolmentStatus.STOPPED
    assert enrolment.stop_reason == "order_placed"
    assert enrolment.next_send_at is None
    assert dispatch_due(now=timezone.now() + timedelta(days=5)) == []


# -- An address nobody verified gets one reminder ----------------------------------------------


def test_an_unverified_address_gets_only_the_first_step_until_it_is_verified(campaign):
    """Worst sender: types a stranger's address into a prompt or the gateway. The stranger
    gets at most one reminder; the rest wait until the address is shown to be theirs."""
    journey = enrolled_journey(timedelta(hours=2), email="stranger@example.com")
    dispatch_due()
    later = timezone.now() + timedelta(hours=71)
    assert dispatch_due(now=later) == []
    assert positions(journey) == [1]
    enrolment = CampaignEnrolment.objects.get()
    assert enrolment.status == EnrolmentStatus.ACTIVE and enrolment.next_step.position == 2
    assert enrolment.next_send_at > later  # re-checked later, not every sweep

    # The holder clicks the first email: the address is theirs, the sequence goes on.
    journey.messages.update(clicked_at=timezone.now())
    dispatch_due(now=later + timedelta(hours=2))
    assert positions(journey) == [1, 2]


@pytest.mark.parametrize("proof", ["account", "order", "confirmation", "click"])
def test_each_kind_of_proof_verifies_an_address(proof):
    from oscar_recovery.contacts.verification import is_verified
    from oscar_recovery.privacy import consent

    address = "holder@example.com"
    assert not is_verified(address)
    if proof == "account":
        factories.UserFactory(email="Holder@Example.com")
    elif proof == "order":
        factories.create_order(guest_email=address)
    elif proof == "confirmation":
        consent.record_consent(
            make_journey(quiet_for=timedelta(hours=2), email=address),
            text="Yes",
            given=True,
            source=ConsentSource.CONFIRMED,
        )
    else:
        journey = make_journey(quiet_for=timedelta(hours=2), email=address)
        step = CampaignStep.objects.create(
            campaign=Campaign.objects.create(name="C"), position=1, delay=timedelta(hours=1)
        )
        RecoveryMessage.objects.create(
            journey=journey, step=step, to_email=address, clicked_at=timezone.now()
        )
    assert is_verified(address)


def test_an_unverified_consent_does_not_verify_an_address():
    from oscar_recovery.contacts.verification import is_verified
    from oscar_recovery.privacy import consent

    journey = make_journey(quiet_for=timedelta(hours=2), email="holder@example.com")
    consent.record_consent(journey, text="Yes", given=True, source=ConsentSource.PROMPT)
    assert not is_verified("holder@example.com")
