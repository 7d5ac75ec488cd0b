"""What capture costs the shop: at most 2 statements on any shop request (contacts and
consent included), none on a page that changes nothing.

What a request leaves for later (its timeline events, a consent's ledger entry and double
opt-in request, an order's attribution) is one outbox row, done after the request
(:mod:`oscar_recovery.journeys.followups`); these tests leave it pending
(``followups_later``) and check it is done right afterwards.
"""

import re

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from oscar_recovery.campaigns.install import install_defaults
from oscar_recovery.constants import Channel, JourneyEventKind, JourneyStatus, LawfulBasis
from oscar_recovery.models import CartJourney, ConsentConfirmation, ConsentEvent, HandOff
from oscar_recovery.privacy import ads_consent, consent
from oscar_recovery.sweep.stages import run_sweep
from tests.conftest import BROWSER_UA
from tests.support.journeys import add_to_basket, address_form, guest_checkout, update_basket_line
from tests.support.outbox import run_followups

pytestmark = [pytest.mark.django_db, pytest.mark.followups_later]

#: The budget: statements capture may add to one shop request.
BUDGET = 2
#: Requests that change nothing of ours.
READ_ONLY = ("product page", "basket page", "thank-you page")


def count_queries(func) -> int:
    return statements(func)[0]


def statements(func) -> tuple[int, object]:
    """How many statements ``func`` sends, and what it returns."""
    with CaptureQueriesContext(connection) as queries:
        result = func()
    # Savepoints exist only because each test runs inside a transaction; a shop's request
    # (autocommit, or ATOMIC_REQUESTS already committed when capture writes) sends none.
    count = sum(
        not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
        for q in queries.captured_queries
    )
    return count, result


def added_queries(settings, action, warm_up: bool = False) -> int:
    """Queries ``action`` makes with capture on, minus with capture off."""
    settings.OSCAR_RECOVERY_CAPTURE_ENABLED = False
    if warm_up:  # let Oscar create what it creates on a first visit (analytics records)
        action()
    without = count_queries(action)
    settings.OSCAR_RECOVERY_CAPTURE_ENABLED = True
    with_capture = count_queries(action)
    return with_capture - without


def test_first_add_to_basket_adds_at_most_two_queries(db, settings, product):
    from django.test import Client

    from tests.conftest import BROWSER_UA

    def first_add():
        add_to_basket(Client(HTTP_USER_AGENT=BROWSER_UA), product)

    assert added_queries(settings, first_add) <= 2


def test_further_add_to_basket_adds_at_most_two_queries(shopper, settings, product):
    add_to_basket(shopper, product)
    assert added_queries(settings, lambda: add_to_basket(shopper, product)) <= 2


def test_logged_in_add_to_basket_adds_at_most_two_queries(shopper, settings, product, customer):
    shopper.force_login(customer)
    shopper.get(reverse("basket:summary"))  # the customer's basket exists, without a journey
    # Warm-up runs with capture off, so the measured run is the one creating the journey.
    assert added_queries(settings, lambda: add_to_basket(shopper, product), True) <= 2


def test_basket_formset_change_of_several_lines_adds_at_most_two_queries(
    shopper, settings, product, other_product
):
    add_to_basket(shopper, product)
    add_to_basket(shopper, other_product)
    quantities = iter([3, 4])
    extra = added_queries(settings, lambda: update_basket_line(shopper, next(quantities)))
    assert extra <= 2


@pytest.mark.parametrize("url_name", ["basket:summary", "catalogue:index"])
def test_plain_page_views_add_no_query(shopper, settings, product, url_name):
    add_to_basket(shopper, product)
    assert added_queries(settings, lambda: shopper.get(reverse(url_name)), True) == 0


def test_product_page_view_adds_no_query(shopper, settings, product):
    add_to_basket(shopper, product)
    assert added_queries(settings, lambda: shopper.get(product.get_absolute_url()), True) == 0


# -- every request of a shopper's visit ----------------------------------------------------


def _consent_form() -> dict:
    """Both boxes of the gateway ticked: reminders by email, and ads (audiences)."""
    html = Template(
        "{% load recovery_consent %}{% recovery_consent_field %}{% recovery_ads_consent_field %}"
    ).render(Context({"request": RequestFactory().get("/checkout/")}))

    def notice(field):
        return re.search(rf'name="{field}" value="([^"]+)"', html).group(1)

    return {
        consent.NOTICE_FIELD: notice(consent.NOTICE_FIELD),
        consent.CHOICE_FIELD: consent.YES,
        ads_consent.NOTICE_FIELD: notice(ads_consent.NOTICE_FIELD),
        ads_consent.CHOICE_FIELD: ads_consent.YES,
    }


def _visit(product, country, customer, email: str) -> dict[str, int]:
    """A guest's whole checkout, then a customer's login with a guest basket: statements
    per request."""
    counts: dict[str, int] = {}
    guest = Client(HTTP_USER_AGENT=BROWSER_UA)

    def step(name, func, expect=None):
        counts[name], response = statements(func)
        if expect is not None:
            assert response.status_code == expect, (name, response.status_code)
        return response

    basket_add = reverse("basket:add", kwargs={"pk": product.pk})
    step("product page", lambda: guest.get(product.get_absolute_url()), 200)
    step("first add to basket", lambda: guest.post(basket_add, {"quantity": 1}), 302)
    step("further add to basket", lambda: guest.post(basket_add, {"quantity": 1}), 302)
    step("basket page", lambda: guest.get(reverse("basket:summary")), 200)
    step("checkout gateway", lambda: guest.get(reverse("checkout:index")), 200)
    gateway = {"username": email, "options": "anonymous", **_consent_form()}
    step(
        "gateway with email and both consents",
        lambda: guest.post(reverse("checkout:index"), gateway),
        302,
    )
    shipping = reverse("checkout:shipping-address")
    step("shipping address page", lambda: guest.get(shipping), 200)
    address = address_form(country)
    step("shipping address form", lambda: guest.post(shipping, address), 302)
    step("shipping method", lambda: guest.get(reverse("checkout:shipping-method")))
    step("payment method", lambda: guest.get(reverse("checkout:payment-method")))
    step("payment details", lambda: guest.get(reverse("checkout:payment-details")))
    step("preview", lambda: guest.get(reverse("checkout:preview")), 200)
    placed = step(
        "place order",
        lambda: guest.post(reverse("checkout:preview"), {"action": "place_order"}),
        302,
    )
    step("thank-you page", lambda: guest.get(placed["Location"]), 200)

    returning = Client(HTTP_USER_AGENT=BROWSER_UA)
    returning.post(basket_add, {"quantity": 1})
    login = {
        "login-username": customer.email,
        "login-password": "secret-pass",
        "login_submit": "1",
    }
    step("login", lambda: returning.post(reverse("customer:login"), login), 302)
    step("basket page after login (merge)", lambda: returning.get(reverse("basket:summary")))
    step("gateway logged in", lambda: returning.get(reverse("checkout:index")))
    return counts


def test_every_shop_request_stays_within_the_budget(settings, product, country, customer):
    install_defaults(activate=True)
    settings.OSCAR_RECOVERY_LAWFUL_BASIS = LawfulBasis.CONSENT
    settings.OSCAR_RECOVERY_CAPTURE_ENABLED = False
    _visit(product, country, customer, "warm@example.com")  # Oscar's own first-visit writes
    without = _visit(product, country, customer, "off@example.com")
    settings.OSCAR_RECOVERY_CAPTURE_ENABLED = True
    with_capture = _visit(product, country, customer, "on@example.com")

    added = {kind: with_capture[kind] - without[kind] for kind in without}
    over = {
        kind: extra for kind, extra in added.items() if extra > (0 if kind in READ_ONLY else BUDGET)
    }
    assert not over, f"statements added by capture, over budget: {over} (all: {added})"

    # Nothing was skipped to get there: the guest's journey is complete and converted, and
    # what the requests left for later is in the outbox until a worker does it.
    journey = CartJourney.objects.get(email="on@example.com")
    assert journey.status == JourneyStatus.CONVERTED and journey.first_name == "Ada"
    assert journey.consent_given is True
    assert HandOff.objects.filter(done_at__isnull=True).exists()
    assert not ConsentEvent.objects.filter(address="on@example.com").exists()

    run_followups()

    kinds = set(journey.events.values_list("kind", flat=True))
    assert {JourneyEventKind.EMAIL_CAPTURED, JourneyEventKind.CONSENT_RECORDED} <= kinds
    assert JourneyEventKind.ORDER_PLACED in kinds and JourneyEventKind.BASKET_FROZEN in kinds
    given = ConsentEvent.objects.filter(address="on@example.com", action="given")
    assert set(given.values_list("channel", flat=True)) == {Channel.EMAIL, Channel.ADS}
    assert ConsentConfirmation.objects.filter(journey=journey).exists()  # double opt-in asked
    assert not HandOff.objects.filter(
        task__in=("journey_followups", "order_followups"), done_at__isnull=True
    ).exists()


def test_the_sweep_does_the_follow_ups_no_worker_did(product, country):
    """Worst case: the broker is down and no worker ran them. The sweep does them first,
    before it moves any journey on (an order's follow-ups end the restored original it
    would otherwise email: tests/integration/test_postgres_celery.py), each once."""
    shopper = Client(HTTP_USER_AGENT=BROWSER_UA)
    guest_checkout(shopper, product, country)
    assert HandOff.objects.filter(task="order_followups", done_at__isnull=True).exists()

    assert run_sweep().followed_up == 2  # the gateway's and the order's
    assert run_sweep().followed_up == 0

    journey = CartJourney.objects.get()
    assert journey.events.filter(kind=JourneyEventKind.ORDER_PLACED).count() == 1
    assert journey.events.filter(kind=JourneyEventKind.EMAIL_CAPTURED).count() == 1
