"""Shopper actions through Oscar's real views, shared by the tests."""

from decimal import Decimal

from django.urls import reverse
from oscar.core.loading import get_model

from oscar_recovery.models import CartJourney


def add_to_basket(client, product, quantity: int = 1):
    response = client.post(reverse("basket:add", kwargs={"pk": product.pk}), {"quantity": quantity})
    assert response.status_code == 302, response
    return response


def update_basket_line(client, quantity: int, *, line_index: int = 0, delete: bool = False):
    """Submit Oscar's basket formset, changing one line's quantity or deleting it."""
    page = client.get(reverse("basket:summary"))
    formset = page.context["formset"]
    data = {
        "form-TOTAL_FORMS": formset.total_form_count(),
        "form-INITIAL_FORMS": formset.initial_form_count(),
        "form-MIN_NUM_FORMS": 0,
        "form-MAX_NUM_FORMS": 1000,
    }
    for i, form in enumerate(formset.forms):
        data[f"form-{i}-id"] = form.instance.pk
        data[f"form-{i}-quantity"] = quantity if i == line_index else form.instance.quantity
        if delete and i == line_index:
            data[f"form-{i}-DELETE"] = "on"
    response = client.post(reverse("basket:summary"), data)
    assert response.status_code == 302, response.context and response.context["formset"].errors
    return response


def guest_gateway(client, email: str = "guest@example.com"):
    response = client.post(reverse("checkout:index"), {"username": email, "options": "anonymous"})
    assert response.status_code == 302, response
    return response


def address_form(country) -> dict:
    """A shipping address as Oscar's checkout form takes it."""
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "line1": "1 Analytical Row",
        "line4": "London",
        "postcode": "N1 9GU",
        "country": country.pk,
        "phone_number": "",
    }


def shipping_address(client, country):
    client.get(reverse("checkout:shipping-address"))
    response = client.post(reverse("checkout:shipping-address"), address_form(country))
    assert response.status_code == 302, response.context["form"].errors
    return response


def place_order(client):
    """From a shipping address to a placed order, through every step's page."""
    client.get(reverse("checkout:shipping-method"), follow=True)
    client.get(reverse("checkout:payment-method"), follow=True)
    client.get(reverse("checkout:payment-details"), follow=True)
    preview = client.get(reverse("checkout:preview"))
    assert preview.status_code == 200, preview
    response = client.post(reverse("checkout:preview"), {"action": "place_order"})
    assert response.status_code == 302 and "thank-you" in response["Location"], response
    return response


def guest_checkout(client, product, country, email: str = "guest@example.com"):
    add_to_basket(client, product)
    guest_gateway(client, email)
    shipping_address(client, country)
    return place_order(client)


def only_journey() -> CartJourney:
    return CartJourney.objects.get()


def make_voucher(code: str, percent: str = "10"):
    """A voucher giving ``percent`` off any basket, as a shop owner would set one up."""
    Range = get_model("offer", "Range")
    Condition = get_model("offer", "Condition")
    Benefit = get_model("offer", "Benefit")
    ConditionalOffer = get_model("offer", "ConditionalOffer")
    Voucher = get_model("voucher", "Voucher")
    everything = Range.objects.create(name=f"All ({code})", includes_all_products=True)
    offer = ConditionalOffer.objects.create(
        name=f"Offer {code}",
        offer_type=ConditionalOffer.VOUCHER,
        condition=Condition.objects.create(range=everything, type=Condition.COUNT, value=1),
        benefit=Benefit.objects.create(
            range=everything, type=Benefit.PERCENTAGE, value=Decimal(percent)
        ),
    )
    voucher = Voucher.objects.create(
        name=f"Voucher {code}",
        code=code,
        start_datetime="2000-01-01T00:00:00Z",
        end_datetime="2100-01-01T00:00:00Z",
    )
    voucher.offers.add(offer)
    return voucher
