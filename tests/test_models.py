"""The models package: its shared field groups and the predicates asked by name."""

from datetime import timedelta

import pytest
from oscar.core.loading import get_model
from oscar.test.factories import create_order

from oscar_recovery.constants import JourneyStatus, MessageStatus, SkipReason
from oscar_recovery.models import (
    Campaign,
    CampaignStep,
    CartJourney,
    Prompt,
    PromptVariant,
    RecoveryMessage,
    StepVariant,
    email_matches,
    raw_email_candidates,
    same_email,
)
from oscar_recovery.models.base import IncentiveFields, VariantFields
from tests.support.factories import make_journey

Order = get_model("order", "Order")

pytestmark = pytest.mark.django_db


def test_steps_and_prompts_share_one_incentive_field_group():
    for model in (CampaignStep, Prompt):
        assert issubclass(model, IncentiveFields)
        offer = model._meta.get_field("offer")
        assert (
            not offer.editable and offer.remote_field.model._meta.label == "offer.ConditionalOffer"
        )
        assert model._meta.get_field("incentive_valid_for").default == timedelta(days=7)
    # A prompt calls its incentive an offer; the field is the same.
    assert str(Prompt._meta.get_field("incentive").verbose_name) == "offer"
    assert str(CampaignStep._meta.get_field("incentive").verbose_name) == "incentive"


def test_step_and_prompt_variants_share_label_and_weight():
    for model in (StepVariant, PromptVariant):
        assert issubclass(model, VariantFields)
        assert model._meta.get_field("label").default == "B"
        assert model._meta.get_field("weight").default == 50


def test_an_address_matches_whatever_its_case():
    mixed = make_journey(quiet_for=timedelta(hours=1), email="Ada@Example.COM")
    make_journey(quiet_for=timedelta(hours=1), email="someone@example.com")

    assert list(CartJourney.objects.for_email("ada@example.com")) == [mixed]
    assert not CartJourney.objects.exclude(email_matches("ada@example.com")).filter(pk=mixed.pk)


def test_an_address_matches_in_any_of_the_fields_named():
    journey = make_journey(quiet_for=timedelta(hours=1), email="Guest@Example.com")
    assert list(CartJourney.objects.filter(email_matches("guest@example.COM"))) == [journey]
    assert not CartJourney.objects.filter(email_matches("guest@example.com", "user__email"))
    assert CartJourney.objects.filter(email_matches("guest@example.com", "user__email", "email"))
    assert not CartJourney.objects.filter(email_matches("not an address"))


def test_oscars_addresses_as_typed_are_found_then_confirmed_in_python():
    order = create_order(guest_email="Guest@Example.com")
    found = Order.objects.filter(raw_email_candidates(["guest@example.COM"], "guest_email"))
    assert list(found) == [order]
    assert same_email(order.guest_email, "guest@example.com")
    assert not Order.objects.filter(raw_email_candidates(["guest@example.com"], "user__email"))
    assert Order.objects.filter(
        raw_email_candidates(["guest@example.com"], "guest_email", "user__email")
    ).exists()
    assert not same_email("guest@example.com", "")


def test_messages_are_found_by_their_address_whatever_its_case():
    campaign = Campaign.objects.create(name="Default")
    step = CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Still thinking?"
    )
    journey = make_journey(quiet_for=timedelta(hours=2))
    message = RecoveryMessage.objects.create(
        journey=journey, step=step, to_email="Ada@Example.com", status=MessageStatus.SENT
    )

    assert list(RecoveryMessage.objects.for_email("ada@example.com")) == [message]
    assert not RecoveryMessage.objects.for_email("bob@example.com").exists()


@pytest.mark.parametrize(
    ("status", "is_open"),
    [
        (JourneyStatus.ACTIVE, True),
        (JourneyStatus.ABANDONED, True),
        (JourneyStatus.EXPIRED, True),
        (JourneyStatus.CONVERTED, False),
        (JourneyStatus.RECOVERED, False),
        (JourneyStatus.MERGED, False),
    ],
)
def test_open_and_ended_are_one_rule_for_rows_and_queries(status, is_open):
    journey = make_journey(quiet_for=timedelta(hours=1), status=status)

    assert CartJourney.objects.open().filter(pk=journey.pk).exists() is is_open
    assert journey.is_ended is not is_open


@pytest.mark.parametrize(
    ("fields", "contact_staff", "reason"),
    [
        ({}, False, None),
        ({"email": ""}, False, SkipReason.NO_EMAIL),
        ({"email": "", "is_bot": True}, False, SkipReason.NO_EMAIL),
        ({"is_bot": True}, True, SkipReason.BOT),
        ({"is_staff": True}, False, SkipReason.STAFF),
        ({"is_staff": True}, True, None),
    ],
)
def test_contactability_is_one_rule(settings, fields, contact_staff, reason):
    settings.OSCAR_RECOVERY_CONTACT_STAFF = contact_staff
    journey = make_journey(quiet_for=timedelta(hours=1), **fields)

    assert journey.why_not_contactable() == reason
    assert journey.is_contactable is (reason is None)
