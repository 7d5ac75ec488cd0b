"""ESP tracking events through anymail's ``tracking`` signal."""

from datetime import timedelta

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.utils import timezone

from oscar_recovery.constants import MessageStatus, SuppressionReason
from oscar_recovery.models import Campaign, CampaignStep, RecoveryMessage, SuppressedAddress
from oscar_recovery.privacy.suppression import is_suppressed
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def message():
    step = CampaignStep.objects.create(
        campaign=Campaign.objects.create(name="Default"),
        position=1,
        delay=timedelta(hours=1),
        subject="Still thinking?",
    )
    return RecoveryMessage.objects.create(
        journey=make_journey(quiet_for=timedelta(hours=2)),
        step=step,
        to_email="shopper@example.com",
        status=MessageStatus.SENT,
        sent_at=timezone.now(),
        esp_message_id="esp-123",
    )


def send_event(event_type: str, event_id: str | None = "evt-1", **fields):
    event = AnymailTrackingEvent(
        event_type=event_type,
        event_id=event_id,
        message_id=fields.pop("message_id", "esp-123"),
        recipient=fields.pop("recipient", "shopper@example.com"),
        timestamp=fields.pop("timestamp", timezone.now()),
        **fields,
    )
    tracking.send(sender=object(), event=event, esp_name="TestESP")


def status_of(message) -> str:
    message.refresh_from_db()
    return message.status


def test_delivery_and_click_move_the_message_forward(message):
    send_event("delivered", "e1")
    assert status_of(message) == MessageStatus.DELIVERED
    assert message.delivered_at is not None
    send_event("clicked", "e2")
    assert status_of(message) == MessageStatus.CLICKED and message.clicked_at is not None


def test_a_late_event_never_moves_a_message_backwards(message):
    send_event("clicked", "e1")
    send_event("delivered", "e2")
    assert status_of(message) == MessageStatus.CLICKED
    assert message.delivered_at is not None  # still recorded


def test_a_repeated_event_is_applied_once(message):
    send_event("opened", "same")
    send_event("opened", "same")
    assert message.tracking_events.count() == 1


def test_events_without_an_id_are_deduplicated_by_their_content(message):
    when = timezone.now()
    send_event("delivered", None, timestamp=when)
    send_event("delivered", None, timestamp=when)
    assert message.tracking_events.count() == 1


@pytest.mark.parametrize(
    ("event_type", "reason"),
    [
        ("bounced", SuppressionReason.BOUNCED),
        ("complained", SuppressionReason.COMPLAINED),
        ("unsubscribed", SuppressionReason.UNSUBSCRIBED),
    ],
)
def test_bounces_complaints_and_unsubscribes_suppress_the_address(message, event_type, reason):
    send_event(event_type)
    assert is_suppressed("shopper@example.com")
    assert SuppressedAddress.objects.get().reason == reason


def test_a_bounce_for_a_message_we_no_longer_hold_still_suppresses(message):
    send_event("bounced", message_id="unknown", recipient="gone@example.com")
    assert is_suppressed("gone@example.com")
    assert status_of(message) == MessageStatus.SENT


def test_a_broken_event_never_makes_the_webhook_fail(message, monkeypatch):
    from oscar_recovery.outcomes import tracking as tracking_module

    monkeypatch.setattr(tracking_module, "advance_status", lambda *a: 1 / 0)
    send_event("delivered")  # must not raise into anymail's webhook view
    assert status_of(message) == MessageStatus.SENT
