"""Previews staff can read, in a real browser under the sandbox's strict CSP: the
step preview shows the email at full height and at phone width side by side, and the prompt
admin's live preview follows what staff type, styled by the shop's own prompts.css."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from oscar_recovery.constants import PromptKind
from oscar_recovery.models import Campaign, CampaignStep, Prompt

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = __import__("pathlib").Path("/tmp/i14-shots")
SHOTS.mkdir(exist_ok=True)

FRAME_FITS = (
    "f => f.contentDocument && f.contentDocument.readyState === 'complete' &&"
    " f.contentDocument.body && f.contentDocument.body.scrollHeight > 100 &&"
    " f.offsetHeight >= f.contentDocument.documentElement.scrollHeight"
)


@pytest.fixture
def staff_page(live_server, sandbox_base_template, make_page, admin_user, product):
    """A logged-in admin tab: data first (no database access once Playwright runs)."""
    client = Client()
    client.force_login(admin_user)
    session = client.cookies["sessionid"].value

    def open_page(path: str, **options):
        page = make_page(**options)
        page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        # The admin has no favicon; the browser's request for one is not the page's error.
        page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
        page.goto(live_server.url + path)
        return page

    return open_page


def test_the_step_preview_shows_the_email_full_height_at_desktop_and_phone_width(
    staff_page, tmp_path
):
    campaign = Campaign.objects.create(name="Winter")
    step = CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Still there?"
    )

    page = staff_page(
        f"/admin/oscar_recovery/campaignstep/{step.pk}/preview/",
        viewport={"width": 1440, "height": 900},
    )

    desktop = page.locator("iframe.recovery-frame-desktop")
    phone = page.locator("iframe.recovery-frame-phone")
    page.wait_for_function(
        f"() => ({FRAME_FITS})(document.querySelector('.recovery-frame-desktop'))"
    )
    page.wait_for_function(f"() => ({FRAME_FITS})(document.querySelector('.recovery-frame-phone'))")
    d, p = desktop.bounding_box(), phone.bounding_box()
    assert p["width"] == pytest.approx(375, abs=2)
    assert d["width"] > p["width"]
    assert p["x"] > d["x"] + d["width"] - 1 and abs(p["y"] - d["y"]) < 5  # side by side
    # Full height: the frame is as tall as the email, taller at phone width (it wraps).
    assert p["height"] > d["height"] > 640
    assert "Return to your basket" in phone.content_frame.locator("body").inner_text()
    page.screenshot(path=str(SHOTS / "step-preview.png"), full_page=True)


OWNER_SHOTS = __import__("pathlib").Path("/tmp/owner-shots")
OWNER_SHOTS.mkdir(exist_ok=True)
LONG_URL = "https://shop.example/" + "very-long-campaign-path-" * 12 + "end"
STYLED_DRAFT = (
    '<table role="presentation" width="100%"><tr><td style="background-color: rgb(255, 0, 0);'
    ' padding: 24px" id="styled">Draft for {{ lines.0.title }}</td></tr></table>'
)


@pytest.mark.parametrize(
    "viewport, side_by_side",
    [({"width": 1280, "height": 800}, True), ({"width": 390, "height": 844}, False)],
    ids=["desktop", "phone"],
)
def test_a_draft_preview_is_styled_and_laid_out_for_the_screen(staff_page, viewport, side_by_side):
    """Before: the draft's frames (srcdoc) inherited the admin's strict CSP, which refused
    every inline style of the email (about 96 violations), so it showed unstyled; the two
    frames stacked on a 1280 px screen; a long URL ran out of the text part's box."""
    campaign = Campaign.objects.create(name="Winter")
    step = CampaignStep.objects.create(
        campaign=campaign,
        position=1,
        delay=timedelta(hours=1),
        subject="Still there?",
        body_text=f"See {LONG_URL}",
    )
    page = staff_page(f"/admin/oscar_recovery/campaignstep/{step.pk}/preview/", viewport=viewport)
    page.fill("#id_body_html", STYLED_DRAFT)
    with page.expect_navigation():
        page.click("button[value=preview]")
    page.wait_for_function(
        f"() => ({FRAME_FITS})(document.querySelector('.recovery-frame-desktop'))"
    )
    page.wait_for_function(f"() => ({FRAME_FITS})(document.querySelector('.recovery-frame-phone'))")

    for frame_class in ("recovery-frame-desktop", "recovery-frame-phone"):
        cell = page.locator(f"iframe.{frame_class}").content_frame.locator("#styled")
        assert cell.inner_text() == "Draft for Winter coat"
        assert cell.evaluate("c => getComputedStyle(c).backgroundColor") == "rgb(255, 0, 0)"
    d = page.locator("iframe.recovery-frame-desktop").bounding_box()
    p = page.locator("iframe.recovery-frame-phone").bounding_box()
    if side_by_side:
        assert p["x"] >= d["x"] + d["width"] and abs(p["y"] - d["y"]) < 5
        assert d["width"] > p["width"]
    else:
        assert p["y"] >= d["y"] + d["height"]  # stacked: a phone has room for one
        assert p["x"] + p["width"] <= viewport["width"]
    text = page.locator("#preview-text")
    assert LONG_URL in text.inner_text().replace("\n", "")
    assert text.evaluate("t => t.scrollWidth <= t.clientWidth")
    page.screenshot(
        path=str(OWNER_SHOTS / f"step-preview-draft-{viewport['width']}.png"), full_page=True
    )


def test_the_prompt_admin_previews_the_prompt_live_as_staff_type(staff_page, tmp_path):
    prompt = Prompt.objects.create(
        name="Exit", kind=PromptKind.EXIT_INTENT, headline="Before you go", cta_label="Send"
    )

    page = staff_page(
        f"/admin/oscar_recovery/prompt/{prompt.pk}/change/", viewport={"width": 1280, "height": 900}
    )

    frame = page.locator("iframe.recovery-prompt-preview").content_frame
    frame.locator("dialog.orc-dialog h2").filter(has_text="Before you go").wait_for()
    page.fill("#id_headline", "Your basket misses you")
    page.fill("#id_body", "Ten percent off tonight.")
    heading = frame.locator("dialog.orc-dialog h2").filter(has_text="Your basket misses you")
    heading.wait_for()
    assert frame.locator("dialog p").first.inner_text() == "Ten percent off tonight."
    # Styled by prompts.css (the CTA is a styled button, not a bare default one).
    button = frame.locator("button.orc-cta")
    assert button.evaluate("b => getComputedStyle(b).borderRadius") != "0px"
    # Nothing cut off: the frame has grown to the whole prompt, its last button included.
    page.wait_for_function(
        f"() => ({FRAME_FITS})(document.querySelector('.recovery-prompt-preview'))"
    )
    frame_box = page.locator("iframe.recovery-prompt-preview").bounding_box()
    last = frame.locator(".orc-form button.orc-secondary").bounding_box()  # page coordinates
    assert last["y"] + last["height"] <= frame_box["y"] + frame_box["height"]
    page.screenshot(path=str(SHOTS / "prompt-preview.png"), full_page=True)


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}], ids=str
)
def test_the_admin_journey_page_reads_as_words(staff_page, product, viewport):
    """Before: events as JSON, viewed products as "[8, 4]", times as ISO strings and the
    language as a code on the admin's journey page."""
    from oscar_recovery.constants import EmailSource, JourneyEventKind, JourneyStatus
    from oscar_recovery.models import CartJourneyEvent
    from tests.support.factories import make_journey

    journey = make_journey(
        quiet_for=timedelta(hours=2),
        status=JourneyStatus.ABANDONED,
        viewed=[product.pk],
        vouchers=["WELCOME10"],
        language="ar",
        email_source=EmailSource.CHECKOUT,
        gateway_reached_at=None,
    )
    CartJourneyEvent.objects.create(
        journey=journey, kind=JourneyEventKind.EMAIL_CAPTURED, data={"source": "checkout"}
    )

    page = staff_page(f"/admin/oscar_recovery/cartjourney/{journey.pk}/change/", viewport=viewport)

    text = page.locator("#content").inner_text()
    assert "Email address known (Checkout gateway)" in text
    assert '{"source"' not in text and f"[{product.pk}]" not in text
    assert "Winter coat" in page.locator(".field-viewed_products").inner_text()
    assert "(ar)" in page.locator(".field-language_name").inner_text()
    assert not __import__("re").search(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", text)
    shot = OWNER_SHOTS / f"admin-journey-{viewport['width']}.png"
    page.screenshot(path=str(shot), full_page=True)
