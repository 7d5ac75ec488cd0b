"""Bringing stored addresses to their canonical form, for the data migration and its bench.

A shop's journeys table may hold millions of rows, and the shop keeps writing to it while
the migration runs: the rows are walked by id range, read and canonicalised outside any
transaction, and each batch's changes written by one statement in its own short transaction,
so no lock is held longer than one batch's update (and only on the rows it changes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connections, models, transaction

from oscar_recovery.contacts.addresses import safe_canonical_email

#: Rows per batch: a batch's update is one statement, quick enough to hold its locks briefly.
BATCH_SIZE = 5000


@dataclass
class Backfill:
    """What :func:`canonicalise_addresses` did."""

    rows: int = 0  # rows with an address
    changed: int = 0  # rows whose address was rewritten to its canonical form
    #: Ids of rows whose address cannot be made canonical: left as they were. They match
    #: no address typed from now on, and a journey holding one is never emailed.
    refused: list[int] = field(default_factory=list)
    batches: int = 0
    longest_batch: float = 0.0  # seconds, the longest a batch took (read, work, update)
    longest_lock: float = 0.0  # seconds, the longest a batch's update transaction was open
    total: float = 0.0  # seconds


def canonicalise_addresses(
    model: type[models.Model],
    field_name: str,
    *,
    using: str = "default",
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int, float], None] | None = None,
) -> Backfill:
    """Rewrite every ``model.field_name`` to its canonical address, ``batch_size`` ids at a
    time; each batch's update is one statement in its own transaction (call it outside a
    transaction). Idempotent: a second run changes nothing. ``on_batch(last_id, seconds)``
    is told of each batch."""
    result = Backfill()
    started = time.monotonic()
    manager = model._base_manager.using(using)
    bounds = manager.aggregate(low=models.Min("pk"), high=models.Max("pk"))
    if bounds["low"] is None:
        return result
    table = model._meta.db_table
    column = model._meta.get_field(field_name).column
    pk_column = model._meta.pk.column
    connection = connections[using]
    quote = connection.ops.quote_name
    for start in range(bounds["low"], bounds["high"] + 1, batch_size):
        batch_started = time.monotonic()
        # Read and canonicalise outside any transaction: no lock while Python works.
        rows = list(
            manager.filter(pk__gte=start, pk__lt=start + batch_size)
            .exclude(**{field_name: ""})
            .values_list("pk", field_name)
        )
        changes = []
        for pk, stored in rows:
            canonical = safe_canonical_email(stored)
            if not canonical:
                result.refused.append(pk)
            elif canonical != stored:
                changes.append((pk, stored, canonical))
        locked = 0.0
        if changes:
            # One statement, its own transaction: the only time the batch's rows are locked.
            # A row written meanwhile (a shopper typing a new address) no longer holds the
            # value read, and is left alone: it was written canonical. In SQL because the
            # model's field would keep a value it cannot canonicalise, and bulk_update's
            # CASE grows with the batch squared.
            values = ", ".join(["(%s, %s, %s)"] * len(changes))
            update_started = time.monotonic()
            with transaction.atomic(using=using), connection.cursor() as cursor:
                cursor.execute(
                    f"WITH v (id, stored, address) AS (VALUES {values}) "
                    f"UPDATE {quote(table)} SET {quote(column)} = v.address FROM v "
                    f"WHERE {quote(table)}.{quote(pk_column)} = v.id "
                    f"AND {quote(table)}.{quote(column)} = v.stored "
                    # The batch's id range, so the planner walks the primary key, never
                    # the whole table.
                    f"AND {quote(table)}.{quote(pk_column)} BETWEEN %s AND %s",
                    [
                        *(value for change in changes for value in change),
                        start,
                        start + batch_size - 1,
                    ],
                )
                # SQLite does not count the rows of an UPDATE .. FROM.
                result.changed += cursor.rowcount if cursor.rowcount >= 0 else len(changes)
            locked = time.monotonic() - update_started
        seconds = time.monotonic() - batch_started
        result.rows += len(rows)
        result.batches += 1
        result.longest_batch = max(result.longest_batch, seconds)
        result.longest_lock = max(result.longest_lock, locked)
        if on_batch is not None:
            on_batch(start + batch_size - 1, seconds)
    result.total = time.monotonic() - started
    return result
