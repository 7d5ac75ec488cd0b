"""Integration tier: a webhook delivery retried by a real Celery worker process (Redis,
PostgreSQL) against a real HTTP server, with Celery's own countdown between attempts."""

import pytest
from standardwebhooks import Webhook

from oscar_recovery.constants import AttemptOutcome, DeliveryStatus, WebhookEvent
from oscar_recovery.models import WebhookDelivery, WebhookEndpoint
from oscar_recovery.outgoing_webhooks import emit
from tests.integration.test_postgres_celery import (  # noqa: F401 (a fixture)
    celery_worker_process,
    wait_for,
)
from tests.support.hook_server import HookServer, Reply

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_failed_delivery_is_retried_by_the_worker_until_it_succeeds(celery_worker_process):  # noqa: F811
    _queue, worker = celery_worker_process
    server = HookServer().start()
    try:
        endpoint = WebhookEndpoint.objects.create(
            name="Local", url=server.url, events=[WebhookEvent.EMAIL_SENT]
        )
        server.replies(Reply(503, "busy"), Reply(200, "ok"))
        # A real commit (transaction=True): the delivery is published to Redis at once.
        [delivery_id] = emit(WebhookEvent.EMAIL_SENT, lambda personal: {"n": 1})

        def succeeded() -> bool:
            return WebhookDelivery.objects.get(pk=delivery_id).status == DeliveryStatus.SUCCEEDED

        if not wait_for(succeeded, timeout=90):
            pytest.fail(f"the worker did not deliver the webhook:\n{worker.output()}")
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        assert list(delivery.attempt_log.values_list("number", "status_code", "outcome")) == [
            (1, 503, AttemptOutcome.TRANSIENT),
            (2, 200, AttemptOutcome.SUCCESS),
        ]
        assert len(server.received) == 2
        # A receiver built on the standardwebhooks package verifies both attempts, which
        # carry one message id.
        for request in server.received:
            assert Webhook(endpoint.secret).verify(request.body, request.headers)["data"] == {
                "n": 1
            }
        assert len({request.headers["webhook-id"] for request in server.received}) == 1
    finally:
        server.stop()
