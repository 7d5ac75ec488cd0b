"""A shopper browsing the shop in Arabic sees the example exit-intent prompt in Arabic,
right to left, in headless Chromium under the sandbox's strict CSP."""

import pytest
from django.utils import translation

from oscar_recovery.models import Prompt
from tests.browser.conftest import pause_clock
from tests.browser.test_prompts_shop import add_to_basket, leave_through_top, shop  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/oscar-recovery-prompt-ar.png"


def test_an_arabic_shopper_reads_the_prompt_in_arabic_right_to_left(shop, make_page):  # noqa: F811
    Prompt.objects.filter(kind="exit_intent").update(arm_after=200)
    prompt = Prompt.objects.get(name__startswith="Exit intent: new")
    arabic = prompt.translations["ar"]
    page = make_page(locale="ar", viewport={"width": 900, "height": 700})
    add_to_basket(page, shop)
    pause_clock(page)
    page.goto(shop["url"] + "/basket/")
    page.mouse.move(400, 300)
    page.clock.run_for(200)  # the (shortened) arming delay
    leave_through_top(page)
    page.clock.run_for(100)  # the grace period

    dialog = page.get_by_role("dialog", name=arabic["headline"])
    dialog.wait_for()
    assert dialog.get_attribute("dir") == "rtl" and dialog.get_attribute("lang") == "ar"
    headline = dialog.locator("h2")
    assert headline.inner_text() == "قبل أن تغادر: شحن مجاني لهذا الطلب"
    assert headline.evaluate("el => getComputedStyle(el).direction") == "rtl"
    assert dialog.locator("p").first.inner_text() == arabic["body"]
    assert dialog.locator(".orc-form button.orc-cta").inner_text() == arabic["cta_label"]
    assert dialog.locator(".orc-consent").inner_text().strip() == arabic["consent_text"]
    with translation.override("ar"):
        no_thanks = translation.gettext("No thanks")
    assert dialog.locator(".orc-form .orc-secondary").inner_text() == no_thanks != "No thanks"
    assert "Before you go" not in dialog.inner_text()
    page.screenshot(path=SCREENSHOT)
