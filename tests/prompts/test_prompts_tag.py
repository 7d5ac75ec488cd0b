"""``{% recovery_prompts %}``: what it renders, what it costs, and that it never breaks a page."""

import json
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery.constants import Incentive, PromptKind, VisitorType
from oscar_recovery.models import CartJourney, Prompt, PromptVariant
from oscar_recovery.prompts import render
from oscar_recovery.prompts import targeting as eligibility
from tests.conftest import BROWSER_UA
from tests.support.journeys import add_to_basket
from tests.support.prompt_helpers import render_tag, visitor_cookie, visitor_request

pytestmark = pytest.mark.django_db

Basket = get_model("basket", "Basket")


def make_prompt(**fields) -> Prompt:
    values = {
        "name": f"Prompt {Prompt.objects.count() + 1}",
        "kind": PromptKind.EXIT_INTENT,
        "is_active": True,
        "headline": "Before you go",
        "body": "Leave your email.\n\nWe keep your basket.",
        "cta_label": "Send my code",
    }
    values.update(fields)
    return Prompt.objects.create(**values)


def config_of(html: str) -> dict:
    match = re.search(
        r'<script id="oscar-recovery-config" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, html
    return json.loads(match.group(1))


def template_of(html: str, prompt_id: int) -> str:
    match = re.search(
        rf'<template id="oscar-recovery-prompt-{prompt_id}">(.*?)</template>', html, re.S
    )
    assert match, html
    return match.group(1)


def test_nothing_is_rendered_when_nothing_is_eligible(django_assert_max_num_queries):
    make_prompt()  # needs a basket
    with django_assert_max_num_queries(1):
        assert render_tag(visitor_request()) == ""
    with django_assert_max_num_queries(0):
        assert render_tag(visitor_request()) == ""


def test_an_exit_intent_prompt_renders_per_the_contract(basket):
    prompt = make_prompt(arm_after=4000, grace=300, consent_text="Email me offers.")
    html = render_tag(visitor_request(basket=basket))
    assert '<link rel="stylesheet" href="/static/oscar_recovery/prompts.css">' in html
    assert '<script src="/static/oscar_recovery/prompts.js" defer></script>' in html
    config = config_of(html)
    assert config["events"] == "/recovery/prompts/events/"
    assert config["capture"] == "/recovery/prompts/capture/"
    assert config["csrf"] and re.fullmatch(r"[0-9a-f]{32}", config["visit"])
    assert config["prompts"] == [
        {
            "id": prompt.pk,
            "kind": "exit_intent",
            "variant": "A",
            "template": f"oscar-recovery-prompt-{prompt.pk}",
            "trigger": {"armMs": 4000, "graceMs": 300, "mobileScroll": False},
        }
    ]
    assert config["tab"]["title"] == "(1) Your basket is waiting"
    assert config["liveCapture"] is None
    markup = template_of(html, prompt.pk)
    assert (
        '<dialog class="orc-dialog" lang="en-gb" dir="ltr" '
        f'aria-labelledby="orc-title-{prompt.pk}" '
        f'aria-describedby="orc-body-{prompt.pk}" data-orc-prompt="{prompt.pk}">'
    ) in markup
    assert f'<h2 id="orc-title-{prompt.pk}">Before you go</h2>' in markup
    assert "<p>Leave your email.</p><p>We keep your basket.</p>" in markup
    assert "data-orc-capture novalidate" in markup
    assert f'<input id="orc-email-{prompt.pk}" type="email" name="email"' in markup
    assert '<input type="checkbox" name="consent" value="1"> Email me offers.' in markup
    assert '<button type="submit" class="orc-cta">Send my code</button>' in markup
    assert 'data-orc-offer hidden aria-live="polite"' in markup
    assert 'data-orc-fallback="Something went wrong, please try again."' in markup
    # Before the email: the close button and "No thanks" (with the form); after it, the
    # offer's own labelled "Close", next to the code and the button that applies it.
    assert markup.count("data-orc-dismiss") == 3
    form, offer = markup.split("data-orc-offer", 1)
    assert '<button type="button" class="orc-secondary" data-orc-dismiss>No thanks' in form
    assert '<button type="button" class="orc-secondary" data-orc-dismiss>Close' in offer
    assert f'action="{reverse("basket:vouchers-add")}"' in offer
    assert 'name="csrfmiddlewaretoken"' in offer
    assert '<input class="orc-code" name="code" readonly dir="ltr" data-orc-code' in offer
    assert '<button type="submit" class="orc-cta">Apply to my basket</button>' in offer
    # An address reads left to right, whatever the page's direction.
    assert 'type="email" name="email" autocomplete="email" dir="ltr" required' in form
    # No inline script or style anywhere: a strict CSP holds.
    assert "style=" not in html and "onclick" not in html
    assert html.count("<script") == 2  # the deferred file and the JSON data


def test_owner_text_is_escaped(basket):
    prompt = make_prompt(headline="<script>alert(1)</script>", body="a & b </template>")
    markup = template_of(render_tag(visitor_request(basket=basket)), prompt.pk)
    assert "<script>alert" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "a &amp; b &lt;/template&gt;" in markup


def test_a_prompt_without_email_ask_has_a_link(basket):
    prompt = make_prompt(asks_email=False, cta_url="/offers/")
    markup = template_of(render_tag(visitor_request(basket=basket)), prompt.pk)
    assert '<a class="orc-cta" href="/offers/" data-orc-cta>Send my code</a>' in markup
    assert "data-orc-capture" not in markup


def test_the_email_capture_trigger_and_variant(basket):
    prompt = make_prompt(kind=PromptKind.EMAIL_CAPTURE, delay_seconds=20, scroll_percent=40)
    PromptVariant.objects.create(prompt=prompt, label="B", headline="Variant B", weight=100)
    html = render_tag(visitor_request(basket=basket))
    (entry,) = config_of(html)["prompts"]
    assert entry["trigger"] == {"delayMs": 20000, "scrollPercent": 40}
    assert entry["variant"] == "B"
    assert "Variant B" in template_of(html, prompt.pk)


def test_the_guest_checkout_banner_acts_on_the_gateway_form_instead_of_its_own(basket):
    """One email field on the gateway: the help carries a button that the script wires to the
    gateway form found through its email field, never a second form of its own."""
    prompt = make_prompt(
        kind=PromptKind.GUEST_CHECKOUT,
        asks_email=False,
        headline="No account needed",
        cta_label="Continue as a guest",
    )
    html = render_tag(visitor_request("/checkout/", basket=basket))
    markup = template_of(html, prompt.pk)
    assert markup.startswith('<section class="orc-banner')
    assert 'role="region"' in markup and f'aria-labelledby="orc-title-{prompt.pk}"' in markup
    assert config_of(html)["prompts"][0]["trigger"] == {"field": "#id_username"}
    assert "<form" not in markup and "<input" not in markup
    assert "data-orc-guest" in markup and "Continue as a guest" in markup


def test_the_welcome_back_banner_lists_recently_viewed_products(product):
    prompt = make_prompt(
        kind=PromptKind.RETURNING_BANNER,
        asks_email=False,
        requires_basket=False,
        visitor_type=VisitorType.RETURNING,
    )
    cookies = {
        **visitor_cookie(timezone.now() - timedelta(days=2)),
        "oscar_history": f"[{product.pk}, 999999]",
    }
    markup = template_of(render_tag(visitor_request(cookies=cookies)), prompt.pk)
    assert f'href="{product.get_absolute_url()}" data-orc-cta>Winter coat</a>' in markup


def test_the_tab_reminder_alone_renders_the_script(basket):
    html = render_tag(visitor_request(basket=basket))
    config = config_of(html)
    assert config["prompts"] == []
    assert config["tab"] == {
        "title": "(1) Your basket is waiting",
        "favicon": "/static/oscar_recovery/tab-alert.svg",
    }
    with override_settings(OSCAR_RECOVERY_PROMPTS_TAB_REMINDER=False):
        assert render_tag(visitor_request(basket=basket)) == ""


@pytest.mark.parametrize(
    ("switch", "basis", "expected"),
    [
        (False, "soft_opt_in", False),
        (True, "soft_opt_in", True),
        (True, "us_canspam", True),
        (True, "consent", False),
    ],
)
def test_live_capture_only_when_switched_on_and_the_lawful_basis_allows(
    basket, switch, basis, expected
):
    with override_settings(
        OSCAR_RECOVERY_PROMPTS_LIVE_CAPTURE=switch, OSCAR_RECOVERY_LAWFUL_BASIS=basis
    ):
        html = render_tag(visitor_request("/checkout/", basket=basket))
        home = render_tag(visitor_request("/", basket=basket))
    live = config_of(html)["liveCapture"]
    if expected:
        assert live == {"selector": "#id_username", "endpoint": "/recovery/prompts/capture/"}
    else:
        assert live is None
    assert config_of(home)["liveCapture"] is None


def test_bots_get_nothing(basket):
    make_prompt()
    assert render_tag(visitor_request(basket=basket, user_agent="curl/8.0")) == ""


def test_a_failure_renders_nothing_and_is_logged(basket, monkeypatch, caplog):
    make_prompt()

    def broken(visitor):
        raise RuntimeError("boom")

    monkeypatch.setattr(eligibility, "eligible_prompts", broken)
    monkeypatch.setattr(render.eligibility, "eligible_prompts", broken)
    assert render_tag(visitor_request(basket=basket)) == ""
    assert "render_prompts failed" in caplog.text


def test_a_broken_prompt_does_not_hide_the_others(basket, monkeypatch):
    good = make_prompt(kind=PromptKind.EMAIL_CAPTURE, priority=1)
    make_prompt(priority=100, include_pages="ok")
    original = eligibility.page_matches

    def flaky(patterns, visitor):
        if patterns == "ok":
            raise ValueError("bad pattern")
        return original(patterns, visitor)

    monkeypatch.setattr(eligibility, "page_matches", flaky)
    assert [p["id"] for p in config_of(render_tag(visitor_request(basket=basket)))["prompts"]] == [
        good.pk
    ]


def test_the_tag_costs_one_query_at_most_and_none_once_cached(basket, django_assert_num_queries):
    prompt = make_prompt(incentive=Incentive.FREE_SHIPPING)
    PromptVariant.objects.create(prompt=prompt, label="B", weight=50)
    make_prompt(kind=PromptKind.EMAIL_CAPTURE)
    basket.num_items  # the page's own header has loaded the basket already  # noqa: B018
    cache.clear()
    with django_assert_num_queries(1):
        assert render_tag(visitor_request(basket=basket))
    with django_assert_num_queries(0):
        assert render_tag(visitor_request(basket=basket))


def test_the_tag_in_a_real_page_with_oscars_middleware(product):
    """Through Oscar's own basket middleware and a page rendering the tag."""
    make_prompt()
    client = Client(HTTP_USER_AGENT=BROWSER_UA)
    add_to_basket(client, product)

    request = client.get("/basket/").wsgi_request
    html = render_tag(request)
    assert config_of(html)["prompts"][0]["kind"] == "exit_intent"
    assert CartJourney.objects.count() == 1


def test_an_image_is_rendered_with_its_size_so_nothing_shifts(basket):
    from io import BytesIO

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (120, 80), "white").save(buffer, format="PNG")
    prompt = make_prompt(image=SimpleUploadedFile("offer.png", buffer.getvalue()))
    assert (prompt.image_width, prompt.image_height) == (120, 80)
    cache.clear()
    markup = template_of(render_tag(visitor_request(basket=basket)), prompt.pk)
    assert re.search(
        r'<img class="orc-image" src="[^"]*oscar_recovery/prompts/offer[^"]*\.png" alt="" '
        r'width="120" height="80">',
        markup,
    ), markup
