"""Oscar's recently-viewed cookie, read one way by capture, the basket-page recommendations and
the prompts. It comes from the browser: the worst sender puts anything in it (strings,
booleans, negative or huge ids, repeats, a list a mile long, not JSON at all). All they can
get is fewer products, never an error, a query on garbage, or a product twice."""

import pytest
from django.test import override_settings

from oscar_recovery.capture.history import viewed_from_cookie
from oscar_recovery.prompts import render
from oscar_recovery.prompts.targeting import Visitor
from tests.support.prompt_helpers import visitor_request


def test_the_limit_defaults_to_the_browse_setting_and_can_be_given():
    cookies = {"oscar_history": str(list(range(1, 31)))}
    with override_settings(OSCAR_RECOVERY_BROWSE_VIEWED_LIMIT=4):
        assert viewed_from_cookie(cookies) == [30, 29, 28, 27]
    assert viewed_from_cookie(cookies, limit=2) == [30, 29]


@override_settings(OSCAR_RECENTLY_VIEWED_COOKIE_NAME="seen")
def test_the_cookie_name_is_oscar_s_setting():
    assert viewed_from_cookie({"seen": "[4]", "oscar_history": "[5]"}) == [4]


@pytest.mark.parametrize("raw", ["[abc]", '["1", true, -2, 0]', "{}", "[[1]]", "[ ]"])
def test_a_forged_cookie_is_no_history_for_the_returning_banner(raw):
    assert Visitor(visitor_request(cookies={"oscar_history": raw})).has_history is False


def test_a_real_cookie_is_history_for_the_returning_banner():
    assert Visitor(visitor_request(cookies={"oscar_history": "[3, 5]"})).has_history is True


@pytest.mark.django_db
def test_the_banner_s_recent_products_ignore_forged_ids_and_repeats(product, other_product):
    raw = f'[{other_product.pk}, "{product.pk}", true, -1, {product.pk}, {product.pk}]'
    visitor = Visitor(visitor_request(cookies={"oscar_history": raw}))
    assert render.recent_products(visitor) == [product, other_product]
    assert render.recent_products(Visitor(visitor_request(cookies={"oscar_history": "{"}))) == []
