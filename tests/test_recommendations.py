"""The recommendation service, from real Oscar orders, products and product views."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_class, get_model
from oscar.test import factories

from oscar_recovery import tasks
from oscar_recovery.constants import RecommendationReason as Reason
from oscar_recovery.models import BoughtTogether, CartJourney, ProductSales
from oscar_recovery.recommendations import cooccurrence
from oscar_recovery.recommendations.service import recommend
from tests.support.journeys import add_to_basket

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")
ProductRecommendation = get_model("catalogue", "ProductRecommendation")
StockRecord = get_model("partner", "StockRecord")
UserProductView = get_model("analytics", "UserProductView")
Selector = get_class("partner.strategy", "Selector")

ONLY = {
    "bought_together": 0,
    "curated": 0,
    "viewed": 0,
    "category_bestseller": 0,
    "bestseller": 0,
}


@pytest.fixture(autouse=True)
def every_pair_counts(settings):
    """Small test shops: one shared order makes a pair (the default, 2, has its own test)."""
    settings.OSCAR_RECOVERY_BOUGHT_TOGETHER_MIN_ORDERS = 1


@pytest.fixture
def only(settings):
    """Switch every source off but the named ones."""

    def use(*sources: str):
        settings.OSCAR_RECOVERY_RECOMMENDATION_WEIGHTS = {**ONLY, **dict.fromkeys(sources, 1)}

    return use


def make(title: str, price: str = "10.00", category=None, **kwargs):
    product = factories.create_product(title=title, price=price, num_in_stock=10, **kwargs)
    if category is not None:
        factories.ProductCategoryFactory(product=product, category=category)
    return product


def order(*products, user=None, email="", placed=None):
    """A real Oscar order of ``products``, through Oscar's OrderCreator."""
    basket = factories.create_basket(empty=True)
    for product in products:
        basket.add_product(product)
    kwargs = {"guest_email": email} if email else {}
    placed_order = factories.create_order(basket=basket, user=user, **kwargs)
    if placed is not None:
        Order.objects.filter(pk=placed_order.pk).update(date_placed=placed)
    return placed_order


def ids(items) -> list[int]:
    return [item.product_id for item in items]


# -- bought together ------------------------------------------------------------------------


def test_bought_together_ranks_partners_by_orders_in_common(only):
    only("bought_together")
    coat, hat, scarf, socks = make("Coat"), make("Hat"), make("Scarf"), make("Socks")
    order(coat, hat)
    order(coat, hat, scarf)
    order(coat, scarf)
    order(coat, hat)
    order(socks)
    result = cooccurrence.rebuild()

    items = recommend([coat.pk], limit=4)

    assert ids(items) == [hat.pk, scarf.pk]  # 3 orders with the coat, then 2
    assert {item.reason for item in items} == {Reason.BOUGHT_TOGETHER}
    assert result.pairs == BoughtTogether.objects.count() == 6  # both directions
    assert BoughtTogether.objects.get(product=hat, other=scarf).orders == 1


def test_a_pair_counts_from_the_minimum_of_shared_orders_built_or_incremental(
    settings, only, django_capture_on_commit_callbacks
):
    only("bought_together")
    settings.OSCAR_RECOVERY_BOUGHT_TOGETHER_MIN_ORDERS = 2
    coat, hat, scarf = make("Coat"), make("Hat"), make("Scarf")
    order(coat, hat)
    order(coat, hat)
    order(coat, scarf)
    cooccurrence.rebuild()
    assert ids(recommend([coat.pk], limit=4)) == [hat.pk]
    assert not BoughtTogether.objects.filter(product=coat, other=scarf).exists()

    with django_capture_on_commit_callbacks(execute=True):
        order(coat, scarf)  # one shared order, counted incrementally: still chance
    assert ids(recommend([coat.pk], limit=4)) == [hat.pk]
    with django_capture_on_commit_callbacks(execute=True):
        order(coat, scarf)
    assert ids(recommend([coat.pk], limit=4)) == [hat.pk, scarf.pk]


def test_build_keeps_each_products_best_partners_only(settings):
    settings.OSCAR_RECOVERY_BOUGHT_TOGETHER_PER_PRODUCT = 2
    coat, *others = [make(f"P{i}") for i in range(4)]
    for count, other in zip((3, 2, 1), others, strict=True):
        for _ in range(count):
            order(coat, other)

    cooccurrence.rebuild()

    kept = BoughtTogether.objects.filter(product=coat).order_by("-orders")
    assert [(row.other_id, row.orders) for row in kept] == [(others[0].pk, 3), (others[1].pk, 2)]


def test_build_forgets_orders_outside_the_window(settings, only):
    only("bought_together")
    settings.OSCAR_RECOVERY_BOUGHT_TOGETHER_WINDOW = timedelta(days=30)
    coat, hat, scarf = make("Coat"), make("Hat"), make("Scarf")
    order(coat, hat, placed=timezone.now() - timedelta(days=40))
    order(coat, scarf)
    cooccurrence.rebuild()

    assert ids(recommend([coat.pk], limit=4)) == [scarf.pk]


def test_a_new_order_updates_only_its_own_pairs(django_capture_on_commit_callbacks):
    coat, hat, scarf, socks = make("Coat"), make("Hat"), make("Scarf"), make("Socks")
    order(coat, hat)
    order(scarf, socks)
    cooccurrence.rebuild()
    before = {(r.product_id, r.other_id): r.orders for r in BoughtTogether.objects.all()}

    # The order_placed receiver queues the update for when the checkout commits.
    with django_capture_on_commit_callbacks(execute=True):
        order(coat, hat, socks)

    after = {(r.product_id, r.other_id): r.orders for r in BoughtTogether.objects.all()}
    changed = {key for key in after if before.get(key) != after[key]}
    own = {(a.pk, b.pk) for a in (coat, hat, socks) for b in (coat, hat, socks) if a != b}
    assert changed == own
    assert after[(coat.pk, hat.pk)] == 2 and after[(coat.pk, socks.pk)] == 1
    assert after[(scarf.pk, socks.pk)] == 1  # untouched
    assert ProductSales.objects.get(product=coat).orders == 2


def test_a_broker_failure_never_breaks_the_checkout(
    monkeypatch, django_capture_on_commit_callbacks, shopper, product, country
):
    """The order's update is recorded in the outbox with the order; a broker that refuses
    the publish delays it until the sweep's housekeeping, never loses it."""
    from oscar_recovery.models import HandOff
    from oscar_recovery.sweep.stages import hand_over
    from tests.support.journeys import guest_checkout

    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    with monkeypatch.context() as patched:
        patched.setattr(tasks.run_handoff, "apply_async", broken)
        with django_capture_on_commit_callbacks(execute=True):
            guest_checkout(shopper, product, country)

    assert Order.objects.count() == 1
    assert not ProductSales.objects.exists()
    [pending] = HandOff.objects.filter(done_at__isnull=True)
    assert pending.task == "add_order_to_recommendations"

    # The broker is back: the housekeeping hands it over once it is stale.
    hand_over(timezone.now() + timedelta(hours=1))

    assert ProductSales.objects.get(product=product).orders == 1
    assert HandOff.objects.get(pk=pending.pk).done_at is not None


def test_the_management_command_builds_the_tables():
    from django.core.management import call_command

    coat, hat = make("Coat"), make("Hat")
    order(coat, hat)

    call_command("recovery_build_recommendations", verbosity=0)

    assert BoughtTogether.objects.filter(product=coat, other=hat, orders=1).exists()
    assert tasks.build_recommendations.delay().get() == {"pairs": 2, "products": 2}


# -- the other sources ----------------------------------------------------------------------


def test_curated_recommendations_follow_oscars_ranking(only):
    only("curated")
    coat, hat, scarf, socks = make("Coat"), make("Hat"), make("Scarf"), make("Socks")
    for ranking, product in ((1, hat), (5, scarf), (3, socks)):
        ProductRecommendation.objects.create(primary=coat, recommendation=product, ranking=ranking)

    items = recommend([coat.pk], limit=3)

    assert ids(items) == [scarf.pk, socks.pk, hat.pk]
    assert {item.reason for item in items} == {Reason.CURATED}


def test_a_users_viewed_products_come_from_oscars_product_views(only, customer, client):
    only("viewed")
    coat, hat, scarf = make("Coat"), make("Hat"), make("Scarf")
    client.force_login(customer)
    for product in (coat, hat, scarf):  # Oscar records each view (UserProductView)
        assert client.get(product.get_absolute_url()).status_code == 200
    order(hat, user=customer)

    items = recommend([], limit=4, user=customer)

    # Most recent first; the hat was bought since, so it is not suggested again.
    assert ids(items) == [scarf.pk, coat.pk]
    assert {item.reason for item in items} == {Reason.VIEWED}


def test_a_guests_history_is_read_from_oscars_cookie_when_the_journey_is_written(
    only, shopper, django_assert_num_queries
):
    only("viewed")
    coat, hat, scarf = make("Coat"), make("Hat"), make("Scarf")
    shopper.get(coat.get_absolute_url())
    shopper.get(hat.get_absolute_url())
    add_to_basket(shopper, scarf)
    journey = CartJourney.objects.get()
    assert journey.viewed == [hat.pk, coat.pk] and journey.num_viewed == 2

    # Viewing a product writes nothing of ours: the journey learns of it with its next write.
    shopper.get(scarf.get_absolute_url())
    journey.refresh_from_db()
    assert journey.viewed == [hat.pk, coat.pk]

    items = recommend([scarf.pk], limit=4, viewed=journey.viewed)
    assert ids(items) == [hat.pk, coat.pk]


def test_category_bestsellers_fill_in_where_bought_together_is_sparse(settings):
    settings.OSCAR_RECOVERY_RECOMMENDATION_WEIGHTS = {
        **ONLY,
        "bought_together": 1,
        "category_bestseller": 0.5,
    }
    coats, toys = factories.CategoryFactory(name="Coats"), factories.CategoryFactory(name="Toys")
    coat = make("Coat", category=coats)
    parka = make("Parka", category=coats)
    jacket = make("Jacket", category=coats)
    ball = make("Ball", category=toys)
    scarf = make("Scarf")
    order(coat, scarf)
    for _ in range(3):
        order(parka)
        order(ball)
    order(jacket)
    cooccurrence.rebuild()

    items = recommend([coat.pk], limit=4)

    assert [(item.product_id, item.reason) for item in items] == [
        (scarf.pk, Reason.BOUGHT_TOGETHER),
        (parka.pk, Reason.CATEGORY_BESTSELLER),
        (jacket.pk, Reason.CATEGORY_BESTSELLER),
    ]  # never the ball: another category


def test_bestsellers_count_the_recent_window_only(settings, only):
    only("bestseller")
    settings.OSCAR_RECOVERY_BESTSELLERS_WINDOW = timedelta(days=30)
    old_hit, new_hit, steady = make("Old hit"), make("New hit"), make("Steady")
    for _ in range(5):
        order(old_hit, placed=timezone.now() - timedelta(days=60))
    for _ in range(3):
        order(new_hit)
    order(steady)
    cooccurrence.rebuild()

    items = recommend([], limit=4)

    assert ids(items) == [new_hit.pk, steady.pk]
    assert {item.reason for item in items} == {Reason.BESTSELLER}


def test_sources_combine_by_weight_and_the_strongest_gives_the_reason(settings):
    coat, hat, scarf = make("Coat"), make("Hat"), make("Scarf")
    ProductRecommendation.objects.create(primary=coat, recommendation=scarf, ranking=1)
    order(coat, hat)
    order(coat, scarf)
    order(coat, hat)
    cooccurrence.rebuild()
    settings.OSCAR_RECOVERY_RECOMMENDATION_WEIGHTS = {**ONLY, "bought_together": 1, "curated": 3}

    items = recommend([coat.pk], limit=2)

    # Scarf: curated 3/1 + bought together 1/2; hat: bought together 1/1.
    assert [(i.product_id, i.reason, i.score) for i in items] == [
        (scarf.pk, Reason.CURATED, 3.5),
        (hat.pk, Reason.BOUGHT_TOGETHER, 1.0),
    ]
    assert items[0].sources == (Reason.CURATED, Reason.BOUGHT_TOGETHER)


# -- exclusions -----------------------------------------------------------------------------


def test_never_what_is_in_the_basket_or_cannot_be_bought_now(only):
    only("curated")
    coat, hat = make("Coat"), make("Hat")
    sold_out, hidden = make("Sold out"), make("Hidden")
    no_price = factories.create_product(title="No stock record")
    StockRecord.objects.filter(product=sold_out).update(num_in_stock=0)
    type(hidden).objects.filter(pk=hidden.pk).update(is_public=False)
    fine = make("Fine")
    for rank, product in enumerate((hat, sold_out, hidden, no_price, fine)):
        ProductRecommendation.objects.create(
            primary=coat, recommendation=product, ranking=10 - rank
        )

    assert ids(recommend([coat.pk, hat.pk], limit=5)) == [fine.pk]


def test_already_bought_is_left_out_unless_configured(settings, only, customer):
    only("curated")
    coat, hat, scarf = make("Coat"), make("Hat"), make("Scarf")
    for product in (hat, scarf):
        ProductRecommendation.objects.create(primary=coat, recommendation=product)
    order(hat, user=customer)
    order(scarf, email="guest@example.com")

    assert ids(recommend([coat.pk], limit=4, user=customer)) == [scarf.pk]
    assert ids(recommend([coat.pk], limit=4, email="GUEST@example.com")) == [hat.pk]
    settings.OSCAR_RECOVERY_RECOMMENDATIONS_EXCLUDE_PURCHASED = False
    assert ids(recommend([coat.pk], limit=4, user=customer)) == [hat.pk, scarf.pk]


# -- gap filler, diversity, determinism ----------------------------------------------------


def test_below_free_shipping_the_one_product_closing_the_gap_cheapest_comes_first(settings, only):
    only("curated", "bestseller")
    coat = make("Coat")
    socks, boots, scarf = make("Socks", "5.00"), make("Boots", "70.00"), make("Scarf", "36.00")
    popular = make("Popular lamp", "31.00")
    for rank, product in enumerate((socks, boots, scarf)):
        ProductRecommendation.objects.create(
            primary=coat, recommendation=product, ranking=10 - rank
        )
    for _ in range(3):
        order(popular)
    cooccurrence.rebuild()

    items = recommend([coat.pk], limit=4, gap=Decimal("30.00"))

    # The lamp closes the £30 gap for the least extra spend; the rest keep their score order.
    assert ids(items) == [popular.pk, socks.pk, boots.pk, scarf.pk]
    assert [item.reason for item in items] == [Reason.FREE_SHIPPING] + [Reason.CURATED] * 3
    assert items[0].sources == (Reason.FREE_SHIPPING, Reason.BESTSELLER)


# A catalogue for a £22.50 gap, and products nobody recommended.


def gap_items(basket_product, gap: str, **kwargs):
    return [
        item
        for item in recommend([basket_product.pk], limit=4, gap=Decimal(gap), **kwargs)
        if item.reason == Reason.FREE_SHIPPING
    ]


def test_one_catalogue_product_closes_the_gap_the_cheapest_at_or_above_it(only):
    only("curated")
    coat = make("Coat", "27.50")
    make("Pen", "7.00")
    make("Umbrella", "40.00")
    gloves = make("Gloves", "23.00")
    make("Belt", "22.49")

    closers = gap_items(coat, "22.50")

    assert [(item.product.title, item.price) for item in closers] == [("Gloves", Decimal("23.00"))]
    assert closers[0].product_id == gloves.pk


def test_only_a_pair_closes_the_gap_the_cheapest_pair(only):
    only("curated")
    coat = make("Coat", "27.50")
    for title, price in (
        ("Pen", "7.00"),
        ("Wallet", "15.00"),
        ("Scarf", "16.50"),
        ("Socks", "8.00"),
        ("Badge", "1.00"),
    ):
        make(title, price)

    closers = gap_items(coat, "22.50")

    # Pen + Wallet = £22.00 falls short; Socks + Wallet = £23.00 is the cheapest that closes.
    assert sorted(item.product.title for item in closers) == ["Socks", "Wallet"]
    assert sum(item.price for item in closers) == Decimal("23.00")


def test_a_pair_beats_a_single_product_that_costs_more(only):
    only("curated")
    coat = make("Coat")
    make("Lamp", "60.00")
    make("Socks", "11.00")
    make("Wallet", "12.00")

    assert sorted(item.product.title for item in gap_items(coat, "22.50")) == ["Socks", "Wallet"]


def test_nothing_closes_the_gap_nothing_claims_to(only):
    only("curated")
    coat = make("Coat")
    pen = make("Pen", "7.00")
    make("Badge", "1.00")
    ProductRecommendation.objects.create(primary=coat, recommendation=pen)

    items = recommend([coat.pk], limit=4, gap=Decimal("22.50"))

    assert Reason.FREE_SHIPPING not in [item.reason for item in items]
    assert ids(items) == [pen.pk]  # still recommended, for what it is


def test_the_gap_never_suggests_the_basket_the_unbuyable_or_what_was_bought(only, customer):
    only("curated")
    coat = make("Coat")
    parent = factories.create_product(title="Shirt", structure="parent")
    blue = factories.create_product(title="Blue shirt", parent=parent, price="20.00")
    factories.create_product(title="Red shirt", parent=parent, price="25.00")  # a sibling
    hidden = make("Hidden lamp", "23.00")
    hidden.is_public = False
    hidden.save()
    sold_out = make("Sold-out gloves", "23.50")
    StockRecord.objects.filter(product=sold_out).update(num_in_stock=0)
    bought = make("Bought umbrella", "24.00")
    order(bought, user=customer)
    belt = make("Belt", "30.00")

    closers = gap_items(coat, "22.50", user=customer)
    with_variant = [
        item
        for item in recommend([coat.pk, blue.pk], limit=4, gap=Decimal("22.50"), user=customer)
        if item.reason == Reason.FREE_SHIPPING
    ]

    assert ids(closers) == [belt.pk] == ids(with_variant)


def test_a_pair_needs_room_for_two(only):
    only("curated")
    coat = make("Coat")
    make("Socks", "11.00")
    make("Wallet", "12.00")

    assert gap_items(coat, "22.50") != []
    assert [
        item
        for item in recommend([coat.pk], limit=1, gap=Decimal("22.50"))
        if item.reason == Reason.FREE_SHIPPING
    ] == []


def test_the_gap_search_stays_bounded(only, settings):
    from oscar_recovery.adapter import get_adapter

    only("curated")
    coat = make("Coat")
    for i in range(30):
        make(f"Item {i}", f"{i + 1}.00")
    settings.OSCAR_RECOVERY_RECOMMENDATIONS_GAP_POOL = 3
    loaded: list[int] = []

    def loader(pks):
        loaded.extend(pks)
        return get_adapter().load_products(pks)

    closers = gap_items(coat, "22.50", loader=loader)

    assert [item.price for item in closers] == [Decimal("23.00")]
    # 23, 24, 25 (at or above), 22, 21, 20 (just below), 1, 2, 3 (cheapest): never all 30.
    prices = sorted(int(StockRecord.objects.get(product_id=pk).price) for pk in loaded)
    assert prices == [1, 2, 3, 20, 21, 22, 23, 24, 25]
    settings.OSCAR_RECOVERY_RECOMMENDATIONS_GAP_POOL = 0  # recommended products only
    assert gap_items(coat, "22.50") == []


def test_at_most_two_from_one_category_while_others_are_available(only):
    only("curated")
    coats, hats = factories.CategoryFactory(name="Coats"), factories.CategoryFactory(name="Hats")
    anchor = make("Anchor")
    ranked = [make(f"Coat {i}", category=coats) for i in range(4)] + [
        make(f"Hat {i}", category=hats) for i in range(2)
    ]
    for rank, product in enumerate(ranked):
        ProductRecommendation.objects.create(
            primary=anchor, recommendation=product, ranking=10 - rank
        )

    items = recommend([anchor.pk], limit=4)

    assert ids(items) == [ranked[0].pk, ranked[1].pk, ranked[4].pk, ranked[5].pk]
    # With nothing else left, the held-back ones fill the places.
    assert ids(recommend([anchor.pk], limit=6))[4:] == [ranked[2].pk, ranked[3].pk]


def test_the_same_inputs_always_give_the_same_list(only):
    only("bought_together", "bestseller")
    coat = make("Coat")
    others = [make(f"Item {i}") for i in range(6)]
    for other in reversed(others):  # every pair ties: the order comes from the ids
        order(coat, other)
    cooccurrence.rebuild()

    first = ids(recommend([coat.pk], limit=4))
    assert first == [other.pk for other in others[:4]]
    assert all(ids(recommend([coat.pk], limit=4)) == first for _ in range(3))


def test_a_variants_parent_is_not_suggested_with_the_variant(only):
    only("curated")
    coat = make("Coat")
    parent = factories.create_product(title="Shirt", structure="parent")
    child = factories.create_product(title="Blue shirt", parent=parent, price="20.00")
    ProductRecommendation.objects.create(primary=coat, recommendation=parent)

    assert recommend([coat.pk, child.pk], limit=4) == []


# -- the template tag ---------------------------------------------------------------------


def render_tag(request) -> str:
    return Template("{% load recovery %}{% recovery_recommendations limit=3 %}").render(
        Context({"request": request})
    )


def basket_request(*products):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get(reverse("basket:summary"))
    request.user = AnonymousUser()
    basket = factories.create_basket(empty=True)
    basket.strategy = Selector().strategy(request=request)
    for product in products:
        basket.add_product(product)
    request.basket = basket
    return request


def test_the_template_tag_shows_recommendations_with_their_reasons(only):
    only("curated")
    coat, hat = make("Coat"), make("Wool hat", "12.50")
    ProductRecommendation.objects.create(primary=coat, recommendation=hat)

    html = render_tag(basket_request(coat))

    assert "Wool hat" in html and "£12.50" in html
    assert f'data-reason="{Reason.CURATED}"' in html and "Recommended by the shop" in html
    assert "Coat" not in html


def test_the_basket_page_puts_what_closes_the_free_shipping_gap_first(only, settings):
    only("curated")
    coat, socks, boots = make("Coat", "10.00"), make("Socks", "5.00"), make("Boots", "25.00")
    for rank, product in enumerate((socks, boots)):
        ProductRecommendation.objects.create(
            primary=coat, recommendation=product, ranking=10 - rank
        )

    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("30.00")  # 20.00 to go
    html = render_tag(basket_request(coat))
    assert html.index("Boots") < html.index("Socks")
    assert f'data-reason="{Reason.FREE_SHIPPING}"' in html
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("10.00")  # reached
    html = render_tag(basket_request(coat))
    assert html.index("Socks") < html.index("Boots")
    assert f'data-reason="{Reason.FREE_SHIPPING}"' not in html


def test_no_gap_to_close_while_a_free_delivery_code_is_applied(only, settings):
    """A free-delivery voucher in the basket already closes the gap: nothing on the basket
    page may claim to cover it."""
    from django.contrib.auth.models import AnonymousUser
    from oscar.apps.offer.applicator import Applicator

    from oscar_recovery.constants import Incentive
    from tests.test_voucher_story import abandoned, prompt_voucher

    only("curated")
    coat, boots = make("Coat", "10.00"), make("Boots", "25.00")
    ProductRecommendation.objects.create(primary=coat, recommendation=boots)
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("30.00")
    request = basket_request(coat)
    request.basket.vouchers.add(prompt_voucher(abandoned(), Incentive.FREE_SHIPPING, None))
    Applicator().apply(request.basket, AnonymousUser())

    html = render_tag(request)

    assert "Boots" in html
    assert f'data-reason="{Reason.FREE_SHIPPING}"' not in html


def test_the_free_shipping_gap(settings):
    from oscar_recovery.sending.content import free_shipping_gap

    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = Decimal("50.00")
    assert free_shipping_gap(None, Decimal("35.50")) == Decimal("14.50")
    assert free_shipping_gap(None, Decimal("50.00")) is None
    assert free_shipping_gap(None, None) is None  # no basket: nothing to top up
    settings.OSCAR_RECOVERY_FREE_SHIPPING_THRESHOLD = None
    assert free_shipping_gap(None, Decimal("1.00")) is None


def test_the_template_tag_never_breaks_the_page(monkeypatch, only):
    only("curated")
    coat = make("Coat")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("oscar_recovery.recommendations.service.recommend", broken)
    assert render_tag(basket_request(coat)).strip() == ""


def test_the_basket_page_can_show_them(only, shopper, settings):
    only("curated")
    coat, hat = make("Coat"), make("Wool hat", "12.50")
    ProductRecommendation.objects.create(primary=coat, recommendation=hat)
    add_to_basket(shopper, coat)

    page = shopper.get(reverse("basket:summary"))
    html = render_tag(page.wsgi_request)

    assert "Wool hat" in html


# -- emails and their preview -------------------------------------------------------------


@pytest.fixture
def basket_step():
    from oscar_recovery.models import Campaign, CampaignStep

    campaign = Campaign.objects.create(name="Baskets", is_active=True)
    return CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Hello"
    )


def test_emails_use_the_service_and_carry_each_reason(only, basket_step, shopper):
    from oscar_recovery.campaigns.variants import content_for
    from oscar_recovery.sending.content import build_context, load_email_products

    only("curated", "bought_together")
    coat, hat, scarf = make("Coat", "40.00"), make("Wool hat", "12.50"), make("Scarf")
    ProductRecommendation.objects.create(primary=coat, recommendation=hat)
    order(coat, scarf)
    cooccurrence.rebuild()
    add_to_basket(shopper, coat)
    journey = CartJourney.objects.get(status="active")  # orders left their own, ended

    products = load_email_products(journey)
    context = build_context(journey, basket_step, content_for(basket_step, None), products)

    assert [(r["title"], r["reason"], r["reason_label"]) for r in context["recommendations"]] == [
        ("Wool hat", Reason.CURATED, "Recommended by the shop"),
        ("Scarf", Reason.BOUGHT_TOGETHER, "Often bought together"),
    ]


def test_the_admin_preview_shows_why_each_product_was_recommended(
    only, basket_step, shopper, admin_client
):
    only("bought_together")
    coat, scarf = make("Coat", "40.00"), make("Cashmere scarf")
    order(coat, scarf)
    cooccurrence.rebuild()
    add_to_basket(shopper, coat)
    journey = CartJourney.objects.get(status="active")  # orders left their own, ended

    url = reverse("admin:oscar_recovery_campaignstep_preview", args=[basket_step.pk])
    response = admin_client.get(f"{url}?journey={journey.pk}")

    assert response.status_code == 200
    assert response.context["result"].email.recommendations == (
        ("Cashmere scarf", Reason.BOUGHT_TOGETHER, "Often bought together"),
    )
    html = response.content.decode()
    assert 'id="preview-recommendations"' in html and "Often bought together" in html


def test_a_browse_step_previews_a_basket_as_the_products_viewed(only, shopper):
    from oscar_recovery.constants import CampaignTrigger
    from oscar_recovery.models import Campaign, CampaignStep
    from oscar_recovery.sending.content import preview

    only("curated")
    coat, hat = make("Winter coat", "40.00"), make("Wool hat", "12.50")
    ProductRecommendation.objects.create(primary=coat, recommendation=hat)
    campaign = Campaign.objects.create(name="Browse", trigger=CampaignTrigger.BROWSE_ABANDONED)
    step = CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Still interested?"
    )
    add_to_basket(shopper, coat)

    rendered = preview(step, CartJourney.objects.get())

    assert "Still interested?" in rendered.text and "Winter coat" in rendered.text
    assert "/recovery/restore/" not in rendered.text
    assert rendered.recommendations == (("Wool hat", Reason.CURATED, "Recommended by the shop"),)
