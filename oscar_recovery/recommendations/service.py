"""Which products a shopper should see next to a basket: one service for emails, the basket
page (``{% recovery_recommendations %}``) and on-site prompts.

Sources, each one indexed query, combined by ``OSCAR_RECOVERY_RECOMMENDATION_WEIGHTS``:

- **bought together**: other products in the same orders (:mod:`oscar_recovery.cooccurrence`);
- **curated**: Oscar's ``recommended_products``, by their ranking;
- **viewed**: what the shopper viewed and did not buy (``UserProductView`` for accounts, the
  journey's copy of the recently-viewed cookie for guests);
- **category bestsellers**: the best sellers of the basket's categories (where co-occurrence
  is sparse, the same category is the next best sign of a complement);
- **bestsellers** overall, over the recent window.

A product's score is the sum over the sources suggesting it of ``weight / (1 + rank)``, and
its reason is the source contributing most. What is in the basket, cannot be bought now
(hidden, no price, out of stock) or (configurable) was already bought is never suggested.
Below the free-shipping threshold, :func:`close_gap` picks what closes the gap for the least
extra spend (one product, else a pair) from those and the catalogue's cheapest, and it comes
first; when nothing does, nothing claims to. At most ``RECOMMENDATIONS_PER_CATEGORY`` come
from one category while others are available. Ties break on product id: the same inputs
always give the same list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, Sum, prefetch_related_objects
from oscar.core.loading import get_class, get_model

from oscar_recovery import app_settings
from oscar_recovery.constants import RecommendationReason
from oscar_recovery.contacts.addresses import safe_canonical_email
from oscar_recovery.models import BoughtTogether, ProductSales, raw_email_candidates, same_email
from oscar_recovery.utils import BatchMemo

Product = get_model("catalogue", "Product")
ProductCategory = get_model("catalogue", "ProductCategory")
ProductRecommendation = get_model("catalogue", "ProductRecommendation")
UserProductView = get_model("analytics", "UserProductView")
OrderLine = get_model("order", "Line")
StockRecord = get_model("partner", "StockRecord")
Selector = get_class("partner.strategy", "Selector")

Reason = RecommendationReason

#: Sources that suggest what goes *with* the basket; they win the free-shipping slots.
COMPLEMENTS = (Reason.BOUGHT_TOGETHER, Reason.CURATED, Reason.CATEGORY_BESTSELLER)
#: Order of precedence when two sources contribute equally to a product's score.
_PRECEDENCE = (
    Reason.CURATED,
    Reason.BOUGHT_TOGETHER,
    Reason.VIEWED,
    Reason.CATEGORY_BESTSELLER,
    Reason.BESTSELLER,
)


@dataclass(frozen=True)
class Recommendation:
    """One suggested product, why, and what it costs now."""

    product_id: int
    reason: str
    score: float
    product: object = field(compare=False, repr=False)
    price: Decimal
    currency: str
    #: Every source that suggested it, strongest first.
    sources: tuple[str, ...] = ()

    @property
    def reason_label(self) -> str:
        return str(Reason(self.reason).label)


#: The memo of the current batch (see :func:`batch_memo`).
_memo = BatchMemo("oscar_recovery_recommendation_memo")


@contextmanager
def batch_memo(customers: Iterable[tuple[object, str]] = ()) -> Iterator[None]:
    """Within the block, each source's answer for the same inputs is looked up once, and
    the purchases of ``customers`` (``(user or None, email)`` pairs) in one query on first
    need: a batch of emails asks the same questions about the same products again and
    again. Only for work that is over in seconds (one send batch): the answers are not
    refreshed inside the block."""
    with _memo.active(customers=list(customers)):
        yield


def _memoised(key: tuple, compute: Callable):
    return _memo.get(key, compute)


def recommend(
    product_ids: Sequence[int],
    *,
    limit: int,
    user=None,
    email: str = "",
    viewed: Sequence[int] = (),
    exclude: Iterable[int] = (),
    gap: Decimal | None = None,
    strategy=None,
    loader=None,
) -> list[Recommendation]:
    """Up to ``limit`` products to show next to ``product_ids`` (the basket, or for a
    browse email the products viewed), best first.

    ``viewed`` adds the guest's recently viewed products (a user's come from
    ``UserProductView``); ``exclude`` products are never suggested (e.g. those an email shows
    already); ``gap`` is what the basket lacks for free shipping. ``loader`` loads products
    by id: callers serving a shop pass the adapter's ``load_products`` (the shop decides
    what is public); the default is :func:`load_public_products`, the default adapter's.
    """
    if limit <= 0:
        return []
    weights = app_settings.RECOMMENDATION_WEIGHTS
    anchors = list(dict.fromkeys(int(pk) for pk in product_ids))
    excluded = excluded_ids(anchors, exclude, user=user, email=email)
    depth = limit * 3  # room for the unavailable, the excluded and the diversity rule
    ranked: dict[str, list[int]] = {}
    deep = depth + len(excluded)
    user_pk = getattr(user, "pk", None)
    sources = {
        Reason.BOUGHT_TOGETHER: lambda: bought_together(anchors, deep),
        Reason.CURATED: lambda: curated(anchors, deep),
        Reason.VIEWED: lambda: viewed_products(user, viewed, deep),
        Reason.CATEGORY_BESTSELLER: lambda: category_bestsellers(anchors, deep),
        Reason.BESTSELLER: lambda: bestsellers(deep),
    }
    for reason, source in sources.items():
        if weights.get(reason.value, 0) > 0:
            # The viewed source is the shopper's own; the others depend on the products only.
            who = (user_pk, tuple(int(pk) for pk in viewed)) if reason == Reason.VIEWED else ()
            found = _memoised(("source", reason, tuple(anchors), deep, *who), source)
            ranked[reason] = [pk for pk in found if pk not in excluded]
    scores: dict[int, dict[str, float]] = {}
    for reason, ids in ranked.items():
        for rank, pk in enumerate(ids[:depth]):
            scores.setdefault(pk, {})[reason] = weights[reason.value] / (1 + rank)
    closing = gap is not None and gap > 0
    if not scores and not closing:
        return []
    loader = loader or load_public_products
    strategy = strategy or Selector().strategy(user=user)
    products = (
        _memoised(("products", loader, tuple(scores)), lambda: loader(list(scores)))
        if scores
        else {}
    )
    items = []
    for pk, contributions in scores.items():
        priced = _price(strategy, products.get(pk))
        if priced is None:
            continue
        by_strength = sorted(contributions, key=lambda r: (-contributions[r], _PRECEDENCE.index(r)))
        items.append(
            Recommendation(
                product_id=pk,
                reason=by_strength[0],
                score=round(sum(contributions.values()), 6),
                product=products[pk],
                price=priced[0],
                currency=priced[1],
                sources=tuple(by_strength),
            )
        )
    items.sort(key=lambda item: (-item.score, item.product_id))
    fill: tuple[Recommendation, ...] = ()
    if closing:
        candidates = items + catalogue_candidates(
            gap, anchors, excluded | {item.product_id for item in items}, strategy, loader
        )
        fill = close_gap(gap, candidates, pairs=limit >= 2)
    chosen = {item.product_id for item in fill}
    rest = [item for item in items if item.product_id not in chosen]
    rest_ids = tuple(ids_of(rest))
    categories = _memoised(("categories", rest_ids), lambda: categories_of(rest_ids))
    return [*fill, *diversify(rest, limit - len(fill), categories)]


def excluded_ids(
    anchors: Sequence[int], exclude: Iterable[int] = (), *, user=None, email: str = ""
) -> set[int]:
    """Products never suggested next to ``anchors``: the anchors, ``exclude``, the parents of
    anchor variants (a shopper with the blue shirt needs no shirt suggestion) and, unless
    ``RECOMMENDATIONS_EXCLUDE_PURCHASED`` is off, what this customer ordered before."""
    excluded = set(anchors) | {int(pk) for pk in exclude}
    excluded |= _memoised(
        ("parents", tuple(anchors)),
        lambda: set(
            Product.objects.filter(pk__in=anchors, parent__isnull=False).values_list(
                "parent_id", flat=True
            )
        ),
    )
    if app_settings.RECOMMENDATIONS_EXCLUDE_PURCHASED:
        excluded |= purchased_product_ids(user, email)
    return excluded


def ids_of(items: Iterable[Recommendation]) -> list[int]:
    return [item.product_id for item in items]


def close_gap(
    gap: Decimal, candidates: Sequence[Recommendation], *, pairs: bool = True
) -> tuple[Recommendation, ...]:
    """What closes a free-shipping ``gap`` for the least extra spend, relabelled
    ``FREE_SHIPPING``: one product, or two different ones, or ``()`` when no candidate can.

    The cheapest single product priced at or above the gap wins unless two cheaper products
    together close it for less (a £60 lamp is not the answer to a £22.50 gap when a £12 and
    an £11 item exist); the pair is the cheapest over the candidates priced below the gap
    (two pointers over them sorted by price). Among equal prices, complements of the basket
    and then higher scores win; ties break on product id. ``candidates`` must already be
    buyable and free of exclusions (see :func:`recommend`). Pure: no queries.
    """
    ordered = sorted(
        {item.product_id: item for item in candidates}.values(),
        key=lambda item: (item.price, item.reason not in COMPLEMENTS, -item.score, item.product_id),
    )
    single = next((item for item in ordered if item.price >= gap), None)
    below = [item for item in ordered if item.price < gap] if pairs else []
    pair: tuple[Recommendation, Recommendation] | None = None
    low, high = 0, len(below) - 1
    while low < high:
        total = below[low].price + below[high].price
        if total >= gap:
            if pair is None or total < pair[0].price + pair[1].price:
                pair = (below[high], below[low])  # the bigger step first
            high -= 1
        else:
            low += 1
    if single is not None and (pair is None or single.price <= pair[0].price + pair[1].price):
        chosen: tuple[Recommendation, ...] = (single,)
    else:
        chosen = pair or ()
    return tuple(
        Recommendation(
            product_id=item.product_id,
            reason=Reason.FREE_SHIPPING,
            score=item.score,
            product=item.product,
            price=item.price,
            currency=item.currency,
            sources=(Reason.FREE_SHIPPING, *(s for s in item.sources if s != Reason.FREE_SHIPPING)),
        )
        for item in chosen
    )


def catalogue_candidates(
    gap: Decimal, anchors: Sequence[int], excluded: set[int], strategy, loader
) -> list[Recommendation]:
    """Buyable products from the whole catalogue that may close ``gap``, priced by
    ``strategy`` (score 0, reason ``FREE_SHIPPING``): at most ``RECOMMENDATIONS_GAP_POOL``
    each of the cheapest at or above the gap, the dearest below it and the cheapest overall,
    by stock record price (the strategy's price, tax and all, decides afterwards). Three
    queries of at most that many rows and one load, whatever the catalogue's size (once per
    batch for the same gap, basket and exclusions: a flash sale's baskets are alike); never
    ``excluded`` products or other variants of a basket variant's parent."""
    size = app_settings.RECOMMENDATIONS_GAP_POOL
    if size <= 0:
        return []
    key = ("gap pool", gap, tuple(sorted(anchors)), frozenset(excluded), size)
    ids = _memoised(key, lambda: _gap_pool(gap, anchors, excluded, size))
    if not ids:
        return []
    products = _memoised(("products", loader, tuple(ids)), lambda: loader(ids))
    found = []
    for pk in ids:
        priced = _price(strategy, products.get(pk))
        if priced is not None:
            found.append(
                Recommendation(
                    product_id=pk,
                    reason=Reason.FREE_SHIPPING,
                    score=0.0,
                    product=products[pk],
                    price=priced[0],
                    currency=priced[1],
                    sources=(Reason.FREE_SHIPPING,),
                )
            )
    return found


def _gap_pool(gap: Decimal, anchors: Sequence[int], excluded: set[int], size: int) -> list[int]:
    siblings_of = Product.objects.filter(pk__in=anchors, parent__isnull=False).values("parent_id")
    rows = (
        StockRecord.objects.filter(product__is_public=True, price__isnull=False)
        .exclude(product_id__in=excluded)
        .exclude(product__parent_id__in=siblings_of)
        .values_list("product_id", flat=True)
    )
    ids = [
        *rows.filter(price__gte=gap).order_by("price", "product_id")[:size],
        *rows.filter(price__lt=gap).order_by("-price", "product_id")[:size],
        *rows.filter(price__lt=gap).order_by("price", "product_id")[:size],
    ]
    return list(dict.fromkeys(ids))


def diversify(
    items: list[Recommendation], limit: int, categories: dict[int, int]
) -> list[Recommendation]:
    """The first ``limit`` items, taking at most ``RECOMMENDATIONS_PER_CATEGORY`` from one
    category; items held back fill the remaining places, in order, when nothing else can."""
    cap = app_settings.RECOMMENDATIONS_PER_CATEGORY
    chosen: list[Recommendation] = []
    held_back: list[Recommendation] = []
    counts: dict[int, int] = {}
    for item in items:
        if len(chosen) == limit:
            break
        category = categories.get(item.product_id)
        if category is not None and cap > 0 and counts.get(category, 0) >= cap:
            held_back.append(item)
            continue
        if category is not None:
            counts[category] = counts.get(category, 0) + 1
        chosen.append(item)
    return chosen + held_back[: limit - len(chosen)]


# -- sources: each returns product ids, best first, in one query -------------------------


def bought_together(product_ids: Sequence[int], limit: int) -> list[int]:
    """Products most often in the same orders as any of ``product_ids``."""
    if not product_ids:
        return []
    return list(bought_together_query(product_ids)[:limit])


def bought_together_query(product_ids: Sequence[int]):
    """The lookup: one query on the (product, other) index, partners summed over the
    basket's products."""
    return (
        BoughtTogether.objects.filter(
            product_id__in=product_ids, orders__gte=app_settings.BOUGHT_TOGETHER_MIN_ORDERS
        )
        .values("other_id")
        .annotate(together=Sum("orders"))
        .order_by("-together", "other_id")
        .values_list("other_id", flat=True)
    )


def curated(product_ids: Sequence[int], limit: int) -> list[int]:
    """Oscar's curated recommendations of these products, highest ranking first."""
    if not product_ids:
        return []
    ranked = (
        ProductRecommendation.objects.filter(primary_id__in=product_ids)
        .order_by("-ranking", "pk")
        .values_list("recommendation_id", flat=True)[: limit * 2]
    )
    return list(dict.fromkeys(ranked))[:limit]  # first occurrence keeps the rank


def viewed_products(user, viewed: Sequence[int], limit: int) -> list[int]:
    """What the shopper viewed, most recent first: the account's ``UserProductView`` rows,
    then the guest history the journey carries."""
    ids: list[int] = []
    if user is not None and getattr(user, "pk", None):
        ids = list(
            UserProductView.objects.filter(user_id=user.pk)
            .order_by("-date_created", "-pk")
            .values_list("product_id", flat=True)[: limit * 3]
        )
    return list(dict.fromkeys([*ids, *(int(pk) for pk in viewed)]))[:limit]


def category_bestsellers(product_ids: Sequence[int], limit: int) -> list[int]:
    """The best sellers of the categories of these products (variants: their parent's)."""
    if not product_ids:
        return []
    categories = ProductCategory.objects.filter(
        Q(product_id__in=product_ids) | Q(product__children__in=product_ids)
    ).values("category_id")
    return list(
        ProductSales.objects.filter(
            product_id__in=ProductCategory.objects.filter(category_id__in=categories).values(
                "product_id"
            )
        )
        .order_by("-orders", "product_id")
        .values_list("product_id", flat=True)[:limit]
    )


def bestsellers(limit: int) -> list[int]:
    return list(
        ProductSales.objects.order_by("-orders", "product_id").values_list("product_id", flat=True)[
            :limit
        ]
    )


def purchased_product_ids(user, email: str) -> set[int]:
    """Products this customer ordered before, by account or by email address. Inside a
    :func:`batch_memo` naming the customer, from the batch's one query."""
    memo = _memo.current()
    user_pk = getattr(user, "pk", None) if user is not None else None
    if memo is not None and any(
        email == e and user_pk == getattr(u, "pk", None) for u, e in memo["customers"]
    ):
        if "purchases" not in memo:
            memo["purchases"] = _purchases(memo["customers"])
        return _bought_by(memo["purchases"], user_pk, email)
    return _bought_by(_purchases([(user, email)]), user_pk, email)


def _bought_by(purchases: list[tuple], user_pk, email: str) -> set[int]:
    """The products of ``purchases`` rows ordered by the account or the address (Oscar
    keeps order addresses as typed: compared in their canonical form)."""
    canonical = safe_canonical_email(email)
    return {
        product_id
        for product_id, user_id, guest_email, user_email in purchases
        if (user_pk and user_id == user_pk)
        or same_email(guest_email, canonical)
        or same_email(user_email, canonical)
    }


def _purchases(customers: list[tuple[object, str]]) -> list[tuple]:
    """The order lines of any of ``customers``: (product, order user, guest email, user
    email) rows, for :func:`purchased_product_ids` to pick each customer's from."""
    who = Q()
    users = {user.pk for user, _ in customers if user is not None and getattr(user, "pk", None)}
    if users:
        who |= Q(order__user_id__in=users)
    emails = [email for _, email in customers if email]
    if emails:
        who |= raw_email_candidates(emails, "order__guest_email", "order__user__email")
    if not who:
        return []
    return list(
        OrderLine.objects.filter(who, product_id__isnull=False).values_list(
            "product_id", "order__user_id", "order__guest_email", "order__user__email"
        )
    )


def categories_of(product_ids: Sequence[int]) -> dict[int, int]:
    """One category per product (its first, or its parent's), for the diversity rule."""
    rows = (
        ProductCategory.objects.filter(
            Q(product_id__in=product_ids) | Q(product__children__in=product_ids)
        )
        .order_by("category_id")
        .values_list("product_id", "product__children", "category_id")
    )
    wanted = set(product_ids)
    categories: dict[int, int] = {}
    for product_id, child_id, category_id in rows:
        for pk in (product_id, child_id):
            if pk in wanted:
                categories.setdefault(pk, category_id)
    return categories


def load_public_products(ids: Iterable[int]) -> dict:
    """Public products by id, with what pricing and images need loaded up front: an
    email shows up to a dozen products, and a query per product would dominate it. What
    :meth:`RecoveryAdapter.load_products <oscar_recovery.adapter.RecoveryAdapter.load_products>`
    does unless the shop overrides it."""
    products = (
        Product.objects.filter(is_public=True)
        .select_related("product_class")
        .prefetch_related("stockrecords", "images")
        .in_bulk(ids)
    )
    # Variants take their class and images from their parent; most baskets have none.
    children = [product for product in products.values() if product.parent_id]
    if children:
        prefetch_related_objects(children, "parent__product_class", "parent__images")
    return products


def _price(strategy, product) -> tuple[Decimal, str] | None:
    """Today's price if the product can be bought now, else None."""
    if product is None or not product.is_public:
        return None
    info = strategy.fetch_for_product(product)
    price = info.price
    if not price.exists or not info.availability.is_available_to_buy:
        return None
    if not info.availability.is_purchase_permitted(1)[0]:
        return None
    amount = price.incl_tax if price.is_tax_known else price.excl_tax
    return amount, price.currency
