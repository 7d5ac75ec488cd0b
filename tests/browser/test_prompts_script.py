"""prompts.js in a real browser, on a page that renders exactly the markup and config of the
prompt contract (fixture.html) under the strict CSP. The browser itself answers the requests
(Playwright routes), so these tests pin the script's behaviour independently of the server's
eligibility rules; tests/browser/test_prompts_shop.py runs the same script in the real shop.
"""

import json
from pathlib import Path

import pytest

from tests.browser.conftest import STATIC, STRICT_CSP, pause_clock

pytestmark = pytest.mark.browser

ORIGIN = "http://shop.test"
FIXTURE = (Path(__file__).parent / "fixture.html").read_text()
FIXTURE_CSS = ".tall { block-size: 4000px; }"
FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>'
EXIT = {"id": 12, "kind": "exit_intent", "variant": "B", "template": "oscar-recovery-prompt-12"}
BANNER = {
    "id": 13,
    "kind": "returning_banner",
    "variant": "A",
    "template": "oscar-recovery-prompt-13",
}


class FakeShop:
    """Serves the fixture page and answers the two endpoints like the contract says."""

    def __init__(self, page, config, dir_="ltr"):
        self.page = page
        self.events: list[dict] = []
        self.captures: list[dict] = []
        self.config = {
            "events": "/recovery/prompts/events/",
            "capture": "/recovery/prompts/capture/",
            "csrf": "token-123",
            "visit": "visit-1",
            "tab": None,
            "liveCapture": None,
            **config,
        }
        self.dir = dir_
        self.capture_down = False
        page.route(f"{ORIGIN}/**", self.handle)

    def handle(self, route):
        request = route.request
        path = request.url[len(ORIGIN) :].split("?")[0]
        if path == "/page/":
            # json_script escapes like this too: the config can never close its element.
            config = json.dumps(self.config).replace("<", "\\u003C").replace(">", "\\u003E")
            html = FIXTURE.replace("{{ config }}", config).replace("{{ dir }}", self.dir)
            route.fulfill(
                body=html,
                content_type="text/html; charset=utf-8",
                headers={"Content-Security-Policy": STRICT_CSP},
            )
        elif path.startswith("/static/oscar_recovery/"):
            name = path.removeprefix("/static/")
            kind = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
            body = (STATIC / name).read_bytes()
            route.fulfill(body=body, content_type=kind[name.rsplit(".")[-1]])
        elif path == "/static/fixture.css":
            route.fulfill(body=FIXTURE_CSS, content_type="text/css")
        elif path == "/static/shop-favicon.ico":
            route.fulfill(body=FAVICON, content_type="image/svg+xml")
        elif path == self.config["events"]:
            self.check_headers(request)
            self.events.append(request.post_data_json)
            route.fulfill(status=204)
        elif path == self.config["capture"] and self.capture_down:
            route.abort("connectionrefused")
        elif path == self.config["capture"]:
            self.check_headers(request)
            data = request.post_data_json
            self.captures.append(data)
            if data["email"].endswith("@blocked.test"):
                body = {"errors": {"email": ["We cannot send email to this address."]}}
                route.fulfill(status=400, json=body)
            else:
                route.fulfill(json={"message": "Thank you! Your code:", "voucher": "SAVE-7Q2K"})
        else:
            route.fulfill(status=404, body="")

    @staticmethod
    def check_headers(request):
        assert request.method == "POST"
        assert request.headers["x-csrftoken"] == "token-123"
        assert request.headers["content-type"] == "application/json"

    def open(self):
        # Waits for the load event. (No wait_for_function here: under the page's CSP its
        # string predicates may be refused as eval.)
        self.page.goto(f"{ORIGIN}/page/")
        # The fixture's tall block, from a stylesheet (the CSP forbids inline style).
        self.page.add_style_tag(url="/static/fixture.css")
        self.page.mouse.move(300, 300)

    def event_names(self):
        # Events are fire-and-forget beacons: wait until no new one came for half a second.
        seen, quiet = -1, 0
        while quiet < 5:
            self.page.wait_for_timeout(100)
            quiet = quiet + 1 if len(self.events) == seen else 0
            seen = len(self.events)
        return [(e["prompt"], e["event"]) for e in self.events]


def leave_through_top(page):
    page.mouse.move(300, 5)
    page.mouse.move(300, -5)


def dialog_open(page) -> bool:
    return page.evaluate("!!document.querySelector('dialog.orc-dialog[open]')")


def scroll_to(page, y: int) -> None:
    """Scroll the window to ``y``; returns once the page has handled the scroll event."""
    page.evaluate(
        "y => new Promise(done => {"
        " addEventListener('scroll', done, {once: true}); scrollTo(0, y); })",
        y,
    )


def exit_intent(arm_ms=0, grace_ms=0, **trigger):
    return {**EXIT, "trigger": {"armMs": arm_ms, "graceMs": grace_ms, **trigger}}


def test_exit_intent_opens_when_the_pointer_leaves_the_top(make_page):
    page = make_page()
    shop = FakeShop(page, {"prompts": [exit_intent(grace_ms=50)]})
    shop.open()
    assert not dialog_open(page)
    leave_through_top(page)
    page.wait_for_selector("dialog.orc-dialog[open]")
    dialog = page.locator("dialog.orc-dialog")
    assert dialog.get_attribute("aria-labelledby") == "orc-title-12"
    assert page.evaluate("document.activeElement.id") == "orc-email-12"
    assert shop.event_names() == [(12, "shown")]
    assert shop.events[0] == {"prompt": 12, "variant": "B", "event": "shown", "visit": "visit-1"}


def test_not_before_the_arming_delay(make_page):
    page = make_page()
    shop = FakeShop(page, {"prompts": [exit_intent(arm_ms=3000)]})
    pause_clock(page)
    shop.open()
    leave_through_top(page)
    page.clock.run_for(2999)
    assert not dialog_open(page)
    page.mouse.move(300, 300)
    page.clock.run_for(1)  # 3 s since the script started: armed
    leave_through_top(page)
    page.clock.run_for(1)  # no grace period
    assert dialog_open(page)


def test_grazing_the_edge_within_the_grace_period_does_not_fire(make_page):
    page = make_page()
    shop = FakeShop(page, {"prompts": [exit_intent(grace_ms=1000)]})
    pause_clock(page)
    shop.open()
    page.clock.run_for(1)  # armed (no arming delay)
    leave_through_top(page)
    page.clock.run_for(999)
    page.mouse.move(300, 200)  # back in within the second
    page.clock.run_for(1500)
    assert not dialog_open(page)
    assert shop.event_names() == []
    # Out for the whole grace period: then it opens.
    leave_through_top(page)
    page.clock.run_for(999)
    assert not dialog_open(page)
    page.clock.run_for(1)
    assert dialog_open(page)
    assert shop.event_names() == [(12, "shown")]


def test_form_controls_do_not_trigger_it(make_page):
    page = make_page()
    shop = FakeShop(page, {"prompts": [exit_intent()]})
    pause_clock(page)
    shop.open()
    page.clock.run_for(1)  # armed (no arming delay)
    # What Firefox sends when the pointer moves over an open <select>'s list.
    page.evaluate(
        "for (const id of ['size', 'q']) document.getElementById(id).dispatchEvent("
        "new MouseEvent('mouseout', {bubbles: true, clientY: -3, relatedTarget: null}))"
    )
    # A <select> with focus may have its list open over the page's edge.
    page.focus("#size")
    leave_through_top(page)
    # Typing a search is not leaving either.
    page.mouse.move(300, 300)
    page.fill("#q", "")
    page.type("#q", "coat")
    leave_through_top(page)
    page.clock.run_for(300)
    assert not dialog_open(page)
    page.mouse.move(300, 300)
    page.clock.run_for(1200)  # 1.5 s since the last key: no longer typing
    page.focus("#home")
    leave_through_top(page)
    page.clock.run_for(1)
    assert dialog_open(page)


def test_not_twice_in_a_visit_and_not_after_a_dismissal(make_page):
    page = make_page()
    shop = FakeShop(page, {"prompts": [exit_intent()]})
    pause_clock(page)
    shop.open()
    page.clock.run_for(1)  # armed (no arming delay)
    leave_through_top(page)
    page.clock.run_for(1)
    assert dialog_open(page)
    page.click("text=No thanks")
    # The dialog's close event runs after the click returns (a busy machine shows the gap).
    page.wait_for_selector("dialog.orc-dialog", state="detached")
    assert not dialog_open(page)
    assert page.locator("dialog.orc-dialog").count() == 0  # removed, not just hidden
    page.mouse.move(300, 300)
    leave_through_top(page)
    page.clock.run_for(300)
    assert not dialog_open(page)
    # The next page of the same visit.
    shop.open()
    page.clock.run_for(300)
    leave_through_top(page)
    page.clock.run_for(300)
    assert not dialog_open(page)
    assert shop.event_names() == [(12, "shown"), (12, "dismissed")]


def test_keyboard_focus_is_trapped_escape_closes_and_focus_returns(make_page):
    page = make_page()
    shop = FakeShop(page, {"prompts": [exit_intent()]})
    shop.open()
    page.focus("#home")
    leave_through_top(page)
    page.wait_for_selector("dialog.orc-dialog[open]")
    inside = "document.activeElement.closest('dialog.orc-dialog') !== null"
    seen = set()
    for _ in range(8):
        page.keyboard.press("Tab")
        assert page.evaluate(inside)
        seen.add(
            page.evaluate(
                "document.activeElement.ariaLabel || document.activeElement.name"
                " || document.activeElement.textContent.trim()"
            )
        )
    assert {"Close", "email", "consent", "Get my code", "No thanks"} <= seen
    for _ in range(8):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(inside)
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog.orc-dialog", state="detached")
    assert not dialog_open(page)
    assert page.evaluate("document.activeElement.id") == "home"
    assert shop.event_names() == [(12, "shown"), (12, "dismissed")]


def test_the_close_button_dismisses(make_page):
    page = make_page()
    shop = FakeShop(page, {"prompts": [exit_intent()]})
    shop.open()
    leave_through_top(page)
    page.get_by_role("button", name="Close").click()
    page.wait_for_selector("dialog.orc-dialog", state="detached")
    assert not dialog_open(page)
    assert shop.event_names() == [(12, "shown"), (12, "dismissed")]


def test_email_capture_shows_errors_then_reveals_the_code(make_page):
    make_page.expected_errors.append("status of 400 (Bad Request)")
    page = make_page()
    shop = FakeShop(page, {"prompts": [exit_intent()]})
    shop.open()
    leave_through_top(page)
    page.wait_for_selector("dialog.orc-dialog[open]")  # typing must reach the open dialog
    dialog = page.locator("dialog.orc-dialog")
    error = dialog.locator(".orc-error")
    # Not an address at all: the browser's own (translated) message, no request.
    page.keyboard.type("not-an-address")
    page.keyboard.press("Enter")
    assert error.is_visible() and error.inner_text()
    assert shop.captures == []
    # The server refuses it: its message is shown and the field marked and focused again.
    page.fill("#orc-email-12", "ann@blocked.test")
    dialog.get_by_role("button", name="Get my code").click()
    dialog.locator(".orc-error", has_text="cannot").wait_for()
    assert error.inner_text() == "We cannot send email to this address."
    assert page.evaluate("document.activeElement.id") == "orc-email-12"
    assert dialog.locator("#orc-email-12").get_attribute("aria-invalid") == "true"
    # Accepted: the form goes, the message and the code appear and take focus.
    page.fill("#orc-email-12", " ann@example.com ")
    dialog.get_by_label("Send me offers by email.").check()
    dialog.get_by_role("button", name="Get my code").click()
    page.wait_for_selector("[data-orc-offer]:not([hidden])")
    assert dialog.locator("[data-orc-code]").inner_text() == "SAVE-7Q2K"
    assert dialog.locator("[data-orc-message]").inner_text() == "Thank you! Your code:"
    assert not dialog.locator("form").is_visible()
    assert page.evaluate("document.activeElement.hasAttribute('data-orc-offer')")
    assert shop.captures[-1] == {
        "prompt": 12,
        "variant": "B",
        "email": "ann@example.com",
        "consent": True,
        "visit": "visit-1",
    }
    # Closing after giving the email is not a dismissal.
    page.keyboard.press("Escape")
    assert shop.event_names() == [(12, "shown")]


def test_a_network_failure_says_so_and_keeps_the_address(make_page):
    make_page.expected_errors.append("net::ERR_CONNECTION_REFUSED")
    page = make_page()
    shop = FakeShop(page, {"prompts": [exit_intent()]})
    shop.capture_down = True
    shop.open()
    leave_through_top(page)
    dialog = page.locator("dialog.orc-dialog")
    dialog.wait_for()
    page.keyboard.type("ann@example.com")
    page.keyboard.press("Enter")
    dialog.locator(".orc-error", has_text="Something went wrong").wait_for()
    assert page.input_value("#orc-email-12") == "ann@example.com"
    assert dialog.get_by_role("button", name="Get my code").is_enabled()
    # Back online: the same form goes through.
    shop.capture_down = False
    page.keyboard.press("Enter")
    dialog.locator("[data-orc-code]", has_text="SAVE-7Q2K").wait_for()


def test_email_capture_prompt_by_delay_and_by_scroll_depth(make_page):
    page = make_page()
    capture = {**EXIT, "kind": "email_capture", "trigger": {"delayMs": 3000}}
    shop = FakeShop(page, {"prompts": [capture]})
    pause_clock(page)
    shop.open()
    page.clock.run_for(2999)
    assert not dialog_open(page)
    page.clock.run_for(1)
    assert dialog_open(page)

    page = make_page()
    capture = {**EXIT, "kind": "email_capture", "trigger": {"scrollPercent": 50}}
    FakeShop(page, {"prompts": [capture]}).open()
    page.mouse.wheel(0, 600)
    page.wait_for_timeout(300)
    assert not dialog_open(page)
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight * 0.6)")
    page.wait_for_selector("dialog.orc-dialog[open]")


def test_mobile_fast_upward_scroll_only_when_switched_on(make_page):
    mobile = {"viewport": {"width": 390, "height": 800}, "is_mobile": True, "has_touch": True}
    for switched_on in (False, True):
        page = make_page(**mobile)
        shop = FakeShop(page, {"prompts": [exit_intent(mobileScroll=switched_on)]})
        pause_clock(page)  # the speed is measured with the page's clock
        shop.open()
        page.clock.run_for(1)  # armed (no arming delay)
        scroll_to(page, 3000)
        page.clock.run_for(200)
        scroll_to(page, 0)  # a flick back to the top: 15 px/ms
        page.clock.run_for(1)
        assert dialog_open(page) is switched_on


def test_returning_banner_is_non_modal_without_layout_shift(make_page):
    page = make_page()
    page.add_init_script(
        "window.__shifts = 0; new PerformanceObserver(l => l.getEntries().forEach("
        "e => { window.__shifts += e.value; })).observe({type: 'layout-shift', buffered: true});"
    )
    shop = FakeShop(page, {"prompts": [BANNER]})
    shop.open()
    banner = page.get_by_role("region", name="Welcome back")
    banner.wait_for()
    style = "getComputedStyle(document.querySelector('.orc-banner'))"
    assert page.evaluate(f"{style}.position") == "fixed"
    assert page.evaluate("document.querySelector('main').firstElementChild.matches('.orc-banner')")
    assert page.evaluate("window.__shifts") == 0
    # Non-modal: the page stays usable under it.
    page.fill("#q", "hat")
    banner.get_by_role("link", name="View basket").click(modifiers=["Control"])
    banner.get_by_role("button", name="Close").click()
    assert banner.count() == 0
    assert shop.event_names() == [(13, "shown"), (13, "cta"), (13, "dismissed")]
    shop.open()
    page.wait_for_timeout(200)
    assert page.locator(".orc-banner").count() == 0


def test_abandoned_tab_swaps_title_and_favicon_and_restores_them(make_page):
    page = make_page()
    tab = {"title": "(1) Your basket is waiting", "favicon": "/static/oscar_recovery/tab-alert.svg"}
    FakeShop(page, {"prompts": [], "tab": tab}).open()
    set_visibility = (
        "state => { const def = (k, v) => Object.defineProperty(document, k,"
        " {value: v, configurable: true}); def('visibilityState', state);"
        " def('hidden', state === 'hidden');"
        " document.dispatchEvent(new Event('visibilitychange')); }"
    )
    icon = "document.querySelector('link[rel~=icon]').getAttribute('href')"
    page.evaluate(set_visibility, "hidden")
    assert page.title() == "(1) Your basket is waiting"
    assert page.evaluate(icon) == "/static/oscar_recovery/tab-alert.svg"
    page.evaluate(set_visibility, "visible")
    assert page.title() == "Fixture shop page"
    assert page.evaluate(icon) == "/static/shop-favicon.ico"


def test_reduced_motion_means_no_animation(make_page):
    for motion, animation in (("reduce", "none"), ("no-preference", "orc-in")):
        page = make_page(reduced_motion=motion)
        FakeShop(page, {"prompts": [exit_intent()]}).open()
        leave_through_top(page)
        page.wait_for_selector("dialog.orc-dialog[open]")
        style = "getComputedStyle(document.querySelector('dialog'))"
        assert page.evaluate(f"{style}.animationName") == animation


def test_right_to_left_pages_mirror_the_dialog(make_page):
    positions = {}
    for direction in ("ltr", "rtl"):
        page = make_page()
        FakeShop(page, {"prompts": [exit_intent()]}, dir_=direction).open()
        leave_through_top(page)
        page.wait_for_selector("dialog.orc-dialog[open]")
        dialog = page.locator("dialog").bounding_box()
        close = page.locator(".orc-close").bounding_box()
        positions[direction] = close["x"] - dialog["x"] > dialog["width"] / 2
        assert page.evaluate("getComputedStyle(document.querySelector('h2')).textAlign") == "start"
    assert positions == {"ltr": True, "rtl": False}  # the close button sits at the end side
