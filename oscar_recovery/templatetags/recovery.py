"""Template tags for shop pages. ``{% load recovery %}``: ``{% recovery_prompts %}`` in the
shop's base template renders the on-site prompts this visitor is eligible for;
``{% recovery_recommendations %}`` suggests products next to the basket."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.safestring import mark_safe

from oscar_recovery import app_settings
from oscar_recovery.adapter import get_adapter
from oscar_recovery.capture.history import viewed_from_cookie
from oscar_recovery.prompts.render import render_prompts
from oscar_recovery.recommendations.service import recommend
from oscar_recovery.sending.content import free_shipping_gap
from oscar_recovery.sending.vouchers import has_free_delivery_offer
from oscar_recovery.utils import never_raises

register = template.Library()


@register.inclusion_tag("oscar_recovery/recommendations.html", takes_context=True)
def recovery_recommendations(context, limit: int | None = None, basket=None) -> dict:
    """Products to suggest next to the shopper's basket, each with the reason it was picked
    (the same service as the emails). ``{% recovery_recommendations limit=4 %}``; the
    basket defaults to the request's. Renders nothing when there is nothing to suggest or
    anything goes wrong: a suggestion is never worth a broken basket page."""
    items = _recommendations(context, limit, basket) or []
    return {"recommendations": items, "request": context.get("request")}


@never_raises
def _recommendations(context, limit: int | None, basket) -> list:
    request = context.get("request")
    basket = basket or getattr(request, "basket", None)
    if basket is None:
        return []
    user = getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    adapter = get_adapter()
    product_ids = (
        [line.product_id for line in basket.all_lines() if line.product_id] if basket.id else []
    )
    total = None  # an empty basket, or one a free-delivery code covers, has no gap to close
    if product_ids and not has_free_delivery_offer(basket):
        total = basket.total_incl_tax if basket.is_tax_known else basket.total_excl_tax
    gap = free_shipping_gap(None, None if total is None else Decimal(total), adapter)
    return recommend(
        product_ids,
        limit=limit or app_settings.RECOMMENDATIONS_LIMIT,
        user=user,
        email=getattr(user, "email", "") or "",
        viewed=viewed_from_cookie(request.COOKIES) or [] if request is not None else [],
        gap=gap,
        strategy=getattr(basket, "strategy", None) if basket.has_strategy else None,
        loader=adapter.load_products,
    )


@register.simple_tag(takes_context=True)
def recovery_prompts(context) -> str:
    """The prompts for this visitor and page, or nothing. Never raises into the page: a
    failure is logged and the page renders without prompts."""
    request = context.get("request")
    if request is None:
        return ""
    # render_prompts returns template output, already escaped.
    return mark_safe(never_raises(render_prompts)(request) or "")
