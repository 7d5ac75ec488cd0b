"""What the shop's own data says about each contact, kept incrementally.

:class:`~oscar_recovery.models.ContactFacts` holds, per contact: its orders (count, first
and last date, last order's total, lifetime value, currency), its last basket activity and
the last message on each channel. The sweep refreshes only the contacts whose facts may
have changed (:func:`refresh_changed`): those whose journeys were just linked, and those
with an order placed or a message sent since its last run (read past a time watermark, by
indexed timestamps). Each refresh recomputes a contact's facts whole from the source rows,
so a refresh is never wrong by more than what happened since: no running totals to drift.

Orders are the contact's account's, and guest orders placed with one of its addresses
(matched by canonical address). Values are summed as stored: a shop selling in several
currencies gets the currency of the last order and the sum of all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery import app_settings
from oscar_recovery.constants import IdentifierKind
from oscar_recovery.models import (
    CartJourney,
    Contact,
    ContactFacts,
    ContactIdentifier,
    RecoveryMessage,
    SweepCursor,
    raw_email_candidates,
)
from oscar_recovery.privacy.hashing import normalise_email

Order = get_model("order", "Order")

_WATERMARK = "contacts.facts"
#: Orders and messages are read from a little before the watermark: a row stamped before
#: the last run but committed after it is still seen (refreshing a contact twice is free of
#: harm: its facts are recomputed whole).
_OVERLAP = timedelta(minutes=10)


def refresh(contact_ids: Iterable[int], now: datetime | None = None) -> int:
    """Recompute the facts of ``contact_ids`` from the source rows, in batches of
    ``SWEEP_BATCH_SIZE`` (five queries and one upsert per batch). Returns how many."""
    now = now or timezone.now()
    ids = sorted(set(contact_ids))
    size = app_settings.SWEEP_BATCH_SIZE
    for start in range(0, len(ids), size):
        _refresh_batch(ids[start : start + size], now)
    return len(ids)


def refresh_changed(touched: Iterable[int] = (), now: datetime | None = None) -> int:
    """Refresh the contacts in ``touched`` and those with an order placed or a message sent
    since the last run; then move the watermark to ``now``."""
    now = now or timezone.now()
    with transaction.atomic():
        mark, _ = SweepCursor.objects.select_for_update().get_or_create(name=_WATERMARK)
        since = datetime.fromtimestamp(mark.position / 1_000_000, tz=UTC) - _OVERLAP
        changed = set(touched) | _with_orders_since(since) | _with_messages_since(since)
        count = refresh(changed, now)
        mark.position = int(now.timestamp() * 1_000_000)
        mark.updated_at = now
        mark.save(update_fields=["position", "updated_at"])
    return count


def orders_condition(user_ids: Iterable[int], addresses: Iterable[str]) -> Q:
    """The one definition of a contact's orders, as a filter on Oscar's ``Order``: the
    orders of the accounts ``user_ids`` and the guest orders placed with one of the
    canonical ``addresses``. Oscar keeps guest addresses as typed, so the address part is a
    generous SQL look (:func:`~oscar_recovery.models.raw_email_candidates`); callers that
    count confirm each row's address in its canonical form."""
    who = Q(user_id__in=list(user_ids))
    addresses = list(addresses)
    if addresses:
        who |= Q(user__isnull=True) & raw_email_candidates(addresses, "guest_email")
    return who


def orders_of(contact: Contact):
    """The orders the facts of ``contact`` count (:func:`orders_condition` over its account
    and its address identifiers), as a queryset of Oscar's ``Order``."""
    addresses = ContactIdentifier.objects.filter(
        contact=contact, kind=IdentifierKind.EMAIL
    ).values_list("value", flat=True)
    users = [contact.user_id] if contact.user_id else []
    return Order.objects.filter(orders_condition(users, addresses))


def _with_orders_since(since: datetime) -> set[int]:
    rows = list(Order.objects.filter(date_placed__gt=since).values_list("user_id", "guest_email"))
    users = {str(user) for user, _ in rows if user}
    emails = {normalise_email(email) for _, email in rows if email}
    wanted = Q(kind=IdentifierKind.USER, value__in=users) | Q(
        kind=IdentifierKind.EMAIL, value__in=emails
    )
    if not users and not emails:
        return set()
    return set(ContactIdentifier.objects.filter(wanted).values_list("contact_id", flat=True))


def _with_messages_since(since: datetime) -> set[int]:
    return set(
        RecoveryMessage.objects.filter(sent_at__gt=since, journey__contact__isnull=False)
        .values_list("journey__contact_id", flat=True)
        .distinct()
    )


def _refresh_batch(ids: list[int], now: datetime) -> None:
    contacts = {c.pk: c for c in Contact.objects.filter(pk__in=ids).only("pk", "user_id")}
    emails: dict[str, set[int]] = defaultdict(set)
    users: dict[int, int] = {}
    for contact in contacts.values():
        if contact.user_id:
            users[contact.user_id] = contact.pk
    for contact_id, value in ContactIdentifier.objects.filter(
        contact_id__in=ids, kind=IdentifierKind.EMAIL
    ).values_list("contact_id", "value"):
        emails[value].add(contact_id)
    orders: dict[int, list[tuple]] = defaultdict(list)
    for number, user_id, guest_email, placed, total, currency in Order.objects.filter(
        orders_condition(users, emails)
    ).values_list("number", "user_id", "guest_email", "date_placed", "total_incl_tax", "currency"):
        owners = {users[user_id]} if user_id in users else set()
        if not user_id and guest_email:
            owners |= emails.get(normalise_email(guest_email), set())
        for owner in owners:
            orders[owner].append((placed, total, currency, number))
    baskets = dict(
        CartJourney.objects.filter(contact_id__in=ids, num_items__gt=0)
        .values("contact_id")
        .annotate(last=Max("last_activity_at"))
        .values_list("contact_id", "last")
    )
    emailed = dict(
        RecoveryMessage.objects.filter(journey__contact_id__in=ids, sent_at__isnull=False)
        .values("journey__contact_id")
        .annotate(last=Max("sent_at"))
        .values_list("journey__contact_id", "last")
    )
    rows = []
    for contact_id in contacts:
        placed = sorted(set(orders.get(contact_id, [])))
        last = placed[-1] if placed else None
        rows.append(
            ContactFacts(
                contact_id=contact_id,
                order_count=len(placed),
                first_order_at=placed[0][0] if placed else None,
                last_order_at=last[0] if last else None,
                last_order_total=last[1] if last else None,
                lifetime_value=sum((p[1] for p in placed), Decimal("0.00")),
                currency=last[2] if last else "",
                last_basket_activity_at=baskets.get(contact_id),
                last_email_at=emailed.get(contact_id),
                updated_at=now,
            )
        )
    ContactFacts.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["contact"],
        update_fields=[
            "order_count",
            "first_order_at",
            "last_order_at",
            "last_order_total",
            "lifetime_value",
            "currency",
            "last_basket_activity_at",
            "last_email_at",
            "updated_at",
        ],
    )
