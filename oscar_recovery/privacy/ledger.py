"""The consent ledger: every consent event per channel and address, and the state derived
from them.

Contract:

- **Append-only.** :func:`record` inserts one :class:`~oscar_recovery.models.ConsentEvent`
  (one statement) and never updates an earlier one; erasure blanks personal fields only.
- **A consent belongs to its address.** Events are keyed by channel and the *canonical*
  address (or number, or push endpoint) they were given with. Changing the address on a
  journey or contact never carries a consent over; merging contacts never moves one.
- **State is derived** by :func:`fold` over an address's events, oldest first:
  a final action (unsubscribed, bounced, complained, STOP, erased) suppresses the address
  for good; a withdrawal ("no thanks") holds until a *verified* consent (confirmed from the
  mailbox, or recorded by staff) follows it; an unverified consent (typed where anyone
  could type the address) gives ``GIVEN``, which speaks for its own journey and browser
  only (see :mod:`oscar_recovery.privacy.consent`).
- The suppression list and the journeys' consent decisions feed the ledger
  (:mod:`.consent`, :mod:`.suppression`, :mod:`.confirmation`); the suppression list stays
  the check that outlives erasure (it keeps only a hash).
- **Known by hash.** An email event recorded where only the address's keyed hash is known
  (an unsubscribe link that outlived its journey, an erasure) is stored under the hash and
  counts for the address all the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from oscar_recovery.constants import Channel, ConsentAction, ConsentSource, ConsentStatus
from oscar_recovery.models import ConsentEvent
from oscar_recovery.privacy.hashing import email_hash

#: Sources whose consent speaks for the address, not only for the journey it was given on.
VERIFIED_SOURCES = (ConsentSource.STAFF, ConsentSource.CONFIRMED)


def record(
    channel: str,
    address: str,
    action: str,
    *,
    source: str,
    contact_id: int | None = None,
    journey_id: int | None = None,
    visitor_id: str = "",
    basis: str = "",
    wording: str = "",
    language: str = "",
    evidence: dict | None = None,
    at: datetime | None = None,
) -> ConsentEvent:
    """Append one event to the ledger. ``address`` must already be canonical (or empty for
    a decision given before any address was known)."""
    return ConsentEvent.objects.create(
        channel=channel,
        address=address or "",
        action=action,
        source=source,
        contact_id=contact_id,
        journey_id=journey_id,
        visitor_id=visitor_id or "",
        basis=basis or "",
        wording=wording or "",
        language=language or "",
        evidence=evidence or {},
        occurred_at=at or timezone.now(),
    )


@dataclass(frozen=True)
class State:
    """An address's consent on one channel, as its ledger says now."""

    status: str = ConsentStatus.UNKNOWN
    #: The lawful basis of the consent in force (given or confirmed), if any.
    basis: str = ""
    #: The newest event that decided the status (None: never asked), and when it happened.
    event_id: int | None = None
    at: datetime | None = None

    @property
    def refused(self) -> bool:
        return self.status in (ConsentStatus.WITHDRAWN, ConsentStatus.SUPPRESSED)

    @property
    def verified(self) -> bool:
        return self.status == ConsentStatus.CONFIRMED


def is_verified_consent(action: str, source: str) -> bool:
    """Whether an event is a consent that speaks for its address."""
    return action == ConsentAction.CONFIRMED or (
        action == ConsentAction.GIVEN and source in VERIFIED_SOURCES
    )


def fold(events: Iterable) -> State:
    """The state after ``events`` (objects, or dicts with ``action``, ``source``, ``basis``,
    ``pk`` and ``occurred_at``), oldest first. The one definition of the rules in the module
    docstring; the batch and single look-ups both use it."""
    state = State()
    for event in events:
        get = event.get if isinstance(event, dict) else lambda name, e=event: getattr(e, name)
        action, source, pk, at = get("action"), get("source"), get("pk"), get("occurred_at")
        if state.status == ConsentStatus.SUPPRESSED:
            break
        if action in ConsentAction.final():
            state = State(ConsentStatus.SUPPRESSED, "", pk, at)
        elif action == ConsentAction.WITHDRAWN:
            state = State(ConsentStatus.WITHDRAWN, "", pk, at)
        elif is_verified_consent(action, source):
            state = State(ConsentStatus.CONFIRMED, get("basis") or state.basis, pk, at)
        elif action == ConsentAction.GIVEN and state.status in (
            ConsentStatus.UNKNOWN,
            ConsentStatus.GIVEN,
        ):
            state = State(ConsentStatus.GIVEN, get("basis") or "", pk, at)
    return state


_FIELDS = ("pk", "address", "action", "source", "basis", "occurred_at")


def states(channel: str, addresses: Iterable[str]) -> dict[str, State]:
    """The state of each address on ``channel``, in one query (addresses canonical).
    Addresses without events map to ``State()``."""
    wanted = list(dict.fromkeys(a for a in addresses if a))
    if not wanted:
        return {}
    by_address: dict[str, list[dict]] = {address: [] for address in wanted}
    aliases = {address: address for address in wanted}
    if channel == Channel.EMAIL:
        aliases.update({email_hash(address): address for address in wanted})
    rows = (
        ConsentEvent.objects.filter(channel=channel, address__in=list(aliases))
        .order_by("occurred_at", "pk")
        .values(*_FIELDS)
    )
    for row in rows:
        by_address[aliases[row["address"]]].append(row)
    return {address: fold(events) for address, events in by_address.items()}


def state(channel: str, address: str) -> State:
    """The state of one address on ``channel`` (one query; none for no address)."""
    return states(channel, [address]).get(address, State())


def email_state(address: str) -> State:
    return state(Channel.EMAIL, address)
