"""The bought-together and bestseller tables, built from Oscar's orders.

A full build (:func:`rebuild`, the ``recovery_build_recommendations`` command and the
``oscar_recovery.build_recommendations`` task) is two ``INSERT .. SELECT`` statements: the
database pairs every two distinct products of each order, counts the orders per pair and
keeps each product's ``BOUGHT_TOGETHER_PER_PRODUCT`` best partners, without a row passing
through Python. It runs in one transaction, so lookups see the old table until it commits.

Between builds each new order bumps its own pairs (:func:`add_order`, from a Celery task
queued when the order's transaction commits): one upsert touching only the pairs of that
order's products. Pairs an order adds beyond the per-product cap are trimmed by the next
build, which also forgets orders that left the windows. A pair counts once it was bought
together in ``BOUGHT_TOGETHER_MIN_ORDERS`` orders: lookups skip younger pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import permutations

from django.db import connection, transaction
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery import app_settings, handoff
from oscar_recovery.models import BoughtTogether, ProductSales
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

Order = get_model("order", "Order")
OrderLine = get_model("order", "Line")


@dataclass(frozen=True)
class BuildResult:
    pairs: int
    products: int

    def __str__(self) -> str:
        return f"{self.pairs} bought-together pairs, {self.products} products with sales"


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "pairs": quote(BoughtTogether._meta.db_table),
        "sales": quote(ProductSales._meta.db_table),
        "line": quote(OrderLine._meta.db_table),
        "order": quote(Order._meta.db_table),
    }


def rebuild(now: datetime | None = None) -> BuildResult:
    """Recompute both tables from the orders in their windows, in one transaction."""
    now = now or timezone.now()
    window = app_settings.BOUGHT_TOGETHER_WINDOW
    pairs_since = now - window if window is not None else None
    sales_since = now - app_settings.BESTSELLERS_WINDOW
    t = _tables()
    # Each (order, product) once: two lines of one product in an order are one purchase.
    order_products = (
        f"SELECT DISTINCT l.order_id, l.product_id FROM {t['line']} l"
        f" JOIN {t['order']} o ON o.id = l.order_id"
        " WHERE l.product_id IS NOT NULL AND o.date_placed >= %s"
    )
    # Each unordered pair is counted once (a < b) and stored both ways: half the work of
    # pairing. A pair seen in fewer than BOUGHT_TOGETHER_MIN_ORDERS orders is noise, and
    # dropping it early keeps the ranking sort small. Rows go in ordered by product, so
    # each product's partners share a few pages and a lookup reads little.
    pairs_sql = f"""
        WITH op AS ({order_products}),
        pairs AS (
            SELECT a.product_id AS low, b.product_id AS high, COUNT(*) AS orders
            FROM op a JOIN op b ON a.order_id = b.order_id AND a.product_id < b.product_id
            GROUP BY a.product_id, b.product_id
            HAVING COUNT(*) >= %s
        ),
        both_ways AS (
            SELECT low AS product_id, high AS other_id, orders FROM pairs
            UNION ALL
            SELECT high, low, orders FROM pairs
        )
        INSERT INTO {t["pairs"]} (product_id, other_id, orders)
        SELECT product_id, other_id, orders FROM (
            SELECT product_id, other_id, orders,
                   ROW_NUMBER() OVER (
                       PARTITION BY product_id ORDER BY orders DESC, other_id
                   ) AS position
            FROM both_ways
        ) ranked
        WHERE position <= %s
        ORDER BY product_id, orders DESC
    """
    sales_sql = f"""
        INSERT INTO {t["sales"]} (product_id, orders)
        SELECT product_id, COUNT(*) FROM ({order_products}) op GROUP BY product_id
    """
    since = pairs_since or datetime(1970, 1, 1, tzinfo=now.tzinfo)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql" and app_settings.BUILD_WORK_MEM:
            # Pairing and ranking millions of rows sorts in memory instead of on disk;
            # both settings end with the transaction (SET LOCAL). JIT compiling costs more
            # than it saves on this one-off statement.
            cursor.execute(
                "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)",
                [app_settings.BUILD_WORK_MEM],
            )
        cursor.execute(f"DELETE FROM {t['pairs']}")
        cursor.execute(
            pairs_sql,
            [
                since,
                app_settings.BOUGHT_TOGETHER_MIN_ORDERS,
                app_settings.BOUGHT_TOGETHER_PER_PRODUCT,
            ],
        )
        # Counted, not read from rowcount: SQLite reports none for an INSERT with a CTE.
        pairs = BoughtTogether.objects.count()
        cursor.execute(f"DELETE FROM {t['sales']}")
        cursor.execute(sales_sql, [sales_since])
        products = cursor.rowcount
    return BuildResult(pairs=pairs, products=products)


def order_product_ids(order_id: int) -> list[int]:
    return sorted(
        set(
            OrderLine.objects.filter(order_id=order_id, product_id__isnull=False).values_list(
                "product_id", flat=True
            )
        )
    )


def add_order(order_id: int) -> int:
    """Count one new order in both tables; returns how many pair rows it touched (inserted
    or bumped): its own products' pairs and nothing else."""
    product_ids = order_product_ids(order_id)
    if not product_ids:
        return 0
    t = _tables()
    pairs = list(permutations(product_ids, 2))
    with transaction.atomic(), connection.cursor() as cursor:
        if pairs:
            values = ", ".join(["(%s, %s, 1)"] * len(pairs))
            cursor.execute(
                f"INSERT INTO {t['pairs']} (product_id, other_id, orders) VALUES {values}"
                " ON CONFLICT (product_id, other_id)"
                f" DO UPDATE SET orders = {t['pairs']}.orders + 1",
                [pk for pair in pairs for pk in pair],
            )
        values = ", ".join(["(%s, 1)"] * len(product_ids))
        cursor.execute(
            f"INSERT INTO {t['sales']} (product_id, orders) VALUES {values}"
            f" ON CONFLICT (product_id) DO UPDATE SET orders = {t['sales']}.orders + 1",
            product_ids,
        )
    return len(pairs)


def schedule_order(order) -> None:
    """Record the order's update in the outbox, in the caller's transaction. Called from the
    ``order_recorded`` receiver, itself run from the outbox after the checkout: the count
    gets a hand-off of its own, retried on its own, so a failure here never undoes the
    order's other follow-ups. The insert runs in a savepoint, and the publish happens
    after commit without waiting for the broker; a broker that is down only delays the
    update until the sweep hands it over again."""
    try:
        with transaction.atomic():
            handoff.record("add_order_to_recommendations", order.pk)
    except Exception:
        logger.warning("Could not record order %s for recommendations", order.pk, exc_info=True)
