"""Every reason a due recovery email is skipped right before sending."""

from datetime import timedelta

import pytest
from django.utils import timezone
from oscar.test.factories import BasketFactory, UserFactory, create_order

from oscar_recovery.constants import EnrolmentStatus, JourneyStatus, MessageStatus, SkipReason
from oscar_recovery.models import Campaign, CampaignEnrolment, CampaignStep, RecoveryMessage
from oscar_recovery.privacy.suppression import suppress
from oscar_recovery.sending.send_checks import why_not_send
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def step():
    campaign = Campaign.objects.create(name="Default", is_active=True)
    return CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Still thinking?"
    )


def due_message(step, **journey_fields) -> RecoveryMessage:
    journey_fields.setdefault("basket", BasketFactory())
    journey = make_journey(
        quiet_for=timedelta(hours=2), status=JourneyStatus.ABANDONED, **journey_fields
    )
    CampaignEnrolment.objects.create(journey=journey, campaign=step.campaign, next_step=step)
    return RecoveryMessage.objects.create(journey=journey, step=step, to_email=journey.email)


def reason(message) -> SkipReason | None:
    message = RecoveryMessage.objects.select_related("journey__enrolment").get(pk=message.pk)
    return why_not_send(message, timezone.now())


def test_a_plain_abandoned_journey_may_be_emailed(step):
    assert reason(due_message(step)) is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"email": ""}, SkipReason.NO_EMAIL),
        ({"is_bot": True}, SkipReason.BOT),
        ({"is_staff": True}, SkipReason.STAFF),
        ({"num_items": 0, "lines": []}, SkipReason.BASKET_EMPTY),
        ({"status": JourneyStatus.CONVERTED}, SkipReason.JOURNEY_ENDED),
    ],
)
def test_journey_facts_that_stop_a_send(step, fields, expected):
    message = due_message(step)
    type(message.journey).objects.filter(pk=message.journey_id).update(**fields)
    assert reason(message) == expected


def test_staff_may_be_emailed_when_the_shop_says_so(step, settings):
    settings.OSCAR_RECOVERY_CONTACT_STAFF = True
    assert reason(due_message(step, is_staff=True)) is None


def test_a_paused_enrolment_stops_the_send(step):
    message = due_message(step)
    CampaignEnrolment.objects.update(status=EnrolmentStatus.PAUSED)
    assert reason(message) == SkipReason.ENROLMENT_STOPPED


def test_the_last_step_of_a_completed_enrolment_still_goes_out(step):
    message = due_message(step)
    CampaignEnrolment.objects.update(status=EnrolmentStatus.COMPLETED)
    assert reason(message) is None


def test_an_unsubscribed_address_is_never_emailed(step):
    message = due_message(step, email="Shopper@Example.com")
    suppress("shopper@example.com")
    assert reason(message) == SkipReason.SUPPRESSED


@pytest.mark.parametrize("link", ["basket", "guest_email", "user"])
def test_an_order_since_the_journey_began_stops_the_send(step, link):
    user = UserFactory(email="shopper@example.com")
    message = due_message(step, user=user)
    journey = message.journey
    order = create_order(user=user if link == "user" else None)
    order.basket = journey.basket if link == "basket" else None
    order.guest_email = "SHOPPER@example.com" if link == "guest_email" else ""
    order.date_placed = timezone.now()
    order.save()
    assert reason(message) == SkipReason.ORDER_PLACED


def test_an_order_from_before_the_journey_does_not_count(step):
    message = due_message(step)
    order = create_order()
    order.guest_email = message.journey.email
    order.date_placed = message.journey.created_at - timedelta(days=3)
    order.save()
    assert reason(message) is None


def test_only_the_newest_journey_per_shopper_is_pursued(step):
    older = due_message(step, visitor_id="browser")
    # same address and browser, newer, with items
    make_journey(quiet_for=timedelta(minutes=5), visitor_id="browser")
    assert reason(older) == SkipReason.NEWER_JOURNEY


def test_a_recent_email_from_any_campaign_imposes_a_cooldown(step, settings):
    other = CampaignStep.objects.create(
        campaign=Campaign.objects.create(name="Other"),
        position=1,
        delay=timedelta(hours=1),
        subject="Other",
    )
    message = due_message(step, email="shopper@example.com")
    RecoveryMessage.objects.create(
        journey=message.journey,
        step=other,
        to_email="shopper@example.com",
        status=MessageStatus.SENT,
        sent_at=timezone.now() - timedelta(hours=19),
    )
    assert reason(message) == SkipReason.COOLDOWN
    settings.OSCAR_RECOVERY_ADDRESS_COOLDOWN = timedelta(hours=18)
    assert reason(message) is None
