"""Whether a due recovery message may still go out. Asked right before every send, because
everything can change between scheduling and sending: an order, an unsubscribe, a newer
basket, another campaign's email."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q
from oscar.core.loading import get_model

from oscar_recovery import app_settings
from oscar_recovery.constants import (
    CampaignTrigger,
    EnrolmentStatus,
    JourneyStatus,
    MessageStatus,
    SkipReason,
)
from oscar_recovery.contacts.addresses import safe_canonical_email
from oscar_recovery.models import (
    CartJourney,
    RecoveryMessage,
    SuppressedAddress,
    email_matches_any,
    raw_email_candidates,
    same_email,
)
from oscar_recovery.privacy.consent import latest_decisions, why_not_contact
from oscar_recovery.privacy.suppression import all_hashes

Order = get_model("order", "Order")

SENT_STATUSES = (
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.OPENED,
    MessageStatus.CLICKED,
)


def why_not_send(message: RecoveryMessage, now) -> SkipReason | None:
    """The first reason this message must not be sent, or None when it may go out (the
    batch form for one message: :func:`why_not_send_many`)."""
    return why_not_send_many([message], now).get(message.pk)


def why_not_send_many(messages: Sequence[RecoveryMessage], now) -> dict[int, SkipReason]:
    """The first reason each message must not be sent, by message id; a message missing
    from the result may go out.

    The messages come with ``journey`` (and its ``enrolment``) and ``step__campaign``
    loaded. Cheap checks come first, in memory; then each database check is one query for
    the whole batch (orders since, suppression, lawful basis, newer journey, cooldown), in
    the order the single-message checks were always asked, so a message gets the same reason
    whether it is checked alone or with others. Addresses are compared in their canonical
    form (:func:`~oscar_recovery.contacts.addresses.canonical_email`), as
    :func:`~oscar_recovery.models.email_matches` does in the database; Oscar's order and user
    addresses, kept as typed, are canonicalised here before they are compared.
    Messages of the same batch to one address are not cooldown for each other here: the
    sender keeps that rule as it sends (:func:`oscar_recovery.sending.send.send_batch`).
    """
    reasons: dict[int, SkipReason] = {}
    pending: list[RecoveryMessage] = []
    for message in messages:
        reason = _why_not_in_memory(message)
        if reason is None:
            pending.append(message)
        else:
            reasons[message.pk] = reason
    checks = (
        _by_journey(_with_orders_since),
        _by_journey(_suppressed),
        _not_lawful,
        _by_journey(_with_newer_journey),
        lambda batch: _recently_emailed(batch, now),
    )
    for check in checks:
        if not pending:
            break
        found = check(pending)
        for message in pending:
            if message.pk in found:
                reasons[message.pk] = found[message.pk]
        pending = [m for m in pending if m.pk not in found]
    return reasons


def _by_journey(check):
    """A check of journeys (reasons by journey id) as a check of messages."""

    def by_message(messages: list[RecoveryMessage]) -> dict[int, SkipReason]:
        found = check([m.journey for m in messages])
        return {m.pk: found[m.journey.pk] for m in messages if m.journey.pk in found}

    return by_message


def _why_not_in_memory(message: RecoveryMessage) -> SkipReason | None:
    journey = message.journey
    if journey.is_ended:
        return SkipReason.JOURNEY_ENDED
    enrolment = getattr(journey, "enrolment", None)
    # A completed enrolment has dispatched its last step, which may still be going out.
    if enrolment is not None and enrolment.status in (
        EnrolmentStatus.STOPPED,
        EnrolmentStatus.PAUSED,
    ):
        return SkipReason.ENROLMENT_STOPPED
    contact = journey.why_not_contactable()
    if contact is not None:
        return contact
    if message.step.campaign.trigger == CampaignTrigger.BROWSE_ABANDONED:
        if journey.num_items:
            return SkipReason.BASKET_STARTED
        if not journey.num_viewed:
            return SkipReason.NOTHING_VIEWED
    elif journey.num_items == 0:
        return SkipReason.BASKET_EMPTY
    return None


def _key(email: str | None) -> str:
    """The address to compare: canonical, ``""`` for none (which equals nothing)."""
    return safe_canonical_email(email)


def _ordered_by(email: str, guest_email: str | None, user_email: str | None) -> bool:
    """Whether an order's address (as Oscar keeps it: as typed) is the canonical ``email``."""
    return same_email(guest_email, email) or same_email(user_email, email)


def _with_orders_since(journeys: list[CartJourney]) -> dict[int, SkipReason]:
    """:func:`order_placed_since` for many journeys, in one query."""
    who = raw_email_candidates([j.email for j in journeys], "guest_email", "user__email")
    baskets = {j.basket_id for j in journeys if j.basket_id}
    users = {j.user_id for j in journeys if j.user_id}
    if baskets:
        who |= Q(basket_id__in=baskets)
    if users:
        who |= Q(user_id__in=users)
    if not who:
        return {}
    orders = list(
        Order.objects.filter(who, date_placed__gte=min(j.created_at for j in journeys)).values_list(
            "basket_id", "user_id", "guest_email", "user__email", "date_placed"
        )
    )
    found = {}
    for journey in journeys:
        email = _key(journey.email)
        for basket_id, user_id, guest_email, user_email, placed in orders:
            if placed < journey.created_at:
                continue
            if (
                (journey.basket_id and basket_id == journey.basket_id)
                or (journey.user_id and user_id == journey.user_id)
                or _ordered_by(email, guest_email, user_email)
            ):
                found[journey.pk] = SkipReason.ORDER_PLACED
                break
    return found


def _suppressed(journeys: list[CartJourney]) -> dict[int, SkipReason]:
    hashes = {j.pk: set(all_hashes(j.email)) for j in journeys if j.email}
    wanted = set().union(*hashes.values()) if hashes else set()
    if not wanted:
        return {}
    listed = set(
        SuppressedAddress.objects.filter(email_hash__in=wanted).values_list("email_hash", flat=True)
    )
    return {pk: SkipReason.SUPPRESSED for pk, own in hashes.items() if own & listed}


def _not_lawful(messages: list[RecoveryMessage]) -> dict[int, SkipReason]:
    journeys = [m.journey for m in messages]
    decisions = latest_decisions(journeys)
    found = {}
    for message in messages:
        reason = why_not_contact(message.journey, decision=decisions.get(message.journey.pk))
        if reason is not None:
            found[message.pk] = reason
    return found


def _with_newer_journey(journeys: list[CartJourney]) -> dict[int, SkipReason]:
    """:func:`newer_journey_exists` for many journeys, in one query."""
    shoppers = [j for j in journeys if j.user_id or j.visitor_id]
    if not shoppers:
        return {}
    same_shopper = Q()
    users = {j.user_id for j in shoppers if j.user_id}
    visitors = {j.visitor_id for j in shoppers if j.visitor_id}
    if users:
        same_shopper |= Q(user_id__in=users)
    if visitors:
        same_shopper |= Q(visitor_id__in=visitors)
    rows = list(
        CartJourney.objects.filter(email_matches_any([j.email for j in shoppers]))
        .filter(same_shopper, created_at__gt=min(j.created_at for j in shoppers), num_items__gt=0)
        .exclude(status=JourneyStatus.MERGED)
        .values_list("pk", "email", "user_id", "visitor_id", "created_at")
    )
    found = {}
    for journey in shoppers:
        email = _key(journey.email)
        for pk, other_email, user_id, visitor_id, created_at in rows:
            if (
                pk == journey.pk
                or created_at <= journey.created_at
                or not email
                or _key(other_email) != email
            ):
                continue
            if (journey.user_id and user_id == journey.user_id) or (
                journey.visitor_id and visitor_id == journey.visitor_id
            ):
                found[journey.pk] = SkipReason.NEWER_JOURNEY
                break
    return found


def _recently_emailed(messages: list[RecoveryMessage], now) -> dict[int, SkipReason]:
    """:func:`recently_emailed` for many messages' addresses, in one query."""
    since = now - app_settings.ADDRESS_COOLDOWN
    rows = list(
        RecoveryMessage.objects.filter(
            email_matches_any([m.journey.email for m in messages], "to_email")
        )
        .filter(status__in=SENT_STATUSES, sent_at__gte=since)
        .values_list("pk", "to_email")
    )
    found = {}
    for message in messages:
        email = _key(message.journey.email)
        if email and any(pk != message.pk and _key(to) == email for pk, to in rows):
            found[message.pk] = SkipReason.COOLDOWN
    return found


def order_placed_since(journey: CartJourney) -> bool:
    """Any order for this basket, this address or this user since the journey began."""
    return journey.pk in _with_orders_since([journey])


def newer_journey_exists(journey: CartJourney) -> bool:
    """Only the newest journey per shopper is pursued: a newer journey with the address
    counts only when it is the same shopper's, by the same account or the same browser
    (visitor id). Anyone can type an address into their own basket; were any newer journey
    of the address to count, a stranger could silence the owner's own reminder. Nor
    does a confirmed address make it the same shopper: the owner may confirm the link a
    stranger's basket triggered. Two journeys of one address from unrelated browsers are
    both pursued; ``ADDRESS_COOLDOWN`` still keeps the address to one email per window."""
    same_shopper = Q()
    if journey.user_id:
        same_shopper |= Q(user_id=journey.user_id)
    if journey.visitor_id:
        same_shopper |= Q(visitor_id=journey.visitor_id)
    if not same_shopper:
        return False
    return (
        CartJourney.objects.for_email(journey.email)
        .filter(same_shopper, created_at__gt=journey.created_at, num_items__gt=0)
        .exclude(pk=journey.pk)
        .exclude(status=JourneyStatus.MERGED)
        .exists()
    )


def recently_emailed(email: str, now, *, exclude: int | None = None) -> bool:
    since = now - app_settings.ADDRESS_COOLDOWN
    return (
        RecoveryMessage.objects.for_email(email)
        .filter(status__in=SENT_STATUSES, sent_at__gte=since)
        .exclude(pk=exclude)
        .exists()
    )
