"""Browse abandonment: an identified shopper viewed products, added nothing, went quiet.

Such a visit becomes a cart journey without lines but with ``viewed`` products, and from
there follows the basket journeys' road (sweep, enrolment in a ``browse_abandoned``
campaign, dispatch, send-time eligibility, attribution):

- a **guest** whose email we have (captured on site) already has a journey; capture copies
  Oscar's recently-viewed cookie onto it whenever it writes the journey, so a product view
  costs no write of ours
  (:func:`oscar_recovery.capture.history.viewed_from_cookie`);
- a **signed-in shopper** needs no basket at all: the sweep reads Oscar's
  ``UserProductView`` rows and opens an abandoned journey for each visit that went quiet
  (:func:`abandon_browsing`).

One visit never gets both a browse email and a basket email: a visit is views and basket
activity less than ``ABANDON_AFTER`` apart; views that continue a journey's visit (or
precede its basket activity) never open a browse journey, and a browse journey whose
shopper starts a basket is skipped at send time (``basket_started``) or outranked by the
newer basket journey (``newer_journey``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery import app_settings, signals
from oscar_recovery.constants import EmailSource, JourneyEventKind
from oscar_recovery.journeys import status
from oscar_recovery.models import CartJourney, CartJourneyEvent, email_matches
from oscar_recovery.sweep.announce import announce
from oscar_recovery.utils import skip_locked

UserProductView = get_model("analytics", "UserProductView")
OrderLine = get_model("order", "Line")


def abandon_browsing(now: datetime | None = None) -> list[int]:
    """Open an abandoned journey for each signed-in shopper's quiet browsing visit; returns
    the new journeys' ids, already announced with ``journeys_abandoned`` (which enrols them).

    Cost: queries over the views of ``BROWSE_LOOKBACK`` only, however large Oscar's table
    has grown (it keeps every view and has no index on the date; see :func:`recent_views`).
    """
    now = now or timezone.now()
    quiet = app_settings.ABANDON_AFTER
    since = now - app_settings.BROWSE_LOOKBACK
    recent = recent_views(since)
    last_views = dict(
        recent.values("user_id")
        .annotate(last=Max("date_created"))
        .filter(last__lt=now - quiet)
        .values_list("user_id", "last")
    )
    if not last_views:
        return []
    with transaction.atomic():
        users = {
            user.pk: user
            for user in skip_locked(
                get_user_model().objects.filter(pk__in=list(last_views), is_active=True)
            ).exclude(email="")
        }
        latest_activity = dict(
            CartJourney.objects.filter(user_id__in=list(users))
            .values("user_id")
            .annotate(latest=Max("last_activity_at"))
            .values_list("user_id", "latest")
        )
        candidates = [
            pk
            for pk in users
            if latest_activity.get(pk) is None or latest_activity[pk] < last_views[pk]
        ]
        views: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        for user_id, product_id, viewed_at in (
            recent.filter(user_id__in=candidates)
            .order_by("-date_created", "-pk")
            .values_list("user_id", "product_id", "date_created")
        ):
            if latest_activity.get(user_id) is None or viewed_at > latest_activity[user_id]:
                views[user_id].append((viewed_at, product_id))
        bought = _bought(list(views))
        new = []
        for user_id, visit in views.items():
            first_view = visit[-1][0]
            latest = latest_activity.get(user_id)
            if latest is not None and first_view - latest < quiet:
                continue  # the same visit as that journey: its email (if any) covers it
            product_ids = [pk for _, pk in visit if pk not in bought[user_id]]
            product_ids = list(dict.fromkeys(product_ids))[: app_settings.BROWSE_VIEWED_LIMIT]
            if not product_ids:
                continue
            user = users[user_id]
            new.append(
                CartJourney(
                    user=user,
                    email=user.email,
                    email_source=EmailSource.ACCOUNT,
                    email_captured_at=now,
                    is_staff=user.is_staff,
                    viewed=product_ids,
                    num_viewed=len(product_ids),
                    currency=getattr(settings, "OSCAR_DEFAULT_CURRENCY", ""),
                    created_at=first_view,
                    last_activity_at=visit[0][0],
                    **status.born_abandoned(now),
                )
            )
        created = CartJourney.objects.bulk_create(new)
        ids = [journey.pk for journey in created]
        if not all(ids):  # backends that do not return ids from bulk inserts
            ids = list(
                CartJourney.objects.filter(
                    user_id__in=[j.user_id for j in new], abandoned_at=now, basket__isnull=True
                ).values_list("pk", flat=True)
            )
        CartJourneyEvent.objects.bulk_create(
            [
                CartJourneyEvent(journey_id=pk, kind=JourneyEventKind.ABANDONED, created_at=now)
                for pk in ids
            ]
        )
        if ids:
            # In the batch's transaction, like the sweep's stages: what receivers record
            # (enrolments, outbox rows) commits with the journeys or not at all.
            announce(signals.journeys_abandoned, ids, "browse_abandoned", [])
    return ids


def recent_views(since: datetime):
    """Oscar's product views since ``since``, found through the primary key: ids grow with
    time, so walking the key back from the newest row to the first older one reads only the
    recent rows, where a filter on the unindexed date would read the whole table."""
    older = (
        UserProductView.objects.filter(date_created__lt=since)
        .order_by("-pk")
        .values_list("pk", flat=True)[:1]
    )
    boundary = older[0] if older else 0
    return UserProductView.objects.filter(pk__gt=boundary, date_created__gte=since)


def _bought(user_ids: list[int]) -> dict[int, set[int]]:
    bought: dict[int, set[int]] = defaultdict(set)
    if user_ids:
        for user_id, product_id in OrderLine.objects.filter(
            order__user_id__in=user_ids, product_id__isnull=False
        ).values_list("order__user_id", "product_id"):
            bought[user_id].add(product_id)
    return bought


def end_with_order(order, *, now: datetime | None = None) -> list[CartJourney]:
    """An order by a shopper with open browse journeys ends them (their emails stop, and an
    email clicked within the attribution window is credited, through ``journey_ended``)."""
    now = now or timezone.now()
    who = Q()
    if order.user_id:
        who |= Q(user_id=order.user_id)
    email = order.guest_email or (order.user.email if order.user_id else "")
    if email:
        who |= email_matches(email)
    if not who:
        return []
    ended = []
    with transaction.atomic():
        journeys = (
            CartJourney.objects.select_for_update()
            .filter(who, num_items=0, num_viewed__gt=0, created_at__lte=order.date_placed)
            .open()
        )
        if order.basket_id:
            journeys = journeys.exclude(basket_id=order.basket_id)  # ends through the basket
        for journey in journeys:
            status.convert(journey, order, now=now)
            ended.append(journey)
    for journey in ended:
        signals.journey_ended.send(sender=CartJourney, journey=journey, order=order)
    return ended
