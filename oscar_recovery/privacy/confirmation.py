"""Double opt-in: a consent given with an address nobody verified counts only once the
address confirms it with the signed link emailed to it (``OSCAR_RECOVERY_DOUBLE_OPT_IN``,
lawful basis ``consent``).

The contract:

- **Recorded, then sent.** :func:`request_confirmation` only writes a row (in the caller's
  transaction) and hands it to Celery after commit; a broker that is down only delays it:
  the sweep hands queued rows over again (:func:`requeue_stale`). Nothing is sent in the
  shopper's request, and nothing that fails here reaches it.
- **At most one email per address and window.** One :class:`ConsentConfirmation` row per
  address (its suppression hash); a new request re-arms the row with one atomic
  ``UPDATE .. WHERE requested_at < now - DOUBLE_OPT_IN_COOLDOWN`` and the send claims it with
  ``UPDATE .. WHERE status = 'queued'``, so no race sends two. Each client address may
  also cause only ``DOUBLE_OPT_IN_RATE_LIMIT`` confirmation emails (to different addresses).
- **Never to an address that opted out.** An address suppressed for any reason but a
  "no thanks" (unsubscribed, bounced, complained, erased, staff) gets no confirmation email;
  a "no thanks" does, since the address's owner may change their mind, and only their
  click in that email lifts it. Every confirmation email carries the unsubscribe link,
  which ends them for good.
- **The link confirms one address, for one journey.** It carries the journey's id and the
  address's hash (never the address), is salted and expires after
  ``DOUBLE_OPT_IN_LINK_MAX_AGE``. It stops working when the journey's address changed, so a
  forwarded link can only confirm the address it was sent to. Opening it (GET, what link
  scanners do) shows a button; only the POST confirms (:func:`confirm`).
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _

from oscar_recovery import app_settings, ratelimit
from oscar_recovery.adapter import get_adapter
from oscar_recovery.constants import (
    ConfirmationStatus,
    ConsentSource,
    LawfulBasis,
    SkipReason,
    SuppressionReason,
)
from oscar_recovery.handoff import publish_soon
from oscar_recovery.models import CartJourney, ConsentConfirmation, SuppressedAddress
from oscar_recovery.privacy.suppression import all_hashes, email_hash
from oscar_recovery.sending.tokens import InvalidLink
from oscar_recovery.utils import get_logger, redact

logger = get_logger(__name__)

_SALT = "oscar_recovery.consent_confirmation"
_RATE_SCOPE = "consent-confirm"
TEMPLATE_DIR = "oscar_recovery/email"
#: anymail tag of confirmation emails, apart from recovery and staff emails.
TAG = "oscar-recovery-confirm"
#: Skip reasons of a confirmation row that are no ``SkipReason``.
ADDRESS_CHANGED = "address_changed"
ALREADY_CONFIRMED = "already_confirmed"


class InvalidConfirmLink(InvalidLink):
    MESSAGES = {
        **InvalidLink.MESSAGES,
        InvalidLink.USED_UP: _("This confirmation link is no longer valid."),
    }


def client_of(request: HttpRequest | None) -> str:
    """The rate-limit key of the client that sent ``request`` ("" without a request)."""
    if request is None:
        return ""
    return ratelimit.client_key(get_adapter().client_address(request))


# -- asking -------------------------------------------------------------------------------


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
    transaction.on_commit(lambda: _publish(pk))
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


def _publish(pk: int) -> None:
    # Never waits for the broker; without Celery the sweep sends it (:func:`send_queued`).
    publish_soon("oscar_recovery.send_consent_confirmation", [(pk,)])


def requeue_stale(now: datetime | None = None) -> list[int]:
    """The sweep's part: hand over again rows whose task never ran (broker down, task lost),
    and fail those whose worker died mid-send (not resent: a lost email beats a duplicate)."""
    now = now or timezone.now()
    ConsentConfirmation.objects.filter(
        status=ConfirmationStatus.SENDING,
        claimed_at__lt=now - app_settings.SENDING_STALE_AFTER,
    ).update(status=ConfirmationStatus.FAILED, error="interrupted")
    cutoff = now - app_settings.QUEUED_STALE_AFTER
    stale = list(
        ConsentConfirmation.objects.filter(status=ConfirmationStatus.QUEUED)
        .filter(Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True))
        .values_list("pk", flat=True)[: app_settings.SWEEP_BATCH_SIZE]
    )
    if stale:
        ConsentConfirmation.objects.filter(pk__in=stale).update(enqueued_at=now)
        for pk in stale:
            transaction.on_commit(lambda pk=pk: _publish(pk))
    return stale


def send_queued(now: datetime | None = None) -> int:
    """Inline mode (no Celery; the sweep run by cron): send the queued confirmations here.
    The claim in :func:`send_confirmation` keeps each to one send whoever else tries; a
    transient failure leaves it queued for a later sweep. Returns how many were sent."""
    from oscar_recovery.sending.send import TransientSendError

    ids = list(
        ConsentConfirmation.objects.filter(status=ConfirmationStatus.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)[: app_settings.SWEEP_BATCH_SIZE]
    )
    sent = 0
    for pk in ids:
        # A transient failure leaves it queued for a later sweep.
        with contextlib.suppress(TransientSendError):
            sent += send_confirmation(pk, now) == ConfirmationStatus.SENT
    return sent


# -- sending ------------------------------------------------------------------------------


def why_not_send(confirmation: ConsentConfirmation) -> str | None:
    """Why the confirmation email must not go out now, or None."""
    from oscar_recovery.privacy.consent import address_confirmed, latest_decision

    journey = confirmation.journey
    contact = journey.why_not_contactable()
    if contact is not None:
        return contact
    if confirmation.email_hash not in all_hashes(journey.email):
        return ADDRESS_CHANGED
    if blocked_by_suppression(journey.email):
        return SkipReason.SUPPRESSED
    decision = latest_decision(journey)
    if decision is None or not decision["consent_given"]:
        return SkipReason.CONSENT_REFUSED
    if address_confirmed(journey.email):
        return ALREADY_CONFIRMED
    return None


def send_confirmation(pk: int, now: datetime | None = None) -> str:
    """Send one queued confirmation email, once. Returns its resulting status; raises
    :class:`~oscar_recovery.sending.send.TransientSendError` (the row queued again) when
    the ESP may take it later."""
    from oscar_recovery.sending.send import TransientSendError, is_transient

    now = now or timezone.now()
    claimed = ConsentConfirmation.objects.filter(pk=pk, status=ConfirmationStatus.QUEUED).update(
        status=ConfirmationStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return ConsentConfirmation.objects.filter(pk=pk).values_list("status", flat=True).first()
    confirmation = ConsentConfirmation.objects.select_related("journey").get(pk=pk)
    reason = why_not_send(confirmation)
    if reason is not None:
        _finish(pk, ConfirmationStatus.SKIPPED, error=str(reason))
        return ConfirmationStatus.SKIPPED
    try:
        compose(confirmation.journey).send()
    except Exception as exc:
        error = redact(f"{type(exc).__name__}: {exc}")[:2000]
        if is_transient(exc) and confirmation.attempts < app_settings.SEND_MAX_RETRIES:
            _finish(pk, ConfirmationStatus.QUEUED, error=error, enqueued_at=timezone.now())
            raise TransientSendError(error) from exc
        logger.error("Consent confirmation %s failed: %s", pk, error)
        _finish(pk, ConfirmationStatus.FAILED, error=error)
        return ConfirmationStatus.FAILED
    _finish(pk, ConfirmationStatus.SENT, sent_at=now, error="")
    return ConfirmationStatus.SENT


def _finish(pk: int, status: str, **fields) -> None:
    ConsentConfirmation.objects.filter(pk=pk, status=ConfirmationStatus.SENDING).update(
        status=status, **fields
    )


def confirm_url(journey: CartJourney) -> str:
    token = confirmation_token(journey)
    return get_adapter().absolute_url(reverse("oscar_recovery:confirm-consent", args=[token]))


def compose(journey: CartJourney) -> EmailMultiAlternatives:
    """The confirmation email, in the shopper's language, with the shop's postal address
    and the one-click unsubscribe headers the recovery emails carry. No tracking."""
    from oscar_recovery.privacy.consent import notice
    from oscar_recovery.sending.content import (
        RenderedEmail,
        build_email,
        language_of,
        unsubscribe_url,
    )
    from oscar_recovery.sending.templating import inline_css

    adapter = get_adapter()
    with translation.override(language_of(journey)):
        unsubscribe = unsubscribe_url(journey.email, adapter)
        rtl = translation.get_language_bidi()
        context = {
            "language": translation.get_language(),
            "direction": "rtl" if rtl else "ltr",
            "start": "right" if rtl else "left",
            "shop": {
                "name": settings.OSCAR_SHOP_NAME,
                "url": adapter.absolute_url("/"),
                "postal_address": app_settings.POSTAL_ADDRESS,
            },
            "consent_text": notice(LawfulBasis.CONSENT).text,
            "confirm_url": confirm_url(journey),
            "unsubscribe_url": unsubscribe,
            "valid_days": max(1, app_settings.DOUBLE_OPT_IN_LINK_MAX_AGE.days),
        }
        subject = " ".join(
            render_to_string(f"{TEMPLATE_DIR}/confirm_consent_subject.txt", context).split()
        )
        context["subject"] = subject
        text = render_to_string(f"{TEMPLATE_DIR}/confirm_consent.txt", context)
        html = inline_css(render_to_string(f"{TEMPLATE_DIR}/confirm_consent.html", context))
    email = build_email(
        RenderedEmail(subject=subject, preheader="", html=html, text=text),
        subject=subject,
        to=journey.email,
        unsubscribe=unsubscribe,
    )
    email.tags = [TAG]
    # An ESP's click redirect would see (and could pre-fetch) the confirmation link.
    email.track_opens = False
    email.track_clicks = False
    return email


# -- the link -----------------------------------------------------------------------------


def confirmation_token(journey: CartJourney) -> str:
    """A salted, signed token naming the journey and its address's hash (never the address)."""
    return signing.dumps({"j": journey.pk, "h": email_hash(journey.email)}, salt=_SALT)


def check_confirmation_token(token: str) -> CartJourney:
    """The journey a confirmation link names, or :class:`InvalidConfirmLink`: tampered,
    expired, or its journey gone or no longer holding the address the link was sent to."""
    max_age = app_settings.DOUBLE_OPT_IN_LINK_MAX_AGE
    try:
        payload = signing.loads(token, salt=_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise InvalidConfirmLink(InvalidLink.EXPIRED) from exc
    except signing.BadSignature as exc:
        raise InvalidConfirmLink(InvalidLink.TAMPERED) from exc
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("j"), int)
        or not isinstance(payload.get("h"), str)
    ):
        raise InvalidConfirmLink(InvalidLink.TAMPERED)
    journey = CartJourney.objects.filter(pk=payload["j"]).first()
    if journey is None or not journey.email:
        raise InvalidConfirmLink(InvalidLink.USED_UP)
    if not any(constant_time_compare(payload["h"], h) for h in all_hashes(journey.email)):
        raise InvalidConfirmLink(InvalidLink.USED_UP)
    return journey


def confirm(journey: CartJourney, *, now: datetime | None = None) -> bool:
    """The address's owner confirmed (the POST of the link's page): record a verified
    consent on the journey, with the words the page showed. Being verified, it speaks for
    the address (see :func:`oscar_recovery.privacy.consent.latest_decision`) and lifts an
    earlier "no thanks" of the address; never an unsubscribe, bounce, complaint or erasure.
    Idempotent: returns False when the journey was already confirmed."""
    from oscar_recovery.privacy.consent import notice, record_consent

    if journey.consent_source == ConsentSource.CONFIRMED and journey.consent_given:
        return False
    now = now or timezone.now()
    with transaction.atomic():
        record_consent(
            journey,
            text=notice(LawfulBasis.CONSENT).text,
            given=True,
            source=ConsentSource.CONFIRMED,
            basis=LawfulBasis.CONSENT,
            at=now,
        )
        ConsentConfirmation.objects.filter(
            email_hash__in=all_hashes(journey.email), confirmed_at__isnull=True
        ).update(confirmed_at=now)
    return True
