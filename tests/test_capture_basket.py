"""Capture of what is in the basket: additions, quantity changes, removals, vouchers."""

from decimal import Decimal

import pytest
from django.urls import reverse

from oscar_recovery.constants import CheckoutStep, JourneyStatus
from oscar_recovery.models import CartJourney
from tests.support.journeys import add_to_basket, make_voucher, only_journey, update_basket_line

pytestmark = pytest.mark.django_db


def test_first_addition_starts_a_journey_with_a_line_snapshot(shopper, product):
    add_to_basket(shopper, product, quantity=2)

    journey = only_journey()
    assert journey.status == JourneyStatus.ACTIVE
    assert journey.furthest_step == CheckoutStep.BASKET
    assert journey.basket_reached_at is not None
    assert journey.num_lines == 1 and journey.num_items == 2
    assert journey.total == Decimal("80.00")
    assert journey.currency == "GBP"
    assert journey.lines[0]["title"] == "Winter coat"
    assert journey.lines[0]["product_id"] == product.pk
    assert journey.lines[0]["unit_price"] == "40.00"
    assert journey.language == "en-gb"
    assert len(journey.visitor_id) == 32
    assert not journey.is_bot and not journey.is_staff
    assert journey.user is None and journey.email == ""


def test_second_addition_updates_the_same_journey(shopper, product, other_product):
    add_to_basket(shopper, product)
    first = only_journey()
    add_to_basket(shopper, other_product, quantity=3)

    journey = only_journey()
    assert journey.pk == first.pk
    assert journey.visitor_id == first.visitor_id
    assert [line["title"] for line in journey.lines] == ["Winter coat", "Wool hat"]
    assert journey.num_items == 4
    assert journey.total == Decimal("77.50")
    assert journey.last_activity_at >= first.last_activity_at


def test_quantity_change_in_the_basket_page_is_captured(shopper, product):
    add_to_basket(shopper, product)
    update_basket_line(shopper, quantity=5)

    journey = only_journey()
    assert journey.num_items == 5
    assert journey.total == Decimal("200.00")


def test_line_removal_is_captured(shopper, product, other_product):
    add_to_basket(shopper, product)
    add_to_basket(shopper, other_product)
    update_basket_line(shopper, quantity=1, line_index=0, delete=True)

    journey = only_journey()
    assert [line["title"] for line in journey.lines] == ["Wool hat"]
    assert journey.total == Decimal("12.50")


def test_voucher_codes_follow_the_basket(shopper, product):
    voucher = make_voucher("SAVE10")
    add_to_basket(shopper, product)
    response = shopper.post(reverse("basket:vouchers-add"), {"code": "SAVE10"})
    assert response.status_code == 302
    assert only_journey().vouchers == ["SAVE10"]

    shopper.post(reverse("basket:vouchers-remove", kwargs={"pk": voucher.pk}))
    assert only_journey().vouchers == []


def test_capture_switched_off_records_nothing(shopper, product, settings):
    settings.OSCAR_RECOVERY_CAPTURE_ENABLED = False
    add_to_basket(shopper, product)
    assert not CartJourney.objects.exists()


def test_bots_are_recorded_as_bots(db, product):
    from django.test import Client

    add_to_basket(
        Client(HTTP_USER_AGENT="Googlebot/2.1 (+http://www.google.com/bot.html)"), product
    )
    add_to_basket(Client(HTTP_USER_AGENT=""), product)
    assert list(CartJourney.objects.values_list("is_bot", flat=True)) == [True, True]
    assert not any(j.is_contactable for j in CartJourney.objects.all())


def test_staff_are_recorded_and_not_contactable_by_default(shopper, product, settings):
    from oscar.test.factories import UserFactory

    staff = UserFactory(email="staff@example.com", is_staff=True)
    shopper.force_login(staff)
    add_to_basket(shopper, product)

    journey = only_journey()
    assert journey.is_staff and journey.user == staff
    assert journey.email == "staff@example.com"
    assert not journey.is_contactable
    settings.OSCAR_RECOVERY_CONTACT_STAFF = True
    assert journey.is_contactable


def test_logged_in_customer_journey_carries_account_email(shopper, product, customer):
    shopper.force_login(customer)
    add_to_basket(shopper, product)

    journey = only_journey()
    assert journey.user == customer
    assert journey.email == "customer@example.com"
    assert journey.email_source == "account"
    assert journey.is_contactable


def test_product_page_gives_the_visitor_a_cookie_that_journeys_use(shopper, product):
    from django.core import signing

    response = shopper.get(product.get_absolute_url())
    cookie = response.cookies["oscar_recovery_visitor"]
    visitor_id = signing.get_cookie_signer(salt="oscar_recovery.visitor").unsign(cookie.value)
    assert cookie["httponly"]

    add_to_basket(shopper, product)
    assert only_journey().visitor_id == visitor_id
    # Already has one: not set again.
    assert "oscar_recovery_visitor" not in shopper.get(product.get_absolute_url()).cookies


def test_tampered_visitor_cookie_is_ignored(shopper, product):
    shopper.cookies["oscar_recovery_visitor"] = "forged:value"
    add_to_basket(shopper, product)
    assert only_journey().visitor_id != "forged"
