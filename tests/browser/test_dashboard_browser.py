"""A real browser (Debian's chromium, driven by Playwright) opens the recovery dashboard's
overview and a basket's detail page and finds no console errors.

Skipped when chromium or Playwright's Python package is missing, except under CI=true where
that fails the run. Never runs ``playwright install``: the system's chromium is used.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from datetime import date

import pytest
from django.test import Client

from oscar_recovery.reporting import aggregation
from tests.support import dashboard_scenario as sc

CHROMIUM = os.environ.get("OSCAR_RECOVERY_CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.django_db(transaction=True)


def _unavailable() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"chromium not found at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is not installed"
    return None


@pytest.fixture
def dashboard_browser(live_server, sandbox_base_template, settings, chromium):
    """A headless chromium page logged in as staff, recording console errors, failed
    requests and requests to other hosts (the dashboard must work offline), under the
    sandbox's strict CSP (Oscar's dashboard widgets need style attributes)."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "sandbox.csp.DashboardPolicyMiddleware"]
    reason = _unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run under CI: {reason}")
        pytest.skip(reason)
    staff = sc.recovery_staff(*sc.RECOVERY_STAFF_PERMISSIONS, email="browser-staff@example.com")
    client = Client()
    client.force_login(staff)
    session_cookie = client.cookies["sessionid"].value
    # No database access from here on in this thread: Playwright's sync API runs an event
    # loop in it, under which Django would open a second connection (and refuse to, without
    # DJANGO_ALLOW_ASYNC_UNSAFE) that outlives the test. Data is built before, by fixtures.

    problems: list[str] = []
    # The run's one Playwright (the chromium fixture): a second sync Playwright started
    # in the same thread refuses to run.
    browser = chromium
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": session_cookie, "url": live_server.url}])
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))

    def foreign(route):
        problems.append(f"request to another host: {route.request.url}")
        route.abort()

    page.route(
        lambda url: not url.startswith(live_server.url) and not url.startswith("data:"),
        foreign,
    )
    try:
        yield page, problems
    finally:
        context.close()
        _wait_for_request_threads()


def _wait_for_request_threads(timeout: float = 120.0) -> None:
    """The live server answers each browser connection in a thread that closes its database
    connection when the browser hangs up; wait for them, or the test database cannot be
    dropped at the end of the run ("being accessed by other users"). The limit only keeps a
    hung thread from hanging the run: on a busy machine they may take seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any("process_request_thread" in thread.name for thread in threading.enumerate()):
            return
        time.sleep(0.05)


@pytest.fixture
def scenario():
    built = sc.build()
    aggregation.recompute(date(2026, 2, 1), date(2026, 3, 31))
    return built


def test_overview_and_basket_detail_load_without_console_errors(
    scenario, live_server, dashboard_browser
):
    page, problems = dashboard_browser
    built = scenario

    response = page.goto(
        f"{live_server.url}/dashboard/recovery/?start=2026-03-01&end=2026-03-07",
        wait_until="load",
    )
    assert response.status == 200
    # Polled from here: wait_for_function's string predicate is an eval the CSP refuses.
    # The limit is a hang guard: on a busy machine drawing may take seconds.
    deadline = time.monotonic() + 120
    while not page.evaluate("() => !!(window.Chart && Chart.getChart('recovery-daily-chart'))"):
        assert time.monotonic() < deadline, "the charts were never drawn"
        page.wait_for_timeout(100)
    drawn = page.evaluate(
        """() => ['recovery-daily-chart', 'recovery-funnel-chart'].map(
               (id) => Chart.getChart(id).data.datasets[0].data)"""
    )
    assert drawn == [[1, 2, 0, 1, 0, 1, 0], [6, 6, 5, 4, 4, 3, 3]]
    # The section is in Oscar's dashboard menu.
    assert page.locator("a", has_text="Cart recovery").count() >= 1
    assert page.locator("[data-not-enough-data]").count() == 1

    journey = built.journeys[1]
    response = page.goto(
        f"{live_server.url}/dashboard/recovery/baskets/{journey.pk}/", wait_until="load"
    )
    assert response.status == 200
    assert page.locator("[data-table=timeline] tr").count() == 6
    assert page.locator("[data-table=lines]").inner_text().count("Winter coat") == 1

    # An action from the page: a real form POST with its CSRF token.
    page.click("[data-action=pause]")
    page.wait_for_load_state("load")
    assert page.locator("[data-enrolment-status]").get_attribute("data-enrolment-status") == (
        "paused"
    )
    assert problems == []


@pytest.fixture
def unsubscribed(scenario):
    """J2's address unsubscribed just now; its next step is not due yet."""
    from oscar_recovery.constants import SuppressionReason
    from oscar_recovery.privacy.suppression import suppress

    suppress(scenario.journeys[2].email, SuppressionReason.UNSUBSCRIBED)
    return scenario.journeys[2]


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}], ids=str
)
def test_an_unsubscribe_shows_at_once_on_the_basket_pages(
    unsubscribed, live_server, dashboard_browser, viewport
):
    """Before: nothing showed until the next step fell due, then "Stopped: address
    unsubscribed, bounced or complained"; the baskets list had no column for it."""
    page, problems = dashboard_browser
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/dashboard/recovery/baskets/", wait_until="load")
    cell = page.locator(f"[data-journey='{unsubscribed.pk}'] [data-no-more-emails]")
    assert cell.inner_text() == "Unsubscribed"

    page.goto(f"{live_server.url}/dashboard/recovery/baskets/{unsubscribed.pk}/", wait_until="load")
    notice = page.locator("[data-no-more-emails=unsubscribed]")
    assert "the address unsubscribed" in notice.inner_text()
    box = notice.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 1
    assert page.locator("[data-kind=contact]").count() == 1
    page.screenshot(path=f"/tmp/owner-shots/basket-page-{viewport['width']}.png", full_page=True)

    page.goto(f"{live_server.url}/dashboard/recovery/ab-tests/", wait_until="load")
    explanation = page.locator("[data-sequential-assumptions]")
    assert int(explanation.evaluate("p => getComputedStyle(p).fontWeight")) < 600
    assert problems == []
