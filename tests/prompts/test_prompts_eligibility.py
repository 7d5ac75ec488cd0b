"""Which prompts a visitor sees: audience rules, caps, dates and variant assignment."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from oscar.core.loading import get_model
from oscar.test import factories

from oscar_recovery.adapter import RecoveryAdapter
from oscar_recovery.constants import DeviceClass, LoginState, PromptKind, ValueTier, VisitorType
from oscar_recovery.models import Prompt, PromptVariant
from oscar_recovery.prompts import state
from oscar_recovery.prompts import targeting as eligibility
from oscar_recovery.prompts.targeting import Visitor, choose_variant, eligible_prompts
from tests.support.prompt_helpers import (
    VISIT_ID,
    caps_cookie,
    visit_cookie,
    visitor_cookie,
    visitor_request,
)

pytestmark = pytest.mark.django_db

Basket = get_model("basket", "Basket")

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def make_prompt(**fields) -> Prompt:
    values = {
        "name": f"Prompt {Prompt.objects.count() + 1}",
        "kind": PromptKind.EXIT_INTENT,
        "is_active": True,
        "headline": "Wait",
        "cta_label": "Go",
    }
    values.update(fields)
    return Prompt.objects.create(**values)


def shown(request) -> list[str]:
    return [decision.prompt.name for decision in eligible_prompts(Visitor(request))]


def returning_cookies():
    return visitor_cookie(timezone.now() - timedelta(days=3))


# -- dates and activity -------------------------------------------------------------------


def test_an_active_prompt_is_shown_to_a_shopper_with_a_basket(basket):
    make_prompt(name="Exit")
    assert shown(visitor_request(basket=basket)) == ["Exit"]


def test_inactive_future_and_ended_prompts_are_not_shown(basket):
    now = timezone.now()
    make_prompt(name="Off", is_active=False)
    make_prompt(name="Later", starts_at=now + timedelta(hours=1))
    make_prompt(name="Over", ends_at=now - timedelta(minutes=1))
    assert shown(visitor_request(basket=basket)) == []


def test_a_running_prompt_within_its_dates_is_shown(basket):
    now = timezone.now()
    make_prompt(name="Now", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1))
    assert shown(visitor_request(basket=basket)) == ["Now"]


def test_the_highest_priority_of_a_kind_wins_and_kinds_do_not_crowd_each_other(basket):
    make_prompt(name="Low", priority=10)
    make_prompt(name="High", priority=200)
    make_prompt(name="Capture", kind=PromptKind.EMAIL_CAPTURE, priority=5)
    assert shown(visitor_request(basket=basket)) == ["High", "Capture"]


def test_bots_see_nothing(basket):
    make_prompt()
    assert shown(visitor_request(basket=basket, user_agent=GOOGLEBOT)) == []
    assert shown(visitor_request(basket=basket, user_agent="")) == []


@override_settings(OSCAR_RECOVERY_PROMPTS_ENABLED=False)
def test_the_master_switch_turns_every_prompt_off(basket):
    make_prompt()
    assert shown(visitor_request(basket=basket)) == []


# -- audience -----------------------------------------------------------------------------


def test_new_and_returning_visitors(basket):
    make_prompt(name="New", visitor_type=VisitorType.NEW)
    make_prompt(name="Returning", visitor_type=VisitorType.RETURNING, kind=PromptKind.EMAIL_CAPTURE)
    assert shown(visitor_request(basket=basket)) == ["New"]
    assert shown(visitor_request(basket=basket, cookies=returning_cookies())) == ["Returning"]


def test_a_visitor_first_seen_earlier_in_this_visit_is_still_new(basket):
    make_prompt(name="New", visitor_type=VisitorType.NEW)
    now = timezone.now()
    # First seen two hours ago, but the visit (its cookie) began just before that.
    cookies = {
        **visitor_cookie(now - timedelta(hours=2)),
        **visit_cookie(now - timedelta(hours=2, minutes=1)),
    }
    assert shown(visitor_request(basket=basket, cookies=cookies)) == ["New"]


def test_a_tampered_visitor_cookie_counts_as_new(basket):
    make_prompt(name="New", visitor_type=VisitorType.NEW)
    cookies = returning_cookies()
    name = next(iter(cookies))
    cookies[name] = cookies[name][:-2] + "xx"
    assert shown(visitor_request(basket=basket, cookies=cookies)) == ["New"]


def test_guests_and_logged_in_customers(basket, customer):
    make_prompt(name="Guests", login_state=LoginState.GUEST, asks_email=False)
    make_prompt(
        name="Customers",
        kind=PromptKind.EMAIL_CAPTURE,
        login_state=LoginState.LOGGED_IN,
        asks_email=False,
    )
    assert shown(visitor_request(basket=basket)) == ["Guests"]
    assert shown(visitor_request(basket=basket, user=customer)) == ["Customers"]


def test_an_empty_basket_gets_no_basket_prompt_unless_the_prompt_says_so():
    make_prompt(name="Needs basket")
    make_prompt(name="Anyone", kind=PromptKind.EMAIL_CAPTURE, requires_basket=False)
    assert shown(visitor_request()) == ["Anyone"]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (None, None, True),
        (Decimal("40.00"), None, True),
        (Decimal("40.01"), None, False),
        (None, Decimal("40.00"), True),
        (None, Decimal("39.99"), False),
        (Decimal("10"), Decimal("100"), True),
    ],
)
def test_basket_value_range(basket, low, high, expected):
    make_prompt(name="Range", min_basket_value=low, max_basket_value=high)
    assert shown(visitor_request(basket=basket)) == (["Range"] if expected else [])


@pytest.mark.parametrize(
    ("spent", "tier"),
    [(None, ValueTier.LOW), ("150.00", ValueTier.MEDIUM), ("600.00", ValueTier.HIGH)],
)
def test_customer_value_tier(basket, customer, spent, tier):
    if spent:
        _order(customer, spent)
    for each in (ValueTier.LOW, ValueTier.MEDIUM, ValueTier.HIGH):
        make_prompt(
            name=f"Tier {each}",
            kind=PromptKind.EMAIL_CAPTURE,
            value_tier=each,
            asks_email=False,
            priority={"low": 1, "medium": 2, "high": 3}[each],
        )
    assert shown(visitor_request(basket=basket, user=customer)) == [f"Tier {tier}"]


def _order(user, total):
    from oscar.core.prices import Price

    factories.create_order(
        user=user, total=Price("GBP", excl_tax=Decimal(total), incl_tax=Decimal(total))
    )


def test_guests_count_as_low_value(basket):
    make_prompt(name="High", value_tier=ValueTier.HIGH)
    make_prompt(name="Low", kind=PromptKind.EMAIL_CAPTURE, value_tier=ValueTier.LOW)
    assert shown(visitor_request(basket=basket)) == ["Low"]


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (IPHONE, DeviceClass.MOBILE),
        (ANDROID_PHONE, DeviceClass.MOBILE),
        (IPAD, DeviceClass.TABLET),
        (ANDROID_TABLET, DeviceClass.TABLET),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0", DeviceClass.DESKTOP),
    ],
)
def test_device_class_from_the_user_agent(user_agent, device):
    assert RecoveryAdapter().device_class(user_agent) == device


def test_device_rule(basket):
    make_prompt(name="Desktop", device=DeviceClass.DESKTOP)
    make_prompt(name="Phone", kind=PromptKind.EMAIL_CAPTURE, device=DeviceClass.MOBILE)
    assert shown(visitor_request(basket=basket)) == ["Desktop"]
    assert shown(visitor_request(basket=basket, user_agent=IPHONE)) == ["Phone"]


def test_included_and_excluded_pages_by_path_and_url_name(basket, product):
    make_prompt(name="Products only", include_pages="catalogue:detail\n/offers/*")
    make_prompt(name="Not basket", kind=PromptKind.EMAIL_CAPTURE, exclude_pages="/basket/")
    product_path = product.get_absolute_url()
    assert sorted(shown(visitor_request(product_path, basket=basket))) == [
        "Not basket",
        "Products only",
    ]
    assert shown(visitor_request("/basket/", basket=basket)) == []
    assert shown(visitor_request("/", basket=basket)) == ["Not basket"]


def test_marketing_prompts_never_show_on_checkout_pages(basket):
    make_prompt(name="Exit")
    assert shown(visitor_request("/checkout/", basket=basket)) == []
    assert shown(visitor_request("/checkout/shipping-address/", basket=basket)) == []


# -- guest checkout -----------------------------------------------------------------------


def test_the_guest_checkout_prompt_shows_on_the_gateway_to_anonymous_shoppers(basket, customer):
    make_prompt(name="Guest", kind=PromptKind.GUEST_CHECKOUT, asks_email=False)
    assert shown(visitor_request("/checkout/", basket=basket)) == ["Guest"]
    assert shown(visitor_request("/basket/", basket=basket)) == []
    assert shown(visitor_request("/checkout/", basket=basket, user=customer)) == []


@override_settings(OSCAR_ALLOW_ANON_CHECKOUT=False)
def test_no_guest_checkout_prompt_when_the_shop_forbids_guest_checkout(basket):
    make_prompt(name="Guest", kind=PromptKind.GUEST_CHECKOUT, asks_email=False)
    assert shown(visitor_request("/checkout/", basket=basket)) == []


# -- returning visitor banner -------------------------------------------------------------


def test_the_welcome_back_banner_needs_a_returning_visitor_with_something_to_bring_back(basket):
    make_prompt(
        name="Welcome back",
        kind=PromptKind.RETURNING_BANNER,
        requires_basket=False,
        asks_email=False,
    )
    assert shown(visitor_request(basket=basket)) == []  # new visitor
    assert shown(visitor_request(cookies=returning_cookies())) == []  # nothing to bring back
    assert shown(visitor_request(basket=basket, cookies=returning_cookies())) == ["Welcome back"]
    history = {**returning_cookies(), "oscar_history": "[3, 5]"}
    assert shown(visitor_request(cookies=history)) == ["Welcome back"]


# -- caps ---------------------------------------------------------------------------------


def test_one_interrupting_prompt_per_visit(basket):
    make_prompt(name="Exit")
    cookies = {**visit_cookie(timezone.now()), **caps_cookie(state.Caps(shown_visit=VISIT_ID))}
    assert shown(visitor_request(basket=basket, cookies=cookies)) == []
    # The next visit may show one again.
    next_visit = {
        **visit_cookie(timezone.now(), "c" * 32),
        **caps_cookie(state.Caps(shown_visit=VISIT_ID)),
    }
    assert shown(visitor_request(basket=basket, cookies=next_visit)) == ["Exit"]


def test_quiet_for_the_prompts_days_after_a_dismissal(basket):
    prompt = make_prompt(name="Exit", quiet_days_after_dismissal=7)
    other = make_prompt(name="Capture", kind=PromptKind.EMAIL_CAPTURE)
    caps = state.Caps()
    caps.dismiss(prompt.pk, 7, timezone.now())
    cookies = caps_cookie(caps)
    assert shown(visitor_request(basket=basket, cookies=cookies)) == ["Capture"]
    # Eight days later the dismissal has run out.
    visitor = Visitor(visitor_request(basket=basket, cookies=cookies))
    visitor.now = timezone.now() + timedelta(days=8)
    assert {d.prompt.pk for d in eligible_prompts(visitor)} == {prompt.pk, other.pk}


def test_a_dismissal_with_zero_quiet_days_still_lasts_the_visit():
    caps = state.Caps()
    now = timezone.now()
    caps.dismiss(1, 0, now)
    assert caps.is_quiet(1, now + timedelta(minutes=30))
    assert not caps.is_quiet(1, now + timedelta(hours=2))


def test_no_marketing_prompt_after_a_purchase_but_guest_checkout_help_stays(basket):
    make_prompt(name="Exit")
    make_prompt(name="Guest", kind=PromptKind.GUEST_CHECKOUT, asks_email=False)
    cookies = caps_cookie(state.Caps(ordered=True))
    assert shown(visitor_request(basket=basket, cookies=cookies)) == []
    assert shown(visitor_request("/checkout/", basket=basket, cookies=cookies)) == ["Guest"]


def test_no_email_form_for_a_visitor_whose_email_the_shop_has(basket, customer):
    make_prompt(name="Ask")
    make_prompt(name="Link", kind=PromptKind.EMAIL_CAPTURE, asks_email=False)
    assert shown(visitor_request(basket=basket, user=customer)) == ["Link"]
    captured = caps_cookie(state.Caps(captured=True))
    assert shown(visitor_request(basket=basket, cookies=captured)) == ["Link"]


def test_a_tampered_caps_cookie_is_ignored(basket):
    make_prompt(name="Exit")
    cookies = {state.CAPS_COOKIE: '{"o":1}'}
    assert shown(visitor_request(basket=basket, cookies=cookies)) == ["Exit"]


def test_the_caps_cookie_keeps_only_live_dismissals():
    caps = state.Caps()
    now = timezone.now()
    for prompt_id in range(40):
        caps.dismiss(prompt_id, 1, now)
    assert len(caps.dismissed) == 20
    assert len(caps.as_json()) < 1000


# -- variants -----------------------------------------------------------------------------


def test_variant_assignment_is_deterministic_per_visitor_and_follows_the_weights():
    prompt = make_prompt()
    PromptVariant.objects.create(prompt=prompt, label="B", headline="Other", weight=30)
    prompt = Prompt.objects.get(pk=prompt.pk)
    visitors = [f"{n:032x}" for n in range(2000)]
    first = [choose_variant(prompt, v) for v in visitors]
    assert first == [choose_variant(prompt, v) for v in visitors]
    shares = Counter("A" if variant is None else variant.label for variant in first)
    assert 0.26 < shares["B"] / 2000 < 0.34


def test_different_prompts_split_visitors_independently():
    one, two = make_prompt(), make_prompt(kind=PromptKind.EMAIL_CAPTURE)
    for prompt in (one, two):
        PromptVariant.objects.create(prompt=prompt, label="B", weight=50)
    one, two = Prompt.objects.get(pk=one.pk), Prompt.objects.get(pk=two.pk)
    visitors = [f"{n:032x}" for n in range(400)]
    in_b = [(choose_variant(one, v) is None, choose_variant(two, v) is None) for v in visitors]
    agree = sum(a == b for a, b in in_b)
    assert 150 < agree < 250  # independent halves agree about half the time


def test_the_variant_content_falls_back_to_the_prompts(basket):
    prompt = make_prompt(headline="Control", body="Body A", cta_label="Go A")
    PromptVariant.objects.create(prompt=prompt, label="B", headline="Variant", weight=100)
    decisions = eligible_prompts(Visitor(visitor_request(basket=basket)))
    content = decisions[0].content
    assert (content.label, content.headline, content.body, content.cta_label) == (
        "B",
        "Variant",
        "Body A",
        "Go A",
    )


def test_the_same_visitor_sees_the_same_variant_on_every_page(basket):
    prompt = make_prompt()
    PromptVariant.objects.create(prompt=prompt, label="B", weight=50)
    cookies = returning_cookies()
    labels = {
        eligible_prompts(Visitor(visitor_request(path, basket=basket, cookies=cookies)))[
            0
        ].content.label
        for path in ("/", "/basket/", "/catalogue/")
    }
    assert len(labels) == 1


# -- the cached query ---------------------------------------------------------------------


def test_active_prompts_cost_one_query_then_none(django_assert_num_queries):
    prompt = make_prompt()
    PromptVariant.objects.create(prompt=prompt, label="B", weight=20)
    PromptVariant.objects.create(prompt=prompt, label="C", weight=20)
    make_prompt(kind=PromptKind.EMAIL_CAPTURE)
    cache.clear()
    with django_assert_num_queries(1):
        prompts = eligibility.active_prompts()
    assert [len(eligibility.variants_of(p)) for p in prompts] == [2, 0]
    with django_assert_num_queries(0):
        eligibility.active_prompts()


def test_saving_a_prompt_or_variant_clears_the_cache():
    prompt = make_prompt(headline="Old")
    assert eligibility.active_prompts()[0].headline == "Old"
    prompt.headline = "New"
    prompt.save()
    assert eligibility.active_prompts()[0].headline == "New"
    PromptVariant.objects.create(prompt=prompt, label="B")
    assert len(eligibility.variants_of(eligibility.active_prompts()[0])) == 1
    prompt.delete()
    assert eligibility.active_prompts() == []


class PhonesAdapter(RecoveryAdapter):
    def device_class(self, user_agent):
        return DeviceClass.MOBILE


def test_shops_decide_the_device_class_through_the_adapter(basket, settings):
    settings.OSCAR_RECOVERY_ADAPTER = "tests.prompts.test_prompts_eligibility.PhonesAdapter"
    make_prompt(name="Phone", device=DeviceClass.MOBILE)
    assert shown(visitor_request(basket=basket)) == ["Phone"]
    assert RecoveryAdapter().device_class(IPAD) == DeviceClass.TABLET
