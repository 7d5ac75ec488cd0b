"""The bought-together table built from 1,000,000 order lines on PostgreSQL, and its lookups.

    .venv/bin/python -m bench.recommendations [--orders 100000] [--lines 10] [--products 20000]

Seeds real Oscar rows (products, orders, order lines; cloned from one factory-made order by
bulk SQL) in its own database, ``oscar_recovery_bench_recommendations`` on the local
PostgreSQL, then
prints: the full build's time; the median and p95 time of the bought-together lookup for
1,000 random baskets of 1-5 products (and its plan); and the rows one new order's
incremental update changed, checked to be only that order's own pairs.
Goals: build < 60 s, lookup median < 5 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from bench.postgres import ensure_database, use_database

use_database("oscar_recovery_bench_recommendations")


def _columns(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
        " ORDER BY ordinal_position",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _clone(cursor, table: str, template_id: int, count: int, overrides: dict[str, str]) -> None:
    """``count`` copies of one row by INSERT .. SELECT over generate_series (``g``)."""
    columns = [c for c in _columns(cursor, table) if c != "id"]
    select = [overrides.get(c, f"t.{c}") for c in columns]
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)})"
        f" SELECT {', '.join(select)} FROM {table} t, generate_series(1, %s) AS g"
        " WHERE t.id = %s",
        [count, template_id],
    )


def seed(orders: int, lines_per_order: int, products: int) -> tuple[int, int]:
    """Products and orders in the shape of a real shop: a few products sell a lot (the
    product of each line is skewed towards low ids), the rest now and then."""
    from django.db import connection
    from oscar.test import factories

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE order_line, order_order, catalogue_product, oscar_recovery_boughttogether,"
            " oscar_recovery_productsales RESTART IDENTITY CASCADE"
        )
    product = factories.create_product(title="Template", price="10.00")
    order = factories.create_order()
    line_id = order.lines.values_list("pk", flat=True)[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM order_line WHERE order_id = %s AND id <> %s", [order.pk, line_id]
        )
        cursor.execute("SELECT max(id) FROM catalogue_product")
        first_product = cursor.fetchone()[0] + 1
        _clone(
            cursor,
            "catalogue_product",
            product.pk,
            products,
            {"upc": "NULL", "title": "'Product ' || g", "slug": "'product-' || g"},
        )
        cursor.execute("SELECT max(id) FROM order_order")
        first_order = cursor.fetchone()[0] + 1
        _clone(
            cursor,
            "order_order",
            order.pk,
            orders,
            {
                "number": "'B' || g",
                "basket_id": "NULL",
                "date_placed": "now() - (g %% 300) * interval '1 day'",
            },
        )
        cursor.execute("SELECT setseed(0.42)")
        # line k of order n: product skewed by random()^2 towards the popular low ids.
        columns = [c for c in _columns(cursor, "order_line") if c != "id"]
        overrides = {
            "order_id": f"{first_order} + (g - 1) / {lines_per_order}",
            "product_id": f"{first_product} + floor(power(random(), 2) * {products})::int",
        }
        select = [overrides.get(c, f"t.{c}") for c in columns]
        cursor.execute(
            f"INSERT INTO order_line ({', '.join(columns)})"
            f" SELECT {', '.join(select)} FROM order_line t,"
            " generate_series(1, %s) AS g WHERE t.id = %s",
            [orders * lines_per_order, line_id],
        )
        # The template order stays (Oscar hangs prices and events off it): one extra order.
        cursor.execute("ANALYZE order_line; ANALYZE order_order; ANALYZE catalogue_product")
    return first_product, first_order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=10, help="lines per order")
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--baskets", type=int, default=1_000)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the orders seeded by an earlier run"
    )
    args = parser.parse_args()
    ensure_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from oscar.core.loading import get_model

    from oscar_recovery.models import BoughtTogether
    from oscar_recovery.recommendations import cooccurrence
    from oscar_recovery.recommendations.service import bought_together, bought_together_query

    OrderLine = get_model("order", "Line")

    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    if args.reuse:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM order_line WHERE order_id IN"
                " (SELECT id FROM order_order WHERE number LIKE 'NEW-%%')"
            )
            cursor.execute("DELETE FROM order_order WHERE number LIKE 'NEW-%%'")
            cursor.execute("SELECT min(id) FROM catalogue_product WHERE slug LIKE 'product-%%'")
            first_product = cursor.fetchone()[0]
    else:
        first_product, _ = seed(args.orders, args.lines, args.products)
    lines = OrderLine.objects.count()
    print(
        f"seeded {args.products:,} products, {args.orders:,} orders, {lines:,} order lines"
        f" in {time.perf_counter() - start:.1f} s"
    )

    start = time.perf_counter()
    result = cooccurrence.rebuild()
    build = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE oscar_recovery_boughttogether")
    print(f"full build: {result} in {build:.1f} s (goal < 60 s: {build / 60:.2f} of it)")

    rng = random.Random(7)
    baskets = [
        [first_product + int(rng.random() ** 2 * args.products) for _ in range(rng.randint(1, 5))]
        for _ in range(args.baskets)
    ]
    for basket in baskets[:50]:  # warm the cache, as a running shop's would be
        bought_together(basket, 12)
    timings = []
    for basket in baskets:
        start = time.perf_counter()
        found = bought_together(basket, 12)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    median, p95 = statistics.median(timings), timings[int(len(timings) * 0.95) - 1]
    print(
        f"lookup per basket ({args.baskets:,} baskets of 1-5 products, 12 products each):"
        f" median {median:.2f} ms, p95 {p95:.2f} ms (goal median < 5 ms: {median / 5:.2f} of it)"
    )
    print(f"  last basket's suggestions: {found[:5]}...")
    query = bought_together_query(baskets[0])[:12]
    for line in query.explain().splitlines():
        print("  plan:", line.strip())

    # One new order: its update touches only its own pairs.
    order_products = sorted({first_product + rng.randrange(args.products) for _ in range(5)})
    before = {
        (p, o): n for p, o, n in BoughtTogether.objects.values_list("product", "other", "orders")
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM order_line")
        template_line = cursor.fetchone()[0]
        cursor.execute("SELECT max(id) FROM order_order")
        template_order = cursor.fetchone()[0]
        _clone(cursor, "order_order", template_order, 1, {"number": "'NEW-1'"})
        cursor.execute("SELECT id FROM order_order WHERE number = 'NEW-1'")
        new_order = cursor.fetchone()[0]
        for pk in order_products:
            _clone(
                cursor,
                "order_line",
                template_line,
                1,
                {"order_id": str(new_order), "product_id": str(pk)},
            )
    start = time.perf_counter()
    touched = cooccurrence.add_order(new_order)
    update = time.perf_counter() - start
    after = {
        (p, o): n for p, o, n in BoughtTogether.objects.values_list("product", "other", "orders")
    }
    changed = {key for key in after if before.get(key) != after[key]}
    own = {(a, b) for a in order_products for b in order_products if a != b}
    print(
        f"incremental update for one order of {len(order_products)} products:"
        f" {touched} pair rows upserted in {update * 1000:.1f} ms;"
        f" {len(changed)} rows changed of {len(after):,}, all the order's own pairs:"
        f" {changed <= own and len(changed) == len(own)}"
    )


if __name__ == "__main__":
    main()
