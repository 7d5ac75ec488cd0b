"""The suppression list: addresses that unsubscribed, bounced, complained or were erased.

Addresses are stored as an HMAC-SHA256 of the canonical address
(:func:`~oscar_recovery.contacts.addresses.canonical_email`), keyed with ``SECRET_KEY``: one
entry covers every spelling the ESP delivers to the same mailbox. Lookups also try
``SECRET_KEY_FALLBACKS``, so rotating the key never forgets an unsubscribe, and the hashes
earlier versions wrote (of ``strip().lower()`` of the address as typed); new entries use the
current key and the canonical address.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from oscar_recovery.constants import SuppressionReason
from oscar_recovery.contacts.addresses import email_spellings, safe_canonical_email
from oscar_recovery.models import SuppressedAddress

_KEY_PURPOSE = b"oscar_recovery.suppression"


def normalise_email(email: str) -> str:
    """One mailbox, one hash: the canonical address; for something that cannot be made
    canonical (an old row), the form earlier versions hashed."""
    return safe_canonical_email(email) or _legacy(email)


def _legacy(email: str) -> str:
    return (email or "").strip().lower()


def _hash(normalised: str, secret: str) -> str:
    key = hmac.new(secret.encode(), _KEY_PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


def email_hash(email: str) -> str:
    """The hash new entries, tokens and records use: of the canonical address."""
    return _hash(normalise_email(email), settings.SECRET_KEY)


def all_hashes(email: str) -> list[str]:
    """Every hash an entry for this mailbox may have been written under: the canonical
    address's and the forms earlier versions hashed (``strip().lower()`` of the address as
    given, and of its U-label spelling), each under the current and every fallback key."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    canonical = safe_canonical_email(email)
    forms = [normalise_email(email), _legacy(email)]
    if canonical:
        forms += [_legacy(spelling) for spelling in email_spellings(canonical)]
    return [_hash(form, secret) for form in dict.fromkeys(forms) for secret in secrets]


def is_suppressed(email: str) -> bool:
    return (
        bool(email) and SuppressedAddress.objects.filter(email_hash__in=all_hashes(email)).exists()
    )


def suppress(email: str, reason: str = SuppressionReason.UNSUBSCRIBED) -> SuppressedAddress:
    """Add an address to the list; idempotent (the first reason is kept)."""
    existing = SuppressedAddress.objects.filter(email_hash__in=all_hashes(email)).first()
    if existing is not None:
        return existing
    suppress_hash(email_hash(email), reason)
    return SuppressedAddress.objects.get(email_hash=email_hash(email))


def suppress_hash(hashed: str, reason: str = SuppressionReason.UNSUBSCRIBED) -> None:
    """Suppress by hash alone, for an unsubscribe link that outlived the journey it came
    from. Idempotent."""
    SuppressedAddress.objects.bulk_create(
        [SuppressedAddress(email_hash=hashed, reason=reason)], ignore_conflicts=True
    )


def unsuppress(email: str) -> int:
    """Remove an address (a shopper who explicitly opted in again). Returns rows removed."""
    deleted, _ = SuppressedAddress.objects.filter(email_hash__in=all_hashes(email)).delete()
    return deleted
