"""Restore and unsubscribe tokens: signed, opaque, expiring, bound to the basket's state."""

from datetime import timedelta

import pytest
from django.core import signing
from oscar.test.factories import BasketFactory

from oscar_recovery.constants import JourneyStatus
from oscar_recovery.models import Campaign, CampaignStep, RecoveryMessage
from oscar_recovery.privacy.suppression import email_hash
from oscar_recovery.sending.tokens import (
    InvalidLink,
    RestoreLink,
    check_restore_token,
    check_unsubscribe_token,
    restore_token,
    unsubscribe_token,
)
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey():
    return make_journey(
        quiet_for=timedelta(hours=2), status=JourneyStatus.ABANDONED, basket=BasketFactory()
    )


@pytest.fixture
def message(journey):
    step = CampaignStep.objects.create(
        campaign=Campaign.objects.create(name="Default"),
        position=1,
        delay=timedelta(hours=1),
        subject="Still thinking?",
    )
    return RecoveryMessage.objects.create(journey=journey, step=step)


def reason(token: str) -> str:
    with pytest.raises(InvalidLink) as caught:
        check_restore_token(token)
    return caught.value.reason


def test_a_restore_token_names_its_journey(journey):
    assert check_restore_token(restore_token(journey)) == RestoreLink(journey, message_id=None)


def test_a_restore_token_names_the_email_it_was_sent_in(journey, message):
    link = check_restore_token(restore_token(journey, message))
    assert link == RestoreLink(journey, message_id=message.pk)


def test_a_restore_token_carries_only_ids_and_a_state_hash(journey, message):
    payload = signing.loads(restore_token(journey), salt="oscar_recovery.restore")
    assert payload == {"j": journey.pk, "s": payload["s"]}
    assert len(payload["s"]) == 16
    payload = signing.loads(restore_token(journey, message), salt="oscar_recovery.restore")
    assert payload == {"j": journey.pk, "s": payload["s"], "m": message.pk}


def test_a_signed_token_with_a_malformed_message_id_is_refused(journey):
    token = signing.dumps({"j": journey.pk, "s": "x", "m": "1"}, salt="oscar_recovery.restore")
    assert reason(token) == InvalidLink.TAMPERED


def test_a_shopper_coming_back_does_not_kill_the_link(journey):
    token = restore_token(journey)
    journey.status = JourneyStatus.ACTIVE
    journey.save()
    assert check_restore_token(token).journey == journey


@pytest.mark.parametrize("basket_status", ["Merged", "Submitted", "Frozen"])
def test_a_link_is_used_up_when_the_basket_moves_on(journey, basket_status):
    token = restore_token(journey)
    journey.basket.status = basket_status
    journey.basket.save()
    assert reason(token) == InvalidLink.USED_UP


def test_a_link_is_used_up_when_the_journey_ends(journey):
    token = restore_token(journey)
    journey.status = JourneyStatus.CONVERTED
    journey.save()
    assert reason(token) == InvalidLink.USED_UP


def test_a_tampered_link_is_refused(journey):
    token = restore_token(journey)
    assert reason(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) == InvalidLink.TAMPERED
    assert reason("not-a-token") == InvalidLink.TAMPERED
    forged = signing.dumps({"j": journey.pk, "s": "x"}, salt="another-salt")
    assert reason(forged) == InvalidLink.TAMPERED


def test_an_old_link_expires(journey, settings):
    token = restore_token(journey)
    settings.OSCAR_RECOVERY_RESTORE_LINK_MAX_AGE = timedelta(seconds=-1)
    assert reason(token) == InvalidLink.EXPIRED


def test_a_link_to_a_deleted_journey_is_used_up(journey):
    token = restore_token(journey)
    journey.delete()
    assert reason(token) == InvalidLink.USED_UP


def test_an_unsubscribe_token_names_the_address_by_hash_only():
    token = unsubscribe_token("Shopper@example.com")
    assert "shopper" not in token.lower()
    assert check_unsubscribe_token(token) == email_hash("shopper@example.com")
    with pytest.raises(InvalidLink):
        check_unsubscribe_token(token + "x")
