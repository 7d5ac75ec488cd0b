"""What is in a basket, as plain data a journey can keep."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from oscar.core.loading import get_model

Line = get_model("basket", "Line")


@dataclass(frozen=True)
class BasketSnapshot:
    lines: list[dict] = field(default_factory=list)
    num_lines: int = 0
    num_items: int = 0
    total: Decimal = Decimal("0.00")
    currency: str = ""

    def as_journey_fields(self) -> dict:
        return {
            "lines": self.lines,
            "num_lines": self.num_lines,
            "num_items": self.num_items,
            "total": self.total,
            "currency": self.currency,
        }


def take_snapshot(basket) -> BasketSnapshot:
    """The basket's lines as plain data: from the lines Oscar already loaded in this request
    when it has them (it reloads them to apply offers after every change), else one query.

    Prices are the unit prices Oscar stored on each line when it was added (tax included
    where the strategy knew it), before discounts: the value of what the shopper chose.
    """
    # Oscar's own per-request cache of the basket's lines, filled by Basket.all_lines().
    cached = getattr(basket, "_lines", None)
    if cached is not None:
        return snapshot_of(sorted(cached, key=lambda line: line.pk))
    return snapshot_of(
        Line.objects.filter(basket_id=basket.id)
        .select_related("product", "product__parent")
        .order_by("pk")
    )


def snapshot_of(rows) -> BasketSnapshot:
    lines = []
    total = Decimal("0.00")
    num_items = 0
    currency = ""
    for line in rows:
        unit_price = line.price_incl_tax if line.price_incl_tax is not None else line.price_excl_tax
        unit_price = unit_price or Decimal("0.00")
        line_total = unit_price * line.quantity
        total += line_total
        num_items += line.quantity
        currency = currency or line.price_currency
        product = line.product
        lines.append(
            {
                "line_reference": line.line_reference,
                "product_id": line.product_id,
                "title": product.get_title() if product else "",
                "upc": (product.upc or "") if product else "",
                "quantity": line.quantity,
                "unit_price": str(unit_price),
                "line_total": str(line_total),
            }
        )
    return BasketSnapshot(
        lines=lines,
        num_lines=len(lines),
        num_items=num_items,
        total=total.quantize(Decimal("0.01")),
        currency=currency,
    )


def voucher_codes(basket) -> list[str]:
    return list(basket.vouchers.order_by("code").values_list("code", flat=True))
