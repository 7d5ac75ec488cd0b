"""The exit-intent dialog as a shopper meets it in the real shop (Oscar's pages under the
sandbox's strict CSP, headless Chromium), at desktop and phone sizes, one right to left:
the address field reads left to right, the code comes with a button that applies it and a
labelled close, a page in a language the owner wrote nothing in shows the prompt whole in
the default language, and a basket that already ships free is not offered free delivery."""

from decimal import Decimal

import pytest
from django.utils import translation
from oscar.core.loading import get_model

from oscar_recovery.models import CartJourney, Prompt
from tests.browser.test_prompts_shop import (  # noqa: F401 (shop is a fixture)
    add_to_basket,
    prompt_kinds,
    shop,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Basket = get_model("basket", "Basket")

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def open_exit_dialog(page, shop):  # noqa: F811
    Prompt.objects.filter(kind="exit_intent").update(arm_after=200)
    add_to_basket(page, shop)
    page.goto(shop["url"] + "/basket/")
    page.mouse.move(200, 300)
    page.wait_for_timeout(400)  # past the (shortened) arming delay
    # Out through the top edge, inside a phone's width too.
    for y in (5, -5):
        page.mouse.move(200, y)
    dialog = page.locator("dialog.orc-dialog[open]")
    dialog.wait_for()
    return dialog


def said(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


@pytest.mark.parametrize(("size", "language"), [("desktop", "en-GB"), ("phone", "ar")])
def test_the_code_comes_with_an_apply_button_and_a_labelled_close(
    shop,  # noqa: F811
    make_page,
    size,
    language,
):
    page = make_page(viewport=SIZES[size], locale=language)
    dialog = open_exit_dialog(page, shop)
    code = language.lower()
    email = dialog.locator("input[type=email]")
    # An address reads left to right in any dialog: "bad@" never shows as "@bad".
    assert email.evaluate("el => getComputedStyle(el).direction") == "ltr"
    if code == "ar":
        assert dialog.get_attribute("dir") == "rtl"
    page.screenshot(path=f"/tmp/shopper/exit-dialog-{size}-{code}.png")

    email.fill("ann@example.com")
    dialog.locator("input[name=consent]").check()
    dialog.locator(".orc-form button[type=submit]").click()
    page.wait_for_selector("[data-orc-offer]:not([hidden])")

    # "No thanks" went with the form; the offer has its own labelled close.
    assert not dialog.get_by_role("button", name=said(code, "No thanks")).is_visible()
    assert dialog.get_by_role("button", name=said(code, "Close"), exact=True).count() == 2
    voucher_code = dialog.locator("[data-orc-code]").input_value()
    assert voucher_code.startswith("BACK-")
    page.screenshot(path=f"/tmp/shopper/exit-dialog-code-{size}-{code}.png")

    apply = dialog.get_by_role("button", name=said(code, "Apply to my basket"))
    with page.expect_navigation():
        apply.click()
    journey = CartJourney.objects.get(email="ann@example.com")
    basket = Basket.objects.get(pk=journey.basket_id)
    assert list(basket.vouchers.values_list("code", flat=True)) == [voucher_code]
    assert voucher_code in page.locator("body").inner_text()
    page.locator("#basket_totals").screenshot(path=f"/tmp/shopper/basket-{size}-{code}.png")


def test_a_page_in_a_language_the_owner_wrote_nothing_in_shows_the_prompt_whole_in_english(
    shop,  # noqa: F811
    make_page,
):
    """German: Oscar and Django translate the "Email" label; the owner wrote no German."""
    page = make_page(viewport=SIZES["desktop"], locale="de")
    dialog = open_exit_dialog(page, shop)

    assert page.locator("html").get_attribute("lang") == "de"
    assert dialog.get_attribute("lang") == "en-gb" and dialog.get_attribute("dir") == "ltr"
    assert dialog.locator("label[for^=orc-email]").inner_text() == "Email"
    assert dialog.locator("h2").inner_text() == "Before you go: free delivery on this order"
    assert dialog.locator(".orc-form .orc-secondary").inner_text() == "No thanks"


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_basket_that_ships_free_is_not_offered_free_delivery(
    shop,  # noqa: F811
    make_page,
    settings,
    size,
):
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("50.00")
    page = make_page(viewport=SIZES[size])
    add_to_basket(page, shop)
    page.goto(shop["url"] + "/basket/")
    assert "exit_intent" in prompt_kinds(page)  # £40: free delivery is worth offering
    add_to_basket(page, shop)  # £80: it already ships free
    page.goto(shop["url"] + "/basket/")
    assert "exit_intent" not in prompt_kinds(page)
