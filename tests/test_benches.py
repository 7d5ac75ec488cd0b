"""Every bench under ``bench/`` runs, at toy size, as a user runs it (``python -m bench.<name>``):
nothing else runs the benches, and a bench nobody runs rots (a seed that misses a column the
model gained fails only when someone measures).

The benches on PostgreSQL run in the postgres envs, each in a database of its own named
after the test database, cloned from it (already migrated) when PostgreSQL allows, dropped
afterwards. The SQLite benches make their own database files: they do not depend on the
test database's backend and run where the backend-independent tests run.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connections

ROOT = Path(__file__).resolve().parents[1]
ON_POSTGRES = os.environ.get("OSCAR_RECOVERY_TEST_DB") == "postgres"
REDIS_URL = os.environ.get("OSCAR_RECOVERY_REDIS_URL", "redis://127.0.0.1:6379/15")
#: A bench at toy size takes seconds of work; the rest is Python, Django and migrations
#: starting on a shared machine.
TIMEOUT = 600


def run_bench(name: str, *args: str, **env: str) -> str:
    """Run ``python -m bench.<name>`` as from a shell: without the test run's settings."""
    shell = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    run = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=ROOT,
        env={**shell, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert run.returncode == 0, f"bench.{name} failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    return run.stdout


# -- the SQLite benches ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory) -> dict[str, str]:
    """One migrated SQLite database for the benches' own database files
    (``BENCH_SQLITE_TEMPLATE``): migrated once here, so that each bench's ``migrate``, and
    each of the request-overhead bench's processes', has nothing to do."""
    path = tmp_path_factory.mktemp("bench") / "template.sqlite3"
    migrate = "import django; django.setup(); from django.core.management import call_command; "
    migrate += "call_command('migrate', verbosity=0, run_syncdb=True)"
    subprocess.run(
        [sys.executable, "-c", migrate],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "OSCAR_RECOVERY_TEST_DB": "sqlite",
            "BENCH_SQLITE": str(path),
        },
        check=True,
        timeout=TIMEOUT,
    )
    return {"BENCH_SQLITE_TEMPLATE": str(path), "OSCAR_RECOVERY_TEST_DB": "sqlite"}


@pytest.mark.backend_independent
def test_the_prompts_bench_runs(sqlite_template):
    out = run_bench("prompts", "--requests", "2", **sqlite_template)
    assert "prompts.js budget" in out and "basket, 1 item" in out


@pytest.mark.backend_independent
def test_the_email_render_bench_runs(sqlite_template):
    args = ["--emails", "4", "--rounds", "1", "--batch", "2"]
    out = run_bench("email_render", *args, **sqlite_template)
    assert "pipeline / oscar order confirmation" in out


@pytest.mark.backend_independent
def test_the_request_overhead_bench_runs(sqlite_template):
    out = run_bench("request_overhead", "--requests", "2", "--rounds", "1", **sqlite_template)
    assert "add_to_basket" in out and "basket_page" in out


# -- the PostgreSQL benches -----------------------------------------------------------------

needs_postgres = pytest.mark.skipif(not ON_POSTGRES, reason="runs in the postgres envs")


def _admin_connection():
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
    )


@pytest.fixture
def bench_database(request, django_db_setup, django_db_blocker):
    """A database of the bench's own, cloned from the migrated test database (so the bench's
    ``migrate`` has nothing to do); when the clone is refused (another session is using the
    test database), the bench creates and migrates it. Dropped afterwards."""
    name = f"{settings.DATABASES['default']['NAME']}_{request.node.callspec.id}"[:63]
    with django_db_blocker.unblock():
        connections.close_all()  # a template must have no sessions
    with _admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        # Refused while another session uses the test database: the bench's
        # ensure_database then creates it empty, and its migrate fills it.
        with contextlib.suppress(psycopg.Error):
            admin.execute(
                f'CREATE DATABASE "{name}" TEMPLATE "{settings.DATABASES["default"]["NAME"]}"'
            )
    try:
        yield name
    finally:
        with _admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@needs_postgres
@pytest.mark.parametrize(
    ("bench", "args", "expected"),
    [
        ("sweep_scale", ["--journeys", "300", "--due", "20", "--rounds", "1"], "ratio sweep"),
        ("dashboard", ["--journeys", "200", "--days", "3", "--requests", "1"], "overview"),
        (
            "recommendations",
            ["--orders", "50", "--lines", "2", "--products", "30", "--baskets", "5"],
            "bought-together",
        ),
        ("retention", ["--rows", "200", "--batch", "50"], "purge"),
        ("webhook_fanout", ["--due", "20", "--deliveries", "5"], "deliveries"),
        # A real Celery worker process on the test run's Redis, on a queue of its own: the
        # integration tier's needs (skipped without Redis, failed so under CI=true).
        pytest.param(
            "send_path",
            ["--journeys", "10", "--workers", "1", "--timeout", "300", "--redis", REDIS_URL],
            "sweep -> enrol -> dispatch -> sent",
            marks=pytest.mark.integration,
        ),
    ],
    ids=["sweep_scale", "dashboard", "recommendations", "retention", "webhook_fanout", "send_path"],
)
def test_the_postgres_bench_runs(bench, args, expected, bench_database):
    out = run_bench(bench, *args, OSCAR_RECOVERY_PG_NAME=bench_database)
    assert expected in out.lower()


@needs_postgres
@pytest.mark.parametrize("bench", ["load"])  # bench_database names its clone after the id
def test_the_load_bench_runs(bench, bench_database, tmp_path):
    """The sandbox on gunicorn, two shoppers, one round with capture off and one on: no
    error, and every basket and gateway email of the capture-on round found captured (the
    bench exits non-zero otherwise)."""
    figures = tmp_path / "load.json"
    args = ["--shoppers", "2", "--duration", "2", "--warmup", "1", "--rounds", "1"]
    out = run_bench(bench, *args, "--database", bench_database, "--json", str(figures))
    assert "ratio on/off" in out
    result = json.loads(figures.read_text())
    on = next(r for r in result["rounds"] if r["capture"])
    assert on["baskets"] > 0 and on["emails"] > 0
    assert on["lost"] == dict.fromkeys(on["lost"], 0) and len(on["lost"]) == 3
    assert all(result[side]["latency"]["add"]["n"] > 0 for side in ("on", "off"))


def test_the_load_bench_counts_what_capture_lost(settings, product):
    """The load bench's check fails when capture loses something: a basket with a line and
    no journey, an email missing from its journey or not in canonical form, and an add to
    basket that left the basket empty."""
    from datetime import timedelta

    from oscar.apps.partner.strategy import Default
    from oscar.core.loading import get_model

    from bench.load import losses
    from oscar_recovery.contacts.addresses import canonical_email
    from tests.support.factories import make_journey

    settings.OSCAR_RECOVERY_CAPTURE_ENABLED = False  # the journeys below are the only ones

    def basket(with_line: bool = True):
        made = get_model("basket", "Basket").objects.create()
        made.strategy = Default()
        if with_line:
            made.add_product(product)
        return made

    captured, uncaptured, other_email, empty = basket(), basket(), basket(), basket(False)
    # Stored canonical (the domain in lower case), given as the shopper typed it.
    make_journey(quiet_for=timedelta(0), basket=captured, email=canonical_email("A.1@Example.COM"))
    make_journey(quiet_for=timedelta(0), basket=other_email, email="someone@example.com")
    given = {
        captured.pk: "A.1@Example.COM",
        uncaptured.pk: "A.2@example.com",
        other_email.pk: "A.3@example.com",
    }
    everything = {captured.pk, uncaptured.pk, other_email.pk, empty.pk}
    assert losses(everything, given) == {
        "baskets_without_journey": 1,
        "baskets_without_line": 1,
        "emails_not_captured": 2,
    }
    assert losses({captured.pk}, {captured.pk: "A.1@Example.COM"}) == dict.fromkeys(
        ("baskets_without_journey", "baskets_without_line", "emails_not_captured"), 0
    )
