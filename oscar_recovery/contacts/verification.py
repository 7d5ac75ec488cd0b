"""Whether an address was shown to be its holder's.

Anyone can type anyone's address into a prompt or the checkout gateway. An address is
*verified* once its holder has shown it is theirs, by any of:

- a customer account with that address;
- an order placed with it;
- a confirmation from its mailbox (double opt-in), or a consent recorded by staff;
- a click on a link in one of our emails to it.

Until then it receives at most the first message of a sequence
(:func:`oscar_recovery.campaigns.dispatch.dispatch_due` holds the rest until it is
verified), so a stranger can never have a whole reminder sequence sent to someone else.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import Q
from oscar.core.loading import get_model

from oscar_recovery.constants import Channel, ConsentAction, ConsentSource
from oscar_recovery.models import (
    ConsentEvent,
    RecoveryMessage,
    email_matches_any,
    raw_email_candidates,
)
from oscar_recovery.privacy.hashing import normalise_email

Order = get_model("order", "Order")


def verified_addresses(addresses: Iterable[str]) -> set[str]:
    """The addresses among ``addresses`` (canonical) that are verified, in at most four
    queries whatever their number; each query only looks for those not yet found."""
    pending = {normalise_email(a) for a in addresses if a}
    found: set[str] = set()
    for look_up in (_with_account, _with_order, _confirmed, _clicked):
        if not pending:
            break
        hits = {normalise_email(a) for a in look_up(sorted(pending)) if a} & pending
        found |= hits
        pending -= hits
    return found


def is_verified(address: str) -> bool:
    return bool(address) and normalise_email(address) in verified_addresses([address])


def _with_account(addresses: list[str]) -> Iterable[str]:
    # Accounts keep addresses as typed: a generous look in SQL, confirmed by the caller's
    # canonical comparison.
    return (
        get_user_model()
        .objects.filter(raw_email_candidates(addresses))
        .values_list("email", flat=True)
    )


def _with_order(addresses: list[str]) -> Iterable[str]:
    rows = Order.objects.filter(
        raw_email_candidates(addresses, "guest_email", "user__email")
    ).values_list("guest_email", "user__email")
    return [address for row in rows for address in row]


def _confirmed(addresses: list[str]) -> Iterable[str]:
    verified = Q(action=ConsentAction.CONFIRMED) | Q(
        action=ConsentAction.GIVEN, source=ConsentSource.STAFF
    )
    return ConsentEvent.objects.filter(
        verified, channel=Channel.EMAIL, address__in=addresses
    ).values_list("address", flat=True)


def _clicked(addresses: list[str]) -> Iterable[str]:
    return (
        RecoveryMessage.objects.filter(email_matches_any(addresses, "to_email"))
        .filter(clicked_at__isnull=False)
        .values_list("to_email", flat=True)
    )
