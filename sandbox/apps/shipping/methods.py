"""The sandbox's shipping methods. Prices include tax: the shop charges none."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from oscar.apps.shipping import methods


class StandardDelivery(methods.FixedPrice):
    code = "standard"
    name = _("Standard delivery")
    description = _("3 to 5 working days")
    charge_excl_tax = charge_incl_tax = Decimal("4.95")


class ExpressDelivery(methods.FixedPrice):
    code = "express"
    name = _("Express delivery")
    description = _("Next working day")
    charge_excl_tax = charge_incl_tax = Decimal("9.95")


class FreeDelivery(methods.Free):
    code = "free"
    name = _("Free delivery")
    description = _("3 to 5 working days, free on larger orders")
