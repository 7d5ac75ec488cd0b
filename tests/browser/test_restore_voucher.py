"""One offer, one story, in a real browser: a restore link whose journey holds a
prompt's unused voucher brings the basket back with the code applied, says so, and speaks
the journey's language."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation
from oscar.test import factories

from oscar_recovery.models import CartJourney
from oscar_recovery.sending.tokens import restore_token
from tests.conftest import BROWSER_UA
from tests.support.journeys import add_to_basket, guest_gateway
from tests.test_voucher_story import prompt_voucher

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_restore_link_shows_the_basket_with_the_prompts_code_applied_in_its_language(
    sandbox_base_template, live_server, make_page
):
    cache.clear()
    product = factories.create_product(title="Winter coat", price="40.00", num_in_stock=10)
    # The shopper left the basket in Romanian, after a prompt revealed a 10 % code.
    shopper = Client(HTTP_USER_AGENT=BROWSER_UA)
    add_to_basket(shopper, product)
    guest_gateway(shopper, "ana@example.com")
    journey = CartJourney.objects.get(email="ana@example.com")
    CartJourney.objects.filter(pk=journey.pk).update(language="ro")
    journey.refresh_from_db()
    voucher = prompt_voucher(journey)

    # The email is opened in another browser, which has neither basket nor language.
    page = make_page()
    page.goto(live_server.url + reverse("oscar_recovery:restore", args=[restore_token(journey)]))
    page.wait_for_load_state()

    assert page.url == live_server.url + reverse("basket:summary")
    assert page.locator("html").get_attribute("lang") == "ro"
    body = page.locator("body").inner_text()
    assert f"Coșul tău s-a întors; codul {voucher.code} a fost aplicat." in body
    assert "Winter coat" in body
    totals = page.locator("#basket_totals").inner_text()
    assert voucher.code in totals
    # The code's line reads in Romanian, never an internal name or id.
    with translation.override("ro"):
        name = translation.gettext("%(percent)s%% off your order") % {"percent": "10"}
    assert f"{name} · {voucher.code[-9:]}" in totals and "(#" not in totals
    cache.clear()
