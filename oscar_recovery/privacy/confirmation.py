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
- **The ESP call, as for recovery emails** (:mod:`oscar_recovery.sending.esp_call`). Each
  email takes a token of the shared ``SEND_RATE`` right before its ESP call (none in time:
  the row goes back to the queue, the attempt not counted, and the task retries when a
  token is due), and the call's start is committed first (``esp_call_started_at``, only
  by the current claimant). A row its worker left "sending" is, after
  ``SENDING_STALE_AFTER``, sent again when unmarked (the ESP never saw it; at most
  ``SEND_MAX_RETRIES`` claims) and failed as interrupted when marked, never resent: a lost
  email beats a duplicate.
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

from datetime import datetime

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _

from oscar_recovery import app_settings
from oscar_recovery.adapter import get_adapter
from oscar_recovery.campaigns.translations import isolate_lines
from oscar_recovery.constants import (
    ConfirmationStatus,
    ConsentSource,
    LawfulBasis,
    SkipReason,
)
from oscar_recovery.models import CartJourney, ConsentConfirmation
from oscar_recovery.privacy.confirmation_requests import (
    blocked_by_suppression,
    client_of,  # noqa: F401 (re-exported: callers ask through this module)
    publish,
    request_confirmation,  # noqa: F401
)
from oscar_recovery.privacy.consent import (
    address_confirmed,
    latest_decision,
    notice,
    record_consent,
)
from oscar_recovery.privacy.suppression import all_hashes, email_hash
from oscar_recovery.sending import esp_call
from oscar_recovery.sending.esp_call import RateLimited, TransientSendError
from oscar_recovery.sending.tokens import InvalidLink
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

_SALT = "oscar_recovery.consent_confirmation"
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


def _stale_sending(now: datetime) -> QuerySet:
    return ConsentConfirmation.objects.filter(
        status=ConfirmationStatus.SENDING,
        claimed_at__lt=now - app_settings.SENDING_STALE_AFTER,
    )


def fail_interrupted(now: datetime | None = None) -> int:
    """The sweep's part for rows whose worker died mid-send (claimed longer than
    ``SENDING_STALE_AFTER`` ago): those whose ESP call had started are failed as
    interrupted, never resent (a lost email beats a duplicate), and so are those that never
    reached the ESP but used up ``SEND_MAX_RETRIES`` claims. Returns how many."""
    return esp_call.fail_interrupted(
        _stale_sending(now or timezone.now()), failed=ConfirmationStatus.FAILED
    )


def requeue_stale(now: datetime | None = None) -> list[int]:
    """The sweep's part for rows to send again: rows left "sending" whose ESP call never
    started (their worker died before the ESP saw them; claims left) are queued again, and
    they and the queued rows whose task never ran (broker down, task lost) are handed over
    again: to Celery after the caller's commit, or, in inline mode, left queued for
    :func:`send_queued`. Returns the ids handed over."""
    now = now or timezone.now()
    unsent = esp_call.requeue_unsent(
        _stale_sending(now),
        sending=ConfirmationStatus.SENDING,
        queued=ConfirmationStatus.QUEUED,
        enqueued_at=now,
    )
    cutoff = now - app_settings.QUEUED_STALE_AFTER
    lost = list(
        ConsentConfirmation.objects.filter(status=ConfirmationStatus.QUEUED)
        .filter(Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True))
        .values_list("pk", flat=True)[: app_settings.SWEEP_BATCH_SIZE]
    )
    if lost:
        ConsentConfirmation.objects.filter(pk__in=lost).update(enqueued_at=now)
    handed = [*unsent, *lost]
    for pk in handed:
        transaction.on_commit(lambda pk=pk: publish(pk))
    return handed


def send_queued(now: datetime | None = None) -> int:
    """Inline mode (no Celery; the sweep run by cron): send the queued confirmations here.
    The claim in :func:`send_confirmation` keeps each to one send whoever else tries; a
    transient failure leaves it queued for a later sweep, and so does a missing send-rate
    token (for it and the rest: the next would wait alike). Returns how many were sent."""
    ids = list(
        ConsentConfirmation.objects.filter(status=ConfirmationStatus.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)[: app_settings.SWEEP_BATCH_SIZE]
    )
    sent = 0
    for pk in ids:
        try:
            sent += send_confirmation(pk, now) == ConfirmationStatus.SENT
        except RateLimited:
            break
        except TransientSendError:
            continue
    return sent


# -- sending ------------------------------------------------------------------------------


def why_not_send(confirmation: ConsentConfirmation) -> str | None:
    """Why the confirmation email must not go out now, or None."""
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
    """Send one queued confirmation email, once. Returns its resulting status (the current
    one when another worker holds the row or its claim was taken back).

    Raises :class:`~oscar_recovery.sending.esp_call.TransientSendError` (the row queued
    again) when the ESP may take it later, and its subclass
    :class:`~oscar_recovery.sending.esp_call.RateLimited` (queued again, the attempt not
    counted) when no send-rate token came in time. Right before the ESP call the token is
    taken and the call's start committed (:func:`oscar_recovery.sending.esp_call.start`).
    """
    now = now or timezone.now()
    claimed = ConsentConfirmation.objects.filter(pk=pk, status=ConfirmationStatus.QUEUED).update(
        status=ConfirmationStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return _status(pk)
    confirmation = ConsentConfirmation.objects.select_related("journey").get(pk=pk)
    reason = why_not_send(confirmation)
    if reason is not None:
        _finish(confirmation, ConfirmationStatus.SKIPPED, error=str(reason))
        return ConfirmationStatus.SKIPPED
    try:
        email = compose(confirmation.journey)
    except Exception as exc:
        return _failed(confirmation, exc)
    if not esp_call.start(
        _claim_of(confirmation),
        queued=ConfirmationStatus.QUEUED,
        label=f"Consent confirmation {pk}",
    ):
        return _status(pk)  # the sweep took the claim back: another attempt owns it now
    try:
        email.send()
    except Exception as exc:
        return _failed(confirmation, exc)
    _finish(confirmation, ConfirmationStatus.SENT, sent_at=now, error="")
    return ConfirmationStatus.SENT


def _status(pk: int) -> str:
    return ConsentConfirmation.objects.filter(pk=pk).values_list("status", flat=True).first() or ""


def _failed(confirmation: ConsentConfirmation, exc: Exception) -> str:
    """Record a failed send: queued again and :class:`TransientSendError` raised (transient,
    claims left), else failed. Returns the status."""
    error = esp_call.error_text(exc)
    if esp_call.is_transient(exc) and confirmation.attempts < app_settings.SEND_MAX_RETRIES:
        # That call ended with an answer: the next one is new (no ESP mark).
        _finish(
            confirmation,
            ConfirmationStatus.QUEUED,
            error=error,
            enqueued_at=timezone.now(),
            esp_call_started_at=None,
        )
        raise TransientSendError(error) from exc
    logger.error("Consent confirmation %s failed: %s", confirmation.pk, error)
    _finish(confirmation, ConfirmationStatus.FAILED, error=error)
    return ConfirmationStatus.FAILED


def _claim_of(confirmation: ConsentConfirmation) -> QuerySet:
    """The row while this claim holds it (still sending, this claim's attempt number)."""
    return ConsentConfirmation.objects.filter(
        pk=confirmation.pk, status=ConfirmationStatus.SENDING, attempts=confirmation.attempts
    )


def _finish(confirmation: ConsentConfirmation, status: str, **fields) -> None:
    """Leave the "sending" state; only the claimant may, so a row the sweep queued again
    and another worker claimed is never overwritten by a slow worker."""
    _claim_of(confirmation).update(status=status, **fields)


def confirm_url(journey: CartJourney) -> str:
    token = confirmation_token(journey)
    return get_adapter().absolute_url(reverse("oscar_recovery:confirm-consent", args=[token]))


def compose(journey: CartJourney) -> EmailMultiAlternatives:
    """The confirmation email, in the shopper's language, with the shop's postal address
    and the one-click unsubscribe headers the recovery emails carry. No tracking."""
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
                "postal_address": isolate_lines(app_settings.POSTAL_ADDRESS, rtl),
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
