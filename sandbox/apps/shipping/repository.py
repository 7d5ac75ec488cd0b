from decimal import Decimal

from django.conf import settings
from oscar.apps.shipping import repository
from oscar.apps.shipping.methods import Base

from .methods import ExpressDelivery, FreeDelivery, StandardDelivery


def free_shipping_threshold() -> Decimal:
    return Decimal(settings.SANDBOX_FREE_SHIPPING_THRESHOLD)


def qualifies_for_free_shipping(basket) -> bool:
    """Whether the basket's total (after discounts, incl. tax) reaches the threshold."""
    total = basket.total_incl_tax if basket.is_tax_known else basket.total_excl_tax
    return total >= free_shipping_threshold()


class Repository(repository.Repository):
    def get_available_shipping_methods(self, basket, shipping_addr=None, **kwargs) -> list[Base]:
        methods: list[Base] = [StandardDelivery(), ExpressDelivery()]
        if qualifies_for_free_shipping(basket):
            # First, so the basket page and the checkout's default show it.
            methods.insert(0, FreeDelivery())
        return methods
