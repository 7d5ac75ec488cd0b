"""What capture costs a busy shop: the sandbox on gunicorn and PostgreSQL under concurrent
shoppers, with ``OSCAR_RECOVERY_CAPTURE_ENABLED`` off and on, in one run.

    .venv/bin/python -m bench.load [--shoppers 16] [--rounds 3] [--duration 30] [--json FILE]

Creates its own database (``--database``, default ``bench_load``, on
OSCAR_RECOVERY_PG_HOST/PORT/USER as for the tests), migrates it and fills it with the
sandbox's demo data (``sandbox_demo_data``: products in stock, the default recovery
campaign active, the on-site prompts), and drops it at the end (``--keep`` keeps it).

Each round starts the sandbox afresh on gunicorn (``--workers`` 2, ``--threads`` 4,
DEBUG off, persistent database connections, no sweep, Celery tasks in-process) with
capture off or on (``SANDBOX_RECOVERY_CAPTURE``), after a ``VACUUM ANALYZE`` of the
database, and drives it with ``--shoppers`` threads, each a browser-like shopper with its
own cookie jar and keep-alive connection: a product page (a random product in stock), add
to basket, the basket page, the checkout gateway; every other shopper then gives a guest
email at the gateway, with the consent notice the page carries (the box ticked when it asks
for consent; under the sandbox's soft opt-in it is the opt-out, left unticked). Then a new
shopper, with a new cookie jar, starts again. Each round is ``--warmup`` seconds of this,
not timed, then ``--duration`` seconds timed. Rounds come in pairs, off-on then on-off
(ABBA), ``--rounds`` pairs in all, so a drift of the machine's load or of the tables' size
hits both sides alike.

Prints per round and in a summary: requests per second and the ratio capture-on /
capture-off of the rounds' medians (and per pair); CPU milliseconds per request of
gunicorn's processes and of the PostgreSQL backends of the bench's database (from
``/proc``: Linux, PostgreSQL on this machine) and their ratio; p50 and p99 latency per
request kind and overall (all the timed requests of a side); server errors (5xx,
connection errors, any other unexpected answer); and what capture lost: every basket given
a line while capture was on (warm-ups included) must have a journey, and every email given
at the gateway must be on its basket's journey in canonical form. Exits with status 1 on
any error or loss.

Reading it: the shopper threads, gunicorn and PostgreSQL share the machine, so requests
per second is what this machine serves, not a shop's capacity; compare the two sides of
one run, which alternate under the same conditions. On a machine busy with other work,
requests per second follow that work more than capture; CPU per request hardly does.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import itertools
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.postgres import connect, drop_database, ensure_database, server

ROOT = Path(__file__).resolve().parents[1]
#: The request kinds, in a shopper's order.
KINDS = ("product", "add", "basket", "gateway", "gateway_email")
ERRORS = ("5xx", "connection", "unexpected")
CPU = ("web", "db", "total")
LOSSES = ("baskets_without_journey", "baskets_without_line", "emails_not_captured")
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
#: Seconds the server may take to start (migrations are done before), and a request.
START_TIMEOUT = 180
REQUEST_TIMEOUT = 60
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ADD_FORM = re.compile(r'action="([^"]*/basket/add/\d+/)"')
NOTICE_INPUT = re.compile(r'name="recovery_consent_notice" value="([^"]+)"')
CHOICE_INPUT = re.compile(r'name="recovery_consent" value="(yes|no)"')


# -- The shop ---------------------------------------------------------------------------------


def sandbox_env(database: str, port: int = 0, capture: bool = True) -> dict[str, str]:
    """The environment of the sandbox's processes: PostgreSQL database ``database``, as a
    production host runs it (DEBUG off, connections kept), with no sweep thread or broker,
    capture on or off."""
    pg = server()
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        "DJANGO_SETTINGS_MODULE": "sandbox.settings",
        "SANDBOX_PG_NAME": database,
        "SANDBOX_PG_HOST": pg["host"],
        "SANDBOX_PG_PORT": pg["port"],
        "SANDBOX_PG_USER": pg["user"],
        "SANDBOX_PG_CONN_MAX_AGE": "60",
        "SANDBOX_ADDR": f"127.0.0.1:{port or 8000}",
        "SANDBOX_DEBUG": "false",
        "SANDBOX_SWEEP_SECONDS": "0",
        "SANDBOX_CELERY_BROKER_URL": "",
        "SANDBOX_LOG_LEVEL": "WARNING",
        "SANDBOX_RECOVERY_CAPTURE": "1" if capture else "0",
    }


def prepare(database: str) -> list[str]:
    """Migrate and seed the bench's database (in this process, which then checks the
    results); the paths of the products in stock."""
    os.environ.update(sandbox_env(database))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from oscar.core.loading import get_model

    call_command("migrate", verbosity=0, interactive=False)
    with open(os.devnull, "w") as quiet:
        call_command("sandbox_demo_data", stdout=quiet)
    product = get_model("catalogue", "Product")
    in_stock = (
        product.objects.browsable()
        .filter(stockrecords__num_in_stock__gte=1)
        .distinct()
        .order_by("pk")
    )
    paths = [p.get_absolute_url() for p in in_stock]
    connections.close_all()
    if not paths:
        raise SystemExit("the sandbox has no product in stock")
    return paths


def vacuum(database: str) -> None:
    """Every round starts from tables vacuumed and analysed, not in autovacuum's own time."""
    with connect(database) as conn:
        conn.execute("VACUUM ANALYZE")


class CpuMeter:
    """CPU seconds used by gunicorn's processes and by the PostgreSQL backends serving the
    bench's database, read from ``/proc``: unlike requests per second, CPU per request
    hardly moves with what else runs on the machine. Linux with PostgreSQL on this machine
    only (else the figures are None)."""

    def __init__(self, master: int, database: str) -> None:
        self.master, self.database = master, database
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.local = server()["host"] in ("127.0.0.1", "localhost", "::1")

    def read(self) -> dict[str, dict[int, float]] | None:
        if not Path("/proc/self/stat").exists():
            return None
        web = [self.master, *self.children(self.master)]
        backends = []
        if self.local:
            with connect() as conn:
                backends = [
                    pid
                    for (pid,) in conn.execute(
                        "SELECT pid FROM pg_stat_activity"
                        " WHERE datname = %s AND backend_type = 'client backend'",
                        [self.database],
                    )
                ]
        return {"web": self.times(web), "db": self.times(backends) if self.local else None}

    @staticmethod
    def since(before, after) -> dict[str, float | None]:
        """CPU seconds per side between two readings (a process that started in between
        counts whole)."""
        if before is None or after is None:
            return {"web": None, "db": None}
        return {
            part: None
            if after[part] is None
            else sum(t - before[part].get(pid, 0.0) for pid, t in after[part].items())
            for part in ("web", "db")
        }

    def times(self, pids: list[int]) -> dict[int, float]:
        found = {}
        for pid in pids:
            fields = self.stat(pid)
            if fields:  # utime and stime, fields 14 and 15 of proc(5)
                found[pid] = (int(fields[11]) + int(fields[12])) / self.tick
        return found

    def children(self, parent: int) -> list[int]:
        return [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and (self.stat(int(entry.name)) or [0, 0])[1] == str(parent)
        ]

    @staticmethod
    def stat(pid: int) -> list[str] | None:
        """Fields 3.. of ``/proc/<pid>/stat`` (after the command name, which may hold spaces)."""
        try:
            return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving the sandbox; stopped on exit whatever happens."""

    def __init__(self, args, capture: bool, logdir: Path, number: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = logdir / f"gunicorn-{number}-{'on' if capture else 'off'}.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "sandbox.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            "gthread",
            "--timeout",
            str(REQUEST_TIMEOUT),
        ]
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=sandbox_env(args.database, self.port, capture),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        atexit.register(self.stop)

    def wait_ready(self, path: str) -> None:
        import requests

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.process.returncode}):\n{self.tail()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + path, timeout=10).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn not ready after {START_TIMEOUT}s:\n{self.tail()}")
            time.sleep(0.3)

    def stop(self) -> None:
        """SIGTERM (gunicorn finishes the requests in flight), SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


# -- The shoppers -----------------------------------------------------------------------------


@dataclass
class Tally:
    """What one phase's shoppers did (one per thread, merged afterwards)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: Counter = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    #: Basket ids that an add to basket answered for, and the email given per basket.
    baskets: set[int] = field(default_factory=set)
    emails: dict[int, str] = field(default_factory=dict)
    finished: float = 0.0

    def merge(self, other: Tally) -> None:
        for kind in KINDS:
            self.latencies[kind].extend(other.latencies[kind])
        self.errors.update(other.errors)
        self.samples.extend(other.samples[: max(0, 5 - len(self.samples))])
        self.baskets |= other.baskets
        self.emails.update(other.emails)
        self.finished = max(self.finished, other.finished)

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())


class Shopper:
    """Walks the shop again and again until ``stop_at``, a new shopper each time."""

    def __init__(self, url: str, paths: list[str], seed: int, walks, token: str) -> None:
        self.url, self.paths, self.walks, self.token = url, paths, walks, token
        self.random = random.Random(seed)

    def run(self, stop_at: float, tally: Tally) -> None:
        import requests

        while time.monotonic() < stop_at:
            walk = next(self.walks)  # shared counter: every other walk gives an email
            with requests.Session() as session:
                session.headers.update(
                    {"User-Agent": USER_AGENT, "Accept-Language": "en-GB,en;q=0.8"}
                )
                self.walk(session, walk, stop_at, tally)
        tally.finished = time.monotonic()

    def walk(self, session, walk: int, stop_at: float, tally: Tally) -> None:
        url = self.url
        page = self.request(session, tally, "product", "GET", url + self.random.choice(self.paths))
        if page is None or time.monotonic() >= stop_at:
            return
        form, csrf = ADD_FORM.search(page.text), CSRF_INPUT.search(page.text)
        if not (form and csrf):
            return self.fail(tally, "unexpected", "product page without an add-to-basket form")
        added = self.request(
            session,
            tally,
            "add",
            "POST",
            url + form.group(1),
            data={"csrfmiddlewaretoken": csrf.group(1), "quantity": "1"},
            expect=302,
        )
        if added is None:
            return
        basket = session.cookies.get("oscar_open_basket", "").partition(":")[0]
        if not basket.isdigit():
            return self.fail(tally, "unexpected", "no basket cookie after add to basket")
        tally.baskets.add(int(basket))
        if time.monotonic() >= stop_at:
            return
        if self.request(session, tally, "basket", "GET", url + "/basket/") is None:
            return
        if time.monotonic() >= stop_at:
            return
        gateway = self.request(session, tally, "gateway", "GET", url + "/checkout/")
        if gateway is None or walk % 2 or time.monotonic() >= stop_at:
            return
        csrf, notice = CSRF_INPUT.search(gateway.text), NOTICE_INPUT.search(gateway.text)
        if not (csrf and notice):
            return self.fail(tally, "unexpected", "gateway without the consent notice")
        email = f"Load.{self.token}.{walk}@Example.COM"  # canonical: domain in lower case
        data = {
            "csrfmiddlewaretoken": csrf.group(1),
            "username": email,
            "options": "anonymous",
            "recovery_consent_notice": notice.group(1),
        }
        choice = CHOICE_INPUT.search(gateway.text)
        if choice and choice.group(1) == "yes":  # a consent box (not soft opt-in's opt-out)
            data["recovery_consent"] = "yes"
        posted = self.request(
            session, tally, "gateway_email", "POST", url + "/checkout/", data=data, expect=302
        )
        if posted is not None:
            tally.emails[int(basket)] = email

    def request(self, session, tally: Tally, kind: str, method: str, url: str, expect=200, **kw):
        """The response if it is the one expected; else counted as an error and None."""
        import requests

        start = time.perf_counter()
        try:
            response = session.request(
                method, url, allow_redirects=False, timeout=REQUEST_TIMEOUT, **kw
            )
            response.content  # noqa: B018 - the whole body is part of the request's time
        except requests.RequestException as error:
            return self.fail(tally, "connection", f"{kind}: {error!r}")
        tally.latencies[kind].append(time.perf_counter() - start)
        if response.status_code >= 500:
            return self.fail(tally, "5xx", f"{kind}: {response.status_code}")
        if response.status_code != expect:
            where = response.headers.get("Location", "")
            return self.fail(tally, "unexpected", f"{kind}: {response.status_code} {where}")
        return response

    @staticmethod
    def fail(tally: Tally, what: str, sample: str) -> None:
        tally.errors[what] += 1
        if len(tally.samples) < 5:
            tally.samples.append(sample)


def drive(url: str, paths: list[str], shoppers: int, seconds: float, token: str) -> Tally:
    """``shoppers`` threads walking the shop for ``seconds``; their merged tally."""
    walks = itertools.count()
    tallies = [Tally() for _ in range(shoppers)]
    stop_at = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=Shopper(url, paths, n, walks, f"{token}{n}").run, args=(stop_at, tallies[n])
        )
        for n in range(shoppers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = Tally()
    for tally in tallies:
        merged.merge(tally)
    return merged


# -- What capture lost ------------------------------------------------------------------------


def losses(baskets: set[int], emails: dict[int, str]) -> dict[str, int]:
    """Baskets given a line that have no journey, baskets an add answered for that hold no
    line, and gateway emails not on their basket's journey in canonical form."""
    from oscar.core.loading import get_model

    from oscar_recovery.contacts.addresses import canonical_email
    from oscar_recovery.models import CartJourney

    basket_model = get_model("basket", "Basket")
    with_lines: set[int] = set()
    journeys: dict[int, str] = {}
    ids = sorted(baskets)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        with_lines.update(
            basket_model.objects.filter(pk__in=chunk, lines__isnull=False)
            .values_list("pk", flat=True)
            .distinct()
        )
        journeys.update(
            CartJourney.objects.filter(basket_id__in=chunk).values_list("basket_id", "email")
        )
    return {
        "baskets_without_journey": len(with_lines - set(journeys)),
        "baskets_without_line": len(baskets - with_lines),
        "emails_not_captured": sum(
            1 for basket, email in emails.items() if journeys.get(basket) != canonical_email(email)
        ),
    }


# -- Rounds and figures -----------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1), nearest rank; NaN without values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def latency_figures(latencies: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    every = [v for values in latencies.values() for v in values]
    return {
        kind: {
            "n": len(values),
            "p50_ms": percentile(values, 0.50) * 1000,
            "p99_ms": percentile(values, 0.99) * 1000,
        }
        for kind, values in [*latencies.items(), ("all", every)]
    }


def run_round(number: int, capture: bool, args, paths: list[str], logdir: Path) -> dict:
    vacuum(args.database)
    shop = Server(args, capture, logdir, number)
    token = uuid.uuid4().hex[:6]
    try:
        shop.wait_ready(paths[0])
        warm = drive(shop.url, paths, args.shoppers, args.warmup, f"w{token}")
        load = os.getloadavg()[0]
        meter = CpuMeter(shop.process.pid, args.database)
        before, start = meter.read(), time.monotonic()
        timed = drive(shop.url, paths, args.shoppers, args.duration, f"t{token}")
        elapsed = max(timed.finished, start + 1e-9) - start
        cpu = CpuMeter.since(before, meter.read())
    finally:
        shop.stop()
    errors = warm.errors + timed.errors
    lost = {}
    if capture:  # the server has stopped: every request's writes are committed
        from django.db import connections

        lost = losses(warm.baskets | timed.baskets, {**warm.emails, **timed.emails})
        connections.close_all()  # nothing of the bench's stays open during the next round
    figures = {
        "round": number,
        "capture": capture,
        "seconds": elapsed,
        "requests": timed.requests,
        "rps": timed.requests / elapsed,
        "load": load,
        # CPU milliseconds per timed request: gunicorn's processes, PostgreSQL's backends.
        "cpu_ms": {
            part: None if spent is None else spent * 1000 / max(timed.requests, 1)
            for part, spent in {**cpu, "total": total(cpu.values())}.items()
        },
        "latency": latency_figures(timed.latencies),
        "errors": {k: errors.get(k, 0) for k in ERRORS},
        "error_samples": (warm.samples + timed.samples)[:5],
        "baskets": len(warm.baskets | timed.baskets),
        "emails": len(warm.emails) + len(timed.emails),
        "lost": lost,
        "_latencies": timed.latencies,
    }
    if sum(errors.values()) and args.verbose_errors:
        print(shop.tail(), file=sys.stderr)
    return figures


def total(values) -> float | None:
    values = list(values)
    return None if None in values else sum(values)


def median_or_none(values) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def side(rounds: list[dict], capture: bool) -> dict:
    mine = [r for r in rounds if r["capture"] is capture]
    pooled = {kind: [v for r in mine for v in r["_latencies"][kind]] for kind in KINDS}
    return {
        "rounds": len(mine),
        "rps_median": statistics.median(r["rps"] for r in mine),
        "rps": [r["rps"] for r in mine],
        "cpu_ms_median": {part: median_or_none(r["cpu_ms"][part] for r in mine) for part in CPU},
        "latency": latency_figures(pooled),
        "errors": {k: sum(r["errors"][k] for r in mine) for k in ERRORS},
        "lost": {k: sum(r["lost"][k] for r in mine) for k in LOSSES} if capture else {},
    }


def report(rounds: list[dict], args) -> dict:
    off, on = side(rounds, False), side(rounds, True)
    pairs = [
        rounds[i + 1]["rps"] / rounds[i]["rps"]
        if rounds[i + 1]["capture"]
        else rounds[i]["rps"] / rounds[i + 1]["rps"]
        for i in range(0, len(rounds) - 1, 2)
    ]
    return {
        "settings": {
            "shoppers": args.shoppers,
            "rounds_per_side": args.rounds,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "gunicorn_workers": args.workers,
            "gunicorn_threads": args.threads,
            "cpus": os.cpu_count(),
        },
        "ratio_rps_on_off": on["rps_median"] / off["rps_median"],
        "pair_ratios": pairs,
        "ratio_cpu_per_request_on_off": {
            part: None
            if None in (on["cpu_ms_median"][part], off["cpu_ms_median"][part])
            else on["cpu_ms_median"][part] / off["cpu_ms_median"][part]
            for part in CPU
        },
        "off": off,
        "on": on,
        "rounds": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rounds],
    }


def plain(value):
    """``value`` for JSON: a percentile of no requests (NaN) as null."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def print_round(r: dict) -> None:
    lat = r["latency"]["all"]
    errors = ", ".join(f"{k} {v}" for k, v in r["errors"].items() if v) or "none"
    lost = ", ".join(f"{k} {v}" for k, v in r["lost"].items()) if r["capture"] else "-"
    print(
        f"round {r['round']:>2} capture {'on ' if r['capture'] else 'off'}: "
        f"{r['rps']:7.1f} req/s ({r['requests']} in {r['seconds']:.1f}s, load {r['load']:.1f}), "
        f"p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms; errors: {errors}; "
        f"{r['baskets']} baskets, {r['emails']} emails; lost: {lost}",
        flush=True,
    )
    cpu = r["cpu_ms"]
    if cpu["web"] is not None:
        db = "?" if cpu["db"] is None else f"{cpu['db']:.1f}"
        print(f"    CPU ms per request: gunicorn {cpu['web']:.1f}, PostgreSQL {db}", flush=True)
    kinds = "  ".join(
        f"{kind} {r['latency'][kind]['p50_ms']:.0f}/{r['latency'][kind]['p99_ms']:.0f}"
        for kind in KINDS
    )
    print(f"    p50/p99 ms: {kinds}", flush=True)
    for sample in r["error_samples"]:
        print(f"    e.g. {sample}", flush=True)


def print_summary(result: dict) -> None:
    off, on, s = result["off"], result["on"], result["settings"]
    print(
        f"\n{s['shoppers']} shoppers, gunicorn {s['gunicorn_workers']} workers x "
        f"{s['gunicorn_threads']} threads, {s['rounds_per_side']}+{s['rounds_per_side']} rounds "
        f"of {s['duration_s']:g}s (after {s['warmup_s']:g}s warm-up), {s['cpus']} CPUs shared "
        "with PostgreSQL and the shoppers"
    )
    print(
        f"requests/s, median of rounds: capture off {off['rps_median']:.1f}, "
        f"on {on['rps_median']:.1f}; ratio on/off {result['ratio_rps_on_off']:.3f} "
        f"(per pair: {', '.join(f'{p:.3f}' for p in result['pair_ratios'])})"
    )
    ratios = result["ratio_cpu_per_request_on_off"]
    if ratios["web"] is not None:
        parts = [("gunicorn", "web"), ("PostgreSQL", "db"), ("both", "total")]
        print(
            "CPU ms per request, median of rounds (off -> on, ratio): "
            + "; ".join(
                f"{name} {off['cpu_ms_median'][part]:.1f} -> {on['cpu_ms_median'][part]:.1f} "
                f"({ratios[part]:.3f})"
                for name, part in parts
                if ratios[part] is not None
            )
        )
    print(
        f"{'request':<15}{'n off':>7}{'n on':>7}{'p50 off':>9}{'p50 on':>9}{'x':>7}"
        f"{'p99 off':>9}{'p99 on':>9}{'x':>7}   (ms)"
    )
    for kind in (*KINDS, "all"):
        a, b = off["latency"][kind], on["latency"][kind]
        print(
            f"{kind:<15}{a['n']:>7}{b['n']:>7}{a['p50_ms']:>9.1f}{b['p50_ms']:>9.1f}"
            f"{b['p50_ms'] / a['p50_ms'] if a['p50_ms'] else float('nan'):>7.2f}"
            f"{a['p99_ms']:>9.1f}{b['p99_ms']:>9.1f}"
            f"{b['p99_ms'] / a['p99_ms'] if a['p99_ms'] else float('nan'):>7.2f}"
        )
    for name, figures in (("off", off), ("on", on)):
        errors = ", ".join(f"{k} {v}" for k, v in figures["errors"].items())
        print(f"server errors, capture {name}: {errors}")
    print("lost while capture was on: " + ", ".join(f"{k} {v}" for k, v in on["lost"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=16, help="concurrent shoppers")
    parser.add_argument("--rounds", type=int, default=3, help="rounds with capture off, and on")
    parser.add_argument("--duration", type=float, default=30, help="timed seconds per round")
    parser.add_argument("--warmup", type=float, default=5, help="untimed seconds before each")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--database", default="bench_load", help="the bench's own database")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--verbose-errors", action="store_true", help="print gunicorn's log after errors"
    )
    args = parser.parse_args()
    # A bench stopped with SIGTERM still stops its server (atexit runs on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    ensure_database(args.database)
    if not args.keep:
        atexit.register(drop_database, args.database)
    start = time.perf_counter()
    paths = prepare(args.database)
    print(f"database {args.database} ready in {time.perf_counter() - start:.1f}s", flush=True)

    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench_load_") as logdir:
        for pair in range(args.rounds):
            for capture in (False, True) if pair % 2 == 0 else (True, False):
                rounds.append(run_round(len(rounds) + 1, capture, args, paths, Path(logdir)))
                print_round(rounds[-1])
    result = report(rounds, args)
    print_summary(result)
    if args.json:
        Path(args.json).write_text(json.dumps(plain(result), indent=2, allow_nan=False) + "\n")

    errors = sum(result["off"]["errors"].values()) + sum(result["on"]["errors"].values())
    lost = sum(result["on"]["lost"].values())
    if errors or lost:
        print(f"FAILED: {errors} errors, {lost} lost", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
