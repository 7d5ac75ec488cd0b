"""The production topology, end to end: PostgreSQL, Redis, a ``celery
worker`` and a ``celery beat`` process, and the sandbox served by gunicorn, each a real
process started here as the documentation's production guide and the ``Procfile`` list them.

A shopper in Chromium puts a product in the basket, gives an email at the checkout gateway
and leaves; with short sandbox delays the test waits until the worker has sent the first
recovery email (its links on the sandbox's own address) and the dashboard's health shows the
sweep and the worker alive. Everything runs in a database and a Redis queue of its own, and
every process is stopped in a finalizer.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.browser.conftest import DESKTOP_UA, PageProblems

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
PG = {
    "host": os.environ.get("OSCAR_RECOVERY_PG_HOST", "127.0.0.1"),
    "port": os.environ.get("OSCAR_RECOVERY_PG_PORT", "5432"),
    "user": os.environ.get("OSCAR_RECOVERY_PG_USER", "postgres"),
}
REDIS_URL = os.environ.get("OSCAR_RECOVERY_TOPOLOGY_REDIS_URL", "redis://127.0.0.1:6379/14")
TOKEN = uuid.uuid4().hex
SHOPPER = "topology@example.com"
#: How long the whole run may wait for each stage (a stalled stage fails, with the logs).
STAGE_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_connect(dbname: str):
    import psycopg

    return psycopg.connect(dbname=dbname, autocommit=True, **PG)


@pytest.fixture
def database():
    name = f"oscar_recovery_topology_{uuid.uuid4().hex[:8]}"
    with pg_connect("postgres") as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with pg_connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Topology:
    def __init__(self, tmp_path: Path, database: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = database
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.tmp_path = tmp_path
        self.processes: dict[str, subprocess.Popen] = {}
        pythonpath = [str(ROOT), os.environ.get("PYTHONPATH", "")]
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in pythonpath if p),
            "DJANGO_SETTINGS_MODULE": "sandbox.settings",
            "SANDBOX_ADDR": f"127.0.0.1:{self.port}",
            "SANDBOX_PG_NAME": database,
            "SANDBOX_PG_HOST": PG["host"],
            "SANDBOX_PG_PORT": PG["port"],
            "SANDBOX_PG_USER": PG["user"],
            "SANDBOX_CELERY_BROKER_URL": REDIS_URL,
            "SANDBOX_CELERY_QUEUE": f"topology_{uuid.uuid4().hex[:8]}",
            "SANDBOX_HEALTH_TOKEN": TOKEN,
            # Short delays: abandoned after 6 s of quiet, swept every 3 s, first email at once.
            "SANDBOX_ABANDON_MINUTES": "0.1",
            "SANDBOX_SWEEP_SECONDS": "3",
            "SANDBOX_STEP_MINUTES": "0,5,15",
            "SANDBOX_DEBUG": "false",
        }

    def manage(self, *args: str) -> None:
        with open(self.logs / f"{args[0]}.log", "w") as log:
            subprocess.run(
                [sys.executable, "sandbox/manage.py", *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=STAGE_TIMEOUT * 2,
            )

    def start(self, name: str, *command: str) -> None:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", *command],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_tails(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n" + "\n".join(path.read_text().splitlines()[-40:])
            for path in sorted(self.logs.glob("*.log"))
        )

    def wait_for(self, what: str, probe):
        """Poll ``probe`` until it returns something true; fail with every log when a
        stage stalls or a process died."""
        deadline = time.monotonic() + STAGE_TIMEOUT
        while time.monotonic() < deadline:
            dead = {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}
            if dead:
                pytest.fail(f"{dead} exited while waiting for {what}\n{self.log_tails()}")
            value = probe()
            if value:
                return value
            time.sleep(0.5)
        pytest.fail(f"gave up waiting for {what}\n{self.log_tails()}")

    def get(self, path: str, **headers) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 0, b""


@pytest.fixture
def topology(tmp_path, database):
    if shutil.which("chromium") is None and not os.environ.get("OSCAR_RECOVERY_CHROMIUM"):
        pytest.skip("no chromium for the shopper")
    pytest.importorskip("gunicorn", reason="gunicorn (the test and sandbox extras)")
    topo = Topology(tmp_path, database)
    try:
        topo.manage("migrate", "--noinput")
        topo.manage("sandbox_demo_data")
        topo.start(
            "web",
            "gunicorn",
            "sandbox.wsgi:application",
            "--bind",
            f"127.0.0.1:{topo.port}",
            "--workers",
            "2",
        )
        topo.start(
            "worker",
            "celery",
            "-A",
            "sandbox",
            "worker",
            "--pool=solo",
            "-Q",
            topo.env["SANDBOX_CELERY_QUEUE"],
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        )
        topo.start(
            "beat",
            "celery",
            "-A",
            "sandbox",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        )
        topo.wait_for("gunicorn", lambda: topo.get("/")[0] == 200)
        yield topo
    finally:
        topo.stop()


def outbox_email(topo: Topology) -> tuple[str, str] | None:
    with pg_connect(topo.database) as conn:
        row = conn.execute(
            'SELECT subject, html, id FROM sandbox_demo_outboxmessage WHERE "to" = %s '
            "ORDER BY id LIMIT 1",
            [SHOPPER],
        ).fetchone()
    return row


def test_shopper_to_recovery_email_through_the_real_processes(topology, chromium):
    topo = topology
    # A desktop Chrome's User-Agent: "HeadlessChrome" counts as a bot, never contacted.
    context = chromium.new_context(user_agent=DESKTOP_UA)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(topo.url + "/catalogue/")
    page.locator(".product_pod form [type=submit]").first.click()
    page.goto(topo.url + "/checkout/")
    page.fill("#id_username", SHOPPER)
    page.locator("#id_options_0").check()  # "checkout as a guest"
    page.locator("#id_username").press("Enter")
    page.wait_for_url(re.compile(r"/checkout/shipping-address/"))
    context.close()  # the shopper leaves

    subject, html, outbox_id = topo.wait_for("the first recovery email", lambda: outbox_email(topo))
    assert subject
    # The sandbox tells the truth: links and images on the address it is served on.
    restore = re.search(r'href="(http://[^"]+/recovery/restore/[^"]+)"', html)
    assert restore and restore.group(1).startswith(topo.url + "/"), html[:2000]
    assert "127.0.0.1:8000" not in html

    # The outbox shows the email as sent: full height, styled, images loaded, no CSP error.
    reader = chromium.new_context(user_agent=DESKTOP_UA, viewport={"width": 1280, "height": 900})
    page = reader.new_page()
    problems = PageProblems(page)
    page.goto(f"{topo.url}/outbox/{outbox_id}/")
    frame_element = page.locator("iframe.outbox-email").first  # desktop; the phone frame follows
    email = frame_element.content_frame
    email.locator("img").first.wait_for()
    page.wait_for_function(
        "() => [...document.querySelector('iframe.outbox-email').contentDocument"
        ".images].every(img => img.complete)"
    )
    page.wait_for_function(
        "() => { const f = document.querySelector('iframe.outbox-email');"
        " return f.offsetHeight >= f.contentDocument.documentElement.scrollHeight; }"
    )
    images = email.locator("img").evaluate_all("els => els.map(e => e.naturalWidth)")
    assert images and all(width > 0 for width in images)
    assert frame_element.bounding_box()["height"] > 400
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 1280  # long headers (List-Unsubscribe) wrap
    page.screenshot(path=str(topo.tmp_path / "outbox.png"), full_page=True)
    assert problems.errors == []
    reader.close()

    def healthy():
        status, body = topo.get("/recovery/health/", Authorization=f"Bearer {TOKEN}")
        if status != 200:
            return None
        import json

        report = json.loads(body)
        # The last sweep may be one still running (no finished_at yet): wait for a report
        # taken between two runs, as a monitor polling every minute would get. "ok" too: on
        # a busy machine a sweep every 3 s can start over 9 s after the last ("late") for a
        # while; a healthy topology is back on time, one that stays late fails here.
        finished = report["last_sweep"] and report["last_sweep"]["finished_at"]
        ready = report["worker"] and report["last_email_sent_at"] and finished
        return report if ready and report["status"] == "ok" else None

    report = topo.wait_for("a healthy health endpoint", healthy)
    assert report["status"] == "ok"
    assert report["worker"]["name"].startswith("celery@")
    assert report["last_sweep"]["finished_at"]
    assert topo.get("/recovery/health/")[0] == 403  # no token, no staff: nothing

    # The dashboard shows the same to staff.
    staff = chromium.new_context(user_agent=DESKTOP_UA)
    page = staff.new_page()
    page.set_default_timeout(30_000)
    page.goto(topo.url + "/accounts/login/?next=/dashboard/recovery/")
    page.fill("#id_login-username", "admin@example.com")
    page.fill("#id_login-password", "admin")
    page.locator("[name=login_submit]").click()
    page.wait_for_url(re.compile(r"/dashboard/recovery/"))

    def dashboard_healthy() -> bool:  # read when the page loads: late for a while, as above
        if page.locator("[data-health=ok]").count():
            return True
        page.reload()
        return False

    topo.wait_for("the dashboard's health to be ok", dashboard_healthy)
    line = page.locator("[data-health=ok] [data-health-line]")
    assert "Last sweep" in line.inner_text()
    assert "Worker celery@" in line.inner_text()
    staff.close()
