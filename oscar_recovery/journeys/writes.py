"""Every write capture makes to a cart journey. Plain functions: receivers stay thin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery import app_settings, signals
from oscar_recovery.adapter import get_adapter
from oscar_recovery.capture.snapshot import BasketSnapshot
from oscar_recovery.constants import CheckoutStep, EmailSource, JourneyEventKind
from oscar_recovery.contacts.addresses import safe_canonical_email
from oscar_recovery.journeys import status
from oscar_recovery.models import CartJourney, CartJourneyEvent, email_matches
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
) -> None:
    """Create or update the journey of an open basket in one ``INSERT .. ON CONFLICT`` query.

    Only what is known is written on update: ``snapshot``/``vouchers`` None leaves them be,
    and the first visitor id and bot verdict stick. An explicit ``email`` (address, source)
    goes through :func:`attach_email`. ``viewed`` (product ids, most recent first) replaces
    the journey's browsing history when given. ``restored_from`` (the journey whose restore
    link copied the lines in) is written only when this creates the journey: a journey the
    basket already had was the shopper's own. A journey linked to an open basket is never
    ended (ending detaches open baskets), so activity can always set it back to active.
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
    update_fields = list(status.on_activity(now))
    if snapshot is not None:
        for name, value in snapshot.as_journey_fields().items():
            setattr(journey, name, value)
        update_fields += list(snapshot.as_journey_fields())
    if vouchers is not None:
        journey.vouchers = vouchers
        update_fields.append("vouchers")
    if viewed is not None:
        journey.viewed, journey.num_viewed = viewed, len(viewed)
        update_fields += ["viewed", "num_viewed"]
    if journey.user_id:
        update_fields.append("user")
    if user is not None:
        update_fields.append("is_staff")
    if shopper.language:
        update_fields.append("language")
    account_email = safe_canonical_email(getattr(user, "email", ""))
    if account_email:
        # The account email starts a user's journey; later it only fills a blank.
        journey.email, journey.email_source = account_email, EmailSource.ACCOUNT
        journey.email_captured_at = now
    CartJourney.objects.bulk_create(
        [journey],
        update_conflicts=True,
        unique_fields=["basket"],
        update_fields=update_fields,
    )
    if email:
        attach_email(basket.id, email[0], email[1], now=now)


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


def record_step(basket_ids: list[int], step: CheckoutStep, *, now: datetime | None = None) -> int:
    """Record that the shopper reached ``step``: keeps the furthest step and the first time
    each step was reached. One UPDATE; returns how many journeys it touched."""
    now = now or timezone.now()
    field = step.reached_at_field
    return status.record_activity(
        CartJourney.objects.filter(basket_id__in=basket_ids),
        now=now,
        furthest_step=Greatest(F("furthest_step"), Value(int(step))),
        **{field: Coalesce(F(field), Value(now))},
    )


def record_first_name(basket_ids: list[int], first_name: str) -> int:
    """Keep the first name typed at checkout on the baskets' journeys (the email greets
    with it; privacy export and erasure cover it with the journey). Not activity: the
    shopper's step is recorded separately. Returns how many journeys changed."""
    first_name = first_name[: CartJourney._meta.get_field("first_name").max_length]
    return (
        CartJourney.objects.filter(basket_id__in=basket_ids)
        .exclude(first_name=first_name)
        .update(first_name=first_name)
    )


def record_basket_frozen(basket_id: int, frozen: bool, *, now: datetime | None = None) -> None:
    """Oscar freezes the basket when payment is submitted and thaws it when payment fails."""
    now = now or timezone.now()
    changed = status.record_activity(
        CartJourney.objects.filter(basket_id=basket_id, basket_frozen=not frozen),
        now=now,
        basket_frozen=frozen,
    )
    if changed:
        kind = JourneyEventKind.BASKET_FROZEN if frozen else JourneyEventKind.BASKET_THAWED
        journey_id = CartJourney.objects.filter(basket_id=basket_id).values_list("pk", flat=True)
        CartJourneyEvent.objects.create(journey_id=journey_id[0], kind=kind, created_at=now)


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


def _end_restored_copies(journey: CartJourney, basket_id: int, now: datetime) -> None:
    """The ordered basket holds lines a restore link copied in (``copied_to`` on the link
    journey's "restored" event): the link's journey ends merged into this one, so its click
    is credited and it sends nothing more. Only a journey of the same address: an order by
    someone a link was forwarded to never ends the sender's journey. No identity moves; the
    order is placed."""
    if not journey.email:
        return
    restored_from = CartJourneyEvent.objects.filter(
        kind=JourneyEventKind.RESTORED, data__copied_to=basket_id
    ).values_list("journey_id", flat=True)
    copied_from = (
        CartJourney.objects.filter(pk__in=list(restored_from))
        .for_email(journey.email)
        .open()
        .exclude(pk=journey.pk)
    )
    status.merge_all_into(copied_from, journey, now=now, restored=True)


def end_with_order(order, *, now: datetime | None = None) -> CartJourney | None:
    """An order was placed for the journey's basket: the journey ends as converted at once.

    Attribution (recovered vs converted) is decided by the recovery-email machinery through
    the ``journey_ended`` signal.
    """
    now = now or timezone.now()
    if not order.basket_id:
        return None
    with transaction.atomic():
        journey = (
            CartJourney.objects.select_for_update().filter(basket_id=order.basket_id).open().first()
        )
        if journey is None:
            return None
        journey.last_activity_at = now
        if not journey.user_id and order.user_id:
            journey.user_id, journey.contact_id = order.user_id, None
        email = safe_canonical_email(
            order.guest_email or (order.user.email if order.user_id else "")
        )
        if email and not journey.email:
            journey.email, journey.email_source = email, EmailSource.ORDER
            journey.email_captured_at = now
        # The order is a fact of the contact's: the sweep links the journey again and
        # refreshes the contact's facts.
        journey.contact_id = None
        basket_status = Basket.objects.filter(pk=order.basket_id).values_list("status", flat=True)
        if basket_status and basket_status[0] in Basket.editable_statuses:
            # A checkout that leaves the basket open: the next items start a new journey.
            journey.basket = None
        status.convert(journey, order, now=now, update_fields=None)
        _end_restored_copies(journey, order.basket_id, now)
    signals.journey_ended.send(sender=CartJourney, journey=journey, order=order)
    return journey
