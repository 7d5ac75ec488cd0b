"""The dashboard's figures, read from the pre-aggregated daily rows (:mod:`.aggregation`).

Every report here sums :class:`~oscar_recovery.models.DailyStat` rows of a period, so its
cost follows the number of days and campaigns, not the number of journeys. Rates are None
(shown as a dash) when their denominator is zero: "no data" is not "0 %".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery import app_settings
from oscar_recovery.campaigns.variants import CONTROL_LABEL
from oscar_recovery.constants import CheckoutStep, PromptEventKind
from oscar_recovery.models import (
    Campaign,
    CampaignStep,
    DailyProductStat,
    DailyStat,
    Prompt,
    PromptEvent,
)
from oscar_recovery.prompts.figures import event_counts
from oscar_recovery.prompts.targeting import asks_email
from oscar_recovery.reporting import statistics as stats
from oscar_recovery.sending.content import display_subject

FURTHEST_FIELDS = {step: f"furthest_{step.slug}" for step in CheckoutStep}
SUMMED_FIELDS = (
    "created",
    "ordered",
    "abandoned",
    "identified",
    "abandoned_value",
    *FURTHEST_FIELDS.values(),
    "enrolled",
    "enrolled_ordered",
    "holdout",
    "holdout_ordered",
    "emailed",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "recovered_orders",
    "recovered_revenue",
)
_DECIMAL_FIELDS = {"abandoned_value", "recovered_revenue"}

#: What each figure is called wherever the dashboard shows it (tables, charts, exports): one
#: name per figure, one figure per name. "Journeys emailed" counts journeys that were sent
#: an email; the emailed group is every journey enrolled outside the holdout, emailed yet or
#: not (a step may be skipped), which is what the lift compares with the holdout.
LABELS = {
    "created": _("Baskets created"),
    "abandoned": _("Baskets abandoned"),
    "abandonment_rate": _("Abandonment rate"),
    "identified_share": _("Abandoned with an email"),
    "abandoned_value": _("Value of abandoned baskets"),
    "emailed": _("Journeys emailed"),
    "enrolled": _("Emailed group (enrolled outside the holdout)"),
    "holdout": _("Holdout (never emailed)"),
    "sent": _("Emails sent"),
    "delivered": _("Emails delivered"),
    "clicked": _("Emails clicked"),
    "click_rate": _("Click rate (of sent)"),
    "recovered_orders": _("Recovered orders"),
    "recovered_revenue": _("Recovered revenue"),
    "recovery_rate": _("Recovery rate (of abandoned)"),
    "revenue_per_email": _("Revenue per email sent"),
}
CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    # SQLite sums decimals as floats; amounts are shown and exported to the cent.
    return Decimal(str(value or 0)).quantize(CENT)


def _total(name: str, value: Any) -> Any:
    return money(value) if name in _DECIMAL_FIELDS else value or 0


@dataclass(frozen=True)
class Period:
    """Calendar days ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError("a period cannot end before it starts")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range(self.days)]


def _sums(queryset) -> dict[str, Any]:
    totals = queryset.aggregate(**{name: Sum(name) for name in SUMMED_FIELDS})
    return {name: _total(name, value) for name, value in totals.items()}


def _in(period: Period):
    return DailyStat.objects.filter(day__gte=period.start, day__lte=period.end)


@dataclass(frozen=True)
class Lift:
    """Order rate of emailed journeys minus that of the holdout, with its interval; None
    ``interval`` means there is not enough data for an honest one."""

    emailed_rate: float | None
    holdout_rate: float | None
    interval: stats.Interval | None
    confidence: float


def lift(figures: dict[str, Any]) -> Lift:
    enrolled, enrolled_ordered = figures["enrolled"], figures["enrolled_ordered"]
    holdout, holdout_ordered = figures["holdout"], figures["holdout_ordered"]
    confidence = app_settings.LIFT_CONFIDENCE
    interval = None
    if stats.enough_for_normal_approximation(
        enrolled_ordered, enrolled
    ) and stats.enough_for_normal_approximation(holdout_ordered, holdout):
        interval = stats.difference_interval(
            holdout_ordered, holdout, enrolled_ordered, enrolled, confidence
        )
    return Lift(
        emailed_rate=stats.rate(enrolled_ordered, enrolled),
        holdout_rate=stats.rate(holdout_ordered, holdout),
        interval=interval,
        confidence=confidence,
    )


def derived(figures: dict[str, Any]) -> dict[str, Any]:
    """The rates a table row or the overview shows, from summed counts."""
    sent = figures["sent"]
    return {
        "abandonment_rate": stats.rate(figures["abandoned"], figures["created"]),
        "identified_share": stats.rate(figures["identified"], figures["abandoned"]),
        "delivery_rate": stats.rate(figures["delivered"], sent),
        "open_rate": stats.rate(figures["opened"], sent),
        "click_rate": stats.rate(figures["clicked"], sent),
        "recovery_rate": stats.rate(figures["recovered_orders"], figures["abandoned"]),
        "order_rate_per_email": stats.rate(figures["recovered_orders"], sent),
        "revenue_per_email": (
            (figures["recovered_revenue"] / sent).quantize(CENT) if sent else None
        ),
    }


@dataclass
class Overview:
    period: Period
    previous: Period
    current: dict[str, Any]
    before: dict[str, Any]
    lift: Lift
    attribution_window: timedelta
    computed_at: Any = None

    def change(self, name: str) -> float | None:
        """Relative change of a figure against the previous period (None: nothing before)."""
        now, then = self.current.get(name), self.before.get(name)
        if now is None or not then:
            return None
        return float((now - then) / then)


def overview(period: Period) -> Overview:
    previous = period.previous()
    current = _sums(_in(period))
    before = _sums(_in(previous))
    current.update(derived(current))
    before.update(derived(before))
    return Overview(
        period=period,
        previous=previous,
        current=current,
        before=before,
        lift=lift(current),
        attribution_window=app_settings.ATTRIBUTION_WINDOW,
        computed_at=_in(period).aggregate(latest=Max("computed_at"))["latest"],
    )


@dataclass(frozen=True)
class FunnelStep:
    label: str
    reached: int
    #: Journeys whose furthest step this was, without an order.
    dropped: int

    @property
    def drop_rate(self) -> float | None:
        return stats.rate(self.dropped, self.reached)


def funnel(period: Period, figures: dict[str, Any] | None = None) -> list[FunnelStep]:
    """Journeys created in the period by how far through checkout they got: each step
    counts the journeys that reached it (their furthest step is it or later, or they
    ordered) and those that went no further."""
    figures = figures if figures is not None else _sums(_in(period))
    steps = []
    reached = figures["ordered"] + sum(figures[name] for name in FURTHEST_FIELDS.values())
    for step, name in FURTHEST_FIELDS.items():
        steps.append(FunnelStep(str(step.label), reached, figures[name]))
        reached -= figures[name]
    steps.append(FunnelStep(str(_("Order placed")), figures["ordered"], 0))
    return steps


#: A funnel step is ranked by its drop-off rate only once this many journeys reached it:
#: below that a rate is noise (1 of 1 is "100 %").
WORST_STEP_MIN_REACHED = 20


def worst_step(
    steps: list[FunnelStep], minimum_reached: int = WORST_STEP_MIN_REACHED
) -> FunnelStep | None:
    """The step with the highest drop-off rate (went no further / reached) among those at
    least ``minimum_reached`` journeys reached; ties go to the step that lost more shoppers,
    then to the earlier step. None when no such step lost anyone."""
    candidates = [
        (index, step)
        for index, step in enumerate(steps)
        if step.dropped and step.reached >= max(minimum_reached, 1)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda pair: (pair[1].drop_rate, pair[1].dropped, -pair[0]))[1]


def daily_series(period: Period) -> dict[str, list]:
    """Per day: abandoned baskets, recovered orders and recovered revenue (for the chart)."""
    by_day = {
        row["day"]: row
        for row in _in(period)
        .values("day")
        .annotate(
            abandoned=Sum("abandoned"),
            recovered=Sum("recovered_orders"),
            revenue=Sum("recovered_revenue"),
            sent=Sum("sent"),
        )
    }
    days = period.dates()
    return {
        "days": [day.isoformat() for day in days],
        "abandoned": [by_day.get(day, {}).get("abandoned") or 0 for day in days],
        "recovered": [by_day.get(day, {}).get("recovered") or 0 for day in days],
        "sent": [by_day.get(day, {}).get("sent") or 0 for day in days],
        "revenue": [str(by_day.get(day, {}).get("revenue") or 0) for day in days],
    }


@dataclass
class Row:
    """A table row: its label, summed counts and rates, and anything a table adds."""

    label: str
    figures: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        # Templates look ``row.label`` up as ``row["label"]`` first, as do CSV columns.
        if name == "label":
            return self.label
        if name in self.extra:
            return self.extra[name]
        return self.figures.get(name)


def _grouped(period: Period | None, group_by: str, condition: Q) -> dict[Any, dict[str, Any]]:
    queryset = DailyStat.objects.filter(condition)
    if period is not None:
        queryset = queryset.filter(day__gte=period.start, day__lte=period.end)
    grouped = {}
    for entry in queryset.values(group_by).annotate(**{name: Sum(name) for name in SUMMED_FIELDS}):
        key = entry.pop(group_by)
        figures = {name: _total(name, entry[name]) for name in SUMMED_FIELDS}
        figures.update(derived(figures))
        grouped[key] = figures
    return grouped


def campaign_rows(period: Period) -> list[Row]:
    grouped = _grouped(period, "campaign_id", Q(campaign__isnull=False))
    rows = []
    for campaign in Campaign.objects.filter(pk__in=grouped):
        figures = grouped[campaign.pk]
        rows.append(Row(campaign.name, figures, {"campaign": campaign, "lift": lift(figures)}))
    return rows


def step_rows(period: Period) -> list[Row]:
    grouped = _grouped(period, "step_id", Q(step__isnull=False))
    steps = CampaignStep.objects.filter(pk__in=grouped).select_related("campaign")
    return [
        Row(
            f"{step.campaign.name} #{step.position}",
            grouped[step.pk],
            {"step": step, "subject": display_subject(step)},
        )
        for step in sorted(steps, key=lambda step: (step.campaign.name, step.position))
    ]


@dataclass(frozen=True)
class ArmComparison:
    """One variant against the control of its step, on one outcome."""

    outcome: str
    control: tuple[int, int]
    variant: tuple[int, int]
    result: stats.ABResult
    #: The always-valid sequential test (None: too few successes or failures yet).
    sequential: stats.SequentialTest | None = None

    @property
    def control_rate(self) -> float | None:
        return stats.rate(*self.control)

    @property
    def variant_rate(self) -> float | None:
        return stats.rate(*self.variant)


@dataclass
class VariantResult:
    step: CampaignStep
    label: str
    sent: int
    clicked: int
    recovered_orders: int
    recovered_revenue: Decimal
    #: Empty for the control itself.
    comparisons: list[ArmComparison] = field(default_factory=list)


#: What an A/B test is judged on. Opens are not among them: image blocking and Apple Mail
#: Privacy Protection make them unreliable.
AB_OUTCOMES = (("clicked", _("Clicks")), ("recovered_orders", _("Recovered orders")))


def ab_results(sample_size: int | None = None) -> list[list[VariantResult]]:
    """Every step that has A/B variants, all its history: a test is judged on the whole
    sample it was planned for, whatever period the dashboard shows."""
    sample_size = app_settings.AB_SAMPLE_SIZE if sample_size is None else sample_size
    alpha = app_settings.AB_ALPHA
    arms: dict[int, dict[str, dict]] = {}
    for entry in (
        DailyStat.objects.filter(step__isnull=False)
        .values("step_id", "variant")
        .annotate(
            sent=Sum("sent"),
            clicked=Sum("clicked"),
            recovered_orders=Sum("recovered_orders"),
            recovered_revenue=Sum("recovered_revenue"),
        )
    ):
        arms.setdefault(entry["step_id"], {})[entry["variant"]] = entry
    steps = CampaignStep.objects.filter(pk__in=arms).select_related("campaign")
    tested_step_ids = set(
        CampaignStep.objects.filter(pk__in=arms, variants__isnull=False).values_list(
            "pk", flat=True
        )
    )
    results = []
    for step in sorted(steps, key=lambda step: (step.campaign.name, step.position)):
        by_label = arms[step.pk]
        if step.pk not in tested_step_ids and set(by_label) <= {CONTROL_LABEL}:
            continue
        control = by_label.get(CONTROL_LABEL, {"sent": 0, "clicked": 0, "recovered_orders": 0})
        group = []
        for label in sorted(by_label):
            entry = by_label[label]
            result = VariantResult(
                step=step,
                label=label,
                sent=entry["sent"] or 0,
                clicked=entry["clicked"] or 0,
                recovered_orders=entry["recovered_orders"] or 0,
                recovered_revenue=money(entry["recovered_revenue"]),
            )
            if label != CONTROL_LABEL:
                for outcome, outcome_label in AB_OUTCOMES:
                    pair_control = (control[outcome] or 0, control["sent"] or 0)
                    pair_variant = (entry[outcome] or 0, entry["sent"] or 0)
                    result.comparisons.append(
                        ArmComparison(
                            str(outcome_label),
                            pair_control,
                            pair_variant,
                            stats.ab_verdict(pair_control, pair_variant, sample_size, alpha),
                            stats.msprt(pair_control, pair_variant, alpha),
                        )
                    )
            group.append(result)
        results.append(group)
    return results


@dataclass(frozen=True)
class ProductRow:
    product_id: int | None
    title: str
    baskets: int
    quantity: int
    value: Decimal


def top_products(period: Period, limit: int = 50) -> list[ProductRow]:
    """Products most often left in abandoned baskets in the period."""
    queryset = DailyProductStat.objects.filter(day__gte=period.start, day__lte=period.end)
    sums = {"baskets": Sum("baskets"), "quantity": Sum("quantity"), "value": Sum("value")}
    rows = [
        ProductRow(
            entry["product_id"],
            entry["title"],
            entry["baskets"],
            entry["quantity"],
            money(entry["value"]),
        )
        for entry in queryset.filter(product_id__isnull=False)
        .values("product_id")
        .annotate(title=Max("title"), **sums)
        .order_by("-baskets", "-value")[:limit]
    ]
    rows += [
        ProductRow(None, entry["title"], entry["baskets"], entry["quantity"], money(entry["value"]))
        for entry in queryset.filter(product_id__isnull=True)
        .values("title")
        .annotate(**sums)
        .order_by("-baskets", "-value")[:limit]
    ]
    rows.sort(key=lambda row: (-row.baskets, -row.value, row.title))
    return rows[:limit]


# --- On-site prompts ------------------------------------------------------------------
#: Columns of the prompts table (the prompt models provide the figures).
PROMPT_COLUMNS = (
    ("label", _("Prompt")),
    ("shown", _("Shown")),
    ("dismissed", _("Dismissed")),
    ("captured", _("Emails captured")),
    ("capture_rate", _("Capture rate")),
    ("recovered_orders", _("Orders")),
    ("assisted_orders", _("Assisted orders")),
)


def prompt_rows(period: Period) -> list[Row]:
    """The on-site prompts table: each prompt's events in the period (days in the shop's
    time zone), one aggregate query. Read from the events themselves: a prompt has few
    events per visit, far fewer rows than journeys, and they are indexed by time."""
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(period.start, time.min), zone)
    end = timezone.make_aware(datetime.combine(period.end + timedelta(days=1), time.min), zone)
    events = PromptEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    counts = event_counts(events, "prompt_id")
    # Orders a prompt only assisted (outcomes.attribution.credit_order) are not its own.
    assisted = event_counts(
        events.filter(kind=PromptEventKind.CONVERTED, data__credit="assisted"), "prompt_id"
    )
    rows = []
    for prompt in Prompt.objects.filter(pk__in=counts).order_by("-priority", "name"):
        kinds = counts[prompt.pk]
        assisted_count = assisted.get(prompt.pk, {}).get(PromptEventKind.CONVERTED, 0)
        shown = kinds.get(PromptEventKind.SHOWN, 0)
        captured = kinds.get(PromptEventKind.SUBMITTED, 0)
        figures = {
            "shown": shown,
            "dismissed": kinds.get(PromptEventKind.DISMISSED, 0),
            "captured": captured,
            # A prompt without an email form captures nothing by design: no rate, not 0 %.
            "capture_rate": stats.rate(captured, shown) if asks_email(prompt) else None,
            "recovered_orders": kinds.get(PromptEventKind.CONVERTED, 0) - assisted_count,
            "assisted_orders": assisted_count,
        }
        rows.append(Row(prompt.name, figures, {"prompt": prompt}))
    return rows
