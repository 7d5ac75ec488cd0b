"""The owner's audiences page in a real browser (Debian's chromium through Playwright), under
the sandbox's strict dashboard CSP, at desktop and phone width: the built-in audiences and
one synced to Meta are listed with their figures, the small-audience warning shows, and the
page never scrolls sideways. Screenshots are left in the test's temporary directory."""

from __future__ import annotations

import pytest
from django.test import Client

from oscar_recovery.audiences import sync
from tests.audiences.helpers import audience, contact, segment
from tests.support import dashboard_scenario as sc

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.mark.parametrize("size", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_the_audiences_page_reads_at_desktop_and_phone_width(
    live_server, sandbox_base_template, make_page, settings, size, tmp_path
):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "sandbox.csp.DashboardPolicyMiddleware"]
    settings.OSCAR_RECOVERY_AUDIENCE_PLATFORM_MODULES = {"meta": "fake", "google": "fake"}
    seg = segment()
    synced = audience(seg, sync_meta=True)
    contact("ada@example.com", phone="+442079460958", seg=seg)
    contact("bob@example.com", seg=seg)
    contact("cy@example.com", ads=False, seg=seg)  # no ads consent: never listed
    sync.sync_audience(synced)
    client = Client()
    client.force_login(sc.recovery_staff("view_audience", "view_audiencemember"))
    session = client.cookies["sessionid"].value

    page = make_page(viewport={"width": size[0], "height": size[1]})
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    response = page.goto(f"{live_server.url}/dashboard/recovery/customers/audiences/")

    assert response.status == 200
    text = page.locator("body").inner_text()
    assert synced.name in text
    card = page.locator(f"[data-audience='{synced.slug}']")
    assert card.locator("[data-members]").get_attribute("data-members") == "2"
    assert card.locator("[data-below-minimum]").is_visible()
    assert card.locator("[data-destination=meta]").count() == 1
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"
    page.screenshot(path=str(tmp_path / f"audiences-{size[0]}.png"), full_page=True)
