"""The suppression list: addresses that unsubscribed, bounced, complained or were erased.

Addresses are stored as an HMAC-SHA256 of the canonical address
(:func:`~oscar_recovery.contacts.addresses.canonical_email`), keyed with ``SECRET_KEY``: one
entry covers every spelling the ESP delivers to the same mailbox. Lookups also try
``SECRET_KEY_FALLBACKS``, so rotating the key never forgets an unsubscribe, and the hashes
earlier versions wrote (of ``strip().lower()`` of the address as typed); new entries use the
current key and the canonical address. Each new entry made with the address in clear is also
appended to the consent ledger (:mod:`.ledger`) as the matching email event.
"""

from __future__ import annotations

from oscar_recovery.constants import Channel, ConsentAction, ConsentSource, SuppressionReason
from oscar_recovery.models import SuppressedAddress
from oscar_recovery.privacy import ledger
from oscar_recovery.privacy.hashing import all_hashes, email_hash, normalise_email

__all__ = [
    "LEDGER_ACTIONS",
    "all_hashes",
    "email_hash",
    "is_suppressed",
    "normalise_email",
    "suppress",
    "suppress_hash",
    "unsubscribe_hash",
    "unsuppress",
]


def is_suppressed(email: str) -> bool:
    return (
        bool(email) and SuppressedAddress.objects.filter(email_hash__in=all_hashes(email)).exists()
    )


#: The ledger event each suppression reason is (a "no thanks" is a withdrawal a verified
#: consent may lift; every other reason is final).
LEDGER_ACTIONS = {
    SuppressionReason.UNSUBSCRIBED: (ConsentAction.UNSUBSCRIBED, ConsentSource.UNSUBSCRIBE_LINK),
    SuppressionReason.BOUNCED: (ConsentAction.BOUNCED, ConsentSource.PROVIDER),
    SuppressionReason.COMPLAINED: (ConsentAction.COMPLAINED, ConsentSource.PROVIDER),
    SuppressionReason.ERASED: (ConsentAction.ERASED, ConsentSource.ERASURE),
    SuppressionReason.STAFF: (ConsentAction.UNSUBSCRIBED, ConsentSource.STAFF),
    SuppressionReason.DECLINED: (ConsentAction.WITHDRAWN, ConsentSource.OTHER),
}


def suppress(
    email: str,
    reason: str = SuppressionReason.UNSUBSCRIBED,
    *,
    source: str | None = None,
    evidence: dict | None = None,
    journey_id: int | None = None,
) -> SuppressedAddress:
    """Add an address to the list; idempotent (the first reason is kept). A new entry is
    also appended to the consent ledger (``source`` overrides the reason's default)."""
    existing = SuppressedAddress.objects.filter(email_hash__in=all_hashes(email)).first()
    if existing is not None:
        return existing
    suppress_hash(email_hash(email), reason)
    action, default_source = LEDGER_ACTIONS.get(reason, LEDGER_ACTIONS[SuppressionReason.STAFF])
    ledger.record(
        Channel.EMAIL,
        # An erased address is kept in the ledger as its hash only.
        email_hash(email) if reason == SuppressionReason.ERASED else normalise_email(email),
        action,
        source=source or default_source,
        journey_id=journey_id,
        evidence=evidence,
    )
    return SuppressedAddress.objects.get(email_hash=email_hash(email))


def suppress_hash(hashed: str, reason: str = SuppressionReason.UNSUBSCRIBED) -> None:
    """Suppress by hash alone, for an unsubscribe link that outlived the journey it came
    from. Idempotent."""
    SuppressedAddress.objects.bulk_create(
        [SuppressedAddress(email_hash=hashed, reason=reason)], ignore_conflicts=True
    )


def unsubscribe_hash(hashed: str, *, language: str = "") -> bool:
    """An unsubscribe link (which knows the address by its hash only) was used: the hash is
    suppressed as unsubscribed, outranking a "no thanks" (which a confirmation may lift and
    which still lets double opt-in emails through), and the ledger records it under the
    hash once. Idempotent; returns whether the address was newly suppressed."""
    newly = not SuppressedAddress.objects.filter(email_hash=hashed).exists()
    suppress_hash(hashed, SuppressionReason.UNSUBSCRIBED)
    declined = SuppressedAddress.objects.filter(
        email_hash=hashed, reason=SuppressionReason.DECLINED
    ).update(reason=SuppressionReason.UNSUBSCRIBED)
    if newly or declined:
        ledger.record(
            Channel.EMAIL,
            hashed,
            ConsentAction.UNSUBSCRIBED,
            source=ConsentSource.UNSUBSCRIBE_LINK,
            language=language,
        )
    return newly


def unsuppress(email: str) -> int:
    """Remove an address (a shopper who explicitly opted in again). Returns rows removed."""
    deleted, _ = SuppressedAddress.objects.filter(email_hash__in=all_hashes(email)).delete()
    return deleted
