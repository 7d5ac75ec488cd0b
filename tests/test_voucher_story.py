"""One offer, one story: a journey's unused voucher, from a prompt or an earlier
email, is the one later emails show and the one the restore link applies; and the email
greets by first name and carries the shop's logo."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model
from oscar.test import factories

from oscar_recovery.constants import Incentive, JourneyStatus, PromptEventKind
from oscar_recovery.models import (
    Campaign,
    CampaignStep,
    CartJourney,
    Prompt,
    PromptEvent,
    RecoveryMessage,
)
from oscar_recovery.prompts.service import reveal_voucher
from oscar_recovery.sending.content import build_context, compose, load_email_products
from oscar_recovery.sending.tokens import restore_token
from oscar_recovery.sending.vouchers import issue_voucher, journey_voucher
from tests.conftest import BROWSER_UA
from tests.support.factories import make_journey
from tests.support.journeys import add_to_basket, guest_gateway

pytestmark = pytest.mark.django_db

Voucher = get_model("voucher", "Voucher")


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def campaign():
    return Campaign.objects.create(name="Come back", is_active=True, holdout_percent=0)


def make_step(campaign, incentive=Incentive.NONE, value=None, *, position=1, **fields):
    return CampaignStep.objects.create(
        campaign=campaign,
        position=position,
        delay=timedelta(hours=position),
        subject="Still thinking?",
        incentive=incentive,
        incentive_value=None if value is None else Decimal(value),
        **fields,
    )


def prompt_voucher(journey: CartJourney, incentive=Incentive.PERCENTAGE, value="10"):
    """The voucher a prompt revealed on ``journey``, recorded as the prompt records it."""
    prompt = Prompt.objects.create(
        name=f"Exit {incentive}",
        kind="exit_intent",
        headline="Wait!",
        cta_label="Send",
        incentive=incentive,
        incentive_value=None if value is None else Decimal(value),
    )
    now = timezone.now()
    voucher = reveal_voucher(prompt, journey, now)
    PromptEvent.objects.create(
        prompt=prompt,
        kind=PromptEventKind.SUBMITTED,
        journey=journey,
        voucher_code=voucher.code,
        created_at=now,
    )
    return voucher


def abandoned(**fields) -> CartJourney:
    return make_journey(quiet_for=timedelta(hours=2), status=JourneyStatus.ABANDONED, **fields)


def message_for(step, journey) -> RecoveryMessage:
    return RecoveryMessage.objects.create(journey=journey, step=step)


# -- reuse or mint ------------------------------------------------------------------------


def test_a_step_with_its_own_incentive_shows_the_prompts_unused_voucher(campaign):
    journey = abandoned()
    revealed = prompt_voucher(journey)
    step = make_step(campaign, Incentive.FIXED, "5")
    message = message_for(step, journey)
    vouchers_before = Voucher.objects.count()

    voucher = issue_voucher(message, timezone.now())

    assert voucher == revealed
    assert Voucher.objects.count() == vouchers_before  # no second code minted
    message.refresh_from_db()
    assert message.voucher_code == revealed.code
    # A retried send shows the same voucher again.
    assert issue_voucher(message, timezone.now()) == revealed


def test_a_step_that_says_new_voucher_mints_its_own(campaign):
    journey = abandoned()
    revealed = prompt_voucher(journey)
    step = make_step(campaign, Incentive.FIXED, "5", new_voucher=True)

    voucher = issue_voucher(message_for(step, journey), timezone.now())

    assert voucher is not None and voucher != revealed
    assert voucher.offers.get().benefit.value == Decimal("5.00")


def test_a_step_without_incentive_shows_the_unused_voucher(campaign):
    journey = abandoned()
    revealed = prompt_voucher(journey)
    step = make_step(campaign, new_voucher=True)  # nothing of its own to mint

    assert issue_voucher(message_for(step, journey), timezone.now()) == revealed


def test_an_earlier_steps_unused_voucher_is_shown_by_the_next_step(campaign):
    journey = abandoned()
    first = issue_voucher(
        message_for(make_step(campaign, Incentive.PERCENTAGE, "10"), journey), timezone.now()
    )
    second_step = make_step(campaign, Incentive.PERCENTAGE, "15", position=2)

    assert issue_voucher(message_for(second_step, journey), timezone.now()) == first


@pytest.mark.parametrize("spent", ["used", "expired"])
def test_a_used_or_expired_voucher_is_not_shown_again(campaign, spent):
    journey = abandoned()
    revealed = prompt_voucher(journey)
    if spent == "used":
        Voucher.objects.filter(pk=revealed.pk).update(num_orders=1)
    else:
        Voucher.objects.filter(pk=revealed.pk).update(
            end_datetime=timezone.now() - timedelta(minutes=1)
        )
    step = make_step(campaign, Incentive.FIXED, "5")

    voucher = issue_voucher(message_for(step, journey), timezone.now())

    assert voucher is not None and voucher != revealed
    assert journey_voucher(journey, timezone.now()) == voucher


def test_another_journeys_voucher_is_never_shown(campaign):
    prompt_voucher(abandoned(email="someone@example.com"))
    journey = abandoned(email="other@example.com")
    step = make_step(campaign)

    assert issue_voucher(message_for(step, journey), timezone.now()) is None


def test_the_email_describes_the_voucher_it_shows_not_the_steps_incentive(
    campaign, product, settings
):
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("1000.00")
    journey = abandoned(lines=[{"product_id": product.pk, "quantity": 1}])
    revealed = prompt_voucher(journey, Incentive.FREE_SHIPPING, None)
    step = make_step(campaign, Incentive.FIXED, "5")
    message = message_for(step, journey)

    email = compose(message, load_email_products(journey), issue_voucher(message, timezone.now()))

    html = email.alternatives[0][0]
    for body in (email.body, html):
        assert revealed.code in body
        assert "Free delivery" in body
        assert "5.00 off" not in body
        # The code already gives free delivery: no "away from free delivery" block.
        assert "away from free delivery" not in body


def test_without_a_voucher_the_gap_block_stays(campaign, product, settings):
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("1000.00")
    journey = abandoned(lines=[{"product_id": product.pk, "quantity": 1}])
    message = message_for(make_step(campaign), journey)

    email = compose(message, load_email_products(journey), issue_voucher(message, timezone.now()))

    assert "away from free delivery" in email.body


# -- greeting and logo --------------------------------------------------------------------


def context_for(journey, step):
    from oscar_recovery.campaigns.variants import content_for

    return build_context(journey, step, content_for(step, None), load_email_products(journey))


def test_the_email_never_greets_by_a_name_typed_at_checkout(campaign, product):
    """Worst sender: types a victim's address at checkout and, as first name, a phishing
    line. Our email to the victim greets without any name."""
    lure = "customer. Your payment FAILED - verify at https://evil.example"
    journey = abandoned(first_name=lure, lines=[{"product_id": product.pk, "quantity": 1}])
    email = compose(message_for(make_step(campaign), journey), load_email_products(journey))

    assert "Hello," in email.body
    assert "evil" not in email.body and "evil" not in email.alternatives[0][0]
    assert "FAILED" not in email.body


def test_the_email_greets_by_the_name_of_a_past_order_with_the_address(campaign, product):
    factories.create_order(
        guest_email="ada@example.com",
        shipping_address=factories.ShippingAddressFactory(first_name="Ada"),
    )
    journey = abandoned(
        email="ada@example.com",
        first_name="Someone else",
        lines=[{"product_id": product.pk, "quantity": 1}],
    )
    email = compose(message_for(make_step(campaign), journey), load_email_products(journey))

    assert "Hi Ada," in email.body
    assert "Hi Ada," in email.alternatives[0][0]


def test_the_accounts_first_name_comes_first(campaign):
    user = factories.UserFactory(first_name="Grace")
    journey = abandoned(user=user, first_name="Ada")

    assert context_for(journey, make_step(campaign))["shopper"]["first_name"] == "Grace"


@pytest.mark.parametrize(
    "name, greeted",
    [
        ("Ada", "Ada"),
        ("  Jean-Luc  ", "Jean-Luc"),
        ("D'Arcy", "D'Arcy"),
        ("Zoë", "Zoë"),
        ("محمد", "محمد"),
        ("J. R.", "J. R."),
        ("Ada2", ""),
        ("Ada, click https://x.example", ""),
        ("Ada <b>", ""),
        ("x" * 41, ""),
        ("-Ada", ""),
        ("Anne Marie Louise", "Anne Marie Louise"),
        ("Visit www.evil.example now", ""),
        ("O\u2019Brien", "O\u2019Brien"),
        ("", ""),
    ],
)
def test_only_a_plain_name_is_greeted(name, greeted):
    from oscar_recovery.sending.content import plain_name

    assert plain_name(name) == greeted


def test_an_accounts_name_that_is_not_plain_is_not_greeted(campaign):
    user = factories.UserFactory(first_name="Visit www.evil.example now")
    journey = abandoned(user=user)

    assert context_for(journey, make_step(campaign))["shopper"]["first_name"] == ""


def test_without_a_name_the_email_says_hello(campaign, product):
    journey = abandoned(lines=[{"product_id": product.pk, "quantity": 1}])
    email = compose(message_for(make_step(campaign), journey), load_email_products(journey))

    assert "Hello," in email.body


@override_settings(
    OSCAR_RECOVERY_EMAIL_LOGO_URL="shop/logo.png",
    OSCAR_RECOVERY_EMAIL_LOGO_WIDTH=120,
    OSCAR_RECOVERY_EMAIL_LOGO_HEIGHT=40,
    OSCAR_RECOVERY_SITE_URL="https://shop.example",
    OSCAR_SHOP_NAME="Mirror & Co",
)
def test_the_logo_is_in_the_header_absolute_with_its_size_and_the_shop_as_alt(campaign, product):
    journey = abandoned(lines=[{"product_id": product.pk, "quantity": 1}])
    html = compose(
        message_for(make_step(campaign), journey), load_email_products(journey)
    ).alternatives[0][0]

    src = "https://shop.example" + settings.STATIC_URL + "shop/logo.png"
    assert f'src="{src}"' in html
    assert 'alt="Mirror &amp; Co"' in html
    assert 'width="120"' in html and 'height="40"' in html


@override_settings(OSCAR_RECOVERY_EMAIL_LOGO_URL="https://cdn.example/logo.png")
def test_an_absolute_logo_url_is_kept_and_the_width_defaults(campaign):
    logo = context_for(abandoned(), make_step(campaign))["shop"]["logo"]

    assert logo == {"url": "https://cdn.example/logo.png", "width": 160, "height": None}


def test_without_a_logo_the_header_shows_the_shop_name(campaign, product):
    journey = abandoned(lines=[{"product_id": product.pk, "quantity": 1}])
    html = compose(
        message_for(make_step(campaign), journey), load_email_products(journey)
    ).alternatives[0][0]

    assert 'class="logo"' not in html
    assert settings.OSCAR_SHOP_NAME in html


# -- the restore link ---------------------------------------------------------------------


@pytest.fixture
def guest_journey(product) -> CartJourney:
    guest = Client(HTTP_USER_AGENT=BROWSER_UA)
    add_to_basket(guest, product)
    guest_gateway(guest, "guest@example.com")
    journey = CartJourney.objects.get(email="guest@example.com")
    CartJourney.objects.filter(pk=journey.pk).update(language="ro")
    journey.refresh_from_db()
    return journey


def open_link(journey: CartJourney) -> tuple[Client, object]:
    opener = Client(HTTP_USER_AGENT=BROWSER_UA)
    response = opener.get(reverse("oscar_recovery:restore", args=[restore_token(journey)]))
    assert response.status_code == 303
    return opener, response


def test_the_restore_link_applies_the_prompt_voucher_and_says_so_in_the_journeys_language(
    guest_journey,
):
    revealed = prompt_voucher(guest_journey)

    opener, response = open_link(guest_journey)

    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ro"
    page = opener.get(response["Location"])
    basket = page.context["basket"]
    assert [v.code for v in basket.vouchers.all()] == [revealed.code]
    assert basket.total_discount > 0
    shown = [str(m) for m in page.context["messages"]]
    assert shown == [f"Coșul tău s-a întors; codul {revealed.code} a fost aplicat."]
    # The link's own basket is not given the code.
    assert not guest_journey.basket.vouchers.exists()


def test_a_used_voucher_is_not_applied_and_the_page_says_only_the_basket_is_back(
    guest_journey, settings
):
    settings.LANGUAGE_CODE = "en-gb"
    revealed = prompt_voucher(guest_journey)
    Voucher.objects.filter(pk=revealed.pk).update(num_orders=1)
    CartJourney.objects.filter(pk=guest_journey.pk).update(language="")

    opener, response = open_link(guest_journey)

    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    page = opener.get(response["Location"])
    assert not page.context["basket"].vouchers.exists()
    assert [str(m) for m in page.context["messages"]] == ["Your basket is back."]


def test_a_voucher_the_basket_cannot_use_is_left_off(guest_journey):
    revealed = prompt_voucher(guest_journey)
    # An offer the basket does not qualify for (Oscar's VoucherAddView removes it too).
    condition = revealed.offers.get().condition
    condition.value = 100
    condition.save()

    opener, response = open_link(guest_journey)

    assert not opener.get(response["Location"]).context["basket"].vouchers.exists()


def test_an_unknown_journey_language_is_not_set(guest_journey):
    CartJourney.objects.filter(pk=guest_journey.pk).update(language="xx")
    guest_journey.refresh_from_db()

    __, response = open_link(guest_journey)

    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_the_first_name_typed_at_checkout_is_recorded_and_only_that(product, country):
    from oscar_recovery.privacy.data_rights import erase_email, export_email
    from tests.support.journeys import shipping_address

    guest = Client(HTTP_USER_AGENT=BROWSER_UA)
    add_to_basket(guest, product)
    guest_gateway(guest, "ada@example.com")
    shipping_address(guest, country)

    journey = CartJourney.objects.get(email="ada@example.com")
    assert journey.first_name == "Ada"
    # No address: the surname, street and postcode stay in Oscar's checkout session.
    stored = repr(CartJourney.objects.filter(pk=journey.pk).values().get())
    assert "Lovelace" not in stored and "N1 9GU" not in stored
    assert export_email("ada@example.com")["journeys"][0]["first_name"] == "Ada"
    erase_email("ada@example.com")
    assert not CartJourney.objects.filter(first_name="Ada").exists()
