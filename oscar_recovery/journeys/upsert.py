"""One journey row written in one statement: ``INSERT .. ON CONFLICT (basket_id) DO UPDATE``
whose update side may keep, replace or combine each column with what the row held.

Django's ``bulk_create(update_conflicts=True)`` can only overwrite a column with the proposed
value; capture needs more in the same round trip (keep the furthest checkout step, keep the
first time a step was reached, change the address only when it differs and drop the consent
given with the old one). :class:`JourneyUpsert` builds that statement from a
:class:`~oscar_recovery.models.CartJourney` instance (the row to insert) and a column rule
per updated field, for PostgreSQL and SQLite (3.35+, for ``RETURNING``), which share the
syntax (the app needs one of them: enrolment's ``INSERT .. SELECT`` is written the same
way, :func:`oscar_recovery.utils.insert_select`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from oscar_recovery.models import CartJourney
from oscar_recovery.utils import insert_head, returning_columns

#: Rule of an updated column: the SQL of its new value, with ``{new}`` for the proposed
#: value and ``{old}`` for the row's current one, and any extra parameters, in order.
Rule = tuple[str, list[Any]]

#: Overwrite with the proposed value.
PROPOSED: Rule = ("{new}", [])
#: Keep the larger of the two (the furthest checkout step).
GREATEST: Rule = ("CASE WHEN {old} > {new} THEN {old} ELSE {new} END", [])
#: Keep the row's value unless it has none (the first time a step was reached).
FIRST: Rule = ("COALESCE({old}, {new})", [])


def when(
    condition: str, params: list[Any], then: str = "{new}", then_params: list[Any] = ()
) -> Rule:
    """``then`` where ``condition`` holds on the row, else the row's value unchanged.
    ``condition`` names the row's columns by field name in braces (``{email}``);
    ``params`` fill its placeholders, then ``then_params`` those of ``then``."""
    return (f"CASE WHEN {condition} THEN {then} ELSE {{old}} END", [*params, *then_params])


@dataclass
class JourneyUpsert:
    """Insert ``journey`` or update the journey of the same basket with ``rules``
    (field name -> :data:`Rule`); ``returning`` names the fields read back from the row as
    it is after the statement."""

    journey: CartJourney
    rules: dict[str, Rule] = field(default_factory=dict)
    returning: tuple[str, ...] = ("id",)

    def sql(self) -> tuple[str, list[Any]]:
        fields = _inserted_fields()
        values = [f.get_db_prep_save(getattr(self.journey, f.attname), connection) for f in fields]
        set_params = [param for _template, params in self.rules.values() for param in params]
        shape = (connection.vendor, tuple((n, t) for n, (t, _p) in self.rules.items()))
        return _statement(shape, self.returning), values + set_params

    def execute(self) -> dict[str, Any]:
        """Run the statement; returns the ``returning`` fields of the row, as Python values."""
        sql, params = self.sql()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        result = {}
        for name, value in zip(self.returning, row, strict=True):
            column = CartJourney._meta.get_field(name).get_col(CartJourney._meta.db_table)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection
            )
            for converter in converters:
                value = converter(value, column, connection)
            result[name] = value
        return result


def _inserted_fields() -> list:
    return [f for f in CartJourney._meta.concrete_fields if not f.primary_key]


@functools.lru_cache(maxsize=256)
def _statement(shape: tuple, returning: tuple[str, ...]) -> str:
    """The SQL of one shape of upsert (the backend, each rule's field and template): capture
    writes few shapes, over and over, so each is built once per process."""
    meta = CartJourney._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    fields = _inserted_fields()
    placeholders = ", ".join(["%s"] * len(fields))
    sets = []
    for name, template in shape[1]:
        column = quote(meta.get_field(name).column)
        sets.append(
            f"{column} = "
            + template.replace("{new}", f"EXCLUDED.{column}")
            .replace("{old}", f"{table}.{column}")
            .format_map(_Columns(table, quote))
        )
    return (
        f"{insert_head(CartJourney, [f.name for f in fields])} VALUES ({placeholders}) "
        f"ON CONFLICT ({quote(meta.get_field('basket').column)}) "
        f"DO UPDATE SET {', '.join(sets)} RETURNING {returning_columns(CartJourney, returning)}"
    )


class _Columns(dict):
    """``{NAME}`` in a rule: the row's column of field NAME."""

    def __init__(self, table: str, quote) -> None:
        super().__init__()
        self.table, self.quote = table, quote

    def __missing__(self, name: str) -> str:
        column = CartJourney._meta.get_field(name).column
        return f"{self.table}.{self.quote(column)}"
