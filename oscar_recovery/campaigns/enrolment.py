"""Which campaign an abandoned journey enters, if any.

A journey is in one campaign at a time: the active campaign of highest priority whose
audience matches. A share of each campaign's journeys (``holdout_percent``) is enrolled as
holdout: tracked like the others but never emailed, so lift can be measured. The holdout
draw is a hash of campaign and journey, so it is the same however often it is asked.

:func:`matches` states the audience rules for one journey; :func:`enrol_journeys` applies
the same rules set-based, one ``INSERT .. SELECT`` per campaign (:func:`audience_q`, and a
candidate SELECT per trigger kind in :data:`CANDIDATES`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_recovery.constants import (
    CampaignTrigger,
    CheckoutStep,
    CustomerType,
    EnrolmentStatus,
    JourneyStatus,
    ValueTier,
)
from oscar_recovery.contacts.addresses import safe_canonical_email
from oscar_recovery.models import (
    Campaign,
    CampaignEnrolment,
    CampaignStep,
    CartJourney,
    raw_email_candidates,
)
from oscar_recovery.segments import shared
from oscar_recovery.utils import insert_select, percentile

Order = get_model("order", "Order")


@dataclass(frozen=True)
class CustomerHistory:
    orders: int = 0
    spent: Decimal = Decimal("0")

    @property
    def tier(self) -> str:
        return shared.value_tier(self.spent)

    @property
    def is_returning(self) -> bool:
        return shared.is_returning_customer(self.orders)


def in_holdout(campaign: Campaign, journey: CartJourney) -> bool:
    return _held_out(campaign, journey.pk)


def holdout_note(percent: int) -> str:
    """The one sentence that says a campaign's holdout, wherever a campaign is created or
    shown (install command, admin, dashboard) and on the page of a journey held out: an
    owner trying the app with baskets of their own must expect some to get no email."""
    if percent <= 0:
        return _("Nothing held out: every matching journey is emailed.")
    return _(
        "Held out: no email by design, %(percent)d%% of journeys (they measure what the "
        "emails add)."
    ) % {"percent": percent}


def active_holdouts() -> list[tuple[Campaign, str]]:
    """Each active campaign that holds journeys out, with its :func:`holdout_note`."""
    campaigns = Campaign.objects.filter(is_active=True, holdout_percent__gt=0)
    return [
        (campaign, holdout_note(campaign.holdout_percent))
        for campaign in campaigns.order_by("-priority", "name")
    ]


def matches(campaign: Campaign, journey: CartJourney, history: CustomerHistory) -> bool:
    # Browse campaigns are for journeys without lines, the others for baskets: one visit,
    # one kind of email.
    browsing = campaign.trigger == CampaignTrigger.BROWSE_ABANDONED
    if browsing != (journey.num_items == 0) or (browsing and not journey.num_viewed):
        return False
    if campaign.trigger == CampaignTrigger.CHECKOUT_ABANDONED and (
        journey.furthest_step < CheckoutStep.GATEWAY
    ):
        return False
    if campaign.min_basket_value is not None and journey.total < campaign.min_basket_value:
        return False
    if campaign.max_basket_value is not None and journey.total > campaign.max_basket_value:
        return False
    if campaign.min_step is not None and journey.furthest_step < campaign.min_step:
        return False
    if campaign.exclude_staff and journey.is_staff:
        return False
    if campaign.customer_type == CustomerType.NEW and history.is_returning:
        return False
    if campaign.customer_type == CustomerType.RETURNING and not history.is_returning:
        return False
    return campaign.value_tier in (ValueTier.ANY, history.tier)


def customer_histories(journeys: list[CartJourney]) -> dict[int, CustomerHistory]:
    """Orders and spend before each journey's customer, in two aggregate queries a batch."""
    by_user = {
        row["user_id"]: row
        for row in Order.objects.filter(user_id__in={j.user_id for j in journeys if j.user_id})
        .values("user_id")
        .annotate(orders=Count("pk"), spent=Sum("total_incl_tax"))
    }
    by_email: dict[str, dict] = defaultdict(lambda: {"orders": 0, "spent": Decimal(0)})
    # Guest orders keep the address as typed: grouped by it, then by its canonical form.
    for row in (
        Order.objects.filter(raw_email_candidates([j.email for j in journeys], "guest_email"))
        .filter(user__isnull=True)
        .values("guest_email")
        .annotate(orders=Count("pk"), spent=Sum("total_incl_tax"))
    ):
        canonical = safe_canonical_email(row["guest_email"])
        if not canonical:
            continue
        entry = by_email[canonical]
        entry["orders"] += row["orders"]
        entry["spent"] += row["spent"] or 0
    histories = {}
    for journey in journeys:
        user_row = by_user.get(journey.user_id, {})
        email_row = by_email.get(safe_canonical_email(journey.email), {})
        histories[journey.pk] = CustomerHistory(
            orders=user_row.get("orders", 0) + email_row.get("orders", 0),
            spent=(user_row.get("spent") or Decimal(0)) + (email_row.get("spent") or Decimal(0)),
        )
    return histories


# --- Set-based enrolment -----------------------------------------------------------------
#
# Each active campaign, in priority order, takes its candidates in one
# ``INSERT .. SELECT .. ON CONFLICT DO NOTHING``: the one-enrolment-per-journey constraint
# leaves a journey in the first (highest-priority) campaign that selected it, and makes a
# concurrent sweep's insert of the same journey a no-op. What a campaign's SELECT is depends
# on its trigger kind (:data:`CANDIDATES`); the audience rules are WHERE clauses
# (:func:`audience_q`). The holdout draw is :func:`in_holdout` over the ids the INSERT
# returns, written in one UPDATE: its hash (SHA-256) has no portable SQL spelling.


@dataclass
class EnrolContext:
    """What the candidate SELECTs of one enrolment run share: the journeys to consider, the
    clock, and the customer histories, worked out once (two aggregate queries) and only
    when a campaign asks for them."""

    journey_ids: list[int]
    now: datetime
    _histories: dict[int, CustomerHistory] | None = field(default=None, repr=False)

    def histories(self) -> dict[int, CustomerHistory]:
        """Orders and spend of the customer of each journey that may still enter a campaign.
        Oscar keeps guest addresses as typed, and a canonical address cannot be matched
        exactly in SQL (:func:`~oscar_recovery.models.raw_email_candidates`), so the
        history is counted in Python and campaigns filter on the ids it classifies."""
        if self._histories is None:
            journeys = list(
                abandonment_base(self.journey_ids).only("pk", "user_id", "email").order_by()
            )
            self._histories = customer_histories(journeys) if journeys else {}
        return self._histories


def abandonment_base(journey_ids: list[int]) -> QuerySet:
    """The journeys of ``journey_ids`` that may enter an abandonment campaign: abandoned
    baskets of their own, no bots, not in a campaign yet, or in a browse campaign while
    their basket now has items (the basket is what is worth recovering now)."""
    return (
        CartJourney.objects.own_baskets()
        .filter(pk__in=journey_ids, status=JourneyStatus.ABANDONED)
        .filter(
            Q(enrolment__isnull=True)
            | Q(num_items__gt=0, enrolment__campaign__trigger=CampaignTrigger.BROWSE_ABANDONED)
        )
        .exclude(is_bot=True)
    )


def audience_q(campaign: Campaign, context: EnrolContext) -> Q:
    """:func:`matches` as a filter on journeys: the same rules, read in SQL, with the
    customer's history (:meth:`EnrolContext.histories`) as the ids it classifies."""
    browsing = campaign.trigger == CampaignTrigger.BROWSE_ABANDONED
    rules = Q(num_items=0, num_viewed__gt=0) if browsing else ~Q(num_items=0)
    if campaign.trigger == CampaignTrigger.CHECKOUT_ABANDONED:
        rules &= Q(furthest_step__gte=CheckoutStep.GATEWAY)
    if campaign.min_basket_value is not None:
        rules &= Q(total__gte=campaign.min_basket_value)
    if campaign.max_basket_value is not None:
        rules &= Q(total__lte=campaign.max_basket_value)
    if campaign.min_step is not None:
        rules &= Q(furthest_step__gte=campaign.min_step)
    if campaign.exclude_staff:
        rules &= Q(is_staff=False)
    if campaign.customer_type != CustomerType.ANY or campaign.value_tier != ValueTier.ANY:
        rules &= Q(pk__in=[pk for pk, h in context.histories().items() if _fits(campaign, h)])
    return rules


def _fits(campaign: Campaign, history: CustomerHistory) -> bool:
    """The customer-type and value-tier rules of :func:`matches`."""
    if campaign.customer_type == CustomerType.NEW and history.is_returning:
        return False
    if campaign.customer_type == CustomerType.RETURNING and not history.is_returning:
        return False
    return campaign.value_tier in (ValueTier.ANY, history.tier)


def abandonment_candidates(campaign: Campaign, context: EnrolContext) -> QuerySet:
    """Candidates of the abandonment triggers (basket, checkout, browse): the context's
    journeys that may enter a campaign and match this one's audience."""
    return abandonment_base(context.journey_ids).filter(audience_q(campaign, context))


#: The candidate SELECT of each trigger kind: a queryset of the journeys that would enter
#: ``campaign`` now. A trigger kind added later (an order placed, a segment entered) adds
#: its own function here, over the rows it starts from.
CANDIDATES: dict[str, Callable[[Campaign, EnrolContext], QuerySet]] = {
    CampaignTrigger.BASKET_ABANDONED: abandonment_candidates,
    CampaignTrigger.CHECKOUT_ABANDONED: abandonment_candidates,
    CampaignTrigger.BROWSE_ABANDONED: abandonment_candidates,
}


def enrolment_rows(
    campaign: Campaign, first: CampaignStep, candidates: QuerySet, now: datetime
) -> QuerySet:
    """``candidates`` as the rows of their new enrolments in ``campaign``, in the order of
    :data:`ENROLMENT_COLUMNS`: active, not held out (drawn afterwards), enrolled ``now``, the
    first step due its delay after the abandonment."""
    at = Value(now, output_field=DateTimeField())
    # In id order: two sweeps inserting the same journeys wait on each other, never deadlock.
    return candidates.order_by("pk").values_list(
        "pk",
        Value(campaign.pk),
        Value(False),
        Value(EnrolmentStatus.ACTIVE),
        Value(""),
        at,
        Value(first.pk),
        ExpressionWrapper(
            Coalesce("abandoned_at", at) + Value(first.delay, output_field=DurationField()),
            output_field=DateTimeField(),
        ),
    )


#: The columns :func:`enrolment_rows` fills, by field name.
ENROLMENT_COLUMNS = (
    "journey",
    "campaign",
    "is_holdout",
    "status",
    "stop_reason",
    "enrolled_at",
    "next_step",
    "next_send_at",
)


def enrol_journeys(journey_ids: list[int], now: datetime | None = None) -> int:
    """Enrol newly abandoned journeys; journeys already in a campaign stay where they are
    (a browse enrolment gives way to a basket campaign). One ``INSERT .. SELECT`` per
    active campaign with steps, in priority order, and one UPDATE for its holdout draw.
    Safe against a concurrent sweep (the one-enrolment-per-journey constraint). Returns how
    many journeys were enrolled."""
    now = now or timezone.now()
    if not journey_ids:
        return 0
    campaigns = [
        c
        for c in Campaign.objects.filter(is_active=True).prefetch_related("steps")
        if c.steps.all()
    ]
    context = EnrolContext(list(journey_ids), now)
    enrolled = 0
    with transaction.atomic():
        for campaign in campaigns:  # Campaign's ordering: highest priority first
            enrolled += _enrol_in(campaign, context)
    return enrolled


def _enrol_in(campaign: Campaign, context: EnrolContext) -> int:
    candidates = CANDIDATES[campaign.trigger](campaign, context)
    if campaign.trigger != CampaignTrigger.BROWSE_ABANDONED:
        # A browsing shopper who has since filled a basket leaves the browse campaign.
        CampaignEnrolment.objects.filter(
            journey__in=candidates.order_by().values("pk"),
            campaign__trigger=CampaignTrigger.BROWSE_ABANDONED,
        ).delete()
    first = min(campaign.steps.all(), key=lambda step: step.position)
    rows = insert_select(
        CampaignEnrolment,
        ENROLMENT_COLUMNS,
        enrolment_rows(campaign, first, candidates, context.now),
        returning=("id", "journey"),
    )
    if campaign.holdout_percent > 0:
        held = [pk for pk, journey_id in rows if _held_out(campaign, journey_id)]
        if held:
            CampaignEnrolment.objects.filter(pk__in=held).update(is_holdout=True)
    return len(rows)


def _held_out(campaign: Campaign, journey_id: int) -> bool:
    """:func:`in_holdout` from the ids alone."""
    return percentile("holdout", campaign.pk, journey_id) < campaign.holdout_percent
