"""Outgoing webhooks against a real HTTP server on localhost: signatures, retries with
backoff, the delivery log, the admin, and the events the shop's real flows raise."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from oscar_recovery import outgoing_webhooks
from oscar_recovery.constants import AttemptOutcome, DeliveryStatus, SignatureFormat, WebhookEvent
from oscar_recovery.models import CartJourney, WebhookDelivery, WebhookEndpoint
from oscar_recovery.outgoing_webhooks import (
    InvalidSignature,
    TransientDeliveryError,
    deliver,
    emit,
    encode_body,
    retry_delay,
    send_test,
    signature_header,
    verify_signature,
)
from oscar_recovery.outgoing_webhooks.admin import WebhookEndpointForm
from oscar_recovery.outgoing_webhooks.delivery import is_public_address
from oscar_recovery.sweep.stages import run_sweep
from tests.support.hook_server import HookServer, Reply
from tests.support.journeys import add_to_basket, guest_gateway

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_secret_0123456789"
ALL_EVENTS = [event for event, _ in WebhookEvent.choices if event != WebhookEvent.TEST]


@pytest.fixture
def server():
    hook_server = HookServer().start()
    yield hook_server
    hook_server.stop()


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.OSCAR_RECOVERY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True  # the server is local
    settings.OSCAR_RECOVERY_WEBHOOK_TIMEOUT = 0.5
    settings.OSCAR_RECOVERY_WEBHOOK_MAX_RETRIES = 3
    return settings


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the test's transaction would run on commit, when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def emit_now(committed):
    def run(*args, **kwargs):
        with committed():
            return emit(*args, **kwargs)

    return run


def make_endpoint(server, events=None, **fields) -> WebhookEndpoint:
    """An endpoint on the X-Recovery-Signature scheme these tests verify (Standard Webhooks:
    test_standard_webhooks.py)."""
    fields.setdefault("signature_format", SignatureFormat.RECOVERY)
    return WebhookEndpoint.objects.create(
        name=fields.pop("name", "Zap"),
        url=fields.pop("url", server.url),
        secret=SECRET,
        events=ALL_EVENTS if events is None else events,
        **fields,
    )


def assert_signed(request, secret: str = SECRET) -> None:
    header = request.headers["X-Recovery-Signature"]
    timestamp = int(header.split(",")[0].removeprefix("t="))
    # Under time_machine the clock is travelled, so the tolerance is checked elsewhere.
    verify_signature(secret, request.body, header, now=timestamp)


# Signatures


def test_a_genuine_signature_verifies():
    body = encode_body({"type": "test", "data": {"total": "40.00"}})
    header = signature_header(SECRET, body)
    assert verify_signature(SECRET, body, header) == int(header.split(",")[0][2:])


def test_a_tampered_body_or_wrong_secret_is_refused():
    body = encode_body({"data": {"total": "40.00"}})
    header = signature_header(SECRET, body)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(SECRET, body.replace(b"40.00", b"4.00"), header)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature("whsec_someone_else_entirely", body, header)
    timestamp, signature = header.split(",")
    moved = f"t={int(timestamp[2:]) + 1},{signature}"  # replaying under a new timestamp
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(SECRET, body, moved)


def test_a_stale_or_future_timestamp_is_refused():
    body = b"{}"
    old = int(time.time()) - 301
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature(SECRET, body, signature_header(SECRET, body, old))
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature(SECRET, body, signature_header(SECRET, body, int(time.time()) + 400))
    # Within a custom tolerance it is fine.
    verify_signature(
        SECRET, body, signature_header(SECRET, body, old), tolerance=timedelta(minutes=10)
    )


@pytest.mark.parametrize("header", ["", "v1=abc", "t=notanumber,v1=abc", "t=123"])
def test_a_malformed_header_is_refused(header):
    with pytest.raises(InvalidSignature):
        verify_signature(SECRET, b"{}", header, now=123)


def test_a_rotation_header_with_several_signatures_verifies_with_either():
    body = b'{"a":1}'
    now = int(time.time())
    new = signature_header("whsec_the_new_secret_0000", body, now)
    old = signature_header(SECRET, body, now).split(",")[1]
    verify_signature(SECRET, body, f"{new},{old}")


# Delivery, retries and the log


def test_a_delivery_is_signed_logged_and_succeeds(server, emit_now):
    endpoint = make_endpoint(server)
    server.replies(Reply(200, "x" * 5000))
    [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {"hello": "world"})

    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 1 and delivery.last_status_code == 200
    [request] = server.received
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Recovery-Event"] == "test"
    assert request.headers["X-Recovery-Event-Id"] == str(delivery.event_id)
    verify_signature(endpoint.secret, request.body, request.headers["X-Recovery-Signature"])
    assert request.json == {
        "id": str(delivery.event_id),
        "type": "test",
        "schema_version": 1,
        "created_at": delivery.created_at.isoformat(),
        "data": {"hello": "world"},
    }
    [attempt] = delivery.attempt_log.all()
    assert attempt.outcome == AttemptOutcome.SUCCESS and attempt.status_code == 200
    assert attempt.response_body == "x" * 2000  # truncated


def test_a_5xx_is_retried_until_it_succeeds(server, emit_now):
    make_endpoint(server)
    server.replies(Reply(500, "boom"), Reply(503, "busy"), Reply(200, "ok"))
    [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {})

    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 3
    log = list(
        delivery.attempt_log.values_list("number", "status_code", "outcome", "response_body")
    )
    assert log == [
        (1, 500, AttemptOutcome.TRANSIENT, "boom"),
        (2, 503, AttemptOutcome.TRANSIENT, "busy"),
        (3, 200, AttemptOutcome.SUCCESS, "ok"),
    ]
    # Every attempt is signed afresh over the same body.
    assert len({request.body for request in server.received}) == 1
    for request in server.received:
        verify_signature(SECRET, request.body, request.headers["X-Recovery-Signature"])


def test_a_4xx_fails_at_once_without_retries(server, emit_now):
    make_endpoint(server)
    server.replies(Reply(410, "gone"))
    [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {})

    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1 and len(server.received) == 1
    assert delivery.attempt_log.get().outcome == AttemptOutcome.PERMANENT


def test_a_redirect_is_not_followed(server, emit_now):
    make_endpoint(server)
    server.replies(Reply(302, "", {"Location": "http://169.254.169.254/latest/meta-data/"}))
    [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {})
    assert WebhookDelivery.objects.get(pk=delivery_id).status == DeliveryStatus.FAILED
    assert len(server.received) == 1


def test_a_hanging_endpoint_times_out_and_is_retried_within_the_budget(server, settings, emit_now):
    settings.OSCAR_RECOVERY_WEBHOOK_MAX_RETRIES = 1
    make_endpoint(server)
    server.replies(Reply(200, delay=5), Reply(200, delay=5))
    [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {})

    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 2  # the first try and one retry
    for attempt in delivery.attempt_log.all():
        assert attempt.outcome == AttemptOutcome.TRANSIENT
        assert attempt.status_code is None
        assert "Timeout" in attempt.error
        assert 400 <= attempt.duration_ms < 4000


def test_an_unreachable_endpoint_is_a_transient_failure(server, settings, emit_now):
    settings.OSCAR_RECOVERY_WEBHOOK_MAX_RETRIES = 0
    server.stop()  # nothing listens on the port any more
    make_endpoint(server)
    [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {})
    attempt = WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get()
    assert attempt.outcome == AttemptOutcome.TRANSIENT
    assert "ConnectionError" in attempt.error


def test_a_transient_failure_schedules_the_next_attempt_with_backoff(server, settings, emit_now):
    settings.OSCAR_RECOVERY_WEBHOOK_BACKOFF = 60
    make_endpoint(server)
    server.replies(Reply(500))
    [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {}, publish=False)

    with pytest.raises(TransientDeliveryError) as raised:
        deliver(delivery_id, retries=2)
    assert 0 <= raised.value.countdown <= 60 * 2**2
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.RETRYING
    expected = delivery.last_attempt_at + timedelta(seconds=raised.value.countdown)
    assert abs((delivery.next_attempt_at - expected).total_seconds()) < 2


def test_retry_after_of_a_429_is_honoured(server, emit_now, settings):
    settings.OSCAR_RECOVERY_WEBHOOK_BACKOFF_MAX = 3600
    make_endpoint(server)
    server.replies(Reply(429, "slow down", {"Retry-After": "120"}))
    [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {}, publish=False)
    with pytest.raises(TransientDeliveryError) as raised:
        deliver(delivery_id, retries=0)
    assert raised.value.countdown >= 120


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling(settings):
    settings.OSCAR_RECOVERY_WEBHOOK_BACKOFF = 10
    settings.OSCAR_RECOVERY_WEBHOOK_BACKOFF_MAX = 300
    for retries in range(8):
        delays = [retry_delay(retries) for _ in range(200)]
        ceiling = min(10 * 2**retries, 300)
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2  # jitter spreads over the whole range
    assert retry_delay(0, retry_after=10_000) == 300  # never past the ceiling


def test_the_last_allowed_transient_failure_fails_the_delivery(server, settings, emit_now):
    settings.OSCAR_RECOVERY_WEBHOOK_MAX_RETRIES = 2
    make_endpoint(server)
    server.default = Reply(502, "bad gateway")
    [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {})
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 3 and len(server.received) == 3


def test_deliveries_are_enqueued_only_when_the_transaction_commits(
    server, django_capture_on_commit_callbacks
):
    make_endpoint(server)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outgoing_webhooks.emit_on_commit(WebhookEvent.TEST, lambda personal: {})
        assert WebhookDelivery.objects.count() == 0
        assert server.received == []
    assert server.events() == ["test"]


def test_a_rolled_back_event_is_never_sent(server, django_capture_on_commit_callbacks):
    make_endpoint(server)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                outgoing_webhooks.emit_on_commit(WebhookEvent.TEST, lambda personal: {})
                raise RuntimeError
        except RuntimeError:
            pass
    assert callbacks == [] and server.received == []


def test_only_active_subscribed_endpoints_get_an_event(server, emit_now):
    make_endpoint(server, events=[WebhookEvent.EMAIL_SENT], name="Sent only")
    make_endpoint(server, events=ALL_EVENTS, is_active=False, name="Off")
    wanted = make_endpoint(server, events=[WebhookEvent.CONTACT_CAPTURED], name="Contacts")
    ids = emit_now(WebhookEvent.CONTACT_CAPTURED, lambda personal: {})
    assert [WebhookDelivery.objects.get(pk=pk).endpoint for pk in ids] == [wanted]


# Where webhooks may go


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "https://user:pass@example.com/hook",
    ],
)
def test_the_form_refuses_urls_that_are_not_public_http(url, settings):
    settings.OSCAR_RECOVERY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    form = WebhookEndpointForm(
        data={
            "name": "x",
            "url": url,
            "is_active": "on",
            "events": ALL_EVENTS,
            "secret": SECRET,
            "signature_format": SignatureFormat.RECOVERY,
        }
    )
    assert not form.is_valid()
    assert "url" in form.errors


def test_the_form_accepts_a_public_https_url_and_needs_an_event(settings):
    settings.OSCAR_RECOVERY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    data = {
        "name": "Zap",
        "url": "https://93.184.215.14/hook",
        "is_active": "on",
        "signature_format": SignatureFormat.RECOVERY,
    }
    form = WebhookEndpointForm(data={**data, "secret": SECRET})
    assert not form.is_valid() and "events" in form.errors
    form = WebhookEndpointForm(data={**data, "secret": "short", "events": ALL_EVENTS})
    assert not form.is_valid() and "secret" in form.errors
    form = WebhookEndpointForm(data={**data, "secret": SECRET, "events": ALL_EVENTS})
    assert form.is_valid(), form.errors
    assert form.save().events == ALL_EVENTS


def test_a_private_address_is_refused_at_delivery_too(server, settings, emit_now):
    endpoint = make_endpoint(server)  # saved while private addresses were allowed
    settings.OSCAR_RECOVERY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {}, endpoints=[endpoint])
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.FAILED
    assert "private" in delivery.attempt_log.get().error
    assert server.received == []


PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture
def rebinding_dns(monkeypatch):
    """``rebind.test`` resolves to a public address for the first lookup (the check) and to
    127.0.0.1 for every later one (the HTTP client's, when it connects)."""
    real = socket.getaddrinfo
    lookups = []

    def fake(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = PUBLIC_ADDRESS if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return lookups


def test_a_rebinding_host_never_reaches_the_local_server(server, settings, rebinding_dns):
    settings.OSCAR_RECOVERY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    port = server.httpd.server_address[1]
    endpoint = WebhookEndpoint.objects.create(
        name="Rebind", url=f"http://rebind.test:{port}/hook", secret=SECRET, events=ALL_EVENTS
    )
    server.default = Reply(200, body="internal secrets")
    delivery = send_test(endpoint)
    assert len(rebinding_dns) >= 2  # the check, then the connection
    assert server.received == []
    assert delivery.status == DeliveryStatus.FAILED
    attempt = delivery.attempt_log.get()
    assert attempt.outcome == AttemptOutcome.PERMANENT
    assert "127.0.0.1" in attempt.error
    assert "internal" not in attempt.response_body


def test_the_connected_address_is_checked_even_when_the_name_check_passed(
    server, settings, emit_now, monkeypatch
):
    """The second check stands on its own: whatever the name check concluded, a connection
    that reached a private address sends nothing."""
    settings.OSCAR_RECOVERY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    endpoint = make_endpoint(server)
    monkeypatch.setattr(outgoing_webhooks.delivery, "check_destination", lambda url: None)
    [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {}, endpoints=[endpoint])
    assert server.received == []
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempt_log.get().outcome == AttemptOutcome.PERMANENT


@pytest.mark.parametrize(
    "address, public",
    [
        ("93.184.215.14", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a00:5", False),  # NAT64 of 10.0.0.5
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b::5db8:d70e", True),  # NAT64 of a public address
        ("64:ff9b:1::5db8:d70e", False),  # local-use NAT64
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
        ("2002:5db8:d70e::1", True),  # 6to4 of a public address
        ("::127.0.0.1", False),  # IPv4-compatible
        ("fe80::1%eth0", False),
        ("not an address", False),
    ],
)
def test_embedded_ipv4_addresses_are_vetted_like_ipv4(address, public):
    assert is_public_address(address) is public


# The admin


@pytest.fixture
def staff_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_the_admin_creates_an_endpoint(staff_client, server):
    response = staff_client.post(
        reverse("admin:oscar_recovery_webhookendpoint_add"),
        {
            "name": "Zapier",
            "url": server.url,
            "is_active": "on",
            "events": [WebhookEvent.BASKET_ABANDONED, WebhookEvent.BASKET_RECOVERED],
            "secret": SECRET,
            "signature_format": SignatureFormat.RECOVERY,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == [WebhookEvent.BASKET_ABANDONED, WebhookEvent.BASKET_RECOVERED]
    assert not endpoint.include_personal_data


def test_the_admin_refuses_a_bad_url_and_saves_nothing(staff_client):
    response = staff_client.post(
        reverse("admin:oscar_recovery_webhookendpoint_add"),
        {
            "name": "Bad",
            "url": "gopher://x/",
            "is_active": "on",
            "events": ALL_EVENTS,
            "secret": SECRET,
            "signature_format": SignatureFormat.RECOVERY,
        },
    )
    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def run_test_action(client, endpoint):
    return client.post(
        reverse("admin:oscar_recovery_webhookendpoint_changelist"),
        {"action": "send_test_event", "_selected_action": [endpoint.pk]},
        follow=True,
    )


def test_the_send_test_action_delivers_and_reports_success(staff_client, server):
    endpoint = make_endpoint(server, events=[WebhookEvent.EMAIL_SENT])
    response = run_test_action(staff_client, endpoint)
    [message] = [str(m) for m in response.context["messages"]]
    assert "answered the test event with HTTP 200" in message
    [request] = server.received
    assert request.json["type"] == "test"
    assert request.json["data"]["endpoint"] == "Zap"
    verify_signature(SECRET, request.body, request.headers["X-Recovery-Signature"])
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1

    # The log shows it, attempt by attempt.
    page = staff_client.get(
        reverse("admin:oscar_recovery_webhookdelivery_change", args=[delivery.pk])
    )
    assert page.status_code == 200
    assert b"Success (2xx)" in page.content


def test_the_send_test_action_reports_a_failure_once_without_retrying(staff_client, server):
    endpoint = make_endpoint(server)
    server.default = Reply(500, "Internal error at the receiver")
    response = run_test_action(staff_client, endpoint)
    [message] = [str(m) for m in response.context["messages"]]
    assert "failed: HTTP 500" in message
    assert len(server.received) == 1
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED


def test_non_staff_cannot_reach_the_webhook_admin(customer, server):
    client = Client()
    client.force_login(customer)
    response = client.get(reverse("admin:oscar_recovery_webhookendpoint_changelist"))
    assert response.status_code == 302 and "login" in response["Location"]


def view_only_staff() -> Client:
    from django.contrib.auth.models import Permission
    from oscar.test.factories import UserFactory

    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="oscar_recovery",
            codename__in=["view_webhookendpoint", "view_webhookdelivery"],
        )
    )
    client = Client()
    client.force_login(user)
    return client


def test_the_secret_shows_on_the_add_form_and_is_masked_afterwards(staff_client, server):
    add = staff_client.get(reverse("admin:oscar_recovery_webhookendpoint_add"))
    generated = add.context["adminform"].form["secret"].value()
    assert generated in add.content.decode()  # to be copied to the receiver, once
    endpoint = make_endpoint(server)
    change = staff_client.get(
        reverse("admin:oscar_recovery_webhookendpoint_change", args=[endpoint.pk])
    )
    html = change.content.decode()
    assert change.status_code == 200
    assert SECRET not in html and SECRET[:-4] not in html
    assert "\u2022" * 8 + SECRET[-4:] in html


def test_view_only_staff_never_see_the_secret_and_cannot_replace_it(server):
    endpoint = make_endpoint(server)
    client = view_only_staff()
    url = reverse("admin:oscar_recovery_webhookendpoint_change", args=[endpoint.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert SECRET not in response.content.decode()
    assert "new_secret" not in response.content.decode()
    client.post(url, {"name": "x", "url": server.url, "new_secret": "y" * 20})
    assert WebhookEndpoint.objects.get().secret == SECRET


def test_staff_who_may_change_an_endpoint_replace_its_secret(staff_client, server):
    endpoint = make_endpoint(server)
    url = reverse("admin:oscar_recovery_webhookendpoint_change", args=[endpoint.pk])
    data = {
        "name": "Zap",
        "url": server.url,
        "is_active": "on",
        "events": ALL_EVENTS,
        "signature_format": SignatureFormat.RECOVERY,
    }
    assert staff_client.post(url, {**data, "new_secret": "short"}).status_code == 200
    assert staff_client.post(url, data).status_code == 302
    assert WebhookEndpoint.objects.get().secret == SECRET  # empty keeps it
    assert staff_client.post(url, {**data, "new_secret": "n" * 24}).status_code == 302
    assert WebhookEndpoint.objects.get().secret == "n" * 24


# Events from the shop's real flows


def test_the_gateway_emits_contact_captured_without_personal_data(
    shopper, product, server, committed
):
    make_endpoint(server, events=[WebhookEvent.CONTACT_CAPTURED])
    add_to_basket(shopper, product)
    with committed():
        guest_gateway(shopper, "guest@example.com")

    [request] = server.received
    assert_signed(request)
    payload = request.json
    assert payload["type"] == "contact.captured"
    journey = CartJourney.objects.get()
    assert payload["data"]["source"] == "checkout"
    assert payload["data"]["basket"]["journey_id"] == journey.pk
    assert payload["data"]["basket"]["total"] == "40.00"
    assert payload["data"]["basket"]["lines"][0]["title"] == "Winter coat"
    assert payload["data"]["customer"]["has_email"] is True
    assert b"guest@example.com" not in request.body


def test_an_opted_in_endpoint_gets_the_address(shopper, product, server, committed):
    make_endpoint(server, events=[WebhookEvent.CONTACT_CAPTURED], include_personal_data=True)
    add_to_basket(shopper, product)
    with committed():
        guest_gateway(shopper, "guest@example.com")
    customer = server.received[0].json["data"]["customer"]
    assert customer["email"] == "guest@example.com"
    assert customer["registered"] is False


def test_a_failing_webhook_never_breaks_the_checkout(
    shopper, product, server, monkeypatch, committed
):
    make_endpoint(server, events=[WebhookEvent.CONTACT_CAPTURED])

    def broken(*args, **kwargs):
        raise RuntimeError("webhooks are broken")

    monkeypatch.setattr(outgoing_webhooks.events, "subscribed_endpoints", broken)
    add_to_basket(shopper, product)
    with committed():
        guest_gateway(shopper, "guest@example.com")  # still a 302 to the next step
    assert CartJourney.objects.get().email == "guest@example.com"


def test_a_failing_webhook_never_breaks_the_sweep(server, monkeypatch, committed):
    from tests.support.factories import make_journey

    make_endpoint(server)
    make_journey(quiet_for=timedelta(hours=2))
    monkeypatch.setattr(outgoing_webhooks.events, "subscribed_endpoints", lambda event: 1 / 0)
    with committed():
        result = run_sweep()
    assert result.abandoned == 1
    assert CartJourney.objects.get().status == "abandoned"


def test_the_sweep_emits_basket_abandoned_per_journey_without_bots(server, committed):
    from tests.support.factories import make_journey

    make_endpoint(server, events=[WebhookEvent.BASKET_ABANDONED])
    shopper = make_journey(quiet_for=timedelta(hours=2), total="99.00")
    make_journey(quiet_for=timedelta(hours=2), is_bot=True)
    make_journey(quiet_for=timedelta(minutes=5))  # still shopping

    with committed():
        run_sweep()

    [request] = server.received
    assert_signed(request)
    data = request.json["data"]
    assert request.json["type"] == "basket.abandoned"
    assert data["basket"]["journey_id"] == shopper.pk
    assert data["basket"]["status"] == "abandoned"
    assert data["basket"]["total"] == "99.00"
    assert data["basket"]["abandoned_at"] is not None
    assert data["basket"]["staff_url"].endswith(
        reverse("admin:oscar_recovery_cartjourney_change", args=[shopper.pk])
    )
    assert "email" not in data["customer"]


def test_unsubscribing_emits_once(server, committed):
    from oscar_recovery.privacy.suppression import email_hash
    from oscar_recovery.sending.tokens import unsubscribe_token

    make_endpoint(server, events=[WebhookEvent.UNSUBSCRIBED], include_personal_data=True)
    url = reverse("oscar_recovery:unsubscribe", args=[unsubscribe_token("a@example.com")])
    with committed():
        assert Client().post(url).status_code == 200
    with committed():
        assert Client().post(url).status_code == 200  # again: no second event
    [request] = server.received
    assert request.json["type"] == "contact.unsubscribed"
    assert request.json["data"] == {
        "email_hash": email_hash("a@example.com"),
        "reason": "unsubscribed",
    }


@pytest.fixture
def live_campaign():
    from oscar_recovery.campaigns.install import install_defaults
    from oscar_recovery.models import Campaign

    campaign = install_defaults(activate=True)
    Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=0)
    return campaign


def test_the_whole_story_emits_every_event_in_order(
    live_campaign, shopper, product, country, server, django_capture_on_commit_callbacks, committed
):
    import time_machine

    from tests.conftest import BROWSER_UA
    from tests.support.journeys import place_order, shipping_address
    from tests.test_recovery_flow import recovery_emails, restore_path

    make_endpoint(server, include_personal_data=True)
    start = timezone.now()

    def sweep(offset):
        with (
            time_machine.travel(start + offset, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            run_sweep()

    add_to_basket(shopper, product)
    with committed():
        guest_gateway(shopper, "guest@example.com")
    sweep(timedelta(hours=1))
    sweep(timedelta(hours=2, minutes=1))
    email = recovery_emails()[0]

    browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    browser.get(restore_path(email))
    with committed():
        guest_gateway(browser, "guest@example.com")
        shipping_address(browser, country)
        place_order(browser)
    unsubscribe = email.extra_headers["List-Unsubscribe"].strip("<>")
    with committed():
        Client().post(urlsplit(unsubscribe).path)

    # The restore link copied the basket into the new browser's own basket, whose journey
    # captures the address at its gateway, orders, and ends the emailed journey.
    assert server.events() == [
        "contact.captured",
        "basket.abandoned",
        "email.sent",
        "contact.captured",
        "basket.recovered",
        "contact.unsubscribed",
    ]
    for request in server.received:
        assert_signed(request)
    by_type = {request.json["type"]: request.json["data"] for request in server.received}
    journey = CartJourney.objects.get(order__isnull=False)
    emailed = CartJourney.objects.get(merged_into=journey)
    sent = by_type["email.sent"]["email"]
    assert sent["campaign"]["name"] == live_campaign.name and sent["step"] == 1
    assert sent["sent_at"] is not None
    assert "voucher_code" not in sent
    recovered = by_type["basket.recovered"]
    assert recovered["order"]["number"] == journey.order.number
    assert recovered["order"]["total"] == str(journey.order_total)
    assert recovered["attributed_email"]["message_id"] == sent["message_id"]
    assert recovered["customer"]["email"] == "guest@example.com"
    for kind in ("basket.abandoned", "email.sent"):
        assert by_type[kind]["basket"]["journey_id"] == emailed.pk
    for kind in ("contact.captured", "basket.recovered"):
        assert by_type[kind]["basket"]["journey_id"] == journey.pk


def test_an_order_without_a_click_is_not_a_recovery(shopper, product, country, server, committed):
    from tests.support.journeys import place_order, shipping_address

    make_endpoint(server, events=[WebhookEvent.BASKET_RECOVERED])
    add_to_basket(shopper, product)
    guest_gateway(shopper, "guest@example.com")
    with committed():
        shipping_address(shopper, country)
        place_order(shopper)
    assert server.received == []


# Housekeeping


def test_a_delivery_whose_task_was_lost_is_handed_over_again(server, committed):
    make_endpoint(server)
    [lost] = emit(WebhookEvent.TEST, lambda personal: {}, publish=False)  # broker was down
    [fresh] = emit(WebhookEvent.TEST, lambda personal: {}, publish=False)
    WebhookDelivery.objects.filter(pk=lost).update(
        created_at=timezone.now() - timedelta(minutes=30)
    )
    WebhookDelivery.objects.filter(pk=fresh).update(next_attempt_at=timezone.now())

    with committed():
        assert outgoing_webhooks.requeue_stale() == [lost]

    assert WebhookDelivery.objects.get(pk=lost).status == DeliveryStatus.SUCCEEDED
    assert WebhookDelivery.objects.get(pk=fresh).status == DeliveryStatus.PENDING
    assert len(server.received) == 1


def test_old_finished_deliveries_are_purged_from_the_log(server, settings, emit_now):
    settings.OSCAR_RECOVERY_WEBHOOK_LOG_RETENTION = timedelta(days=30)
    make_endpoint(server)
    [old] = emit_now(WebhookEvent.TEST, lambda personal: {})
    [recent] = emit_now(WebhookEvent.TEST, lambda personal: {})
    [unfinished] = emit(WebhookEvent.TEST, lambda personal: {}, publish=False)
    WebhookDelivery.objects.filter(pk__in=[old, unfinished]).update(
        created_at=timezone.now() - timedelta(days=31)
    )
    assert outgoing_webhooks.purge_log() == 1
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {recent, unfinished}
    from oscar_recovery.models import WebhookAttempt

    assert not WebhookAttempt.objects.filter(delivery_id=old).exists()


def test_the_admin_delivers_a_failed_delivery_again(staff_client, server, committed):
    make_endpoint(server)
    server.replies(Reply(400, "bad"))
    with committed():
        [delivery_id] = emit(WebhookEvent.TEST, lambda personal: {})
    assert WebhookDelivery.objects.get(pk=delivery_id).status == DeliveryStatus.FAILED

    with committed():
        staff_client.post(
            reverse("admin:oscar_recovery_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [delivery_id]},
        )
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 400), (2, 200)]
    listing = staff_client.get(reverse("admin:oscar_recovery_webhookdelivery_changelist"))
    assert listing.status_code == 200 and b"Succeeded" in listing.content
    endpoints = staff_client.get(reverse("admin:oscar_recovery_webhookendpoint_changelist"))
    assert endpoints.status_code == 200 and b"Recovery email sent" in endpoints.content


@pytest.mark.followups_later
def test_an_event_costs_the_shop_request_nothing_and_its_follow_up_one_query(product, committed):
    """``contact.captured`` is emitted from the outbox after the request (the
    ``email_captured`` signal is sent there): the shop's gateway request pays nothing for
    it, and without endpoints the follow-up pays one query, the endpoint lookup."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from oscar_recovery import signals
    from oscar_recovery.models import CartJourney as Journey
    from oscar_recovery.outgoing_webhooks.receivers import on_email_captured_webhooks
    from tests.conftest import BROWSER_UA
    from tests.support.outbox import run_followups

    def count(func, after_commit=False) -> int:
        with CaptureQueriesContext(connection) as queries:
            if after_commit:  # the endpoint lookup waits for the follow-up's commit
                with committed():
                    func()
            else:
                func()
        return sum(not q["sql"].startswith(("SAVEPOINT", "RELEASE")) for q in queries)

    def gateway_then_follow_up() -> tuple[int, int]:
        client = Client(HTTP_USER_AGENT=BROWSER_UA)
        add_to_basket(client, product)
        run_followups()
        gateway = count(lambda: guest_gateway(client, "guest@example.com"))
        return gateway, count(run_followups, after_commit=True)

    gateway_then_follow_up()  # warm-up: what Oscar creates on a first checkout
    with_webhooks = gateway_then_follow_up()
    signals.email_captured.disconnect(sender=Journey, dispatch_uid="oscar_recovery.wh_contact")
    try:
        without = gateway_then_follow_up()
    finally:
        signals.email_captured.connect(
            on_email_captured_webhooks, sender=Journey, dispatch_uid="oscar_recovery.wh_contact"
        )
    assert with_webhooks[0] == without[0]
    assert with_webhooks[1] - without[1] == 1


def test_a_deactivated_endpoint_gets_nothing_more_but_can_be_tested(server, emit_now):
    endpoint = make_endpoint(server)
    [pending] = emit(WebhookEvent.EMAIL_SENT, lambda personal: {}, publish=False)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)

    assert deliver(pending) == DeliveryStatus.FAILED
    assert "deactivated" in WebhookDelivery.objects.get(pk=pending).attempt_log.get().error
    assert server.received == []

    endpoint.refresh_from_db()
    assert outgoing_webhooks.send_test(endpoint).status == DeliveryStatus.SUCCEEDED
    assert server.events() == ["test"]


def test_view_only_staff_cannot_send_a_test_event(server):
    """The worst staff member with only the view permission: cannot make the shop POST to
    an endpoint (a request they choose the moment of, to a URL they cannot change)."""
    endpoint = make_endpoint(server)
    response = run_test_action(view_only_staff(), endpoint)

    assert response.status_code == 200
    assert server.received == []
    assert not WebhookDelivery.objects.exists()
    actions = response.context["cl"].model_admin.get_actions(response.wsgi_request)
    assert "send_test_event" not in actions


CAPABILITY = "/services/T0001/B0002/XXXXsecretXXXX"


def test_a_failed_delivery_never_logs_or_stores_the_endpoints_path(
    server, settings, emit_now, caplog
):
    """Worst reader: whoever reads the logs (a log service, a contractor) or the delivery
    log with only the view permission. Chat webhooks put their credential in the URL's
    path; the logs and the stored error name the host only."""
    settings.OSCAR_RECOVERY_WEBHOOK_MAX_RETRIES = 0
    server.stop()  # the connection error quotes the path it was posting to
    make_endpoint(server, url=server.url.rstrip("/") + CAPABILITY + "?token=abc")
    with caplog.at_level("WARNING"):
        [delivery_id] = emit_now(WebhookEvent.TEST, lambda personal: {})

    attempt = WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get()
    assert "ConnectionError" in attempt.error
    assert "Webhook delivery" in caplog.text
    for text in (caplog.text, attempt.error):
        assert "XXXXsecretXXXX" not in text and "token=abc" not in text
    assert "127.0.0.1" in caplog.text


def test_a_retried_delivery_never_hands_the_path_to_the_task_log(server, emit_now):
    server.stop()
    endpoint = make_endpoint(server, url=server.url.rstrip("/") + CAPABILITY)
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=uuid.uuid4(), event=WebhookEvent.TEST, payload={}
    )
    with pytest.raises(TransientDeliveryError) as raised:
        deliver(delivery.pk)
    assert "XXXXsecretXXXX" not in str(raised.value)


def test_view_only_staff_never_see_nor_probe_an_endpoints_path(server, staff_client):
    """Worst reader: staff with the view permission only. A chat webhook's path is its
    credential, like the signing secret: they see the scheme and host, and cannot find the
    path letter by letter through the search box."""
    endpoint = make_endpoint(server, url=server.url.rstrip("/") + CAPABILITY)
    client = view_only_staff()
    changelist = reverse("admin:oscar_recovery_webhookendpoint_changelist")
    change = reverse("admin:oscar_recovery_webhookendpoint_change", args=[endpoint.pk])
    for page in (client.get(changelist), client.get(change)):
        assert page.status_code == 200
        html = page.content.decode()
        assert "XXXXsecretXXXX" not in html and "127.0.0.1" in html
    found = client.get(changelist, {"q": "XXXXsecret"})
    assert found.context["cl"].result_count == 0
    # Whoever may change the endpoint sees and edits it whole.
    assert "XXXXsecretXXXX" in staff_client.get(change).content.decode()
    found = staff_client.get(changelist, {"q": "XXXXsecret"})
    assert found.context["cl"].result_count == 1
