"""What staff read about contacts: the searchable list and one contact's whole story.

Plain functions over the models, for the dashboard's customer pages (the views only render
them). Every list on a contact's page is capped at :data:`SECTION_LIMIT` rows, newest
first, with the total counted, so a contact with years of history still opens fast.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import F, Q, QuerySet

from oscar_recovery.constants import Channel, ContactStatus, IdentifierKind
from oscar_recovery.contacts.facts import orders_of
from oscar_recovery.contacts.identity import addresses_of
from oscar_recovery.models import (
    CartJourney,
    ConsentEvent,
    Contact,
    ContactIdentifier,
    ContactMerge,
    RecoveryMessage,
)
from oscar_recovery.privacy import ledger
from oscar_recovery.privacy.hashing import all_hashes, normalise_email

_HASH = re.compile(r"[0-9a-f]{64}")
#: Rows shown per section of a contact's page (the newest); the page says how many more.
SECTION_LIMIT = 50


def canonical_address(value: str) -> str:
    """An address in the form contacts store it (lowercase, trimmed)."""
    return normalise_email(value)


def search(queryset: QuerySet, term: str) -> QuerySet:
    """Contacts of ``queryset`` matching ``term``: a part of their address, an address any
    of their identifiers holds (exactly, in canonical form), or their uuid."""
    term = term.strip()
    if not term:
        return queryset
    address = canonical_address(term)
    by_identifier = ContactIdentifier.objects.filter(
        kind=IdentifierKind.EMAIL, value=address
    ).values("contact_id")
    condition = Q(email__contains=address) | Q(pk__in=by_identifier)
    with contextlib.suppress(ValueError):
        condition |= Q(uuid=uuid.UUID(term))
    return queryset.filter(condition)


def listing(
    *,
    term: str = "",
    status: str = ContactStatus.ACTIVE,
    has_account: bool | None = None,
    has_orders: bool | None = None,
) -> QuerySet:
    """The contacts list: filtered, newest seen first, with account and facts joined.
    ``status`` "" lists every status; None for a yes/no filter leaves it out."""
    queryset = Contact.objects.select_related("user", "facts")
    if status:
        queryset = queryset.filter(status=status)
    if has_account is not None:
        queryset = queryset.filter(user__isnull=not has_account)
    if has_orders is True:
        queryset = queryset.filter(facts__order_count__gt=0)
    elif has_orders is False:
        queryset = queryset.filter(Q(facts__isnull=True) | Q(facts__order_count=0))
    return search(queryset, term).order_by("-last_seen_at", "-pk")


def email_states(contacts) -> dict[int, ledger.State]:
    """The email consent state of each contact's own address, one query for all."""
    contacts = list(contacts)
    states = ledger.states(Channel.EMAIL, [c.email for c in contacts])
    return {c.pk: states.get(c.email, ledger.State()) for c in contacts}


@dataclass
class Section:
    """The newest rows of one section and how many there are in all."""

    rows: list
    total: int

    @property
    def more(self) -> int:
        return max(self.total - len(self.rows), 0)


def _section(queryset: QuerySet, rows: list | None = None) -> Section:
    rows = list(queryset[:SECTION_LIMIT]) if rows is None else rows
    total = len(rows) if len(rows) < SECTION_LIMIT else queryset.count()
    return Section(rows, total)


@dataclass
class AddressState:
    channel: str
    address: str
    state: ledger.State


@dataclass
class Merge:
    """One merge, seen from this contact: the other side (if it still exists) and what the
    merge withdrew."""

    record: ContactMerge
    other_uuid: Any
    other: Contact | None
    withdrawn: list[str] = field(default_factory=list)


@dataclass
class Profile:
    contact: Contact
    addresses: list[str]
    identifiers: list[ContactIdentifier]
    facts: Any
    journeys: Section
    messages: Section
    consent_events: Section
    consent_states: list[AddressState]
    orders: Section
    merged_in: list[Merge]
    merged_out: list[Merge]
    #: The contact's segment memberships, current first; None before segments exist.
    segments: Section | None = None


def consent_events_of(contact: Contact, addresses: list[str]) -> QuerySet:
    """The ledger's events of the contact and of its addresses (in clear or by their hash)
    and number, newest first."""
    email_keys = [key for address in addresses for key in (address, *all_hashes(address))]
    condition = Q(contact=contact) | Q(channel=Channel.EMAIL, address__in=email_keys)
    if contact.phone:
        condition |= Q(channel=Channel.SMS, address=contact.phone)
    return ConsentEvent.objects.filter(condition).order_by("-occurred_at", "-pk")


def _consent_section(contact: Contact, addresses: list[str]) -> Section:
    """The ledger section; each event gets ``shown_address``: its address in clear, also
    when the ledger holds it by its keyed hash ("" when none was known yet)."""
    by_hash = {key: address for address in addresses for key in all_hashes(address)}
    events = consent_events_of(contact, addresses)
    rows = list(events[:SECTION_LIMIT])
    for event in rows:
        event.shown_address = by_hash.get(event.address, event.address)
        # A hash of an address the contact no longer holds (erased): no one to name.
        event.hashed_only = bool(_HASH.fullmatch(event.shown_address))
    return _section(events, rows)


def _merge_rows(records, other_of) -> list[Merge]:
    records = list(records)
    others = {c.uuid: c for c in Contact.objects.filter(uuid__in=[other_of(r) for r in records])}
    rows = []
    for record in records:
        other_uuid = other_of(record)
        withdrawn = (record.details or {}).get("withdrawn") or []
        rows.append(
            Merge(
                record=record,
                other_uuid=other_uuid,
                other=others.get(other_uuid),
                withdrawn=[str(a) for a in withdrawn] if isinstance(withdrawn, list) else [],
            )
        )
    return rows


def _memberships(contact: Contact) -> Section | None:
    """The contact's segment memberships (current ones first, then by entry, newest
    first), or None when the shop has no segments model yet."""
    try:
        model = apps.get_model("oscar_recovery", "SegmentMembership")
    except LookupError:
        return None
    memberships = model.objects.filter(contact=contact).select_related("segment")
    return _section(
        memberships.order_by(F("exited_at").desc(nulls_first=True), "-entered_at", "-pk")
    )


def profile(contact: Contact) -> Profile:
    """Everything the contact's page shows (see the module docstring for the limits)."""
    addresses = addresses_of(contact)
    states = [
        AddressState(Channel.EMAIL, address, state)
        for address, state in ledger.states(Channel.EMAIL, addresses).items()
    ]
    if contact.phone:
        states.append(
            AddressState(Channel.SMS, contact.phone, ledger.state(Channel.SMS, contact.phone))
        )
    journeys = CartJourney.objects.filter(contact=contact).select_related(
        "enrolment__campaign", "order"
    )
    messages = RecoveryMessage.objects.filter(journey__contact=contact).select_related(
        "step__campaign", "variant"
    )
    merged_out = ContactMerge.objects.filter(loser_uuid=contact.uuid).select_related("winner")
    return Profile(
        contact=contact,
        addresses=addresses,
        identifiers=list(contact.identifiers.order_by("kind", "-last_seen_at")),
        facts=getattr(contact, "facts", None),
        journeys=_section(journeys.order_by("-last_activity_at", "-pk")),
        messages=_section(messages.order_by("-created_at", "-pk")),
        consent_events=_consent_section(contact, addresses),
        consent_states=states,
        orders=_section(orders_of(contact).order_by("-date_placed", "-pk")),
        merged_in=_merge_rows(contact.merges.all(), lambda r: r.loser_uuid),
        merged_out=_merge_rows(merged_out, lambda r: r.winner.uuid),
        segments=_memberships(contact),
    )
