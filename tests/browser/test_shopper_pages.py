"""The shop's own language switcher on the pages a link from an email opens (unsubscribe,
a bad restore link, the double opt-in confirmation): those pages keep their token out of
Referer headers, yet a same-origin form posted from them must still pass Django's CSRF
check, which a browser's ``Origin: null`` (sent under ``Referrer-Policy: no-referrer``)
fails. Headless Chromium at desktop and phone sizes, one size right to left."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from oscar_recovery.sending.tokens import unsubscribe_token

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
