"""The prompts in the real shop: Oscar's pages served by the live server under the sandbox's
strict Content-Security-Policy, with the sandbox's base template (which carries
``{% load recovery %}{% recovery_prompts %}``), driven by headless Chromium like a shopper.
Every test fails on any console error, uncaught exception or CSP violation (conftest)."""

import re
import time

import pytest
from django.core.cache import cache
from django.db import OperationalError
from oscar.core.loading import get_model
from oscar.test import factories

from oscar_recovery.models import CartJourney, Prompt, PromptEvent
from oscar_recovery.prompts.install import install_default_prompts
from tests.browser.conftest import pause_clock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Basket = get_model("basket", "Basket")
Country = get_model("address", "Country")
Order = get_model("order", "Order")


@pytest.fixture
def shop(sandbox_base_template, live_server):
    """The test shop with the sandbox's base template and the default prompts switched on,
    exit intent armed after 3 s."""
    cache.clear()
    Country.objects.get_or_create(
        iso_3166_1_a2="GB", defaults={"name": "United Kingdom", "is_shipping_country": True}
    )
    install_default_prompts(activate=True)
    Prompt.objects.filter(kind="exit_intent").update(arm_after=3000, grace=100)
    product = factories.create_product(title="Winter coat", price="40.00", num_in_stock=10)
    yield {"url": live_server.url, "product": product}
    cache.clear()


SET_HIDDEN = (
    "hidden => { Object.defineProperty(document, 'hidden', {value: hidden, configurable: true});"
    " document.dispatchEvent(new Event('visibilitychange')); }"
)


def wait_until(condition, seconds: float = 120.0) -> None:
    """Events travel as fire-and-forget beacons: wait for the server to record them (the
    limit only keeps a lost beacon from hanging the run; a busy machine may take seconds).
    On SQLite the live server's thread shares the in-memory database, whose table locks
    fail at once instead of waiting: a poll that meets one simply polls again."""
    deadline = time.monotonic() + seconds
    while not _holds(condition):
        assert time.monotonic() < deadline, "timed out waiting for the server"
        time.sleep(0.05)


def _holds(condition) -> bool:
    try:
        return bool(condition())
    except OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False


def add_to_basket(page, shop):
    page.goto(shop["url"] + shop["product"].get_absolute_url())
    page.locator("#add_to_basket_form [type=submit]").click()
    page.wait_for_load_state()


def leave_through_top(page):
    page.mouse.move(400, 300)
    page.mouse.move(400, 5)
    page.mouse.move(400, -5)


def prompt_kinds(page) -> list[str]:
    config = page.evaluate(
        "JSON.parse(document.getElementById('oscar-recovery-config')?.textContent || '{}')"
    )
    return [prompt["kind"] for prompt in config.get("prompts", [])]


def test_pages_carry_the_strict_policy_and_nothing_inline_of_ours(shop, make_page):
    page = make_page()
    add_to_basket(page, shop)
    response = page.goto(shop["url"] + "/basket/")
    policy = dict(
        (d.split()[0], d.split()[1:])
        for d in response.headers["content-security-policy"].split("; ")
    )
    assert policy["style-src"] == ["'self'"]
    assert policy["script-src"][0] == "'self'" and policy["script-src"][1].startswith("'nonce-")
    assert not any("unsafe-inline" in values for values in policy.values())
    assert prompt_kinds(page) == ["exit_intent"]
    # The tag's output: no inline code or style, and its only inline <script> is inert JSON.
    markup = page.evaluate(
        "[...document.querySelectorAll('template[id^=oscar-recovery-prompt]')]"
        ".map(t => t.innerHTML).join('')"
    )
    assert "orc-dialog" in markup
    assert not re.search(r"\sstyle=|\son[a-z]+=|<script", markup)
    inline_scripts = page.evaluate(
        "[...document.scripts].filter(s => !s.src).map(s => [s.id, s.type, !!s.nonce])"
    )
    assert ["oscar-recovery-config", "application/json", False] in inline_scripts
    assert all(t == "application/json" or nonce for _, t, nonce in inline_scripts)


def test_exit_intent_email_makes_the_journey_recoverable_and_the_voucher_works(shop, make_page):
    page = make_page()
    add_to_basket(page, shop)
    pause_clock(page)  # the arming delay and grace period pass when the test says
    page.goto(shop["url"] + "/basket/")
    # Not before the arming delay.
    leave_through_top(page)
    page.clock.run_for(2999)
    assert page.locator("dialog[open]").count() == 0
    page.mouse.move(400, 300)
    page.clock.run_for(1)
    leave_through_top(page)
    page.clock.run_for(100)  # the pointer stayed out for the grace period
    dialog = page.get_by_role("dialog", name="Before you go: free delivery on this order")
    dialog.wait_for()
    assert page.evaluate("document.activeElement.type") == "email"
    # Keyboard only: type, tick the consent, submit.
    page.keyboard.type("ann@example.com")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    code = dialog.locator("[data-orc-code]")
    code.wait_for()
    voucher_code = code.inner_text().strip()
    assert voucher_code

    journey = CartJourney.objects.get(basket__lines__product=shop["product"])
    assert journey.email == "ann@example.com"
    assert journey.is_contactable
    prompt = Prompt.objects.get(name__startswith="Exit intent: new")
    wait_until(lambda: PromptEvent.objects.filter(prompt=prompt, kind="shown").exists())
    assert PromptEvent.objects.filter(prompt=prompt, kind="shown").count() == 1

    page.keyboard.press("Escape")
    assert page.locator("dialog[open]").count() == 0
    # Not twice in a visit: the next page does not offer it again.
    page.goto(shop["url"] + "/basket/")
    page.clock.run_for(3100)
    leave_through_top(page)
    page.clock.run_for(300)
    assert page.locator("dialog[open]").count() == 0

    # The code works: Oscar's own voucher form takes it (its page scripts on real time).
    page.clock.resume()
    page.locator("#voucher_form_link a").click()
    page.locator("#id_code").fill(voucher_code)
    page.locator("#voucher_form [type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".alert", has_text=f"Voucher '{voucher_code}' added to basket").count()
    basket = Basket.objects.get(pk=journey.basket_id)
    assert list(basket.vouchers.values_list("code", flat=True)) == [voucher_code]


def test_a_dismissed_exit_intent_stays_away(shop, make_page):
    page = make_page()
    add_to_basket(page, shop)
    pause_clock(page)
    page.goto(shop["url"] + "/basket/")
    page.clock.run_for(3000)  # armed
    page.locator("#voucher_form_link a").focus()
    leave_through_top(page)
    page.clock.run_for(100)
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    dialog.get_by_role("button", name="Close").click()
    # Focus returns in the dialog's close event, after the click returns.
    page.wait_for_selector("dialog.orc-dialog", state="detached")
    assert page.evaluate("document.activeElement.closest('#voucher_form_link') !== null")
    wait_until(lambda: PromptEvent.objects.filter(kind="dismissed").exists())
    assert PromptEvent.objects.filter(kind="dismissed").count() == 1
    # A new tab (a new visit for the script's own memory): the shop no longer offers it.
    other = page.context.new_page()
    other.goto(shop["url"] + "/basket/")
    assert "exit_intent" not in prompt_kinds(other)


# Is the element at the centre of each of the gateway form's own controls that control (or
# inside it)? Each is scrolled to the bottom edge of the window, where a fixed banner sits.
GATEWAY_CONTROLS_ON_TOP = """() => {
  const form = document.querySelector('#id_username').form;
  return [...form.querySelectorAll('button, input:not([type=hidden])')].map(el => {
    el.scrollIntoView({block: 'end'});
    const r = el.getBoundingClientRect();
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    const onTop = el === top || el.contains(top) || top?.control === el;
    return [el.name || el.textContent.trim(), onTop];
  });
}"""


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_the_guest_checkout_help_covers_none_of_the_gateway_form(shop, make_page, size, tmp_path):
    page = make_page(viewport={"width": size[0], "height": size[1]})
    add_to_basket(page, shop)
    page.goto(shop["url"] + "/checkout/")
    page.get_by_role("region", name="No account needed").wait_for()
    page.screenshot(path=str(tmp_path / f"gateway-{size[0]}.png"))
    controls = page.evaluate(GATEWAY_CONTROLS_ON_TOP)
    assert [name for name, _ in controls if name == "Continue"], controls
    assert all(on_top for _, on_top in controls), controls
    # One email field on the page: the gateway's own.
    assert page.locator("input[type=email], input[name=username]").count() == 1


def test_guest_checkout_prompt_leads_to_a_completed_guest_order(shop, make_page):
    page = make_page()
    add_to_basket(page, shop)
    page.goto(shop["url"] + "/checkout/")
    banner = page.get_by_role("region", name="No account needed")
    banner.wait_for()
    # Empty field: the help sends the shopper to the gateway's own email field.
    banner.get_by_role("button", name="Continue as a guest").click()
    assert page.evaluate("document.activeElement.id") == "id_username"
    page.fill("#id_username", "guest@example.com")
    page.locator("#id_options_1").check()  # had picked "new account": the help picks guest
    banner.get_by_role("button", name="Continue as a guest").click()
    page.wait_for_url("**/checkout/shipping-address/")
    page.fill("#id_first_name", "Ada")
    page.fill("#id_last_name", "Lovelace")
    page.fill("#id_line1", "1 Analytical Row")
    page.fill("#id_line4", "London")
    page.fill("#id_postcode", "N1 9GU")
    page.locator("form#new_shipping_address [type=submit]").click()
    page.wait_for_url("**/checkout/payment-details/")
    page.locator("#view_preview").click()
    page.wait_for_url("**/checkout/preview/")
    page.locator("#place-order").click()
    page.wait_for_url("**/checkout/thank-you/")
    order = Order.objects.get()
    assert order.guest_email == "guest@example.com"
    assert PromptEvent.objects.filter(kind="cta").count() == 2


def test_the_tab_title_changes_while_the_page_is_hidden(shop, make_page):
    page = make_page()
    add_to_basket(page, shop)
    page.goto(shop["url"] + "/basket/")
    title = page.title()
    # Headless Chromium never hides a tab, so the page is told what a tab switch tells it.
    page.evaluate(SET_HIDDEN, True)
    assert page.title() == "(1) Your basket is waiting"
    assert page.evaluate("document.querySelector('link[rel~=icon]').href").endswith("tab-alert.svg")
    page.evaluate(SET_HIDDEN, False)
    assert page.title() == title
