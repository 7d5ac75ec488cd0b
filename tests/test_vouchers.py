"""Incentives become real Oscar vouchers: one per sent email, single use, expiring, and
discounting baskets through Oscar's own applicator, shipping repository and checkout."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone, translation
from oscar.apps.shipping.methods import FixedPrice
from oscar.apps.shipping.repository import Repository
from oscar.core.loading import get_class, get_model
from oscar.test import factories

from oscar_recovery.constants import Incentive, JourneyStatus
from oscar_recovery.models import Campaign, CampaignStep, RecoveryMessage
from oscar_recovery.sending import vouchers
from oscar_recovery.sending.vouchers import (
    describe_incentive,
    ensure_offer,
    issue_voucher,
    validate_incentive,
)
from tests.conftest import BROWSER_UA
from tests.support.factories import make_journey
from tests.support.journeys import add_to_basket, guest_gateway, place_order, shipping_address

pytestmark = pytest.mark.django_db

Applicator = get_class("offer.applicator", "Applicator")
Benefit = get_model("offer", "Benefit")
ConditionalOffer = get_model("offer", "ConditionalOffer")
Order = get_model("order", "Order")
Range = get_model("offer", "Range")
Voucher = get_model("voucher", "Voucher")

CODE = re.compile(r"^BACK-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$")


@pytest.fixture
def campaign():
    return Campaign.objects.create(name="Come back", is_active=True, holdout_percent=0)


def make_step(campaign, incentive=Incentive.NONE, value=None, *, position=1, **fields):
    return CampaignStep.objects.create(
        campaign=campaign,
        position=position,
        delay=timedelta(hours=1),
        subject="Still thinking?",
        incentive=incentive,
        incentive_value=None if value is None else Decimal(value),
        **fields,
    )


def make_message(step, **journey_fields) -> RecoveryMessage:
    journey = make_journey(
        quiet_for=timedelta(hours=2), status=JourneyStatus.ABANDONED, **journey_fields
    )
    return RecoveryMessage.objects.create(journey=journey, step=step)


def basket_with(voucher, *lines):
    """A basket holding ``lines`` (product, quantity) with the voucher applied the way
    Oscar's basket voucher view applies it."""
    user = factories.UserFactory()
    basket = factories.create_basket(empty=True)
    basket.owner = user
    basket.save()
    for product, quantity in lines:
        basket.add_product(product, quantity)
    basket.vouchers.add(voucher)
    request = RequestFactory().get("/")
    request.user = user
    Applicator().apply(basket, user, request)
    return basket


def test_a_step_without_incentive_issues_no_voucher(campaign):
    message = make_message(make_step(campaign))

    assert issue_voucher(message, timezone.now()) is None
    assert ensure_offer(message.step) is None
    assert not Voucher.objects.exists()
    assert not ConditionalOffer.objects.exists()
    message.refresh_from_db()
    assert message.voucher_code == ""


def test_a_percentage_voucher_takes_that_share_off_the_basket(campaign, product, other_product):
    message = make_message(make_step(campaign, Incentive.PERCENTAGE, "10"))

    voucher = issue_voucher(message, timezone.now())
    basket = basket_with(voucher, (product, 2), (other_product, 1))

    assert basket.total_incl_tax_excl_discounts == Decimal("92.50")
    assert basket.total_incl_tax == Decimal("83.25")
    assert [d["voucher"] for d in basket.voucher_discounts] == [voucher]


def test_a_fixed_amount_voucher_takes_that_amount_off_once(campaign, product, other_product):
    message = make_message(make_step(campaign, Incentive.FIXED, "5.00"))

    voucher = issue_voucher(message, timezone.now())
    basket = basket_with(voucher, (product, 3), (other_product, 2))

    assert basket.total_incl_tax_excl_discounts - basket.total_incl_tax == Decimal("5.00")


class FivePoundDelivery(Repository):
    methods = (FixedPrice(charge_excl_tax=Decimal("5.00"), charge_incl_tax=Decimal("5.00")),)


def test_a_free_shipping_voucher_removes_the_shipping_charge(campaign, product):
    message = make_message(make_step(campaign, Incentive.FREE_SHIPPING))

    voucher = issue_voucher(message, timezone.now())
    basket = basket_with(voucher, (product, 1))
    method = FivePoundDelivery().get_default_shipping_method(basket)

    assert basket.total_incl_tax == Decimal("40.00")  # the goods are not discounted
    assert method.calculate_excl_discount(basket).incl_tax == Decimal("5.00")
    assert method.discount(basket) == Decimal("5.00")
    assert method.calculate(basket).incl_tax == Decimal("0.00")


def test_the_offer_gives_nothing_without_its_voucher(campaign, product):
    issue_voucher(make_message(make_step(campaign, Incentive.FREE_SHIPPING)), timezone.now())
    basket = factories.create_basket(empty=True)
    basket.add_product(product)

    Applicator().apply(basket, factories.UserFactory())

    method = FivePoundDelivery().get_default_shipping_method(basket)
    assert ConditionalOffer.objects.exists()
    assert method.calculate(basket).incl_tax == Decimal("5.00")


def test_the_voucher_works_once_through_oscars_basket_and_checkout(
    campaign, product, country, shopper
):
    message = make_message(make_step(campaign, Incentive.PERCENTAGE, "10"))
    voucher = issue_voucher(message, timezone.now())

    add_to_basket(shopper, product)
    shopper.post(reverse("basket:vouchers-add"), {"code": voucher.code.lower()})
    guest_gateway(shopper)
    shipping_address(shopper, country)
    place_order(shopper)

    order = Order.objects.get()
    assert order.total_incl_tax == Decimal("36.00")
    assert [d.voucher_code for d in order.discounts.all()] == [voucher.code]
    voucher.refresh_from_db()
    assert voucher.num_orders == 1
    assert voucher.is_available_to_user(factories.UserFactory()) == (
        False,
        "This voucher has already been used",
    )

    # A second shopper cannot put the used code in a basket.
    second = Client(HTTP_USER_AGENT=BROWSER_UA)
    add_to_basket(second, product)
    second.post(reverse("basket:vouchers-add"), {"code": voucher.code})
    page = second.get(reverse("basket:summary"))
    assert list(page.context["basket"].vouchers.all()) == []


def test_record_usage_as_oscar_checkout_does_makes_the_voucher_unavailable(campaign):
    message = make_message(make_step(campaign, Incentive.FIXED, "5"))
    voucher = issue_voucher(message, timezone.now())
    first, second = factories.UserFactory(), factories.UserFactory()
    assert voucher.is_available_to_user(first)[0]

    voucher.record_usage(factories.create_order(user=first), first)

    assert voucher.usage == Voucher.SINGLE_USE
    assert not voucher.is_available_to_user(second)[0]
    assert not voucher.is_available_to_user(first)[0]


def test_the_voucher_starts_now_and_expires_after_the_steps_validity(campaign):
    valid_for = timedelta(days=3, hours=12)
    step = make_step(campaign, Incentive.PERCENTAGE, "10", incentive_valid_for=valid_for)
    now = timezone.now()

    voucher = issue_voucher(make_message(step), now)

    assert voucher.start_datetime == now
    assert voucher.end_datetime == now + valid_for
    assert voucher.is_active(now)
    assert voucher.is_active(now + valid_for)
    assert not voucher.is_active(now + valid_for + timedelta(seconds=1))
    assert not voucher.is_active(now - timedelta(seconds=1))


def test_issuing_again_returns_the_same_voucher(campaign):
    message = make_message(make_step(campaign, Incentive.PERCENTAGE, "10"))
    # A retried send loads the message afresh; a stale copy must not mint another either.
    stale = RecoveryMessage.objects.get(pk=message.pk)
    now = timezone.now()

    first = issue_voucher(message, now)
    again = issue_voucher(message, now + timedelta(minutes=5))
    from_stale = issue_voucher(stale, now + timedelta(minutes=10))

    assert first.pk == again.pk == from_stale.pk
    assert Voucher.objects.count() == 1
    assert RecoveryMessage.objects.get(pk=message.pk).voucher_code == first.code
    assert again.end_datetime == first.end_datetime


def test_a_voucher_deleted_since_is_replaced(campaign):
    message = make_message(make_step(campaign, Incentive.PERCENTAGE, "10"))
    first = issue_voucher(message, timezone.now())
    first.delete()

    second = issue_voucher(message, timezone.now())

    assert second.code != first.code
    assert RecoveryMessage.objects.get(pk=message.pk).voucher_code == second.code


def test_the_offer_is_an_oscar_voucher_offer_for_any_basket(campaign, product):
    step = make_step(campaign, Incentive.PERCENTAGE, "12.50", position=2)

    offer = ensure_offer(step)

    assert offer.offer_type == ConditionalOffer.VOUCHER
    # Shoppers read the name in the basket; staff read which step made it.
    assert offer.name == "12.5% off your order"
    assert offer.description == "Recovery: Come back step 2 (12.5% off your order)"
    assert offer.max_basket_applications == 1
    assert (offer.benefit.type, offer.benefit.value) == (Benefit.PERCENTAGE, Decimal("12.50"))
    assert offer.condition.type == "Count" and offer.condition.value == 1
    assert offer.condition.range.includes_all_products
    assert offer.condition.range.contains_product(product)
    step.refresh_from_db()
    assert step.offer == offer
    # Oscar's own validation accepts what we made.
    offer.benefit.full_clean()
    offer.condition.full_clean()


def test_free_shipping_is_oscars_full_shipping_discount(campaign):
    offer = ensure_offer(make_step(campaign, Incentive.FREE_SHIPPING))

    assert (offer.benefit.type, offer.benefit.value) == (
        Benefit.SHIPPING_PERCENTAGE,
        Decimal("100.00"),
    )
    assert offer.benefit.range is None
    offer.benefit.full_clean()


def test_steps_share_one_range_and_unchanged_steps_one_offer(campaign):
    first = make_step(campaign, Incentive.PERCENTAGE, "10", position=1)
    second = make_step(campaign, Incentive.FIXED, "5", position=2)

    issue_voucher(make_message(first), timezone.now())
    issue_voucher(make_message(first, email="other@example.com"), timezone.now())
    issue_voucher(make_message(second), timezone.now())

    assert ConditionalOffer.objects.count() == 2
    assert Range.objects.count() == 1
    assert Voucher.objects.count() == 3
    first.refresh_from_db()
    first_codes = RecoveryMessage.objects.filter(step=first).values_list("voucher_code", flat=True)
    assert sorted(Voucher.objects.filter(offers=first.offer).values_list("code", flat=True)) == (
        sorted(first_codes)
    )


def test_a_changed_incentive_gets_a_new_offer_and_old_vouchers_keep_theirs(campaign, product):
    step = make_step(campaign, Incentive.PERCENTAGE, "10")
    old_voucher = issue_voucher(make_message(step), timezone.now())
    old_offer = step.offer

    step.incentive_value = Decimal("15")
    step.save()
    new_voucher = issue_voucher(make_message(step, email="later@example.com"), timezone.now())

    step.refresh_from_db()
    assert step.offer != old_offer
    assert list(new_voucher.offers.all()) == [step.offer]
    assert list(old_voucher.offers.all()) == [old_offer]
    old_offer.refresh_from_db()
    assert old_offer.benefit.value == Decimal("10.00")
    assert basket_with(old_voucher, (product, 1)).total_incl_tax == Decimal("36.00")
    assert basket_with(new_voucher, (product, 1)).total_incl_tax == Decimal("34.00")

    # Back to 10 %: the first offer again (same discount, same name), never a "#2".
    step.incentive_value = Decimal("10")
    step.save()
    assert ensure_offer(step) == old_offer
    assert ConditionalOffer.objects.count() == 2

    step.incentive = Incentive.FREE_SHIPPING
    step.save()
    assert ensure_offer(step).benefit.type == Benefit.SHIPPING_PERCENTAGE


def test_codes_are_unique_unambiguous_and_prefixed_over_200_issues(campaign):
    step = make_step(campaign, Incentive.PERCENTAGE, "10")
    now = timezone.now()

    codes = [
        issue_voucher(make_message(step, email=f"shopper{i}@example.com"), now).code
        for i in range(200)
    ]

    assert len(set(codes)) == 200
    assert all(CODE.match(code) for code in codes), codes
    assert Voucher.objects.filter(usage=Voucher.SINGLE_USE).count() == 200
    assert ConditionalOffer.objects.count() == 1


def test_a_code_clash_is_retried_with_a_fresh_code(campaign, monkeypatch):
    taken = "BACK-AAAA-AAAA-AAAA"
    Voucher.objects.create(
        name="Someone else's",
        code=taken,
        start_datetime=timezone.now(),
        end_datetime=timezone.now() + timedelta(days=1),
    )
    codes = iter([taken, "BACK-BBBB-BBBB-BBBB"])
    monkeypatch.setattr(vouchers, "new_code", lambda: next(codes))
    message = make_message(make_step(campaign, Incentive.PERCENTAGE, "10"))

    voucher = issue_voucher(message, timezone.now())

    assert voucher.code == "BACK-BBBB-BBBB-BBBB"
    assert RecoveryMessage.objects.get(pk=message.pk).voucher_code == voucher.code
    assert Voucher.objects.count() == 2


def test_a_clash_on_every_attempt_raises_and_leaves_nothing(campaign, monkeypatch):
    taken = "BACK-AAAA-AAAA-AAAA"
    Voucher.objects.create(
        name="Someone else's",
        code=taken,
        start_datetime=timezone.now(),
        end_datetime=timezone.now() + timedelta(days=1),
    )
    monkeypatch.setattr(vouchers, "new_code", lambda: taken)
    message = make_message(make_step(campaign, Incentive.PERCENTAGE, "10"))

    with pytest.raises(IntegrityError):
        issue_voucher(message, timezone.now())

    assert Voucher.objects.count() == 1
    assert RecoveryMessage.objects.get(pk=message.pk).voucher_code == ""


def test_voucher_names_are_unique_and_name_the_incentive(campaign):
    step = make_step(campaign, Incentive.FIXED, "5")
    one = issue_voucher(make_message(step), timezone.now())
    two = issue_voucher(make_message(step, email="two@example.com"), timezone.now())

    assert one.name != two.name
    assert one.name == f"£5.00 off your order · {one.code[-9:]}"


def test_a_long_campaign_name_still_makes_a_valid_offer_name(campaign):
    campaign.name = "A" * 128
    campaign.save()

    offer = ensure_offer(make_step(campaign, Incentive.PERCENTAGE, "10"))

    assert len(offer.description) <= 128
    assert offer.description.endswith("step 1 (10% off your order)")


@pytest.mark.parametrize(
    ("incentive", "value", "field"),
    [
        (Incentive.PERCENTAGE, None, "incentive_value"),
        (Incentive.PERCENTAGE, "0", "incentive_value"),
        (Incentive.PERCENTAGE, "-5", "incentive_value"),
        (Incentive.PERCENTAGE, "100.01", "incentive_value"),
        (Incentive.FIXED, None, "incentive_value"),
        (Incentive.FIXED, "0", "incentive_value"),
        (Incentive.FIXED, "nonsense", "incentive_value"),
        ("bogus", "10", "incentive"),
    ],
)
def test_invalid_incentives_are_refused_with_a_clear_error(incentive, value, field):
    with pytest.raises(ValidationError) as error:
        validate_incentive(incentive, None if value is None else value)

    assert list(error.value.message_dict) == [field]
    assert error.value.message_dict[field][0]


@pytest.mark.parametrize(
    ("incentive", "value"),
    [
        (Incentive.NONE, None),
        (Incentive.PERCENTAGE, Decimal("100")),
        (Incentive.PERCENTAGE, Decimal("0.01")),
        (Incentive.FIXED, Decimal("0.50")),
        (Incentive.FREE_SHIPPING, None),
    ],
)
def test_valid_incentives_pass(incentive, value):
    validate_incentive(incentive, value, timedelta(days=1))


def test_a_voucher_must_be_valid_for_some_time():
    with pytest.raises(ValidationError) as error:
        validate_incentive(Incentive.PERCENTAGE, Decimal("10"), timedelta(0))
    assert list(error.value.message_dict) == ["incentive_valid_for"]


def test_an_invalid_step_raises_before_anything_is_written(campaign):
    step = make_step(campaign, Incentive.PERCENTAGE, "150")
    message = make_message(step)

    with pytest.raises(ValidationError, match="at most 100"):
        issue_voucher(message, timezone.now())

    assert not Voucher.objects.exists()
    assert not ConditionalOffer.objects.exists()
    step.refresh_from_db()
    assert step.offer is None
    assert RecoveryMessage.objects.get(pk=message.pk).voucher_code == ""


def test_incentives_are_described_in_the_active_language(campaign):
    percent = make_step(campaign, Incentive.PERCENTAGE, "10", position=1)
    fixed = make_step(campaign, Incentive.FIXED, "5", position=2)
    shipping = make_step(campaign, Incentive.FREE_SHIPPING, position=3)
    nothing = make_step(campaign, position=4)

    assert describe_incentive(percent, "GBP") == "10% off your order"
    assert describe_incentive(fixed, "GBP") == "£5.00 off your order"
    assert describe_incentive(shipping, "GBP") == "Free delivery"
    assert describe_incentive(nothing, "GBP") == ""
    with translation.override("de"):
        # Oscar's currency filter follows the language: German puts the symbol last.
        assert describe_incentive(fixed, "EUR") == "5,00\xa0€ off your order"
        assert describe_incentive(
            make_step(campaign, Incentive.PERCENTAGE, "12.50", position=5), "EUR"
        ).startswith("12,5%")
