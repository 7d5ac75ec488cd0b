"""Never an offer the basket already has: a "free delivery on this order" code for a basket
that already ships free changes nothing, so no prompt offers it, no capture reveals it, no
email step mints or repeats it and no restore link applies it (or says it did)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import timezone
from oscar.apps.offer.applicator import Applicator
from oscar.core.loading import get_model

from oscar_recovery.constants import Incentive, PromptKind
from oscar_recovery.models import CartJourney, Prompt
from oscar_recovery.sending import vouchers
from oscar_recovery.sending.vouchers import issue_voucher
from tests.conftest import BROWSER_UA
from tests.prompts.test_prompts_endpoints import CAPTURE, capture, post, shop
from tests.prompts.test_prompts_tag import config_of, make_prompt
from tests.support.journeys import add_to_basket
from tests.support.prompt_helpers import render_tag, visitor_request
from tests.test_voucher_story import (  # noqa: F401 (campaign, fresh_cache, guest_journey: fixtures)
    abandoned,
    campaign,
    fresh_cache,
    guest_journey,
    make_step,
    message_for,
    open_link,
    prompt_voucher,
)

pytestmark = pytest.mark.django_db

Voucher = get_model("voucher", "Voucher")


def shown(basket) -> list[int]:
    """The ids of the prompts the tag offers this basket's visitor."""
    html = render_tag(visitor_request(basket=basket))
    return [p["id"] for p in config_of(html)["prompts"]] if html else []


def free_delivery_prompt(**fields) -> Prompt:
    return make_prompt(
        name="Exit intent: new visitors (free delivery)",
        incentive=Incentive.FREE_SHIPPING,
        priority=200,
        **fields,
    )


# -- prompts ------------------------------------------------------------------------------


@pytest.mark.parametrize(("threshold", "visible"), [("50.00", True), ("40.00", False)])
def test_a_free_delivery_prompt_stays_away_from_a_basket_that_ships_free(
    basket, settings, threshold, visible
):
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal(threshold)  # basket: 40.00
    free = free_delivery_prompt()
    # The next prompt of the kind, offering something the basket does not have, shows instead.
    discount = make_prompt(incentive=Incentive.PERCENTAGE, incentive_value=Decimal("10"))

    assert shown(basket) == ([free.pk] if visible else [discount.pk])


def test_a_free_delivery_offer_already_applied_keeps_the_prompt_away(basket, settings):
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = None
    free_delivery_prompt()
    held = prompt_voucher(abandoned(), Incentive.FREE_SHIPPING, None)
    basket.vouchers.add(held)
    Applicator().apply(basket, AnonymousUser())  # as Oscar's middleware does
    assert vouchers.has_free_delivery_offer(basket)

    assert shown(basket) == []


def test_the_capture_reveals_no_free_delivery_code_once_the_basket_ships_free(product, settings):
    """Shown while the basket was small; by the time the email is given it ships free."""
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("40.00")
    prompt = free_delivery_prompt(consent_text="")
    browser = Client(HTTP_USER_AGENT=BROWSER_UA, enforce_csrf_checks=True)
    add_to_basket(shop(browser), product)  # 40.00

    response = post(browser, CAPTURE, capture(prompt))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "message": "Thank you! We have saved your basket for you.",
        "voucher": None,
    }
    assert not Voucher.objects.exists()


# -- email steps --------------------------------------------------------------------------


def test_an_email_step_mints_no_free_delivery_code_for_a_basket_that_ships_free(
    campaign,  # noqa: F811
    settings,
):
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("50.00")
    step = make_step(campaign, Incentive.FREE_SHIPPING)
    small, large = abandoned(total=Decimal("30.00")), abandoned(total=Decimal("79.00"))

    assert issue_voucher(message_for(step, small), timezone.now()) is not None
    message = message_for(step, large)
    assert issue_voucher(message, timezone.now()) is None
    message.refresh_from_db()
    assert message.voucher_code == ""


def test_an_email_does_not_repeat_a_prompts_free_delivery_code_the_basket_does_not_need(
    campaign,  # noqa: F811
    settings,
):
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("50.00")
    journey = abandoned(total=Decimal("79.00"))
    prompt_voucher(journey, Incentive.FREE_SHIPPING, None)
    # An older 10 % code is still worth showing; a step of its own may still mint one.
    older = issue_voucher(
        message_for(make_step(campaign, Incentive.PERCENTAGE, "10"), journey),
        timezone.now() - timedelta(minutes=5),
    )
    held = vouchers.journey_voucher(journey, timezone.now(), already_free=True)
    assert held == older

    step = make_step(campaign, position=2)
    assert issue_voucher(message_for(step, journey), timezone.now()) == older


# -- restore ------------------------------------------------------------------------------


def test_the_restore_link_neither_applies_nor_announces_a_free_delivery_code_it_does_not_need(
    guest_journey,  # noqa: F811
    settings,
):
    settings.LANGUAGE_CODE = "en-gb"
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("40.00")  # the basket: 40.00
    CartJourney.objects.filter(pk=guest_journey.pk).update(language="")
    prompt_voucher(guest_journey, Incentive.FREE_SHIPPING, None)

    opener, response = open_link(guest_journey)

    page = opener.get(response["Location"])
    assert not page.context["basket"].vouchers.exists()
    assert [str(m) for m in page.context["messages"]] == ["Your basket is back."]


def test_the_restore_link_still_applies_free_delivery_below_the_threshold(
    guest_journey,  # noqa: F811
    settings,
):
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("50.00")
    revealed = prompt_voucher(guest_journey, Incentive.FREE_SHIPPING, None)

    opener, response = open_link(guest_journey)

    page = opener.get(response["Location"])
    assert [v.code for v in page.context["basket"].vouchers.all()] == [revealed.code]


def test_no_prompt_kind_is_spared(basket, settings):
    """The rule is the offer's, not the kind's: a free-delivery email-capture prompt too."""
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("10.00")
    free_delivery_prompt(kind=PromptKind.EMAIL_CAPTURE)
    assert shown(basket) == []
