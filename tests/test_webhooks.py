"""anymail's tracking webhooks as mounted through ``oscar_recovery.webhooks``: real ESP
payloads update messages; malformed ones get 400 and change nothing."""

import base64
import json

import pytest
from django.urls import reverse

from oscar_recovery.constants import MessageStatus
from oscar_recovery.models import RecoveryMessage, SuppressedAddress, TrackingEvent
from oscar_recovery.privacy.suppression import is_suppressed

from .test_tracking import message  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db
AUTH = "Basic " + base64.b64encode(b"esp:webhook-secret").decode()


def post(client, body, *, auth=AUTH):
    return client.post(
        reverse("anymail:postmark_tracking_webhook"),
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )


def delivery(**fields) -> str:
    payload = {
        "RecordType": "Delivery",
        "MessageID": "esp-123",
        "Recipient": "shopper@example.com",
        "DeliveredAt": "2026-11-23T10:00:00Z",
        "Details": "ok",
        "Tag": "oscar-recovery",
        "Metadata": {},
    }
    payload.update(fields)
    return json.dumps(payload)


def test_a_delivery_event_marks_the_message_delivered(client, message):  # noqa: F811
    assert post(client, delivery()).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.delivered_at is not None


def test_a_hard_bounce_suppresses_the_address(client, message):  # noqa: F811
    bounce = {
        "RecordType": "Bounce",
        "ID": 42,
        "Type": "HardBounce",
        "MessageID": "esp-123",
        "Email": "shopper@example.com",
        "BouncedAt": "2026-11-23T10:00:00Z",
        "Description": "mailbox does not exist",
    }
    assert post(client, json.dumps(bounce)).status_code == 200
    assert is_suppressed("shopper@example.com")
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED


@pytest.mark.parametrize(
    "body",
    ["this is not json", "[1, 2, 3]", '{"RecordType": "Delivery"', '"a string"'],
    ids=["not-json", "a-list", "truncated", "a-string"],
)
def test_a_malformed_payload_gets_400_and_changes_nothing(client, message, body):  # noqa: F811
    response = post(client, body)

    assert response.status_code == 400
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert TrackingEvent.objects.count() == 0
    assert SuppressedAddress.objects.count() == 0


def test_a_request_without_the_webhook_secret_is_refused(client, message):  # noqa: F811
    response = post(client, delivery(), auth="Basic " + base64.b64encode(b"x:y").decode())
    assert response.status_code == 400
    assert RecoveryMessage.objects.get().status == MessageStatus.SENT
