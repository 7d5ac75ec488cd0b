"""Which campaign an abandoned journey enters, if any.

A journey is in one campaign at a time: the active campaign of highest priority whose
audience matches. A share of each campaign's journeys (``holdout_percent``) is enrolled as
holdout: tracked like the others but never emailed, so lift can be measured. The holdout
draw is a hash of campaign and journey, so it is the same however often it is asked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from oscar_recovery.constants import (
    CampaignTrigger,
    CheckoutStep,
    CustomerType,
    JourneyStatus,
    ValueTier,
)
from oscar_recovery.contacts.addresses import safe_canonical_email
from oscar_recovery.models import Campaign, CampaignEnrolment, CartJourney, raw_email_candidates
from oscar_recovery.segments import shared
from oscar_recovery.utils import percentile

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
    return percentile("holdout", campaign.pk, journey.pk) < campaign.holdout_percent


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


def enrol_journeys(journey_ids: list[int], now=None) -> list[CampaignEnrolment]:
    """Enrol newly abandoned journeys; journeys already in a campaign stay where they are."""
    now = now or timezone.now()
    campaigns = [
        c
        for c in Campaign.objects.filter(is_active=True).prefetch_related("steps")
        if c.steps.all()
    ]
    if not campaigns:
        return []
    journeys = list(
        CartJourney.objects.own_baskets()
        .filter(pk__in=journey_ids, status=JourneyStatus.ABANDONED)
        .filter(
            # A browsing shopper who has since filled a basket leaves the browse campaign
            # for a basket one: the basket is what is worth recovering now.
            Q(enrolment__isnull=True)
            | Q(num_items__gt=0, enrolment__campaign__trigger=CampaignTrigger.BROWSE_ABANDONED)
        )
        .exclude(is_bot=True)
    )
    histories = customer_histories(journeys)
    enrolled = []
    for journey in journeys:
        campaign = next((c for c in campaigns if matches(c, journey, histories[journey.pk])), None)
        if campaign is None:
            continue
        first = min(campaign.steps.all(), key=lambda step: step.position)
        abandoned_at = journey.abandoned_at or now
        try:
            with transaction.atomic():
                CampaignEnrolment.objects.filter(
                    journey=journey, campaign__trigger=CampaignTrigger.BROWSE_ABANDONED
                ).delete()
                enrolled.append(
                    CampaignEnrolment.objects.create(
                        journey=journey,
                        campaign=campaign,
                        is_holdout=in_holdout(campaign, journey),
                        enrolled_at=now,
                        next_step=first,
                        next_send_at=abandoned_at + first.delay,
                    )
                )
        except IntegrityError:  # enrolled meanwhile by a concurrent sweep
            continue
    return enrolled
