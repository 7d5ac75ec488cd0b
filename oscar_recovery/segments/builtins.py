"""The built-in segments: what each selects, and the numbers the owner may change.

Each built-in is a rule (:class:`~oscar_recovery.constants.SegmentRule`) turned into
conditions of the same language as custom definitions (:mod:`.definition`), from the
segment's own ``days``, ``amount`` and ``amount_basis``; so one compiler, one time band
logic and one live count serve both. Value tiers and new/returning read the definitions
request-time targeting uses (:mod:`.shared`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oscar_recovery.constants import AmountBasis, SegmentRule, ValueTier
from oscar_recovery.models import Segment
from oscar_recovery.segments import shared

#: slug, rule, name, default days, default amount. Installed by a data migration and by
#: ``recovery_install_defaults``; the owner's later changes to the numbers are kept.
BUILTINS: tuple[tuple[str, str, str, int | None, str | None], ...] = (
    ("new-visitors", SegmentRule.NEW_VISITORS, "New visitors", None, None),
    ("returning-visitors", SegmentRule.RETURNING_VISITORS, "Returning visitors", None, None),
    ("new-customers", SegmentRule.NEW_CUSTOMERS, "New customers", None, None),
    ("returning-customers", SegmentRule.RETURNING_CUSTOMERS, "Returning customers", None, None),
    ("first-time-buyers", SegmentRule.FIRST_TIME_BUYERS, "First-time buyers", 1, None),
    ("recent-buyers", SegmentRule.RECENT_BUYERS, "Recent buyers", 90, "100.00"),
    ("lapsed-customers", SegmentRule.LAPSED_CUSTOMERS, "Lapsed customers", 180, None),
    ("value-low", SegmentRule.VALUE_LOW, "Low lifetime value", None, None),
    ("value-medium", SegmentRule.VALUE_MEDIUM, "Medium lifetime value", None, None),
    ("value-high", SegmentRule.VALUE_HIGH, "High lifetime value", None, None),
    ("abandoned-basket-2d", SegmentRule.ABANDONED_BASKET, "Abandoned a basket (2 days)", 2, None),
    ("abandoned-basket-7d", SegmentRule.ABANDONED_BASKET, "Abandoned a basket (7 days)", 7, None),
    (
        "abandoned-basket-14d",
        SegmentRule.ABANDONED_BASKET,
        "Abandoned a basket (14 days)",
        14,
        None,
    ),
    ("browsed-not-bought", SegmentRule.BROWSED_NOT_BOUGHT, "Browsed without buying", 14, None),
    # Any order in the last 30 days, whatever its value: the exclusion list of retargeting.
    ("buyers-30d", SegmentRule.RECENT_BUYERS, "Bought in the last 30 days", 30, "0.00"),
)

_TIERS = {
    SegmentRule.VALUE_LOW: ValueTier.LOW,
    SegmentRule.VALUE_MEDIUM: ValueTier.MEDIUM,
    SegmentRule.VALUE_HIGH: ValueTier.HIGH,
}


def _c(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def conditions(rule: str, days: int | None, amount: Decimal | None, basis: str) -> list | None:
    """The conditions of a built-in rule with the segment's numbers; ``None`` when the rule
    can match nobody (a value tier whose threshold is not configured)."""
    days = days if days is not None else 0
    if rule == SegmentRule.NEW_VISITORS:
        return [_c("returning_visitor", "eq", False)]
    if rule == SegmentRule.RETURNING_VISITORS:
        return [_c("returning_visitor", "eq", True)]
    if rule == SegmentRule.NEW_CUSTOMERS:
        return [_c("order_count", "eq", 0)]
    if rule == SegmentRule.RETURNING_CUSTOMERS:
        return [_c("order_count", "gte", 1)]
    if rule == SegmentRule.FIRST_TIME_BUYERS:
        # Exactly one order, placed less than ``days`` ago.
        return [_c("order_count", "eq", 1), _c("days_since_first_order", "lt", days)]
    if rule == SegmentRule.RECENT_BUYERS:
        field = "lifetime_value" if basis == AmountBasis.LIFETIME else "last_order_total"
        return [
            _c("days_since_last_order", "lt", days),
            _c(field, "gte", str(amount if amount is not None else Decimal("0"))),
        ]
    if rule == SegmentRule.LAPSED_CUSTOMERS:
        return [_c("order_count", "gte", 1), _c("days_since_last_order", "gt", days)]
    if rule in _TIERS:
        bounds = shared.tier_bounds(_TIERS[rule])
        if bounds is None:
            return None
        lower, upper = bounds
        tier = []
        if lower is not None:
            tier.append(_c("lifetime_value", "gte", str(lower)))
        if upper is not None:
            tier.append(_c("lifetime_value", "lt", str(upper)))
        return tier or [_c("lifetime_value", "gte", "-9999999999.99")]
    if rule == SegmentRule.ABANDONED_BASKET:
        # A basket touched less than ``days`` ago, and no order since.
        return [
            _c("days_since_last_basket_activity", "lt", days),
            _c("ordered_since_basket", "eq", False),
        ]
    if rule == SegmentRule.BROWSED_NOT_BOUGHT:
        # Seen less than ``days`` ago, never ordered, no basket in that time.
        return [
            _c("days_since_last_seen", "lt", days),
            _c("order_count", "eq", 0),
            _c("days_since_last_basket_activity", "gte", days),
        ]
    raise ValueError(f"not a built-in rule: {rule}")


def install(segment_model=None) -> int:
    """Create the built-in segments that do not exist yet (by slug); existing ones, and the
    owner's numbers in them, are left alone. Returns how many were created. Takes the
    model from a migration's app registry, or the current one."""
    segment_model = segment_model or Segment
    existing = set(segment_model.objects.values_list("slug", flat=True))
    created = [
        segment_model(
            slug=slug,
            name=name,
            kind="builtin",
            rule=str(rule),
            definition=[],
            days=days,
            amount=Decimal(amount) if amount is not None else None,
            amount_basis=AmountBasis.LAST_ORDER.value,
        )
        for slug, rule, name, days, amount in BUILTINS
        if slug not in existing
    ]
    segment_model.objects.bulk_create(created)
    return len(created)
