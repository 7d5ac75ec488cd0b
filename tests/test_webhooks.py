"""anymail's tracking webhooks as mounted through ``oscar_recovery.webhooks``: real ESP
payloads update messages; malformed ones get 400 and change nothing."""

import base64
import json
from importlib.util import find_spec

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


# Who may call: every ESP's URL is checked, or answers 404

HARD_BOUNCE = json.dumps(
    {
        "RecordType": "Bounce",
        "ID": 43,
        "Type": "HardBounce",
        "MessageID": "forged",
        "Email": "victim@example.com",
        "BouncedAt": "2026-11-23T10:00:00Z",
        "Description": "forged",
    }
)
MAILGUN_KEY = "mailgun-signing-key"

#: ESPs anymail can only serve with their signing key, basic auth or not.
KEY_REQUIRED = {"mailersend", "mailgun", "mandrill", "postal", "unisender_go"}


def webhook_routes() -> list[tuple[str, str]]:
    """(name, path) of every webhook URL django-anymail defines."""
    from anymail import urls as anymail_urls

    routes = []
    for pattern in anymail_urls.urlpatterns:
        route = str(pattern.pattern).lstrip("^").rstrip("$").replace("(_mime)?", "")
        routes.append((pattern.name, "/anymail/" + route))
    return routes


def test_a_signing_key_for_one_esp_never_opens_another_esps_url(client, settings):
    """Worst sender: anyone on the internet, posting a Postmark "HardBounce" for a
    customer's address, on a shop that set Mailgun's signing key and no WEBHOOK_SECRET.
    The Postmark URL is not there; the address stays mailable; the checks are content."""
    from oscar_recovery.checks import check_esp_webhook_secret

    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    settings.DEBUG = False
    response = client.post(
        reverse("anymail:postmark_tracking_webhook"), HARD_BOUNCE, content_type="application/json"
    )
    assert response.status_code == 404
    assert not is_suppressed("victim@example.com")
    assert check_esp_webhook_secret(None) == []


def mailgun_bounce(key: str) -> str:
    import hashlib
    import hmac

    token, timestamp = "t" * 50, "1763892000"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return json.dumps(
        {
            "signature": {
                "token": token,
                "timestamp": timestamp,
                "signature": signature.hexdigest(),
            },
            "event-data": {
                "event": "failed",
                "severity": "permanent",
                "id": "ev-1",
                "timestamp": 1763892000.0,
                "recipient": "shopper@example.com",
                "message": {"headers": {"message-id": "esp-123"}},
                "delivery-status": {"code": 550, "message": "no such user"},
            },
        }
    )


def test_the_esp_whose_key_is_set_is_served_and_checks_its_signature(client, settings, message):  # noqa: F811
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    url = reverse("anymail:mailgun_tracking_webhook")
    forged = client.post(url, mailgun_bounce("guessed"), content_type="application/json")
    assert forged.status_code == 400
    assert not is_suppressed("shopper@example.com")
    genuine = client.post(url, mailgun_bounce(MAILGUN_KEY), content_type="application/json")
    assert genuine.status_code == 200
    assert is_suppressed("shopper@example.com")


@pytest.mark.parametrize(
    "anymail_settings, served",
    [
        ({}, set()),
        ({"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}, {"mailgun"}),
        ({"WEBHOOK_SECRET": "esp:webhook-secret"}, "all but key required"),
        ({"POSTMARK_SERVER_TOKEN": "not a webhook check"}, set()),
    ],
    ids=["nothing", "mailgun-key", "basic-auth", "unrelated-setting"],
)
def test_no_esp_url_takes_an_anonymous_call(client, settings, anymail_settings, served):
    """Every webhook URL anymail defines, under each configuration: an anonymous POST gets
    404 (not mounted: an inbound URL, or the ESP's check is not configured) or 400
    (anymail refused it), never a 2xx that applies it, nor a 5xx the ESP would retry."""
    settings.ANYMAIL = anymail_settings
    for name, path in webhook_routes():
        esp = name.removesuffix("_webhook").removesuffix("_tracking").removesuffix("_inbound")
        if "_inbound" in name:
            expected = 404  # recovery reads no inbound email: never mounted here
        elif esp == "amazon_ses" and served and not find_spec("boto3"):
            continue  # anymail cannot build its Amazon SES view without boto3
        elif served == "all but key required":
            expected = 404 if esp in KEY_REQUIRED else 400
        else:
            expected = 400 if esp in served else 404
        response = client.post(path, HARD_BOUNCE, content_type="application/json")
        assert response.status_code == expected, (name, response.status_code)
    assert SuppressedAddress.objects.count() == 0


def test_anymail_urls_mounted_directly_are_an_error_for_every_esp_left_open(settings):
    from oscar_recovery.checks import check_esp_webhook_secret

    settings.ROOT_URLCONF = "tests.support.urls_anymail_direct"
    settings.DEBUG = False
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    (problem,) = check_esp_webhook_secret(None)
    assert problem.id == "oscar_recovery.E030"
    assert "Postmark" in problem.msg and "Mailgun" not in problem.msg
    settings.ANYMAIL = {"WEBHOOK_SECRET": "esp:webhook-secret"}
    assert check_esp_webhook_secret(None) == []


def test_the_esp_in_use_without_its_check_is_a_warning(settings):
    """Its URL answers 404: safe, but its bounces never arrive."""
    from oscar_recovery.checks import check_esp_webhook_secret

    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "esp:webhook-secret"}  # Mailgun needs its key
    (problem,) = check_esp_webhook_secret(None)
    assert problem.id == "oscar_recovery.W031" and "Mailgun" in problem.msg
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    assert check_esp_webhook_secret(None) == []
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    (problem,) = check_esp_webhook_secret(None)
    assert problem.id == "oscar_recovery.W031" and "Postmark" in problem.msg


def test_a_refused_call_never_logs_the_webhook_password(client, settings, caplog):
    """Mandrill signs the URL it calls, basic auth included, and anymail's refusal quotes
    that URL: a shop whose Mandrill key or URL is off would log its WEBHOOK_SECRET on every
    genuine call. The refusal is logged with the URL's scheme and host only."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": "esp:webhook-secret", "MANDRILL_WEBHOOK_KEY": "k"}
    with caplog.at_level("WARNING"):
        response = client.post(
            reverse("anymail:mandrill_webhook"),
            {"mandrill_events": "[]"},
            HTTP_AUTHORIZATION=AUTH,
            HTTP_X_MANDRILL_SIGNATURE="forged",
        )
    assert response.status_code == 400
    assert "Mandrill webhook called with incorrect signature" in caplog.text
    assert "webhook-secret" not in caplog.text
