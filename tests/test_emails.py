"""What goes into a recovery email: lines still for sale, the free-shipping gap and the
products that close it, links, language and direction."""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.urls import resolve
from django.utils import translation
from oscar.core.loading import get_model
from oscar.test import factories

from oscar_recovery.campaigns.variants import content_for
from oscar_recovery.models import Campaign, CampaignStep, CartJourney, RecoveryMessage
from oscar_recovery.privacy.suppression import email_hash
from oscar_recovery.sending.content import (
    build_context,
    compose,
    load_email_products,
    preview,
    render_email,
)
from oscar_recovery.sending.tokens import check_restore_token, check_unsubscribe_token
from tests.support.journeys import add_to_basket, guest_gateway

pytestmark = pytest.mark.django_db
ProductRecommendation = get_model("catalogue", "ProductRecommendation")
StockRecord = get_model("partner", "StockRecord")


@pytest.fixture
def step():
    campaign = Campaign.objects.create(name="Default")
    return CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Hello"
    )


@pytest.fixture
def journey(shopper, product, other_product):
    add_to_basket(shopper, product)
    add_to_basket(shopper, other_product, quantity=2)
    guest_gateway(shopper, "guest@example.com")
    return CartJourney.objects.get()


def context_for(journey, step, language="en-gb", message=None):
    products = load_email_products(journey)
    with translation.override(language):
        return build_context(journey, step, content_for(step, None), products, message=message)


def recommend(primary, *specs):
    products = []
    for rank, (title, price) in enumerate(specs):
        product = factories.create_product(title=title, price=price, num_in_stock=5)
        ProductRecommendation.objects.create(
            primary=primary, recommendation=product, ranking=len(specs) - rank
        )
        products.append(product)
    return products


def test_lines_quantities_prices_and_total_in_the_basket_currency(journey, step):
    context = context_for(journey, step)

    assert [(line["title"], line["quantity"]) for line in context["lines"]] == [
        ("Winter coat", 1),
        ("Wool hat", 2),
    ]
    assert context["lines"][1]["price"] == "£12.50"
    assert context["lines"][1]["line_price"] == "£25.00"
    assert context["total"] == "£65.00"
    assert context["lines"][0]["url"].startswith("https://example.com/")


def test_a_product_no_longer_in_stock_is_left_out(journey, step, other_product):
    StockRecord.objects.filter(product=other_product).update(num_in_stock=0)

    context = context_for(journey, step)

    assert [line["title"] for line in context["lines"]] == ["Winter coat"]
    assert context["total"] == "£40.00"


def test_below_the_threshold_the_gap_shows_with_the_product_that_closes_it_first(
    journey, step, product, settings
):
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("100.00")
    recommend(product, ("Socks", "5.00"), ("Boots", "70.00"), ("Scarf", "36.00"))

    context = context_for(journey, step)

    # Scarf closes the £35 gap for the least extra spend; the rest keep the shop's ranking.
    assert [r["title"] for r in context["recommendations"]] == ["Scarf", "Socks", "Boots"]
    assert context["free_shipping"] == {
        "threshold": "£100.00",
        "gap": "£35.00",
        "closers": [context["recommendations"][0]],
        "closers_total": "£36.00",
    }


def gap_email(journey, step, settings):
    """A £22.50 gap: a £65 basket, free delivery from £87.50."""
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("87.50")
    context = context_for(journey, step)
    return context, render_email(content_for(step, None), context)


def test_a_pair_from_the_catalogue_closes_the_gap_and_the_email_says_so(
    journey, step, product, settings
):
    recommend(product, ("Pen", "7.00"))
    for title, price in (("Wallet", "15.00"), ("Socks", "8.00")):  # recommended by nobody
        factories.create_product(title=title, price=price, num_in_stock=5)

    context, email = gap_email(journey, step, settings)

    assert [r["title"] for r in context["free_shipping"]["closers"]] == ["Wallet", "Socks"]
    assert context["free_shipping"]["closers_total"] == "£23.00"
    assert [r["title"] for r in context["recommendations"]][:3] == ["Wallet", "Socks", "Pen"]
    expected = "Add Wallet and Socks (£23.00 together) to get free delivery."
    assert expected in email.text and expected in email.html


def test_when_nothing_closes_the_gap_the_email_only_says_how_far(journey, step, product, settings):
    recommend(product, ("Pen", "7.00"))

    context, email = gap_email(journey, step, settings)

    assert context["free_shipping"]["closers"] == []
    for body in (email.text, email.html):
        assert "You are £22.50 away from free delivery." in body
        assert "to get free delivery" not in body
        assert "Top up" not in body and "You might also like" in body


def test_no_gap_above_the_threshold_or_without_one(journey, step, settings):
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("50.00")
    assert context_for(journey, step)["free_shipping"] is None
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = None
    assert context_for(journey, step)["free_shipping"] is None


def test_recommendations_skip_products_in_the_basket_and_out_of_stock(
    journey, step, product, other_product
):
    (gone,) = recommend(product, ("Gloves", "9.00"))
    ProductRecommendation.objects.create(primary=product, recommendation=other_product)
    StockRecord.objects.filter(product=gone).update(num_in_stock=0)

    assert context_for(journey, step)["recommendations"] == []


def test_links_restore_this_journey_and_unsubscribe_this_address(journey, step):
    message = RecoveryMessage.objects.create(journey=journey, step=step)
    context = context_for(journey, step, message=message)

    restore = resolve(urlsplit(context["restore_url"]).path)
    link = check_restore_token(restore.kwargs["token"])
    assert link.journey == journey and link.message_id == message.pk
    unsubscribe = resolve(urlsplit(context["unsubscribe_url"]).path)
    assert check_unsubscribe_token(unsubscribe.kwargs["token"]) == email_hash("guest@example.com")


def test_a_right_to_left_language_gets_rtl_direction_and_mirrored_sides(journey, step):
    context = context_for(journey, step, language="ar")

    assert (context["direction"], context["start"], context["end"]) == ("rtl", "right", "left")
    assert context_for(journey, step)["direction"] == "ltr"


def test_the_email_is_rendered_in_the_shoppers_language(journey, step):
    CartJourney.objects.filter(pk=journey.pk).update(language="ar")
    journey.refresh_from_db()
    message = RecoveryMessage.objects.create(journey=journey, step=step)

    email = compose(message, load_email_products(journey))

    html = email.alternatives[0][0]
    assert 'dir="rtl"' in html
    assert "Winter coat" in email.body
    assert len(html.encode()) < 100 * 1024


def test_preview_mints_no_voucher_and_sends_nothing(journey, step, mailoutbox):
    step.incentive, step.incentive_value = "percentage", Decimal("10")
    step.save()

    rendered = preview(step, journey)

    assert "BACK-SAMPLE" in rendered.html
    assert mailoutbox == []
    assert RecoveryMessage.objects.count() == 0
