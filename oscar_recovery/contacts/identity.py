"""Linking journeys to contacts, and merging contacts that turn out to be one person.

Run by the sweep (:func:`link_journeys`), set-based, a batch of journeys at a time, so a
shop request never pays for it: capture only records who the shopper is on the journey
(account, address, browser) and clears the journey's ``contact`` when that changes; the
next sweep links it.

The rules, in the order they are applied to each journey (oldest activity first, so the
latest identification on a browser wins it):

- **An account is a contact.** A journey with a user belongs to the user's contact
  (created on first sight). The address contact of the account's own address, if one was
  made before (the person ordered as a guest, then signed up), is merged into it. An
  address a logged-in shopper types that is not the account's is never merged on that
  word alone: anyone can type anyone's address. **Two accounts are never merged**: a
  browser shared by two accounts leads to whichever identified on it last.
- **An address is a contact** when no account holds it: a guest journey with an address
  belongs to the contact its canonical address leads to (created on first sight). Two
  address contacts of one browser are never merged either (a shared computer must not mix
  two people's consent): the browser leads to the newest.
- **A browser is not a contact.** An anonymous journey is linked to the contact its
  visitor id leads to, if any (a returning customer browsing before logging in), and
  otherwise stays unlinked until the browser identifies: then every earlier anonymous
  journey of it follows. New anonymous journeys are read once, past a
  :class:`~oscar_recovery.models.SweepCursor`, so their cost follows the new rows.

Merging (:func:`merge`) re-points the loser's journeys, identifiers and consent events to
the winner, logs a :class:`~oscar_recovery.models.ContactMerge`, marks the loser merged and
sends :data:`oscar_recovery.signals.contact_merged`. Consent never moves between addresses;
but the most restrictive one wins: when either side had withdrawn (or was suppressed) on a
channel, every address of the winner with a consent on that channel gets a withdrawal
recorded in the ledger, source "contacts merged".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from oscar_recovery import app_settings, signals
from oscar_recovery.constants import (
    Channel,
    ConsentAction,
    ConsentSource,
    ConsentStatus,
    ContactStatus,
    IdentifierKind,
    MergeReason,
)
from oscar_recovery.models import (
    CartJourney,
    ConsentEvent,
    Contact,
    ContactIdentifier,
    ContactMerge,
    SweepCursor,
)
from oscar_recovery.privacy import ledger
from oscar_recovery.privacy.hashing import normalise_email
from oscar_recovery.utils import get_logger, try_advisory_lock

logger = get_logger(__name__)


@dataclass
class LinkResult:
    journeys: int = 0
    contacts_created: int = 0
    merges: int = 0
    #: Contacts whose journeys changed: their facts need refreshing.
    touched: set[int] = field(default_factory=set)


#: The PostgreSQL advisory lock a linking batch holds: two sweeps linking the same journeys
#: at once would each make the same person's contact (the unique account constraint would
#: then fail one of them); the second one leaves the work to the next run instead.
LINK_LOCK = 7_306_201_002


def pending_journeys():
    """Journeys that identify someone (an account or an address) and are not linked yet:
    new ones, and those whose account or address changed since they were linked."""
    return CartJourney.objects.filter(contact__isnull=True).filter(
        Q(user__isnull=False) | ~Q(email="")
    )


def link_journeys(now: datetime | None = None, result: LinkResult | None = None) -> LinkResult:
    """Link every pending journey, batch by batch (``OSCAR_RECOVERY_SWEEP_BATCH_SIZE``, at
    most ``SWEEP_MAX_BATCHES`` batches per run), then the anonymous journeys of browsers
    that now lead to a contact. Each batch is one transaction."""
    now = now or timezone.now()
    result = result or LinkResult()
    size = app_settings.SWEEP_BATCH_SIZE
    for _ in range(app_settings.SWEEP_MAX_BATCHES):
        with transaction.atomic():
            if not try_advisory_lock(LINK_LOCK):
                return result  # another sweep is linking: the next run goes on
            batch = list(
                pending_journeys().order_by("last_activity_at").select_related("user")[:size]
            )
            if not batch:
                break
            _link_batch(batch, now, result)
        if len(batch) < size:
            break
    _link_anonymous(size)
    return result


_ANONYMOUS_CURSOR = "contacts.anonymous_journeys"


def _link_anonymous(size: int) -> None:
    """New anonymous journeys (past the cursor) of browsers that lead to a contact follow
    it. One batch per run at most ``SWEEP_MAX_BATCHES`` times; the cursor moves past what
    was read, linked or not."""
    for _ in range(app_settings.SWEEP_MAX_BATCHES):
        with transaction.atomic():
            if not try_advisory_lock(LINK_LOCK):
                return
            cursor, _created = SweepCursor.objects.select_for_update().get_or_create(
                name=_ANONYMOUS_CURSOR
            )
            rows = list(
                CartJourney.objects.filter(pk__gt=cursor.position)
                .order_by("pk")
                .values_list("pk", "visitor_id", "contact_id")[:size]
            )
            if not rows:
                return
            unlinked = {pk: visitor for pk, visitor, contact in rows if visitor and not contact}
            leads = dict(
                ContactIdentifier.objects.filter(
                    kind=IdentifierKind.VISITOR, value__in=set(unlinked.values())
                ).values_list("value", "contact_id")
            )
            links = {pk: leads[v] for pk, v in unlinked.items() if v in leads}
            # Only still anonymous: one identified meanwhile is linked by its own rules.
            anonymous = CartJourney.objects.filter(
                pk__in=list(links), contact__isnull=True, email="", user__isnull=True
            ).values_list("pk", flat=True)
            _set_contacts({pk: links[pk] for pk in anonymous})
            cursor.position = rows[-1][0]
            cursor.updated_at = timezone.now()
            cursor.save(update_fields=["position", "updated_at"])
        if len(rows) < size:
            return


class _Batch:
    """What one batch knows: the contacts its identifiers lead to (objects; new ones are
    saved together at the end of the batch) and the identifiers it saw."""

    def __init__(self, journeys: list[CartJourney]):
        keys = {
            IdentifierKind.USER: {str(j.user_id) for j in journeys if j.user_id},
            IdentifierKind.EMAIL: {normalise_email(j.email) for j in journeys if j.email},
            IdentifierKind.VISITOR: {j.visitor_id for j in journeys if j.visitor_id},
        }
        wanted = Q(pk__in=[])
        for kind, values in keys.items():
            if values:
                wanted |= Q(kind=kind, value__in=values)
        found = list(
            ContactIdentifier.objects.filter(wanted).values_list("kind", "value", "contact_id")
        )
        contacts = {c.pk: c for c in Contact.objects.filter(pk__in={row[2] for row in found})}
        # Journeys linked earlier may lead to contacts merged since: follow to the winner.
        for contact in list(contacts.values()):
            if contact.status == ContactStatus.MERGED and contact.merged_into_id:
                winner = Contact.objects.filter(pk=_final(contact.merged_into_id)).first()
                if winner is not None:
                    contacts[contact.pk] = contacts.setdefault(winner.pk, winner)
        self.identifiers: dict[tuple[str, str], Contact] = {
            (kind, value): contacts[contact_id]
            for kind, value, contact_id in found
            if contact_id in contacts
        }
        self.seen: dict[tuple[str, str], datetime] = {}
        self.new: list[Contact] = []
        #: Contacts whose fields the batch changed (saved at its end).
        self.changed: dict[int, Contact] = {}
        #: Contacts that turned out to be another, by ``id()``: what they became.
        self.replaced: dict[int, Contact] = {}

    def lookup(self, kind: str, value: str) -> Contact | None:
        return self.identifiers.get((kind, value)) if value else None

    def point(self, kind: str, value: str, contact: Contact, at: datetime) -> None:
        if value:
            self.identifiers[(kind, value)] = contact
            self.seen[(kind, value)] = max(at, self.seen.get((kind, value), at))

    def replace(self, loser: Contact, winner: Contact) -> None:
        for key, contact in self.identifiers.items():
            if contact is loser:
                self.identifiers[key] = winner
        self.changed.pop(loser.pk, None)
        self.replaced[id(loser)] = winner

    def resolve(self, contact: Contact) -> Contact:
        """The contact ``contact`` became (itself, unless it was merged or replaced)."""
        while id(contact) in self.replaced:
            contact = self.replaced[id(contact)]
        return contact


def _final(contact_id: int) -> int:
    """The contact a merged one ended in (merges chain when a winner is merged later)."""
    for _ in range(20):
        nxt = Contact.objects.filter(pk=contact_id).values_list("merged_into_id", flat=True)
        if not nxt or nxt[0] is None:
            return contact_id
        contact_id = nxt[0]
    return contact_id


_CONTACT_FIELDS = ["email", "first_name", "language", "first_seen_at", "last_seen_at"]


def _link_batch(journeys: list[CartJourney], now: datetime, result: LinkResult) -> None:
    """Link one batch: a handful of statements whatever its size (identifiers and contacts
    read once; new contacts, identifiers, contact updates and the journeys' links each
    written in one), plus one per merge."""
    batch = _Batch(journeys)
    chosen: list[tuple[int, Contact]] = []
    for journey in journeys:
        contact = _contact_for(journey, batch, now, result)
        chosen.append((journey.pk, contact))
        if _remember(contact, journey) and contact.pk:
            batch.changed[contact.pk] = contact
    Contact.objects.bulk_create(batch.new)
    result.contacts_created += len(batch.new)
    links = {journey_id: batch.resolve(contact).pk for journey_id, contact in chosen}
    result.touched.update(links.values())
    _save_identifiers(batch)
    _set_contacts(links)
    Contact.objects.bulk_update(list(batch.changed.values()), _CONTACT_FIELDS)
    result.journeys += len(links)
    # Anonymous journeys of the browsers just linked follow their contact.
    _set_contacts_of_visitors(
        {
            value: batch.identifiers[(kind, value)].pk
            for (kind, value) in batch.seen
            if kind == IdentifierKind.VISITOR
        }
    )


def _contact_for(journey: CartJourney, batch: _Batch, now: datetime, result: LinkResult) -> Contact:
    email = normalise_email(journey.email) if journey.email else ""
    at = journey.last_activity_at or now
    by_email = batch.lookup(IdentifierKind.EMAIL, email)
    if journey.user_id:
        contact = batch.lookup(IdentifierKind.USER, str(journey.user_id))
        if contact is None:
            contact = _new_contact(batch, result, at, user=journey.user, email=email)
        own = normalise_email(journey.user.email) if journey.user.email else ""
        if (
            email
            and email == own
            and by_email is not None
            and by_email is not contact
            and by_email.user_id is None
        ):
            if by_email.pk is None:
                # Both first seen in this batch: one contact from the start, nothing to merge.
                batch.new.remove(by_email)
                batch.replace(by_email, contact)
            else:
                if contact.pk is None:  # a merge needs its winner saved (rare)
                    contact.save()
                    batch.new.remove(contact)
                    result.contacts_created += 1
                merge(contact, by_email, MergeReason.SIGNUP, now=now, batch=batch)
                result.merges += 1
        batch.point(IdentifierKind.USER, str(journey.user_id), contact, at)
        if email == own:
            batch.point(IdentifierKind.EMAIL, email, contact, at)
    else:
        contact = by_email or _new_contact(batch, result, at, email=email)
        batch.point(IdentifierKind.EMAIL, email, contact, at)
    batch.point(IdentifierKind.VISITOR, journey.visitor_id, contact, at)
    return contact


def _new_contact(
    batch: _Batch, result: LinkResult, at: datetime, *, user=None, email=""
) -> Contact:
    """A contact seen for the first time: saved with the batch's others at its end."""
    if user is not None and getattr(user, "email", ""):
        email = normalise_email(user.email)
    contact = Contact(user=user, email=email, first_seen_at=at, last_seen_at=at, identified_at=at)
    batch.new.append(contact)
    return contact


def _remember(contact: Contact, journey: CartJourney) -> bool:
    """What the journey tells about its contact: when it was seen, its language, and a
    first name from its account (a verified source; never one typed at checkout). Returns
    whether the contact changed."""
    before = [getattr(contact, name) for name in _CONTACT_FIELDS]
    seen = journey.last_activity_at
    if seen and seen > contact.last_seen_at:
        contact.last_seen_at = seen
        contact.language = journey.language or contact.language
    if journey.created_at and journey.created_at < contact.first_seen_at:
        contact.first_seen_at = journey.created_at
    if journey.user_id and getattr(journey.user, "first_name", ""):
        contact.first_name = journey.user.first_name[:64]
    if not contact.email and journey.email and not contact.user_id:
        contact.email = normalise_email(journey.email)
    return before != [getattr(contact, name) for name in _CONTACT_FIELDS]


def _save_identifiers(batch: _Batch) -> None:
    rows = [
        ContactIdentifier(
            kind=kind, value=value, contact=batch.identifiers[(kind, value)], last_seen_at=at
        )
        for (kind, value), at in batch.seen.items()
    ]
    ContactIdentifier.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["kind", "value"],
        update_fields=["contact", "last_seen_at"],
    )


def _set_contacts(links: dict[int, int]) -> None:
    """``journey.contact = ...`` for a whole batch (journey id -> contact id)."""
    _assign("id", links)


def _set_contacts_of_visitors(leads: dict[str, int]) -> None:
    """The anonymous journeys (no account, no address, no contact) of each browser in
    ``leads`` (visitor id -> contact id) follow its contact."""
    _assign("visitor_id", leads, "AND contact_id IS NULL AND user_id IS NULL AND email = ''")


def _assign(key: str, contacts: dict, condition: str = "") -> None:
    """One UPDATE setting ``contact_id`` by a CASE on ``key``, built as plain SQL: the ORM's
    ``bulk_update`` costs far more to build for a thousand rows."""
    if not contacts:
        return
    table = connection.ops.quote_name(CartJourney._meta.db_table)
    cases = " ".join(["WHEN %s THEN %s"] * len(contacts))
    marks = ", ".join(["%s"] * len(contacts))
    params = [value for pair in contacts.items() for value in pair] + list(contacts)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET contact_id = CASE {key} {cases} END "
            f"WHERE {key} IN ({marks}) {condition}",
            params,
        )


# -- merging ---------------------------------------------------------------------------------


def merge(
    winner: Contact,
    loser: Contact,
    reason: str,
    *,
    now: datetime | None = None,
    batch: _Batch | None = None,
) -> ContactMerge:
    """Merge ``loser`` into ``winner`` (see the module docstring). Refuses to merge two
    contacts that both have an account. Call inside a transaction."""
    if winner.user_id and loser.user_id:
        raise ValueError("Two customer accounts are never merged.")
    now = now or timezone.now()
    details = {"withdrawn": _most_restrictive_consent(winner, loser, now)}
    CartJourney.objects.filter(contact=loser).update(contact=winner)
    ConsentEvent.objects.filter(contact=loser).update(contact=winner)
    ContactIdentifier.objects.filter(contact=loser).update(contact=winner)
    winner.first_seen_at = min(winner.first_seen_at, loser.first_seen_at)
    winner.last_seen_at = max(winner.last_seen_at, loser.last_seen_at)
    if not winner.email:
        winner.email = loser.email
    winner.save(update_fields=["email", "first_seen_at", "last_seen_at"])
    Contact.objects.filter(pk=loser.pk).update(
        status=ContactStatus.MERGED, merged_into=winner, user=None
    )
    loser.status, loser.merged_into_id = ContactStatus.MERGED, winner.pk
    if batch is not None:
        batch.replace(loser, winner)
    record = ContactMerge.objects.create(
        winner=winner, loser_uuid=loser.uuid, reason=reason, details=details, merged_at=now
    )
    signals.contact_merged.send_robust(
        sender=Contact, winner=winner, loser_uuid=loser.uuid, reason=reason
    )
    return record


def addresses_of(contact: Contact) -> list[str]:
    """The contact's canonical email addresses (its own and its identifiers')."""
    values = set(
        ContactIdentifier.objects.filter(contact=contact, kind=IdentifierKind.EMAIL).values_list(
            "value", flat=True
        )
    )
    if contact.email:
        values.add(contact.email)
    return sorted(values)


def _most_restrictive_consent(winner: Contact, loser: Contact, now: datetime) -> list[str]:
    """When either side refused email (a withdrawal or a suppression on any of its
    addresses), every address of both with a consent gets a withdrawal recorded. Returns
    the addresses withdrawn."""
    addresses = sorted({*addresses_of(winner), *addresses_of(loser)})
    states = ledger.states(Channel.EMAIL, addresses)
    if not any(state.refused for state in states.values()):
        return []
    withdrawn = [
        address
        for address, state in states.items()
        if state.status in (ConsentStatus.GIVEN, ConsentStatus.CONFIRMED)
    ]
    for address in withdrawn:
        ledger.record(
            Channel.EMAIL,
            address,
            ConsentAction.WITHDRAWN,
            source=ConsentSource.MERGE,
            contact_id=winner.pk,
            evidence={"merged": str(loser.uuid)},
            at=now,
        )
    return withdrawn


__all__ = [
    "LinkResult",
    "addresses_of",
    "link_journeys",
    "merge",
    "pending_journeys",
]
