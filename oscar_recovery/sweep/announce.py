"""Announcing a batch of journeys that changed status, the one step the sweep's stages
and browse abandonment share (so neither imports the other)."""

from __future__ import annotations

from django.db import transaction

from oscar_recovery.models import CartJourney
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)


def announce(signal, ids: list[int], label: str, errors: list[str]) -> None:
    """Send a batch's signal inside the batch's transaction, so what receivers record (the
    enrolments, and the outbox rows of alerts and webhook events) commits with the batch or
    not at all: no broker state can lose it. The receivers share a savepoint: one that breaks
    the database undoes the receivers' writes (logged), never the batch."""
    try:
        with transaction.atomic():
            for receiver, response in signal.send_robust(sender=CartJourney, journey_ids=ids):
                if isinstance(response, Exception):
                    logger.error("%s receiver %r failed: %r", label, receiver, response)
                    errors.append(repr(response))
    except Exception as exc:
        logger.exception("%s receivers failed", label)
        errors.append(repr(exc))
