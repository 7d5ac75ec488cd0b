"""The condition language of segments: what a definition may say, its validation, and its
compilation to one ORM predicate over a contact and its facts.

A definition is a list of conditions, all of which must hold::

    [{"field": "order_count", "op": "gte", "value": 2},
     {"field": "days_since_last_order", "op": "lt", "value": 30}]

Only the fields and operators of :data:`FIELDS` exist; values are checked and converted
to numbers or booleans. The compiled predicate is an ORM ``Q`` whose values are query
parameters: whatever staff type into a definition never reaches SQL as text.

"Days since" fields compare a timestamp with ``now``; a contact without that timestamp
(never ordered, never had a basket) counts as infinitely long ago: it matches "more than
N days" and never "less than N days".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from oscar_recovery.segments import shared

#: Conditions a definition may hold: enough for any sensible audience, few enough to read.
MAX_CONDITIONS = 20
#: The longest window a "days since" condition may name (a hundred years).
MAX_DAYS = 36500
#: The largest amount a value condition may name.
MAX_AMOUNT = Decimal("9999999999.99")

ORDER_OPS = ("eq", "ne", "lt", "lte", "gt", "gte")
DAYS_OPS = ("lt", "lte", "gt", "gte")
BOOL_OPS = ("eq",)


@dataclass(frozen=True)
class Field:
    """A fact a condition may test: its type, its column (a path from the contact) and the
    operators it accepts."""

    name: str
    label: Any
    kind: str  # "int", "decimal", "days" or "bool"
    column: str
    ops: tuple[str, ...]


FIELDS: dict[str, Field] = {
    field.name: field
    for field in (
        Field("order_count", _("orders"), "int", "facts__order_count", ORDER_OPS),
        Field(
            "last_order_total",
            _("last order total"),
            "decimal",
            "facts__last_order_total",
            ORDER_OPS,
        ),
        Field("lifetime_value", _("lifetime value"), "decimal", "facts__lifetime_value", ORDER_OPS),
        Field(
            "days_since_first_order",
            _("days since the first order"),
            "days",
            "facts__first_order_at",
            DAYS_OPS,
        ),
        Field(
            "days_since_last_order",
            _("days since the last order"),
            "days",
            "facts__last_order_at",
            DAYS_OPS,
        ),
        Field(
            "days_since_last_basket_activity",
            _("days since the last basket activity"),
            "days",
            "facts__last_basket_activity_at",
            DAYS_OPS,
        ),
        Field("days_since_last_seen", _("days since last seen"), "days", "last_seen_at", DAYS_OPS),
        Field("has_account", _("has a customer account"), "bool", "user", BOOL_OPS),
        Field("returning_visitor", _("returning visitor"), "bool", "last_seen_at", BOOL_OPS),
        Field(
            "ordered_since_basket",
            _("ordered after the last basket activity"),
            "bool",
            "facts__last_order_at",
            BOOL_OPS,
        ),
    )
}


def validate(definition: Any) -> list[dict[str, Any]]:
    """The definition, checked and normalised (values converted to their field's type), or
    ``ValidationError`` naming what is wrong. Unknown keys, fields and operators are
    refused, never passed on."""
    if not isinstance(definition, list):
        raise ValidationError(_("A definition is a list of conditions."), code="type")
    if not definition:
        raise ValidationError(_("A definition needs at least one condition."), code="empty")
    if len(definition) > MAX_CONDITIONS:
        raise ValidationError(
            _("A definition holds at most %(max)d conditions."),
            code="too_long",
            params={"max": MAX_CONDITIONS},
        )
    return [_validate_condition(index, item) for index, item in enumerate(definition, 1)]


def _validate_condition(index: int, item: Any) -> dict[str, Any]:
    params = {"index": index}
    if not isinstance(item, dict) or set(item) != {"field", "op", "value"}:
        raise ValidationError(
            _('Condition %(index)d must have exactly "field", "op" and "value".'),
            code="shape",
            params=params,
        )
    field = FIELDS.get(item["field"]) if isinstance(item["field"], str) else None
    if field is None:
        raise ValidationError(
            _("Condition %(index)d: unknown field. Known fields: %(fields)s."),
            code="field",
            params={**params, "fields": ", ".join(FIELDS)},
        )
    if not isinstance(item["op"], str) or item["op"] not in field.ops:
        raise ValidationError(
            _("Condition %(index)d: %(field)s accepts only %(ops)s."),
            code="op",
            params={**params, "field": field.name, "ops": ", ".join(field.ops)},
        )
    return {"field": field.name, "op": item["op"], "value": _value(field, item["value"], index)}


def _value(field: Field, value: Any, index: int) -> Any:
    def refuse(message):
        raise ValidationError(message, code="value", params={"index": index})

    if field.kind == "bool":
        if not isinstance(value, bool):
            refuse(_("Condition %(index)d: the value must be true or false."))
        return value
    if isinstance(value, bool):
        refuse(_("Condition %(index)d: the value must be a number."))
    if field.kind == "int":
        if not isinstance(value, int) or not 0 <= value <= 10**9:
            refuse(_("Condition %(index)d: the value must be a whole number from 0."))
        return value
    try:
        number = Decimal(str(value)) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        refuse(_("Condition %(index)d: the value must be a number."))
    if field.kind == "days":
        if not 0 <= number <= MAX_DAYS:
            refuse(_("Condition %(index)d: the number of days must be from 0 to 36500."))
        return int(number) if number == number.to_integral_value() else float(number)
    if not -MAX_AMOUNT <= number <= MAX_AMOUNT:
        refuse(_("Condition %(index)d: the amount is out of range."))
    return str(number.quantize(Decimal("0.01")))


def condition_q(condition: dict[str, Any], now: datetime) -> Q:
    """One validated condition as a predicate over ``Contact``."""
    field = FIELDS[condition["field"]]
    op, value = condition["op"], condition["value"]
    if field.name == "has_account":
        return Q(user__isnull=not value)
    if field.name == "returning_visitor":
        returning = shared.returning_visitor_q()
        return returning if value else ~returning
    if field.name == "ordered_since_basket":
        ordered = Q(facts__last_order_at__gte=F("facts__last_basket_activity_at"))
        return ordered if value else ~ordered | Q(facts__last_order_at__isnull=True)
    if field.kind == "days":
        # "days since X < d" is "X later than now - d"; never having X is infinitely long ago.
        threshold = now - timedelta(days=value)
        column = field.column
        if op == "lt":
            return Q(**{f"{column}__gt": threshold})
        if op == "lte":
            return Q(**{f"{column}__gte": threshold})
        never = Q(**{f"{column}__isnull": True})
        if op == "gt":
            return Q(**{f"{column}__lt": threshold}) | never
        return Q(**{f"{column}__lte": threshold}) | never
    number = Decimal(value) if field.kind == "decimal" else value
    if op == "ne":
        return ~Q(**{field.column: number})
    if op == "eq":
        return Q(**{field.column: number})
    return Q(**{f"{field.column}__{op}": number})


def conditions_q(conditions: list[dict[str, Any]], now: datetime) -> Q:
    """All conditions together (AND)."""
    predicate = Q()
    for condition in conditions:
        predicate &= condition_q(condition, now)
    return predicate


def rolling_windows(conditions: list[dict[str, Any]]) -> list[tuple[str, timedelta]]:
    """The timestamps whose comparison with the clock the conditions make, with their
    windows: a contact whose timestamp crosses ``now - window`` changes side with no change
    to its facts."""
    windows = []
    for condition in conditions:
        field = FIELDS[condition["field"]]
        if field.kind == "days":
            windows.append((field.column, timedelta(days=condition["value"])))
    return windows


def describe(conditions: list[dict[str, Any]]) -> str:
    """The conditions in words, for the admin."""
    signs = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}
    return " AND ".join(
        f"{FIELDS[c['field']].label} {signs[c['op']]} {c['value']}" for c in conditions
    )
