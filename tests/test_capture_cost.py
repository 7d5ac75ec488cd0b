"""What capture costs the shop: at most 2 queries per basket change, none per page view."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.support.journeys import add_to_basket, update_basket_line

pytestmark = pytest.mark.django_db


def count_queries(func) -> int:
    with CaptureQueriesContext(connection) as queries:
        func()
    # Savepoints exist only because each test runs inside a transaction; a shop's request
    # (autocommit, or ATOMIC_REQUESTS already committed when capture writes) sends none.
    return sum(
        not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
        for q in queries.captured_queries
    )


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
