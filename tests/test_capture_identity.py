"""Who the shopper is: login merges, on-site email capture."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse
from oscar.apps.basket.middleware import BasketMiddleware

from oscar_recovery.capture.scope import capture_email
from oscar_recovery.constants import CheckoutStep, EmailSource, JourneyEventKind, JourneyStatus
from oscar_recovery.models import CartJourney
from tests.support.journeys import add_to_basket, guest_gateway, only_journey

pytestmark = pytest.mark.django_db


def login(client, user):
    response = client.post(
        reverse("customer:login"),
        {"login-username": user.email, "login-password": "secret-pass", "login_submit": "1"},
    )
    assert response.status_code == 302, response.context["login_form"].errors
    # Oscar merges the guest basket on the first request that touches the basket.
    client.get(reverse("basket:summary"))


def test_guest_journey_continues_after_login_when_the_customer_had_no_basket(
    shopper, product, customer
):
    add_to_basket(shopper, product)
    guest_gateway(shopper, "guest-typed@example.com")
    guest = only_journey()

    login(shopper, customer)

    journey = only_journey()  # still one journey: moved, not duplicated
    assert journey.pk == guest.pk
    assert journey.basket.owner == customer
    assert journey.user == customer
    assert journey.visitor_id == guest.visitor_id
    assert journey.furthest_step == CheckoutStep.GATEWAY
    assert journey.lines[0]["title"] == "Winter coat"
    assert JourneyEventKind.MOVED_ON_LOGIN in journey.events.values_list("kind", flat=True)


def test_guest_basket_merged_into_the_customers_basket_keeps_one_journey_going(
    db, product, other_product, customer
):
    from django.test import Client

    from tests.conftest import BROWSER_UA

    earlier_device = Client(HTTP_USER_AGENT=BROWSER_UA)
    earlier_device.force_login(customer)
    add_to_basket(earlier_device, other_product)
    customers = only_journey()

    shopper = Client(HTTP_USER_AGENT=BROWSER_UA)
    add_to_basket(shopper, product)
    guest_gateway(shopper, "guest@example.com")
    guest = CartJourney.objects.exclude(pk=customers.pk).get()

    login(shopper, customer)

    guest.refresh_from_db()
    customers.refresh_from_db()
    assert CartJourney.objects.filter(status=JourneyStatus.ACTIVE).get() == customers
    assert guest.status == JourneyStatus.MERGED and guest.merged_into == customers
    assert sorted(line["title"] for line in customers.lines) == ["Winter coat", "Wool hat"]
    # The continuing journey takes over the guest's progress and this browser's id.
    assert customers.furthest_step == CheckoutStep.GATEWAY
    assert customers.gateway_reached_at == guest.gateway_reached_at
    assert customers.visitor_id == guest.visitor_id
    assert customers.email == "customer@example.com"
    merged = customers.events.get(kind=JourneyEventKind.MERGED_IN)
    assert merged.data["journey"] == guest.pk


def test_capture_email_attaches_to_the_shoppers_journey(shopper, product):
    add_to_basket(shopper, product)
    request = basket_request(shopper)

    journey = capture_email(request, " Prompted@example.com ")

    assert journey == only_journey()
    assert journey.email == "prompted@example.com"  # canonical
    assert journey.email_source == EmailSource.CAPTURED
    assert journey.is_contactable


def test_capture_email_before_any_basket_keeps_the_email(shopper):
    request = basket_request(shopper)

    journey = capture_email(request, "early@example.com")

    assert journey.email == "early@example.com"
    assert journey.num_items == 0
    assert journey.basket_id == request.basket.id


def test_capture_email_rejects_an_invalid_address(shopper):
    with pytest.raises(ValidationError):
        capture_email(basket_request(shopper), "not-an-email")
    assert not CartJourney.objects.exists()


def test_an_account_email_never_overwrites_one_the_shopper_typed(shopper, product, customer):
    from oscar_recovery.journeys.writes import attach_email

    add_to_basket(shopper, product)
    guest_gateway(shopper, "typed@example.com")
    basket_id = only_journey().basket_id

    assert attach_email(basket_id, "account@example.com", EmailSource.ACCOUNT) is None
    assert only_journey().email == "typed@example.com"


def basket_request(client):
    """A request carrying the client's basket, built the way Oscar's middleware builds it."""
    request = RequestFactory().post("/", HTTP_USER_AGENT="Mozilla/5.0 Chrome/120")
    request.COOKIES.update({key: morsel.value for key, morsel in client.cookies.items()})
    request.user = AnonymousUser()
    request.session = client.session
    request.cookies_to_delete = []
    request._basket_cache = None
    request.basket = BasketMiddleware(lambda r: None).get_basket(request)
    return request
