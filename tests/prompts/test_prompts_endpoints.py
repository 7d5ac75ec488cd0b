"""The events and capture endpoints: what they record, the vouchers they reveal, and a
clear 4xx, with nothing recorded, for every bad input."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery import app_settings
from oscar_recovery.capture.visitor import read_visitor_id
from oscar_recovery.constants import EmailSource, Incentive, PromptEventKind, PromptKind
from oscar_recovery.models import CartJourney, Prompt, PromptEvent, PromptVariant
from oscar_recovery.prompts import state
from tests.conftest import BROWSER_UA
from tests.support.journeys import add_to_basket, guest_gateway, place_order, shipping_address

pytestmark = pytest.mark.django_db

Voucher = get_model("voucher", "Voucher")
Order = get_model("order", "Order")

EVENTS = "/recovery/prompts/events/"
CAPTURE = "/recovery/prompts/capture/"
VISIT = "c" * 32
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def browser(db) -> Client:
    """A browser that enforces CSRF like the real page: token from a cookie, sent as a header."""
    client = Client(HTTP_USER_AGENT=BROWSER_UA, enforce_csrf_checks=True)
    return client


def shop(browser: Client) -> Client:
    """The same browser using the shop's own forms (their CSRF handling is Oscar's)."""
    client = Client(HTTP_USER_AGENT=BROWSER_UA)
    client.cookies = browser.cookies  # one cookie jar
    return client


def csrf_headers(client: Client) -> dict:
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    return {"HTTP_X_CSRFTOKEN": _mask_cipher_secret(secret)}


def post(client: Client, url: str, payload, *, csrf=True, raw: bytes | None = None, **extra):
    headers = csrf_headers(client) if csrf else {}
    body = raw if raw is not None else json.dumps(payload)
    return client.post(url, body, content_type="application/json", **headers, **extra)


@pytest.fixture
def exit_prompt(db) -> Prompt:
    return Prompt.objects.create(
        name="Exit",
        kind=PromptKind.EXIT_INTENT,
        is_active=True,
        headline="Before you go",
        cta_label="Send my code",
        consent_text="Email me about my basket and offers.",
        incentive=Incentive.PERCENTAGE,
        incentive_value=Decimal("10"),
        quiet_days_after_dismissal=7,
    )


def event(prompt, kind="shown", **more):
    return {"prompt": prompt.pk, "variant": "A", "event": kind, "visit": VISIT, **more}


def capture(prompt, email="ada@example.com", consent=True, **more):
    return {
        "prompt": prompt.pk,
        "variant": "A",
        "email": email,
        "consent": consent,
        "visit": VISIT,
        **more,
    }


def caps_of(response) -> state.Caps:
    return state.read_caps({state.CAPS_COOKIE: response.cookies[state.CAPS_COOKIE].value})


# -- events -------------------------------------------------------------------------------


def test_shown_is_recorded_and_caps_this_visit(browser, exit_prompt):
    response = post(browser, EVENTS, event(exit_prompt))
    assert response.status_code == 204
    recorded = PromptEvent.objects.get()
    assert (recorded.prompt, recorded.variant, recorded.kind, recorded.visit_id) == (
        exit_prompt,
        "A",
        PromptEventKind.SHOWN,
        VISIT,
    )
    visitor_id = read_visitor_id({k: v.value for k, v in browser.cookies.items()})
    assert recorded.visitor_id == visitor_id
    assert caps_of(response).shown_visit == VISIT
    assert (
        state.read_visit_id({state.VISIT_COOKIE: response.cookies[state.VISIT_COOKIE].value})
        == VISIT
    )
    assert response.cookies[state.VISIT_COOKIE]["max-age"] == ""  # ends with the browser


def test_dismissed_is_recorded_and_quietens_the_prompt(browser, exit_prompt):
    response = post(browser, EVENTS, event(exit_prompt, "dismissed"))
    assert response.status_code == 204
    caps = caps_of(response)
    assert caps.is_quiet(exit_prompt.pk, timezone.now() + timedelta(days=6))
    assert not caps.is_quiet(exit_prompt.pk, timezone.now() + timedelta(days=8))
    assert PromptEvent.objects.get().kind == PromptEventKind.DISMISSED


def test_cta_is_recorded_and_submitted_is_left_to_the_capture_endpoint(browser, exit_prompt):
    assert post(browser, EVENTS, event(exit_prompt, "cta")).status_code == 204
    assert post(browser, EVENTS, event(exit_prompt, "submitted")).status_code == 204
    assert list(PromptEvent.objects.values_list("kind", flat=True)) == ["cta"]


def test_the_variant_seen_is_recorded(browser, exit_prompt):
    PromptVariant.objects.create(prompt=exit_prompt, label="B", weight=50)
    assert post(browser, EVENTS, event(exit_prompt, variant="B")).status_code == 204
    assert PromptEvent.objects.get().variant == "B"


def test_bots_are_answered_204_and_not_recorded(exit_prompt):
    bot = Client(HTTP_USER_AGENT=GOOGLEBOT)
    assert post(bot, EVENTS, event(exit_prompt)).status_code == 204
    assert post(bot, CAPTURE, capture(exit_prompt)).status_code == 204
    assert not PromptEvent.objects.exists()
    assert not CartJourney.objects.exists()


def test_staff_events_are_not_recorded(exit_prompt, customer):
    customer.is_staff = True
    customer.save()
    client = Client(HTTP_USER_AGENT=BROWSER_UA)
    client.force_login(customer)
    assert post(client, EVENTS, event(exit_prompt)).status_code == 204
    assert not PromptEvent.objects.exists()


BAD_EVENTS = [
    (b"{not json", "__all__"),
    (b"[1, 2]", "__all__"),
    (b'"shown"', "__all__"),
    (b"", "__all__"),
    (json.dumps({"variant": "A", "event": "shown"}).encode(), "prompt"),
    (json.dumps({"prompt": "1", "event": "shown"}).encode(), "prompt"),
    (json.dumps({"prompt": True, "event": "shown"}).encode(), "prompt"),
    (json.dumps({"prompt": 999999, "event": "shown"}).encode(), "prompt"),
    (json.dumps({"prompt": None, "event": "shown"}).encode(), "event"),  # event checked first
    (b"\xff\xfe", "__all__"),
    (b"[" * 4000, "__all__"),  # deeper than the JSON parser's stack
    (b'{"a":' + b"[" * 3000 + b"]" * 1000, "__all__"),
]


@pytest.mark.parametrize(("raw", "field"), BAD_EVENTS)
def test_bad_event_bodies_are_400_with_a_message(browser, exit_prompt, raw, field):
    raw = raw.replace(b'"prompt": 1,', f'"prompt": {exit_prompt.pk},'.encode())
    if field == "event":
        raw = json.dumps({"prompt": exit_prompt.pk, "event": "hovered"}).encode()
    response = post(browser, EVENTS, None, raw=raw)
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"] and body["error"]
    assert not PromptEvent.objects.exists()


@pytest.mark.parametrize("endpoint", [EVENTS, CAPTURE])
def test_deeply_nested_json_is_a_400_not_an_error(browser, exit_prompt, endpoint, caplog):
    response = post(browser, endpoint, None, raw=b"[" * 4000)
    assert response.status_code == 400
    assert response.json()["errors"]["__all__"]
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not PromptEvent.objects.exists()


@pytest.mark.parametrize("endpoint", [EVENTS, CAPTURE])
@pytest.mark.parametrize("size", [5000, 3 * 1024 * 1024])  # over ours; over Django's limit
def test_a_body_too_large_is_a_413_with_the_json_error(
    browser, exit_prompt, endpoint, size, caplog, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
    raw = json.dumps({"prompt": exit_prompt.pk, "x": "y" * size}).encode()
    response = post(browser, endpoint, None, raw=raw)
    assert response.status_code == 413
    body = response.json()
    assert body["error"] and body["errors"]["__all__"]
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not PromptEvent.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event": "offer_used"}, "event"),
        ({"event": "converted"}, "event"),
        ({"event": None}, "event"),
        ({"variant": "Z"}, "variant"),
        ({"variant": 3}, "variant"),
        ({"visit": "not-a-visit"}, "visit"),
        ({"visit": 12}, "visit"),
    ],
)
def test_bad_event_fields_are_400(browser, exit_prompt, change, field):
    response = post(browser, EVENTS, {**event(exit_prompt), **change})
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not PromptEvent.objects.exists()


def test_an_inactive_prompt_is_unknown(browser, exit_prompt):
    exit_prompt.is_active = False
    exit_prompt.save()
    response = post(browser, EVENTS, event(exit_prompt))
    assert response.status_code == 400 and "prompt" in response.json()["errors"]


def test_only_post(browser, exit_prompt):
    assert browser.get(EVENTS).status_code == 405
    assert browser.get(CAPTURE).status_code == 405


def test_csrf_is_required_and_refused_in_json(browser, exit_prompt):
    for url, payload in ((EVENTS, event(exit_prompt)), (CAPTURE, capture(exit_prompt))):
        response = post(browser, url, payload, csrf=False)
        assert response.status_code == 403
        assert response.json()["error"] and "CSRF" in response.json()["reason"]
    browser.cookies["csrftoken"] = "x" * 32
    response = post(browser, EVENTS, event(exit_prompt), csrf=False, HTTP_X_CSRFTOKEN="y" * 32)
    assert response.status_code == 403
    assert not PromptEvent.objects.exists()
    assert not CartJourney.objects.exists()


@override_settings(OSCAR_RECOVERY_PROMPTS_EVENTS_RATE_LIMIT=(3, timedelta(hours=1)))
def test_events_are_rate_limited(browser, exit_prompt):
    for __ in range(3):
        assert post(browser, EVENTS, event(exit_prompt, "cta")).status_code == 204
    response = post(browser, EVENTS, event(exit_prompt, "cta"))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0 and response.json()["error"]
    assert PromptEvent.objects.count() == 3


# -- capture ------------------------------------------------------------------------------


def test_capture_makes_the_journey_recoverable_and_reveals_a_single_use_voucher(
    browser, exit_prompt, product
):
    add_to_basket(shop(browser), product)
    response = post(browser, CAPTURE, capture(exit_prompt, "  Ada@Example.com "))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["message"]
    journey = CartJourney.objects.get()
    assert journey.email == "ada@example.com"  # canonical
    assert journey.email_source == EmailSource.CAPTURED
    voucher = Voucher.objects.get(code=body["voucher"])
    assert voucher.usage == Voucher.SINGLE_USE and voucher.is_active()
    assert voucher.end_datetime - voucher.start_datetime == exit_prompt.incentive_valid_for
    offer = voucher.offers.get()
    assert offer.benefit.value == Decimal("10") and offer.benefit.type == "Percentage"
    submitted = PromptEvent.objects.get(kind=PromptEventKind.SUBMITTED)
    assert submitted.journey == journey and submitted.voucher_code == voucher.code
    consent = submitted.data["consent"]
    assert consent["wording"] == "Email me about my basket and offers."
    assert consent["given"] is True and consent["at"]
    assert caps_of(response).captured


def test_the_consent_wording_recorded_is_the_one_the_server_rendered(browser, exit_prompt):
    PromptVariant.objects.create(
        prompt=exit_prompt, label="B", consent_text="Variant wording.", weight=50
    )
    payload = capture(exit_prompt, variant="B", consent_text="I agree to nothing")
    assert post(browser, CAPTURE, payload).status_code == 200
    submitted = PromptEvent.objects.get()
    assert submitted.variant == "B"
    assert submitted.data["consent"]["wording"] == "Variant wording."


def test_capture_without_a_basket_starts_one_so_nothing_is_lost(browser, exit_prompt):
    response = post(browser, CAPTURE, capture(exit_prompt, consent=False))
    assert response.status_code == 200
    journey = CartJourney.objects.get()
    assert journey.email == "ada@example.com" and journey.basket_id
    assert PromptEvent.objects.get().data["consent"]["given"] is False


def test_one_browser_gets_one_voucher_whatever_addresses_it_types(browser, exit_prompt):
    """Worst sender: harvests codes by submitting ``me+1@``, ``me+2@``... from one
    browser. Before: one single-use code per address. Now the browser's one voucher,
    revealed again while unused."""
    codes = {
        post(browser, CAPTURE, capture(exit_prompt, f"me+{n}@example.com")).json()["voucher"]
        for n in range(10)
    }
    assert len(codes) == 1 and None not in codes
    assert Voucher.objects.count() == 1


def test_typing_someone_elses_address_never_reveals_their_code(browser, exit_prompt):
    """Worst sender: types a victim's address into the prompt. Before: the victim's unused
    code came back. Now the code stays with the browser that earned it."""
    victims = post(browser, CAPTURE, capture(exit_prompt, "ada@example.com")).json()["voucher"]
    stranger = Client(HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR="192.0.2.99")

    theirs = post(stranger, CAPTURE, capture(exit_prompt, "ADA@example.com")).json()["voucher"]

    assert victims and theirs != victims


def test_a_used_prompt_voucher_is_not_replaced(browser, exit_prompt):
    code = post(browser, CAPTURE, capture(exit_prompt)).json()["voucher"]
    Voucher.objects.filter(code=code).update(num_orders=1)

    again = post(browser, CAPTURE, capture(exit_prompt, "other@example.com")).json()
    assert again["voucher"] is None
    assert Voucher.objects.count() == 1


def test_a_prompt_without_offer_reveals_no_voucher(browser, exit_prompt):
    exit_prompt.incentive = Incentive.NONE
    exit_prompt.save()
    body = post(browser, CAPTURE, capture(exit_prompt)).json()
    assert body["voucher"] is None and body["message"]
    assert not Voucher.objects.exists()


def test_a_changed_offer_makes_a_new_oscar_offer_and_old_vouchers_keep_theirs(browser, exit_prompt):
    old = Voucher.objects.get(code=post(browser, CAPTURE, capture(exit_prompt)).json()["voucher"])
    exit_prompt.incentive = Incentive.FREE_SHIPPING
    exit_prompt.save()
    other_browser = Client(HTTP_USER_AGENT=BROWSER_UA)
    new_code = post(other_browser, CAPTURE, capture(exit_prompt, "bob@example.com")).json()[
        "voucher"
    ]
    new = Voucher.objects.get(code=new_code)
    assert old.offers.get().benefit.type == "Percentage"
    assert new.offers.get().benefit.type == "Shipping percentage"
    exit_prompt.refresh_from_db()
    assert exit_prompt.offer == new.offers.get()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"email": None}, "email"),
        ({"email": ["a@b.c"]}, "email"),
        ({"email": "a" * 300 + "@example.com"}, "email"),
        ({"consent": "yes"}, "consent"),
        ({"variant": "Q"}, "variant"),
        ({"prompt": "x"}, "prompt"),
        ({"visit": "../../etc"}, "visit"),
    ],
)
def test_bad_capture_input_is_400_and_nothing_is_recorded(browser, exit_prompt, change, field):
    response = post(browser, CAPTURE, {**capture(exit_prompt), **change})
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not PromptEvent.objects.exists()
    assert not CartJourney.objects.exists()
    assert not Voucher.objects.exists()


def test_the_invalid_email_message_is_the_contracts(browser, exit_prompt):
    response = post(browser, CAPTURE, capture(exit_prompt, "nope"))
    assert response.json()["errors"] == {"email": ["Enter a valid email address."]}


@pytest.mark.parametrize("spelling", ["victim@exam\u00adple.com", "victim@\uff45xample.com"])
def test_an_address_with_hidden_or_look_alike_characters_is_refused_clearly(
    browser, exit_prompt, spelling
):
    """Django's validator accepts both, and the ESP delivers them to victim@example.com: a
    way round the victim's unsubscribe. Refused, saying why, and nothing is recorded."""
    response = post(browser, CAPTURE, capture(exit_prompt, spelling))
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "email": [
            "This email address contains hidden or look-alike characters. Please type it "
            "again using plain letters."
        ]
    }
    assert not PromptEvent.objects.exists()
    assert not CartJourney.objects.exists()
    assert not Voucher.objects.exists()


def test_a_captured_address_is_stored_canonical(browser, exit_prompt):
    response = post(browser, CAPTURE, capture(exit_prompt, " Ada@BÜCHER.de "))
    assert response.status_code == 200
    assert CartJourney.objects.get().email == "ada@xn--bcher-kva.de"


def test_required_consent_must_be_given(browser, exit_prompt):
    exit_prompt.consent_required = True
    exit_prompt.save()
    response = post(browser, CAPTURE, capture(exit_prompt, consent=False))
    assert response.status_code == 400 and "consent" in response.json()["errors"]
    assert post(browser, CAPTURE, capture(exit_prompt, consent=True)).status_code == 200


def test_a_prompt_that_asks_no_email_takes_none(browser):
    guest = Prompt.objects.create(
        name="Guest",
        kind=PromptKind.GUEST_CHECKOUT,
        is_active=True,
        asks_email=False,
        headline="No account needed",
        cta_label="Go",
    )
    response = post(browser, CAPTURE, capture(guest))
    assert response.status_code == 400 and "prompt" in response.json()["errors"]


@override_settings(OSCAR_RECOVERY_PROMPTS_CAPTURE_RATE_LIMIT=(2, timedelta(hours=1)))
def test_capture_is_rate_limited(browser, exit_prompt):
    for n in range(2):
        assert post(browser, CAPTURE, capture(exit_prompt, f"s{n}@example.com")).status_code == 200
    response = post(browser, CAPTURE, capture(exit_prompt, "s3@example.com"))
    assert response.status_code == 429 and response["Retry-After"]
    assert PromptEvent.objects.count() == 2


# -- live capture -------------------------------------------------------------------------


def live(email="ada@example.com"):
    return {"live": True, "email": email, "visit": VISIT}


def test_live_capture_is_off_by_default(browser):
    response = post(browser, CAPTURE, live())
    assert response.status_code == 400 and "live" in response.json()["errors"]
    assert not CartJourney.objects.exists()


@override_settings(OSCAR_RECOVERY_PROMPTS_LIVE_CAPTURE=True, OSCAR_RECOVERY_LAWFUL_BASIS="consent")
def test_live_capture_stays_off_under_consent(browser):
    assert post(browser, CAPTURE, live()).status_code == 400


@override_settings(OSCAR_RECOVERY_PROMPTS_LIVE_CAPTURE=True)
def test_live_capture_attaches_the_typed_email(browser, product):
    add_to_basket(shop(browser), product)
    assert post(browser, CAPTURE, live("ada@exam")).status_code == 400
    response = post(browser, CAPTURE, live())
    assert response.status_code == 200
    assert response.json() == {"message": "", "voucher": None}
    assert CartJourney.objects.get().email == "ada@example.com"
    assert not PromptEvent.objects.exists()


# -- offer used and converted -------------------------------------------------------------


def test_the_revealed_voucher_works_and_its_use_and_the_order_are_recorded(
    browser, exit_prompt, product, country
):
    shop(browser).get(product.get_absolute_url())  # the visitor cookie, as on any product page
    add_to_basket(shop(browser), product)
    assert post(browser, EVENTS, event(exit_prompt)).status_code == 204
    code = post(browser, CAPTURE, capture(exit_prompt)).json()["voucher"]

    headers = csrf_headers(browser)
    response = browser.post(reverse("basket:vouchers-add"), {"code": code}, **headers)
    assert response.status_code == 302
    used = PromptEvent.objects.get(kind=PromptEventKind.OFFER_USED)
    assert used.voucher_code == code and used.prompt == exit_prompt

    client = shop(browser)
    guest_gateway(client, "ada@example.com")
    shipping_address(client, country)
    place_order(client)
    order = Order.objects.get()
    assert order.total_discount_incl_tax == Decimal("4.00")  # 10 % of 40.00
    converted = PromptEvent.objects.get(kind=PromptEventKind.CONVERTED)
    assert converted.prompt == exit_prompt and converted.data["order"] == order.number
    assert converted.variant == "A"
    # The order page told the browser: no more marketing prompts.
    assert state.read_caps({k: v.value for k, v in client.cookies.items()}).ordered


def test_a_voucher_that_is_not_ours_costs_no_query(django_assert_num_queries):
    from oscar_recovery.prompts.service import record_offer_used

    with django_assert_num_queries(0):
        assert record_offer_used("SUMMER10") is None


def test_an_order_without_a_prompt_shown_converts_nothing(shopper, product, country):
    from tests.support.journeys import guest_checkout

    guest_checkout(shopper, product, country)
    assert not PromptEvent.objects.exists()


def test_the_visitor_cookie_is_signed(browser, exit_prompt):
    post(browser, EVENTS, event(exit_prompt))
    raw = browser.cookies[app_settings.VISITOR_COOKIE_NAME].value
    with pytest.raises(signing.BadSignature):
        signing.get_cookie_signer(salt="other").unsign(raw)


def test_an_unexpected_failure_is_logged_and_answered_in_json(
    browser, exit_prompt, monkeypatch, caplog
):
    from oscar_recovery.prompts import service

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(service, "capture_from_prompt", broken)
    response = post(browser, CAPTURE, capture(exit_prompt))
    assert response.status_code == 500 and response.json()["error"]
    assert "prompt endpoint" in caplog.text
