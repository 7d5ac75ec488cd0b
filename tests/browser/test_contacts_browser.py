"""A customer's page in a real browser (Debian's chromium through Playwright), under the
sandbox's strict dashboard CSP, at desktop and phone width: every section is there, nothing
logs an error, and the page never scrolls sideways (wide tables scroll inside their box).
Screenshots are left in the test's temporary directory for a person to look at."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.support import contacts_scenario
from tests.support import dashboard_scenario as sc

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SECTIONS = (
    "identity",
    "identifiers",
    "facts",
    "consent-state",
    "consent-history",
    "journeys",
    "messages",
    "orders",
    "merges",
)


@pytest.mark.parametrize("size", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_a_customers_page_reads_at_desktop_and_phone_width(
    live_server, sandbox_base_template, make_page, settings, size, tmp_path
):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "sandbox.csp.DashboardPolicyMiddleware"]
    people = contacts_scenario.build()
    client = Client()
    client.force_login(sc.recovery_staff("view_cartjourney", "view_contact"))
    session = client.cookies["sessionid"].value

    page = make_page(viewport={"width": size[0], "height": size[1]})
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    response = page.goto(f"{live_server.url}/dashboard/recovery/customers/{people.ada.uuid}/")

    assert response.status == 200
    for name in SECTIONS:
        assert page.locator(f"[data-table='{name}']").count() == 1, name
    assert page.locator("[data-table=journeys] tbody tr").count() == 2
    assert page.locator("[data-table=orders] tbody tr").count() == 2
    assert "Ada Lovelace" in page.locator("[data-account]").inner_text()
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"
    page.screenshot(path=str(tmp_path / f"customer-{size[0]}.png"), full_page=True)

    page.goto(f"{live_server.url}/dashboard/recovery/customers/?q=ada")
    assert page.locator("[data-table=contacts] tbody tr").count() == 1
    page.screenshot(path=str(tmp_path / f"customers-{size[0]}.png"), full_page=True)
