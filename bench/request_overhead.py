"""Median request time of add-to-basket and of the basket page, with the app installed vs
not installed, measured in one run (alternating rounds, so machine noise hits both alike).

    .venv/bin/python -m bench.request_overhead [--requests 300] [--rounds 4]

Goal: ratio <= 1.10.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(requests: int) -> dict[str, list[float]]:
    """Runs inside a child process whose settings include or exclude the app."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse
    from oscar.test import factories

    call_command("migrate", verbosity=0, run_syncdb=True)
    products = [
        factories.create_product(title=f"Product {i}", price="10.00", num_in_stock=10**6)
        for i in range(5)
    ]
    ua = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"
    timings: dict[str, list[float]] = {"add_to_basket": [], "basket_page": []}
    for i in range(requests):
        if i % 20 == 0:  # a new shopper now and then: first additions create journeys
            client = Client(HTTP_USER_AGENT=ua)
        product = products[i % len(products)]
        start = time.perf_counter()
        response = client.post(reverse("basket:add", kwargs={"pk": product.pk}), {"quantity": 1})
        timings["add_to_basket"].append(time.perf_counter() - start)
        assert response.status_code == 302, response.status_code
        start = time.perf_counter()
        response = client.get(reverse("basket:summary"))
        timings["basket_page"].append(time.perf_counter() - start)
        assert response.status_code == 200
    return timings


def run_child(with_app: bool, requests: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "BENCH_WITH_APP": "1" if with_app else "0",
            "BENCH_SQLITE": str(Path(tmp) / "bench.sqlite3"),
            "OSCAR_RECOVERY_TEST_DB": "sqlite",
            "PYTHONPATH": str(ROOT),
        }
        out = subprocess.run(
            [sys.executable, "-m", "bench.request_overhead", "--child", str(requests)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    samples = {
        True: {"add_to_basket": [], "basket_page": []},
        False: {"add_to_basket": [], "basket_page": []},
    }
    for _ in range(args.rounds):
        for with_app in (False, True):
            for name, values in run_child(with_app, args.requests).items():
                samples[with_app][name].extend(values)
    print(f"{args.rounds} rounds x {args.requests} requests each, alternating; median ms")
    print(f"{'request':<16}{'without app':>12}{'with app':>12}{'ratio':>8}")
    for name in ("add_to_basket", "basket_page"):
        without = statistics.median(samples[False][name]) * 1000
        with_app = statistics.median(samples[True][name]) * 1000
        print(f"{name:<16}{without:>12.2f}{with_app:>12.2f}{with_app / without:>8.3f}")


if __name__ == "__main__":
    main()
