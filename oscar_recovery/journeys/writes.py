"""Every write capture makes to a cart journey. Plain functions: receivers stay thin."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Case, Exists, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery import app_settings, signals
from oscar_recovery.adapter import get_adapter
from oscar_recovery.capture.snapshot import BasketSnapshot
from oscar_recovery.constants import CheckoutStep, EmailSource, JourneyEventKind
from oscar_recovery.contacts.addresses import safe_canonical_email
from oscar_recovery.journeys import followups, status, upsert
from oscar_recovery.models import CartJourney, CartJourneyEvent, email_matches
from oscar_recovery.privacy import ads_consent, consent
from oscar_recovery.privacy.consent import BLANKS as consent_blanks
from oscar_recovery.privacy.consent import FIELDS as consent_fields
from oscar_recovery.privacy.consent import email_attached

Basket = get_model("basket", "Basket")


@dataclass
class Shopper:
    """What a request tells about the shopper; every field may be unknown."""

    user: object | None = None  # an authenticated user
    visitor_id: str | None = None
    language: str = ""
    user_agent: str | None = None


def save_basket(
    basket,
    *,
    snapshot: BasketSnapshot | None,
    vouchers: list[str] | None,
    shopper: Shopper,
    now: datetime | None = None,
    email: tuple[str, str] | None = None,
    viewed: list[int] | None = None,
    restored_from: int | None = None,
    step: CheckoutStep | None = None,
    first_name: str = "",
    decision: consent.Recorded | None = None,
    ads_decision: ads_consent.Decision | None = None,
    client: str = "",
) -> int:
    """Create or update the journey of an open basket in one ``INSERT .. ON CONFLICT``
    statement (:mod:`.upsert`), plus one outbox row when something follows (:mod:`.followups`).
    Returns the journey's id.

    Only what is known is written on update: ``snapshot``/``vouchers`` None leaves them be,
    and the first visitor id and bot verdict stick. ``viewed`` (product ids, most recent
    first) replaces the journey's browsing history when given. ``restored_from`` (the journey
    whose restore link copied the lines in) is written only when this creates the journey: a
    journey the basket already had was the shopper's own. A journey linked to an open basket
    is never ended (ending detaches open baskets), so activity can always set it back to
    active.

    In the same statement: an explicit ``email`` (address, source) by the rules of
    :func:`attach_email`; the checkout ``step`` reached (:func:`record_step`'s rules) and the
    ``first_name`` typed there; a consent ``decision`` given with this request's address
    (the latest decision wins; ``client`` is the browser's rate-limit key for the double
    opt-in request that may follow). A ticked ads consent box (``ads_decision``) is
    recorded for the journey's address by the follow-ups.
    """
    now = now or timezone.now()
    adapter = get_adapter()
    user = shopper.user
    journey = CartJourney(
        basket_id=basket.id,
        **status.on_activity(now),
        created_at=now,
        basket_reached_at=now,
        visitor_id=shopper.visitor_id or adapter.new_visitor_id(),
        language=shopper.language,
        is_bot=shopper.user_agent is not None and adapter.is_bot(shopper.user_agent),
        user_id=getattr(user, "pk", None) or basket.owner_id,
        is_staff=bool(getattr(user, "is_staff", False)),
        restored_from_id=restored_from,
    )
    rules: dict[str, upsert.Rule] = dict.fromkeys(status.on_activity(now), upsert.PROPOSED)
    if snapshot is not None:
        for name, value in snapshot.as_journey_fields().items():
            setattr(journey, name, value)
            rules[name] = upsert.PROPOSED
    if vouchers is not None:
        journey.vouchers = vouchers
        rules["vouchers"] = upsert.PROPOSED
    if viewed is not None:
        journey.viewed, journey.num_viewed = viewed, len(viewed)
        rules["viewed"] = rules["num_viewed"] = upsert.PROPOSED
    if journey.user_id:
        rules["user"] = upsert.PROPOSED
    if user is not None:
        rules["is_staff"] = upsert.PROPOSED
    if shopper.language:
        rules["language"] = upsert.PROPOSED
    account_email = safe_canonical_email(getattr(user, "email", ""))
    if account_email:
        # The account email starts a user's journey; later it only fills a blank.
        journey.email, journey.email_source = account_email, EmailSource.ACCOUNT
        journey.email_captured_at = now
    address, fresh_address = _email_rules(journey, rules, email, now) if email else ("", False)
    if step is not None:
        journey.furthest_step = max(journey.furthest_step, int(step))
        setattr(journey, step.reached_at_field, now)
        rules["furthest_step"] = upsert.GREATEST
        rules[step.reached_at_field] = upsert.FIRST
    if first_name:
        journey.first_name = _first_name(first_name)
        rules["first_name"] = upsert.PROPOSED
    if decision is not None:
        for name, value in decision.fields(now).items():
            setattr(journey, name, value)
            rules[name] = upsert.PROPOSED
    # The follow-ups' outbox row commits with the journey's, or neither does.
    follows = address or decision or ads_decision
    with transaction.atomic() if follows else contextlib.nullcontext():
        row = upsert.JourneyUpsert(
            journey, rules, returning=("id", "created_at", "email", "email_captured_at")
        ).execute()
        inserted = row["created_at"] == now
        changed = bool(address) and row["email"] == address and row["email_captured_at"] == now
        if inserted:
            changed = fresh_address
        followups.record(
            row["id"],
            at=now,
            email_source=email[1] if changed else "",
            decision=decision,
            ads_decision=ads_decision,
            client=client,
        )
    return row["id"]


def _email_rules(
    journey: CartJourney, rules: dict[str, upsert.Rule], email: tuple[str, str], now: datetime
) -> tuple[str, bool]:
    """:func:`attach_email`'s rules as column rules of the upsert, and the inserted row's
    address. Returns the canonical address ("" when it cannot be attached) and whether the
    inserted row takes it (rather than the account's)."""
    address, source = safe_canonical_email(email[0]), email[1]
    if not address:
        return "", False
    fills_blank_only = source in (EmailSource.ACCOUNT, EmailSource.ORDER)
    fresh = not (fills_blank_only and journey.email) and journey.email != address
    if fresh:
        journey.email, journey.email_source, journey.email_captured_at = address, source, now
    changes = "{email} <> %s" + (" AND {email} = ''" if fills_blank_only else "")
    rules["email"] = upsert.when(changes, [address], then="%s", then_params=[address])
    rules["email_source"] = upsert.when(changes, [address], then="%s", then_params=[source])
    rules["email_captured_at"] = upsert.when(
        changes, [address], then="%s", then_params=[_datetime(now)]
    )
    # The sweep links the journey again (contacts.identity).
    rules["contact"] = upsert.when(changes, [address], then="NULL")
    # A consent given with the old address does not cover the new one (a "no thanks" stays).
    drops = changes + " AND {consent_given} = %s AND {email} <> ''"
    for name, blank in consent_blanks.items():
        rules[name] = (
            upsert.when(drops, [address, True], then="NULL")
            if blank is None
            else upsert.when(drops, [address, True], then="%s", then_params=[blank])
        )
    return address, fresh


def _datetime(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _first_name(first_name: str) -> str:
    return first_name[: CartJourney._meta.get_field("first_name").max_length]


def attach_email(
    basket_id: int, email: str, source: str, *, now: datetime | None = None
) -> CartJourney | None:
    """Attach an email to the basket's journey. A shopper's own words win: an email given at
    checkout or captured on site replaces an earlier one; an account or order email only
    fills a blank. The address is stored canonical; one that cannot be (invisible or
    look-alike characters: a spelling of someone else's mailbox) is not attached. Returns
    the journey when the email changed.

    A consent belongs to the address it was given with: when an address replaces another,
    a consent the journey held is dropped in the same statement (a "no thanks" stays: it
    can only stop email). Whatever the new address's own ledger says still counts."""
    now = now or timezone.now()
    email = safe_canonical_email(email)
    if not email:
        return None
    queryset = CartJourney.objects.filter(basket_id=basket_id).exclude(email_matches(email))
    if source in (EmailSource.ACCOUNT, EmailSource.ORDER):
        queryset = queryset.filter(email="")
    given_with_other_address = Q(consent_given=True) & ~Q(email="")
    dropped = {
        name: Case(
            When(given_with_other_address, then=Value(blank)),
            default=F(name),
            output_field=CartJourney._meta.get_field(name),
        )
        for name, blank in consent_blanks.items()
    }
    # ``contact=None``: the sweep links the journey again (contacts.identity).
    changed = queryset.update(
        email=email, email_source=source, email_captured_at=now, contact=None, **dropped
    )
    if not changed:
        return None
    journey = CartJourney.objects.get(basket_id=basket_id)
    CartJourneyEvent.objects.create(
        journey=journey,
        kind=JourneyEventKind.EMAIL_CAPTURED,
        created_at=now,
        data={"source": str(source)},
    )
    signals.email_captured.send(sender=CartJourney, journey=journey, email=email, source=source)
    return journey


def record_step(
    basket_ids: list[int],
    step: CheckoutStep,
    *,
    now: datetime | None = None,
    first_name: str = "",
) -> int:
    """Record that the shopper reached ``step``: keeps the furthest step and the first time
    each step was reached, and the ``first_name`` typed at checkout when given (the email
    greets with it; privacy export and erasure cover it with the journey). One UPDATE;
    returns how many journeys it touched."""
    now = now or timezone.now()
    field = step.reached_at_field
    fields = {}
    if first_name:
        fields["first_name"] = _first_name(first_name)
    return status.record_activity(
        CartJourney.objects.filter(basket_id__in=basket_ids),
        now=now,
        furthest_step=Greatest(F("furthest_step"), Value(int(step))),
        **{field: Coalesce(F(field), Value(now))},
        **fields,
    )


def record_basket_frozen(
    basket_id: int, frozen: bool, *, now: datetime | None = None, events: list | None = None
) -> None:
    """Oscar freezes the basket when payment is submitted and thaws it when payment fails.

    ``events`` ((frozen, when) pairs, oldest first, each a change from the one before) are
    the request's freezes and thaws when there were several (a payment that failed at
    once); by default the one change to ``frozen`` at ``now``. Two statements: the journey,
    then its events."""
    now = now or timezone.now()
    events = events or [(frozen, now)]
    journeys = CartJourney.objects.filter(basket_id=basket_id)
    if len(events) == 1:  # several: a freeze and a thaw, whatever the state now
        journeys = journeys.exclude(basket_frozen=frozen)
    with transaction.atomic():
        if not status.record_activity(journeys, now=now, basket_frozen=frozen):
            return
        # The journey's id as a subquery: no statement of its own.
        journey_id = CartJourney.objects.filter(basket_id=basket_id).values("pk")[:1]
        CartJourneyEvent.objects.bulk_create(
            CartJourneyEvent(
                journey_id=journey_id,
                kind=JourneyEventKind.BASKET_FROZEN if was else JourneyEventKind.BASKET_THAWED,
                created_at=at,
            )
            for was, at in events
        )


def merge_baskets(slave_id: int, master, *, now: datetime | None = None) -> None:
    """Oscar merged basket ``slave_id`` (a guest's) into ``master`` (usually on login).

    One journey continues and none is duplicated: when the master basket has no journey the
    guest's journey simply moves to it; otherwise the master's journey takes over the
    guest's progress and the guest's journey ends as merged, kept for history. Nothing is
    written when ``master`` no longer exists.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # Never point a journey at a basket that is gone: in the caller's transaction a
        # deferred foreign key would only fail at its commit, breaking the shop's own code.
        if not Basket.objects.filter(pk=master.id).exists():
            return
        journeys = {
            j.basket_id: j
            for j in CartJourney.objects.select_for_update().filter(
                basket_id__in=[slave_id, master.id]
            )
        }
        guest = journeys.get(slave_id)
        if guest is None or guest.is_ended:
            return
        continuing = journeys.get(master.id)
        if continuing is None:
            guest.basket_id = master.id
            if master.owner_id and master.owner_id != guest.user_id:
                guest.user_id, guest.contact_id = master.owner_id, None
            status.reactivate(guest, now=now)
            guest.save()
            CartJourneyEvent.objects.create(
                journey=guest,
                kind=JourneyEventKind.MOVED_ON_LOGIN,
                created_at=now,
                data={"from_basket": slave_id},
            )
            return
        _take_over(continuing, guest)
        status.reactivate(continuing, now=now)
        continuing.save()
        status.merge_into(guest, continuing, now=now, from_basket=slave_id)


def _take_over(continuing: CartJourney, guest: CartJourney) -> None:
    """Carry the guest's checkout progress and identity over to the continuing journey."""
    continuing.furthest_step = max(continuing.furthest_step, guest.furthest_step)
    for step in CheckoutStep:
        mine, theirs = continuing.step_reached_at(step), guest.step_reached_at(step)
        if theirs and (mine is None or theirs < mine):
            setattr(continuing, step.reached_at_field, theirs)
    # The guest's browser is the one that just logged in.
    continuing.visitor_id = guest.visitor_id or continuing.visitor_id
    continuing.is_bot = continuing.is_bot or guest.is_bot
    if not continuing.email and guest.email:
        continuing.contact_id = None  # linked again by the sweep
        continuing.email = guest.email
        continuing.email_source = guest.email_source
        continuing.email_captured_at = guest.email_captured_at
    continuing.created_at = min(continuing.created_at, guest.created_at)
    # The shopper's latest word on reminders (a "no thanks" given as a guest) goes along.
    if guest.consent_at and (not continuing.consent_at or guest.consent_at > continuing.consent_at):
        for name in consent_fields:
            setattr(continuing, name, getattr(guest, name))
        if continuing.email:
            email_attached(continuing, continuing.email)
    # What the guest viewed is what this browser viewed, newest first.
    if guest.viewed:
        viewed = list(dict.fromkeys([*guest.viewed, *continuing.viewed]))
        viewed = viewed[: app_settings.BROWSE_VIEWED_LIMIT]
        continuing.viewed, continuing.num_viewed = viewed, len(viewed)


def end_with_order(
    order,
    *,
    now: datetime | None = None,
    frozen_at: datetime | None = None,
    step: CheckoutStep | None = None,
) -> int:
    """An order was placed: the journey of its basket ends as converted at once, in one
    UPDATE, and what follows is recorded in the outbox (:func:`.followups.record_order`):
    two statements in the shop's checkout. Returns how many journeys ended (0 or 1).

    The same UPDATE fills what the order tells (the user, an address where the journey had
    none), unlinks the contact (the sweep links the journey again and refreshes its facts),
    detaches a basket the checkout left open (the next items start a new journey) and keeps
    what the request noted before the order: the basket frozen at ``frozen_at`` and the
    checkout ``step`` reached. The follow-ups write the events, end restored copies and send
    ``journey_ended`` (attribution decides recovered vs converted there).
    """
    now = now or timezone.now()
    with transaction.atomic():  # the journey's end and its follow-ups, or neither
        ended = _end_with_order(order, now, frozen_at, step)
        followups.record_order(order, at=now, frozen_at=frozen_at)
    return ended


def _end_with_order(order, now: datetime, frozen_at, step) -> int:
    ended = 0
    if order.basket_id:
        fields: dict[str, object] = {"last_activity_at": now, "contact": None}
        if order.user_id:
            fields["user"] = Coalesce(F("user"), Value(order.user_id))
        email = safe_canonical_email(
            order.guest_email or (order.user.email if order.user_id else "")
        )
        if email:
            blank = Q(email="")
            fields["email"] = Case(
                When(blank, then=Value(email)),
                default=F("email"),
                output_field=CartJourney._meta.get_field("email"),
            )
            fields["email_source"] = Case(
                When(blank, then=Value(EmailSource.ORDER)), default=F("email_source")
            )
            fields["email_captured_at"] = Case(
                When(blank, then=Value(now)), default=F("email_captured_at")
            )
        left_open = Basket.objects.filter(pk=order.basket_id, status__in=Basket.editable_statuses)
        fields["basket"] = Case(
            When(Exists(left_open), then=Value(None)),
            default=F("basket"),
            output_field=CartJourney._meta.get_field("basket"),
        )
        if frozen_at is not None:
            fields["basket_frozen"] = True
        if step is not None:
            fields["furthest_step"] = Greatest(F("furthest_step"), Value(int(step)))
            fields[step.reached_at_field] = Coalesce(F(step.reached_at_field), Value(now))
        ended = status.convert_all(
            CartJourney.objects.filter(basket_id=order.basket_id), order, now=now, **fields
        )
    return ended
