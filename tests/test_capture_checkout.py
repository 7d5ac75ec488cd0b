"""Capture through checkout: the gateway email, each step, payment, and the order."""

import pytest
from django.urls import reverse
from oscar.apps.payment.exceptions import UnableToTakePayment
from oscar.core.loading import get_class, get_model

from oscar_recovery.constants import CheckoutStep, EmailSource, JourneyEventKind, JourneyStatus
from oscar_recovery.models import CartJourney
from tests.support.journeys import (
    add_to_basket,
    guest_checkout,
    guest_gateway,
    only_journey,
    place_order,
    shipping_address,
)

Order = get_model("order", "Order")
pytestmark = pytest.mark.django_db


def events(journey) -> list[str]:
    return list(journey.events.values_list("kind", flat=True))


def test_guest_email_from_the_gateway_makes_the_journey_identified(shopper, product):
    add_to_basket(shopper, product)
    guest_gateway(shopper, "guest@example.com")

    journey = only_journey()
    assert journey.email == "guest@example.com"
    assert journey.email_source == EmailSource.CHECKOUT
    assert journey.furthest_step == CheckoutStep.GATEWAY
    assert journey.gateway_reached_at is not None
    assert events(journey) == [JourneyEventKind.EMAIL_CAPTURED]


def test_each_checkout_step_is_recorded_once_with_its_first_time(shopper, product, country):
    add_to_basket(shopper, product)
    guest_gateway(shopper)
    shipping_address(shopper, country)
    first = only_journey().shipping_address_reached_at
    shopper.get(reverse("checkout:shipping-address"))  # back again
    shopper.get(reverse("basket:summary"))  # a plain page: no step

    journey = only_journey()
    assert journey.furthest_step == CheckoutStep.SHIPPING_ADDRESS
    assert journey.shipping_address_reached_at == first
    assert journey.payment_reached_at is None


def test_walking_back_does_not_lower_the_furthest_step(shopper, product, country):
    add_to_basket(shopper, product)
    guest_gateway(shopper)
    shipping_address(shopper, country)
    shopper.get(reverse("checkout:payment-details"), follow=True)
    shopper.get(reverse("checkout:index"), follow=True)
    assert only_journey().furthest_step == CheckoutStep.PAYMENT


def test_guest_order_ends_the_journey_as_converted_at_once(shopper, product, country):
    guest_checkout(shopper, product, country)

    journey = only_journey()
    order = Order.objects.get()
    assert journey.status == JourneyStatus.CONVERTED
    assert journey.order == order
    assert journey.ended_at is not None
    assert journey.furthest_step == CheckoutStep.PREVIEW
    assert all(reached for _, reached in journey.funnel() if _ != CheckoutStep.SHIPPING_METHOD)
    assert JourneyEventKind.ORDER_PLACED in events(journey)
    assert JourneyEventKind.BASKET_FROZEN in events(journey)


def test_journey_ended_signal_carries_the_order(shopper, product, country):
    from oscar_recovery.signals import journey_ended

    seen = []

    def receiver(sender, journey, order, **kwargs):
        seen.append((journey, order))

    journey_ended.connect(receiver)
    try:
        guest_checkout(shopper, product, country)
    finally:
        journey_ended.disconnect(receiver)
    assert [(j.pk, str(o.number)) for j, o in seen] == [
        (only_journey().pk, Order.objects.get().number)
    ]


def test_failed_payment_thaws_the_basket_and_the_journey_stays_active(
    shopper, product, country, monkeypatch
):
    PaymentDetailsView = get_class("checkout.views", "PaymentDetailsView")

    def decline(self, order_number, total, **kwargs):
        raise UnableToTakePayment("Card declined")

    add_to_basket(shopper, product)
    guest_gateway(shopper)
    shipping_address(shopper, country)
    shopper.get(reverse("checkout:shipping-method"), follow=True)
    with monkeypatch.context() as patch:
        patch.setattr(PaymentDetailsView, "handle_payment", decline)
        shopper.get(reverse("checkout:preview"))
        response = shopper.post(reverse("checkout:preview"), {"action": "place_order"})
        assert response.status_code == 200  # Oscar shows the error

    journey = only_journey()
    assert journey.status == JourneyStatus.ACTIVE
    assert not journey.basket_frozen
    assert events(journey)[-2:] == [
        JourneyEventKind.BASKET_FROZEN,
        JourneyEventKind.BASKET_THAWED,
    ]
    # The shopper can still finish: the same journey converts.
    place_order(shopper)
    assert only_journey().status == JourneyStatus.CONVERTED


def test_headless_checkout_that_only_sends_order_placed_converts(shopper, product):
    """django-oscar-api places the order with OrderCreator and leaves the basket Frozen."""
    from oscar.apps.checkout.calculators import OrderTotalCalculator
    from oscar.apps.shipping.methods import Free

    OrderCreator = get_class("order.utils", "OrderCreator")
    add_to_basket(shopper, product)
    journey = only_journey()
    basket = journey.basket
    from oscar.apps.partner.strategy import Default

    basket.strategy = Default()
    basket.freeze()
    method = Free()
    shipping_charge = method.calculate(basket)
    total = OrderTotalCalculator().calculate(basket, shipping_charge)
    order = OrderCreator().place_order(
        basket=basket,
        total=total,
        shipping_method=method,
        shipping_charge=shipping_charge,
        guest_email="headless@example.com",
    )

    journey.refresh_from_db()
    basket.refresh_from_db()
    assert basket.status == "Frozen"
    assert journey.status == JourneyStatus.CONVERTED
    assert journey.order == order
    assert journey.email == "headless@example.com"
    assert journey.email_source == EmailSource.ORDER


def test_order_for_a_basket_left_open_releases_it_for_a_new_journey(shopper, product):
    from oscar.apps.checkout.calculators import OrderTotalCalculator
    from oscar.apps.partner.strategy import Default
    from oscar.apps.shipping.methods import Free

    OrderCreator = get_class("order.utils", "OrderCreator")
    add_to_basket(shopper, product)
    basket = only_journey().basket
    basket.strategy = Default()
    method = Free()
    charge = method.calculate(basket)
    OrderCreator().place_order(
        basket=basket,
        total=OrderTotalCalculator().calculate(basket, charge),
        shipping_method=method,
        shipping_charge=charge,
    )
    add_to_basket(shopper, product)

    converted, fresh = CartJourney.objects.order_by("pk")
    assert converted.status == JourneyStatus.CONVERTED and converted.basket is None
    assert fresh.status == JourneyStatus.ACTIVE and fresh.basket_id == basket.pk


def test_a_failing_capture_never_breaks_the_shop(shopper, product, country, monkeypatch):
    from oscar_recovery.capture import snapshot
    from oscar_recovery.journeys import writes as journeys

    def boom(*args, **kwargs):
        raise RuntimeError("capture is broken")

    for module, name in [
        (journeys, "save_basket"),
        (journeys, "attach_email"),
        (journeys, "record_step"),
        (journeys, "record_basket_frozen"),
        (journeys, "end_with_order"),
        (journeys, "merge_baskets"),
        (snapshot, "take_snapshot"),
    ]:
        monkeypatch.setattr(module, name, boom)
    monkeypatch.setattr("oscar_recovery.capture.scope.take_snapshot", boom)
    monkeypatch.setattr("oscar_recovery.capture.scope.read_visitor_id", boom)
    monkeypatch.setattr("oscar_recovery.capture.visitor.get_adapter", boom)

    shopper.get(product.get_absolute_url())
    guest_checkout(shopper, product, country)

    assert Order.objects.count() == 1
    assert not CartJourney.objects.exists()


def test_a_database_error_inside_capture_does_not_poison_the_shops_transaction(
    shopper, product, monkeypatch
):
    """Each test runs inside a transaction, as a shop's view does with ATOMIC_REQUESTS:
    capture's failing query must roll back only its own savepoint."""
    from django.db import connection

    from oscar_recovery.journeys import writes as journeys

    def failing_query(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(journeys, "save_basket", failing_query)
    add_to_basket(shopper, product)

    assert shopper.get(reverse("basket:summary")).status_code == 200
    assert Order.objects.count() == 0  # the connection still answers queries
    assert not CartJourney.objects.exists()


def test_a_misconfigured_step_mapping_never_breaks_a_page(shopper, product, settings):
    settings.OSCAR_RECOVERY_CHECKOUT_STEPS = {"basket:summary": "not-a-step"}
    add_to_basket(shopper, product)
    assert shopper.get(reverse("basket:summary")).status_code == 200


def test_an_open_basket_saved_again_and_again_is_no_thaw(shopper, product):
    """Oscar saves an open basket on many requests: none of those saves is a payment that
    failed, so no thaw is written (and the journey's activity is left alone)."""
    from oscar_recovery.capture import scope

    add_to_basket(shopper, product)
    journey = only_journey()
    scope.begin_request({"PATH_INFO": "/basket/"})
    journey.basket.save()
    journey.basket.save()
    scope.end_request()

    after = only_journey()
    assert JourneyEventKind.BASKET_THAWED not in events(after)
    assert after.last_activity_at == journey.last_activity_at
