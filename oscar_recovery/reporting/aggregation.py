"""Daily figures for the dashboard, recomputed from journeys, enrolments and messages.

:func:`recompute` rebuilds whole days: it deletes their rows and writes them again in one
transaction, so running it twice, or from two workers, leaves the same figures. A click or an
order can arrive days after the email, so the periodic task recomputes the last
``OSCAR_RECOVERY_STATS_RECOMPUTE_DAYS`` days each run; ``recovery_aggregate`` backfills any
range. Days are calendar days in the project's time zone (``TIME_ZONE``).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from oscar_recovery import app_settings
from oscar_recovery.campaigns.variants import CONTROL_LABEL
from oscar_recovery.constants import CheckoutStep, JourneyStatus, MessageStatus
from oscar_recovery.models import (
    CampaignEnrolment,
    CartJourney,
    DailyProductStat,
    DailyStat,
    RecoveryMessage,
)


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """The aware datetimes from the start of ``first`` to the start of the day after ``last``."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(first, time.min, tzinfo=tz),
        datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz),
    )


def local_today() -> date:
    return timezone.localdate()


def basket_journeys():
    """One journey per abandoned-or-not basket, bots included (the baskets list can show
    them): merged guest baskets live on in the journey they joined, and a restored copy
    (another browser opened a restore link, ``restored_from``) is its original's basket
    again. An original its copy's order ended (merged into that copy) stays: it is the
    basket that was abandoned and emailed."""
    merged_elsewhere = Q(status=JourneyStatus.MERGED) & ~Q(merged_into__restored_from=F("pk"))
    return CartJourney.objects.own_baskets().exclude(merged_elsewhere)


def reporting_journeys():
    """The journeys reports count as baskets (created, abandoned, funnel, products):
    :func:`basket_journeys` without bots, which are not shoppers."""
    return basket_journeys().exclude(is_bot=True)


def order_journeys():
    """The journeys that hold the orders reports count (recovered orders and revenue): each
    order once, on the journey it ended, which may be a restored copy (its original then
    ended merged into it and holds no order)."""
    return CartJourney.objects.exclude(status=JourneyStatus.MERGED).exclude(is_bot=True)


def ended_in_order(journey: str = "") -> Q:
    """The journey (``journey``: the path to it, as ``"journey__"``) ended in an order: its
    own, or that of its restored copy it ended merged into (the same basket, ordered in the
    browser the link was opened in)."""
    own = Q(**{f"{journey}order__isnull": False})
    by_copy = Q(
        **{
            f"{journey}merged_into__restored_from": F(journey.removesuffix("__") or "pk"),
            f"{journey}merged_into__order__isnull": False,
        }
    )
    return own | by_copy


def _day(field: str) -> TruncDate:
    tz = timezone.get_current_timezone()
    if not isinstance(tz, zoneinfo.ZoneInfo):  # pragma: no cover - Django always uses zoneinfo
        tz = zoneinfo.ZoneInfo(str(tz))
    return TruncDate(field, tzinfo=tz)


@dataclass
class RecomputeResult:
    days: int
    rows: int
    product_rows: int


def recompute(first: date, last: date | None = None) -> RecomputeResult:
    """Recompute every figure of the days ``first`` to ``last`` (inclusive)."""
    last = last or first
    if last < first:
        raise ValueError("last day before first day")
    start, end = day_bounds(first, last)
    rows: dict[tuple[date, str], DailyStat] = {}

    def row(day: date, key: str, **dims) -> DailyStat:
        if (day, key) not in rows:
            rows[day, key] = DailyStat(day=day, key=key, **dims)
        return rows[day, key]

    journeys = reporting_journeys()
    furthest = {
        f"furthest_{step.slug}": Count("pk", filter=~ended_in_order() & Q(furthest_step=step))
        for step in CheckoutStep
    }
    for entry in (
        journeys.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=_day("created_at"))
        .values("day")
        .annotate(created=Count("pk"), ordered=Count("pk", filter=ended_in_order()), **furthest)
    ):
        stat = row(entry.pop("day"), DailyStat.TOTAL_KEY)
        for name, value in entry.items():
            setattr(stat, name, value)

    for entry in (
        journeys.filter(abandoned_at__gte=start, abandoned_at__lt=end)
        .annotate(day=_day("abandoned_at"))
        .values("day")
        .annotate(
            abandoned=Count("pk"),
            identified=Count("pk", filter=~Q(email="")),
            abandoned_value=Sum("total"),
        )
    ):
        stat = row(entry["day"], DailyStat.TOTAL_KEY)
        stat.abandoned = entry["abandoned"]
        stat.identified = entry["identified"]
        stat.abandoned_value = entry["abandoned_value"] or Decimal("0.00")

    for entry in (
        CampaignEnrolment.objects.filter(
            enrolled_at__gte=start, enrolled_at__lt=end, journey__in=basket_journeys()
        )
        .annotate(day=_day("enrolled_at"))
        .values("day", "campaign_id")
        .annotate(
            enrolled=Count("pk", filter=Q(is_holdout=False)),
            enrolled_ordered=Count("pk", filter=Q(is_holdout=False) & ended_in_order("journey__")),
            holdout=Count("pk", filter=Q(is_holdout=True)),
            holdout_ordered=Count("pk", filter=Q(is_holdout=True) & ended_in_order("journey__")),
        )
    ):
        campaign_id = entry["campaign_id"]
        stat = row(entry["day"], f"c{campaign_id}", campaign_id=campaign_id)
        for name in ("enrolled", "enrolled_ordered", "holdout", "holdout_ordered"):
            setattr(stat, name, entry[name])

    for (day, campaign_id), count in _emailed(start, end).items():
        row(day, f"c{campaign_id}", campaign_id=campaign_id).emailed = count

    # A click or an open proves delivery, whether or not the ESP reported "delivered".
    delivered = (
        Q(delivered_at__isnull=False) | Q(opened_at__isnull=False) | Q(clicked_at__isnull=False)
    )
    for entry in (
        RecoveryMessage.objects.filter(sent_at__gte=start, sent_at__lt=end)
        .exclude(status=MessageStatus.SKIPPED)
        .annotate(day=_day("sent_at"))
        .values(
            "day",
            dim_step=F("step_id"),
            dim_campaign=F("step__campaign_id"),
            dim_label=F("variant__label"),
        )
        .annotate(
            sent=Count("pk"),
            delivered=Count("pk", filter=delivered),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            bounced=Count(
                "pk", filter=Q(status__in=(MessageStatus.BOUNCED, MessageStatus.COMPLAINED))
            ),
        )
    ):
        stat = _step_row(row, entry["day"], entry)
        for name in ("sent", "delivered", "opened", "clicked", "bounced"):
            setattr(stat, name, entry[name])

    for entry in (
        order_journeys()
        .filter(
            status=JourneyStatus.RECOVERED,
            attributed_message__isnull=False,
            ended_at__gte=start,
            ended_at__lt=end,
        )
        .annotate(day=_day("ended_at"))
        .values(
            "day",
            dim_step=F("attributed_message__step_id"),
            dim_campaign=F("attributed_message__step__campaign_id"),
            dim_label=F("attributed_message__variant__label"),
        )
        .annotate(orders=Count("pk"), revenue=Sum("order_total"))
    ):
        stat = _step_row(row, entry["day"], entry)
        stat.recovered_orders = entry["orders"]
        stat.recovered_revenue = entry["revenue"] or Decimal("0.00")

    products = _product_rows(journeys, start, end)
    now = timezone.now()
    for stat in rows.values():
        stat.computed_at = now
    with transaction.atomic():
        _serialise_writers()
        DailyStat.objects.filter(day__gte=first, day__lte=last).delete()
        DailyStat.objects.bulk_create(rows.values(), batch_size=1000)
        DailyProductStat.objects.filter(day__gte=first, day__lte=last).delete()
        DailyProductStat.objects.bulk_create(products, batch_size=1000)
    return RecomputeResult(days=(last - first).days + 1, rows=len(rows), product_rows=len(products))


#: Key of the PostgreSQL advisory lock held while daily figures are replaced.
_LOCK_KEY = 7_306_201_001


def _serialise_writers() -> None:
    """Overlapping recomputes of the same days take turns (PostgreSQL), instead of the later
    one failing on the unique (day, key) rows the earlier one is inserting. SQLite already
    serialises writing transactions."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def _emailed(start: datetime, end: datetime) -> dict[tuple[date, int], int]:
    """Journeys emailed, per day and campaign: each journey once per campaign, on the day
    of its first email sent there (skipped steps send none), if that day is in range."""
    tz = timezone.get_current_timezone()
    counts: dict[tuple[date, int], int] = {}
    for entry in (
        RecoveryMessage.objects.exclude(status=MessageStatus.SKIPPED)
        .filter(sent_at__isnull=False, journey__in=basket_journeys())
        .values("journey_id", campaign=F("step__campaign_id"))
        .annotate(first=Min("sent_at"))
        .filter(first__gte=start, first__lt=end)
        .values_list("campaign", "first")
    ):
        campaign_id, first = entry
        key = (first.astimezone(tz).date(), campaign_id)
        counts[key] = counts.get(key, 0) + 1
    return counts


def _step_row(row, day: date, entry: dict) -> DailyStat:
    campaign_id, step_id = entry["dim_campaign"], entry["dim_step"]
    label = entry["dim_label"] or CONTROL_LABEL
    return row(
        day,
        f"c{campaign_id}:s{step_id}:{label}",
        campaign_id=campaign_id,
        step_id=step_id,
        variant=label,
    )


def _product_rows(journeys, start: datetime, end: datetime) -> list[DailyProductStat]:
    # Lines are JSON snapshots; reading them here keeps the aggregation database-agnostic.
    # A day of a busy shop is some thousands of journeys.
    totals: dict[tuple[date, int | None, str], DailyProductStat] = {}
    tz = timezone.get_current_timezone()
    for abandoned_at, lines in (
        journeys.filter(abandoned_at__gte=start, abandoned_at__lt=end)
        .values_list("abandoned_at", "lines")
        .iterator(chunk_size=5000)
    ):
        day = abandoned_at.astimezone(tz).date()
        counted = set()
        for line in lines or ():
            product_id = line.get("product_id")
            title = str(line.get("title") or "")[:255]
            # Products are told apart by id; lines without one (deleted products) by title.
            key = (day, product_id, "" if product_id else title)
            stat = totals.get(key)
            if stat is None:
                stat = totals[key] = DailyProductStat(day=day, product_id=product_id, title=title)
            if key not in counted:
                stat.baskets += 1
                counted.add(key)
            stat.quantity += int(line.get("quantity") or 0)
            stat.value += Decimal(str(line.get("line_total") or "0"))
    return list(totals.values())


def recompute_recent(today: date | None = None, days: int | None = None) -> RecomputeResult:
    """What the periodic task runs: today and the days before it that late clicks, deliveries
    and orders may still change."""
    today = today or local_today()
    days = app_settings.STATS_RECOMPUTE_DAYS if days is None else days
    return recompute(today - timedelta(days=max(days, 1) - 1), today)
