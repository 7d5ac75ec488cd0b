"""Keyed hashes of addresses: what the suppression list, confirmations and links keep
instead of an address in clear.

A hash is an HMAC-SHA256 of the normalised address keyed with ``SECRET_KEY``;
:func:`all_hashes` also gives the hashes under ``SECRET_KEY_FALLBACKS``, so rotating the key
never forgets an unsubscribe.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

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
