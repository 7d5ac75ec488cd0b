"""Signed tokens for the links in recovery emails. They carry ids and opaque hashes only,
never an address, and they never log anyone in.

- A **restore token** names a journey (and the email that carried it) and is bound to the
  state of its basket: once the basket is merged, submitted or frozen, or the journey has
  ended, the link is used up.
- An **unsubscribe token** names an address by its suppression hash, and never expires
  (an opt-out must keep working long after the email was sent). It also carries the masked
  address (``j***@example.com``, never the whole one) and the email's language, so the page
  says whom it unsubscribes, in the shopper's language.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core import signing
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _

from oscar_recovery import app_settings
from oscar_recovery.contacts.addresses import display_email, safe_canonical_email
from oscar_recovery.models import CartJourney, RecoveryMessage
from oscar_recovery.privacy.suppression import email_hash
from oscar_recovery.utils import mask_email

_RESTORE_SALT = "oscar_recovery.restore"
_UNSUBSCRIBE_SALT = "oscar_recovery.unsubscribe"


class InvalidLink(Exception):
    """A link that cannot be honoured; ``reason`` is one of the class constants."""

    TAMPERED = "tampered"
    EXPIRED = "expired"
    USED_UP = "used_up"
    MESSAGES = {
        TAMPERED: _("This link is not valid."),
        EXPIRED: _("This link has expired."),
        USED_UP: _("This basket is no longer available."),
    }

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self) -> str:
        return str(self.MESSAGES[self.reason])


def _basket_state(journey: CartJourney) -> str:
    """Changes whenever the link must stop working (like Django's password-reset tokens)."""
    basket = journey.basket
    parts = [
        journey.pk,
        journey.is_ended,
        journey.basket_id,
        basket.status if basket else "",
        basket.date_merged.isoformat() if basket and basket.date_merged else "",
        basket.date_submitted.isoformat() if basket and basket.date_submitted else "",
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RestoreLink:
    """What a valid restore token names: the journey, and the email it came in, if any."""

    journey: CartJourney
    message_id: int | None = None


def restore_token(journey: CartJourney, message: RecoveryMessage | None = None) -> str:
    """A restore token for ``journey``; naming ``message`` lets its click be recorded."""
    payload = {"j": journey.pk, "s": _basket_state(journey)}
    if message is not None:
        payload["m"] = message.pk
    return signing.dumps(payload, salt=_RESTORE_SALT)


def check_restore_token(token: str) -> RestoreLink:
    """The journey (and message) a restore token names, or :class:`InvalidLink`."""
    max_age = app_settings.RESTORE_LINK_MAX_AGE
    try:
        payload = signing.loads(token, salt=_RESTORE_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise InvalidLink(InvalidLink.EXPIRED) from exc
    except signing.BadSignature as exc:
        raise InvalidLink(InvalidLink.TAMPERED) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("j"), int):
        raise InvalidLink(InvalidLink.TAMPERED)
    message_id = payload.get("m")
    if message_id is not None and not isinstance(message_id, int):
        raise InvalidLink(InvalidLink.TAMPERED)
    journey = CartJourney.objects.select_related("basket").filter(pk=payload["j"]).first()
    if journey is None or not constant_time_compare(str(payload.get("s")), _basket_state(journey)):
        raise InvalidLink(InvalidLink.USED_UP)
    return RestoreLink(journey=journey, message_id=message_id)


def unsubscribe_token(email: str, language: str = "") -> str:
    """A link's token naming the address's suppression hash: of its canonical form, so one
    unsubscribe covers every spelling of the mailbox. The page shows it masked, as people
    read it (the domain's U-label)."""
    shown = display_email(safe_canonical_email(email)) or email
    payload = {"h": email_hash(email), "m": mask_email(shown)}
    if language:
        payload["l"] = language
    return signing.dumps(payload, salt=_UNSUBSCRIBE_SALT)


def unsubscribe_details(token: str) -> tuple[str, str]:
    """The masked address and the language an unsubscribe token carries (``""`` for either
    when absent, as in links sent before they were added, or when the token is invalid)."""
    try:
        payload = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return "", ""
    if not isinstance(payload, dict):
        return "", ""
    masked, language = payload.get("m"), payload.get("l")
    return (
        masked if isinstance(masked, str) else "",
        language if isinstance(language, str) else "",
    )


def check_unsubscribe_token(token: str) -> str:
    """The suppression hash an unsubscribe token names, or :class:`InvalidLink`."""
    try:
        payload = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise InvalidLink(InvalidLink.TAMPERED) from exc
    hashed = payload.get("h") if isinstance(payload, dict) else None
    if not isinstance(hashed, str) or len(hashed) != 64:
        raise InvalidLink(InvalidLink.TAMPERED)
    return hashed
