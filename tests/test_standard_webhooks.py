"""Outgoing webhooks in the Standard Webhooks format (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``), verified the way a receiver does it: with the ``standardwebhooks``
package from PyPI. The older ``X-Recovery-Signature`` scheme stays selectable per endpoint."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from oscar_recovery.constants import DeliveryStatus, SignatureFormat, WebhookEvent
from oscar_recovery.models import WebhookEndpoint
from oscar_recovery.outgoing_webhooks import (
    deliver,
    emit,
    send_test,
    standard_secret,
    verify_signature,
)
from oscar_recovery.outgoing_webhooks.admin import mask_secret
from tests import test_outgoing_webhooks
from tests.support.hook_server import Reply

pytestmark = pytest.mark.django_db

#: The local receiving server and the settings that let webhooks reach it.
server = test_outgoing_webhooks.server
webhook_settings = test_outgoing_webhooks.webhook_settings

#: Not base64 after the prefix ("_" is outside the alphabet): typed by an owner, or kept
#: from before.
TYPED_SECRET = "whsec_typed_by_the_owner_0123"


def endpoint_for(server, **fields) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        name="Receiver", url=server.url, events=[WebhookEvent.EMAIL_SENT], **fields
    )


def receiver_verifies(secret: str | bytes, request) -> dict:
    """What a receiver built on the ``standardwebhooks`` package does with a request."""
    return Webhook(secret).verify(request.body, request.headers)


def test_a_new_endpoint_signs_in_the_standard_format_the_library_verifies(server):
    endpoint = endpoint_for(server)  # the generated secret
    assert endpoint.signature_format == SignatureFormat.STANDARD
    assert endpoint.secret.startswith("whsec_")
    assert len(base64.b64decode(endpoint.secret.removeprefix("whsec_"))) >= 24

    delivery = send_test(endpoint)

    assert delivery.status == DeliveryStatus.SUCCEEDED
    [request] = server.received
    # The secret shown when the endpoint was added is the receiver's secret as it is.
    assert standard_secret(endpoint.secret) == endpoint.secret
    payload = receiver_verifies(endpoint.secret, request)
    assert payload["id"] == str(delivery.event_id) == request.headers["webhook-id"]
    assert payload["type"] == WebhookEvent.TEST
    assert "X-Recovery-Signature" not in request.headers


def test_a_secret_that_is_not_base64_maps_to_whsec_plus_its_base64(server):
    endpoint = endpoint_for(server, secret=TYPED_SECRET)
    whsec = standard_secret(TYPED_SECRET)
    assert whsec == "whsec_" + base64.b64encode(TYPED_SECRET.encode()).decode()

    send_test(endpoint)

    [request] = server.received
    assert receiver_verifies(whsec, request)["type"] == WebhookEvent.TEST
    # The library also takes the raw key bytes: the secret itself, encoded.
    assert receiver_verifies(TYPED_SECRET.encode(), request)["type"] == WebhookEvent.TEST


def test_a_tampered_body_a_wrong_secret_or_a_replay_later_is_refused(server):
    endpoint = endpoint_for(server)
    send_test(endpoint)
    [request] = server.received

    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(request.body.replace(b"test", b"tesT"), request.headers)
    with pytest.raises(WebhookVerificationError):
        receiver_verifies(standard_secret("whsec_someone_else_entirely"), request)
    moved = {**request.headers, "webhook-id": "another-id"}
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(request.body, moved)
    # The same request replayed ten minutes later is too old.
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=10)),
        pytest.raises(WebhookVerificationError, match="too old"),
    ):
        receiver_verifies(endpoint.secret, request)


def test_every_retry_of_a_delivery_carries_the_same_id_and_a_fresh_signature(server):
    endpoint = endpoint_for(server)
    server.replies(Reply(503, "busy"), Reply(200, "ok"))
    [delivery_id] = emit(WebhookEvent.EMAIL_SENT, lambda personal: {}, endpoints=[endpoint])
    with pytest.raises(Exception, match="503"):
        deliver(delivery_id)
    assert deliver(delivery_id, retries=1) == DeliveryStatus.SUCCEEDED

    first, second = server.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    for request in (first, second):
        receiver_verifies(endpoint.secret, request)
    # Another event is another message.
    send_test(endpoint)
    assert server.received[-1].headers["webhook-id"] != first.headers["webhook-id"]


def test_an_endpoint_on_the_older_scheme_keeps_it(server):
    endpoint = endpoint_for(server, secret=TYPED_SECRET, signature_format=SignatureFormat.RECOVERY)
    send_test(endpoint)
    [request] = server.received
    verify_signature(TYPED_SECRET, request.body, request.headers["X-Recovery-Signature"])
    assert "webhook-signature" not in {name.lower() for name in request.headers}


# Migration: endpoints that existed before keep the scheme their receivers verify.


BEFORE = ("oscar_recovery", "0019_confirmation_esp_call_started")
ADDED = ("oscar_recovery", "0020_webhook_signature_format")


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_existing_endpoints_on_the_older_scheme():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("oscar_recovery")
    try:
        executor.migrate([BEFORE])
        old_apps = executor.loader.project_state(BEFORE).apps
        old_apps.get_model("oscar_recovery", "WebhookEndpoint").objects.create(
            name="Built before", url="https://hooks.example.org/x", secret="whsec_" + "ab" * 24
        )
        executor = MigrationExecutor(connection)
        executor.migrate([ADDED])
        new_apps = executor.loader.project_state(ADDED).apps
        endpoint = new_apps.get_model("oscar_recovery", "WebhookEndpoint").objects.get()
        assert endpoint.signature_format == SignatureFormat.RECOVERY
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert WebhookEndpoint.objects.get().signature_format == SignatureFormat.RECOVERY
    fresh = WebhookEndpoint.objects.create(name="New", url="https://hooks.example.org/y")
    assert fresh.signature_format == SignatureFormat.STANDARD


# Admin: the format is chosen per endpoint, and the receiver's secret is said.


@pytest.fixture
def staff_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_the_add_form_offers_standard_webhooks_and_refuses_a_secret_it_cannot_carry(
    staff_client, server
):
    url = reverse("admin:oscar_recovery_webhookendpoint_add")
    form = staff_client.get(url).context["adminform"].form
    assert form["signature_format"].value() == SignatureFormat.STANDARD
    data = {
        "name": "Receiver",
        "url": server.url,
        "is_active": "on",
        "events": [WebhookEvent.EMAIL_SENT],
        "signature_format": SignatureFormat.STANDARD,
    }
    refused = staff_client.post(url, {**data, "secret": TYPED_SECRET})
    assert refused.status_code == 200
    assert "secret" in refused.context["adminform"].form.errors
    assert staff_client.post(url, {**data, "secret": form["secret"].value()}).status_code == 302
    legacy = {**data, "name": "Old", "signature_format": SignatureFormat.RECOVERY}
    assert staff_client.post(url, {**legacy, "secret": TYPED_SECRET}).status_code == 302
    assert WebhookEndpoint.objects.get(name="Old").secret == TYPED_SECRET


def test_the_change_page_says_the_format_and_the_receivers_secret_masked(staff_client, server):
    endpoint = endpoint_for(server, secret=TYPED_SECRET, signature_format=SignatureFormat.RECOVERY)
    page = staff_client.get(
        reverse("admin:oscar_recovery_webhookendpoint_change", args=[endpoint.pk])
    ).content.decode()
    whsec = standard_secret(TYPED_SECRET)
    assert whsec not in page and TYPED_SECRET not in page
    # The Standard Webhooks form, masked like the secret.
    assert "whsec_" + mask_secret(whsec.removeprefix("whsec_")) in page
    assert "whsec_ followed by the base64" in page
    assert 'name="signature_format"' in page
