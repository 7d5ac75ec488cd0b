"""Pages a link from an email opens, in headless Chromium at desktop and phone sizes (one
right to left): the shop's own language switcher on them (they keep their token out of
Referer headers, yet a same-origin form posted from them must pass Django's CSRF check,
which a browser's ``Origin: null`` under ``Referrer-Policy: no-referrer`` fails), and the
login page a customer's restore link leads a fresh browser to."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation

from oscar_recovery.models import CartJourney
from oscar_recovery.sending.tokens import restore_token, unsubscribe_token
from tests.conftest import BROWSER_UA
from tests.support.journeys import add_to_basket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def token_pages() -> dict[str, str]:
    return {
        "unsubscribe": reverse(
            "oscar_recovery:unsubscribe", kwargs={"token": unsubscribe_token("ann@example.com")}
        ),
        "bad restore link": reverse("oscar_recovery:restore", args=["not-a-token"]),
    }


@pytest.mark.parametrize(("size", "locale"), [("desktop", "en-GB"), ("phone", "ar")])
def test_the_language_switcher_works_on_pages_opened_from_an_email(
    sandbox_base_template, live_server, make_page, size, locale
):
    cache.clear()
    # The bad link's page answers 400 on purpose.
    make_page.expected_errors.append("status of 400")
    for name, path in token_pages().items():
        page = make_page(viewport=SIZES[size], locale=locale)
        page.goto(live_server.url + path)
        # On a phone the switcher sits in the collapsed menu: submit it as its button would.
        page.locator("#language_selector select").select_option("de", force=True)
        with page.expect_navigation() as navigation:
            page.evaluate("document.getElementById('language_selector').requestSubmit()")
        response = navigation.value
        assert response.status != 403, f"{name}: {response.status}"
        assert page.locator("html").get_attribute("lang") == "de", name
    cache.clear()


@pytest.mark.parametrize(("size", "language"), [("desktop", "ro"), ("phone", "ar")])
def test_a_customers_restore_link_in_a_fresh_browser_says_why_it_asks_for_a_login(
    sandbox_base_template, live_server, make_page, customer, product, size, language
):
    cache.clear()
    browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    browser.force_login(customer)
    add_to_basket(browser, product)
    journey = CartJourney.objects.get(user=customer)
    CartJourney.objects.filter(pk=journey.pk).update(language=language)

    page = make_page(viewport=SIZES[size])
    page.goto(live_server.url + reverse("oscar_recovery:restore", args=[restore_token(journey)]))

    assert page.url.startswith(live_server.url + reverse("customer:login"))
    with translation.override(language):
        why = translation.gettext("Log in to see your saved basket: it is kept in your account.")
    assert why in page.locator("body").inner_text()
    cache.clear()
