"""Asking an address to confirm its consent (double opt-in): the row recorded in the
caller's transaction and handed to Celery after commit, by task name. The sending half,
and the link that confirms, are in :mod:`oscar_recovery.privacy.confirmation`, which
depends on consent; recording consent (:mod:`oscar_recovery.privacy.consent`) asks through
this module, so neither of the two depends on the other both ways."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from oscar_recovery import app_settings, ratelimit
from oscar_recovery.adapter import get_adapter
from oscar_recovery.constants import ConfirmationStatus, SuppressionReason
from oscar_recovery.handoff import publish_soon
from oscar_recovery.models import CartJourney, ConsentConfirmation, SuppressedAddress
from oscar_recovery.privacy.suppression import all_hashes, email_hash
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

_RATE_SCOPE = "consent-confirm"


def client_of(request: HttpRequest | None) -> str:
    """The rate-limit key of the client that sent ``request`` ("" without a request)."""
    if request is None:
        return ""
    return ratelimit.client_key(get_adapter().client_address(request))


def blocked_by_suppression(email: str) -> bool:
    """Whether the address opted out in a way only the shop or its owner can undo: every
    suppression but a "no thanks" (``DECLINED``)."""
    return (
        SuppressedAddress.objects.filter(email_hash__in=all_hashes(email))
        .exclude(reason=SuppressionReason.DECLINED)
        .exists()
    )


def request_confirmation(
    journey: CartJourney, *, client: str = "", now: datetime | None = None
) -> bool:
    """Record that ``journey``'s address must confirm its consent, and send the email after
    the caller's transaction commits. Returns whether an email was queued: False when the
    address had one within ``DOUBLE_OPT_IN_COOLDOWN``, opted out, or ``client`` (see
    :func:`client_of`) is over ``DOUBLE_OPT_IN_RATE_LIMIT``. Never raises."""
    if not journey.email:
        return False
    now = now or timezone.now()
    try:
        with transaction.atomic():  # a savepoint: a failure must not poison the caller's
            pk = _arm(journey, client, now)
    except Exception:
        logger.exception("oscar_recovery: could not record a consent confirmation")
        return False
    if pk is None:
        return False
    transaction.on_commit(lambda: publish(pk))
    return True


def _arm(journey: CartJourney, client: str, now: datetime) -> int | None:
    if blocked_by_suppression(journey.email):
        return None
    hashed = email_hash(journey.email)
    rows = ConsentConfirmation.objects.filter(email_hash=hashed)
    since = now - app_settings.DOUBLE_OPT_IN_COOLDOWN
    due = rows.filter(requested_at__lt=since).exclude(
        status__in=[ConfirmationStatus.QUEUED, ConfirmationStatus.SENDING]
    )
    existing = rows.values_list("pk", flat=True).first()
    if existing is not None and not due.exists():
        return None
    # Only a request that would send counts against the client's budget.
    if client and ratelimit.hit(_RATE_SCOPE, client, app_settings.DOUBLE_OPT_IN_RATE_LIMIT):
        return None
    fields = {
        "journey": journey,
        "status": ConfirmationStatus.QUEUED,
        "requested_at": now,
        "enqueued_at": now,
        "claimed_at": None,
        "esp_call_started_at": None,  # the last email's mark: the new one is not sent yet
        "sent_at": None,
        "error": "",
        "attempts": 0,
    }
    if existing is not None:
        # Atomic: of two requests racing for an expired window, one re-arms the row.
        return existing if due.update(**fields) == 1 else None
    try:
        with transaction.atomic():
            return ConsentConfirmation.objects.create(email_hash=hashed, **fields).pk
    except IntegrityError:  # another request created it a moment ago
        return None


def publish(pk: int) -> None:
    """Hand confirmation ``pk`` to Celery by task name, never waiting for the broker;
    without Celery the sweep sends it (:func:`.confirmation.send_queued`)."""
    publish_soon("oscar_recovery.send_consent_confirmation", [(pk,)])
