"""The suppression list: addresses that unsubscribed, bounced, complained or were erased.

Addresses are stored as an HMAC-SHA256 of the normalised address, keyed with ``SECRET_KEY``.
Lookups also try ``SECRET_KEY_FALLBACKS``, so rotating the key never forgets an unsubscribe;
new entries use the current key.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from oscar_recovery.constants import SuppressionReason
from oscar_recovery.models import SuppressedAddress

_KEY_PURPOSE = b"oscar_recovery.suppression"


def normalise_email(email: str) -> str:
    """One address, one hash: case and surrounding space never make a new entry."""
    return email.strip().lower()


def _hash(email: str, secret: str) -> str:
    key = hmac.new(secret.encode(), _KEY_PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, normalise_email(email).encode(), hashlib.sha256).hexdigest()


def email_hash(email: str) -> str:
    return _hash(email, settings.SECRET_KEY)


def all_hashes(email: str) -> list[str]:
    """The address's hash under the current key and every fallback key."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [_hash(email, secret) for secret in secrets]


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
