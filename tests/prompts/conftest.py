"""Fixtures every prompt test module shares."""

import pytest
from django.core.cache import cache
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model

Basket = get_model("basket", "Basket")


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def basket(product):
    basket = Basket.objects.create()
    basket.strategy = Default()
    basket.add_product(product)  # 40.00
    return basket
