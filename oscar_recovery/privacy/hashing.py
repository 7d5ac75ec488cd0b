"""Keyed hashes of addresses: what the suppression list, confirmations and links keep
instead of an address in clear.

A hash is an HMAC-SHA256 of the canonical address
(:func:`~oscar_recovery.contacts.addresses.canonical_email`) keyed with ``SECRET_KEY``: one
hash covers every spelling the ESP delivers to the same mailbox. :func:`all_hashes` also
gives the hashes under ``SECRET_KEY_FALLBACKS`` (rotating the key never forgets an
unsubscribe) and those earlier versions wrote (of ``strip().lower()`` of the address).
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from oscar_recovery.contacts.addresses import email_spellings, safe_canonical_email

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
