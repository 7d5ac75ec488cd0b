"""Recovery emails: what goes into one, and the email itself.

Sending (:mod:`oscar_recovery.sending`) decides *whether* and *when*; this module decides
*what*: the basket lines still for sale at today's prices, the template context (plain data
only, see :mod:`oscar_recovery.templating`), the rendered subject and bodies in the shopper's
language, and the :class:`~django.core.mail.EmailMultiAlternatives` with its headers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import formats, translation
from oscar.core.loading import get_class, get_model
from oscar.templatetags.currency_filters import currency as oscar_currency

from . import app_settings
from .adapter import RecoveryAdapter, get_adapter
from .models import CampaignStep, CartJourney, RecoveryMessage
from .templating import default_source, inline_css, render_html, render_line, render_text
from .tokens import restore_token, unsubscribe_token
from .variants import StepContent, content_for
from .vouchers import describe_incentive

Product = get_model("catalogue", "Product")
Selector = get_class("partner.strategy", "Selector")

#: Tag on every recovery email, so ESP reports can tell them apart from the shop's others.
TAG = "oscar-recovery"


def format_currency(amount: Decimal, currency: str) -> str:
    """Money as Oscar shows it, in the active language. Memoised: an email formats a dozen
    amounts and a sweep sends the same prices again and again, and babel is slow at it."""
    return _format_currency(
        Decimal(amount),
        currency,
        translation.get_language() or settings.LANGUAGE_CODE,
        repr(getattr(settings, "OSCAR_CURRENCY_FORMAT", None)),
    )


@functools.lru_cache(maxsize=4096)
def _format_currency(amount: Decimal, currency: str, language: str, _format: str) -> str:
    return oscar_currency(amount, currency)


@dataclass(frozen=True)
class PricedLine:
    """A basket line still for sale, at the price the shopper would pay today."""

    product: object
    quantity: int
    unit_price: Decimal
    currency: str

    @property
    def line_price(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str


def _price_of(purchase_info) -> Decimal | None:
    price = purchase_info.price
    if not price.exists:
        return None
    return price.incl_tax if price.is_tax_known else price.excl_tax


@dataclass(frozen=True)
class EmailProducts:
    """The products an email shows, loaded together (one set of queries for both)."""

    #: The journey's lines still for sale, at today's prices.
    lines: list[PricedLine]
    #: Recommended products for sale, in the recommendation source's order.
    candidates: list[PricedLine]


def load_email_products(journey: CartJourney) -> EmailProducts:
    """The journey's lines that can still be bought, and the recommendations that can be.

    Products deleted, hidden or out of stock since the basket was left are dropped: an email
    must not push what cannot be ordered. Quantities are capped at what is available.
    """
    adapter = get_adapter()
    line_ids = [line["product_id"] for line in journey.lines if line.get("product_id")]
    limit = app_settings.RECOMMENDATIONS_LIMIT
    # More candidates than shown: some may be unavailable, and the gap reorders them.
    candidate_ids = adapter.recommended_product_ids(journey, line_ids, limit * 3) if limit else []
    products = adapter.load_products([*line_ids, *candidate_ids])
    strategy = Selector().strategy(user=journey.user)
    lines = []
    for line in journey.lines:
        product = products.get(line.get("product_id"))
        priced = _priced(strategy, product, int(line.get("quantity") or 1))
        if priced is not None:
            lines.append(priced)
    in_basket = set(line_ids)
    candidates = [
        priced
        for pk in candidate_ids
        if pk not in in_basket and (priced := _priced(strategy, products.get(pk), 1)) is not None
    ]
    return EmailProducts(lines, candidates)


def _priced(strategy, product, quantity: int) -> PricedLine | None:
    if product is None:
        return None
    info = strategy.fetch_for_product(product)
    unit_price = _price_of(info)
    if unit_price is None or not info.availability.is_available_to_buy:
        return None
    if not info.availability.is_purchase_permitted(quantity)[0]:
        quantity = 1
        if not info.availability.is_purchase_permitted(quantity)[0]:
            return None
    return PricedLine(product, quantity, unit_price, info.price.currency)


def recommendations(candidates: list[PricedLine], gap: Decimal | None) -> list[PricedLine]:
    """The recommendations to show; with a free-shipping gap, those whose price closes it
    come first, cheapest first (the smallest extra spend that makes delivery free)."""
    if gap is not None:
        closes = sorted((c for c in candidates if c.unit_price >= gap), key=lambda c: c.unit_price)
        candidates = closes + [c for c in candidates if c.unit_price < gap]
    return candidates[: app_settings.RECOMMENDATIONS_LIMIT]


def build_context(
    journey: CartJourney,
    step: CampaignStep,
    content: StepContent,
    products: EmailProducts,
    *,
    message: RecoveryMessage | None = None,
    voucher=None,
) -> dict:
    """The template context: plain data only, formatted in the active language."""
    adapter = get_adapter()
    lines = products.lines
    currency = lines[0].currency if lines else journey.currency or settings.OSCAR_DEFAULT_CURRENCY
    total = sum((line.line_price for line in lines), Decimal("0.00"))
    threshold = adapter.free_shipping_threshold(journey)
    gap = threshold - total if threshold is not None and total < threshold else None
    rtl = translation.get_language_bidi()
    context = {
        "language": translation.get_language(),
        "direction": "rtl" if rtl else "ltr",
        "start": "right" if rtl else "left",
        "end": "left" if rtl else "right",
        "shop": {
            "name": settings.OSCAR_SHOP_NAME,
            "url": adapter.absolute_url("/"),
            "postal_address": app_settings.POSTAL_ADDRESS,
        },
        "shopper": {"first_name": journey.user.first_name if journey.user_id else ""},
        "lines": [_line_context(line, adapter) for line in lines],
        "num_items": sum(line.quantity for line in lines),
        "total": format_currency(total, currency),
        "restore_url": adapter.absolute_url(
            reverse("oscar_recovery:restore", args=[restore_token(journey, message)])
        ),
        "unsubscribe_url": unsubscribe_url(journey.email, adapter),
        "incentive": _incentive_context(step, voucher, currency),
        "free_shipping": None,
        "recommendations": [
            _line_context(line, adapter) for line in recommendations(products.candidates, gap)
        ],
        "step": {"position": step.position},
    }
    if gap is not None:
        context["free_shipping"] = {
            "threshold": format_currency(threshold, currency),
            "gap": format_currency(gap, currency),
        }
    # Subject and preheader may use the context too ("{{ lines.0.title }} is waiting").
    context["subject"] = render_line(content.subject, context)
    context["preheader"] = render_line(content.preheader, context)
    return context


def _line_context(line: PricedLine, adapter: RecoveryAdapter) -> dict:
    product = line.product
    return {
        "title": product.get_title(),
        "quantity": line.quantity,
        "price": format_currency(line.unit_price, line.currency),
        "line_price": format_currency(line.line_price, line.currency),
        "image_url": adapter.product_image_url(product),
        "url": adapter.absolute_url(product.get_absolute_url()),
    }


def _incentive_context(step: CampaignStep, voucher, currency: str) -> dict | None:
    if not voucher:
        return None

    return {
        "kind": step.incentive,
        "code": voucher.code,
        "description": describe_incentive(step, currency),
        "expires": formats.date_format(voucher.end_datetime, "DATE_FORMAT"),
    }


def unsubscribe_url(email: str, adapter: RecoveryAdapter | None = None) -> str:
    adapter = adapter or get_adapter()
    path = reverse("oscar_recovery:unsubscribe", args=[unsubscribe_token(email)])
    return adapter.absolute_url(path)


def render_email(content: StepContent, context: dict) -> RenderedEmail:
    """Subject, preheader and both bodies; the HTML with its CSS inlined."""
    html = render_html(content.body_html or default_source("html"), context)
    text = render_text(content.body_text or default_source("text"), context)
    return RenderedEmail(context["subject"], context["preheader"], inline_css(html), text)


def language_of(journey: CartJourney) -> str:
    return journey.language or settings.LANGUAGE_CODE


def compose(
    message: RecoveryMessage, products: EmailProducts, voucher=None
) -> EmailMultiAlternatives:
    """The email for a message, ready to send: rendered in the shopper's language, with
    one-click unsubscribe headers and ESP tags that carry no personal data."""
    journey, step = message.journey, message.step
    content = content_for(step, message.variant)
    with translation.override(language_of(journey)):
        context = build_context(journey, step, content, products, message=message, voucher=voucher)
        rendered = render_email(content, context)
    unsubscribe = context["unsubscribe_url"]
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=app_settings.FROM_EMAIL or settings.DEFAULT_FROM_EMAIL,
        to=[journey.email],
        headers={
            # RFC 8058: mail clients show an unsubscribe button that POSTs to the URL.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Message-ID": make_msgid(domain=_message_id_domain()),
        },
    )
    email.attach_alternative(rendered.html, "text/html")
    # django-anymail reads these; other backends ignore them.
    email.tags = [TAG, f"campaign-{step.campaign_id}", f"step-{step.position}", content.label]
    email.metadata = {
        "recovery_message": str(message.pk),
        "campaign": str(step.campaign_id),
        "step": str(step.position),
        "variant": content.label,
    }
    track_opens = app_settings.TRACK_OPENS
    if track_opens is not None:
        # Per message, so an ESP account that tracks by default does not here. Clicks are
        # recorded by our own restore link; an ESP's redirect would only leak the link.
        email.track_opens = track_opens
        email.track_clicks = False
    return email


def _message_id_domain() -> str:
    from urllib.parse import urlsplit

    return urlsplit(get_adapter().site_url()).hostname or "localhost"


def preview(
    step: CampaignStep, journey: CartJourney, *, content: StepContent | None = None
) -> RenderedEmail:
    """How a step looks for a journey, without sending or storing anything (admin preview).
    No voucher is minted: the incentive block shows a sample code."""
    content = content or content_for(step, None)
    products = load_email_products(journey)
    with translation.override(language_of(journey)):
        context = build_context(journey, step, content, products, voucher=_SampleVoucher(step))
        return render_email(content, context)


def sample_journey(email: str, language: str = "", size: int = 3) -> CartJourney:
    """An unsaved journey holding a few products the shop sells, for previews and test
    emails when staff do not pick a real journey. Nothing about it is stored."""
    ids = list(
        Product.objects.browsable()
        .filter(stockrecords__isnull=False)
        .order_by("-date_updated")
        .values_list("pk", flat=True)
        .distinct()[:size]
    )
    return CartJourney(
        email=email,
        language=language,
        lines=[{"product_id": pk, "quantity": 1} for pk in ids],
        num_items=len(ids),
    )


class _SampleVoucher:
    """Stands in for the voucher a step would mint, in previews and test emails."""

    code = "BACK-SAMPLE"

    def __init__(self, step: CampaignStep):
        from django.utils import timezone

        self.end_datetime: datetime = timezone.now() + step.incentive_valid_for
        self.has_incentive = step.incentive != "none"

    def __bool__(self) -> bool:
        return self.has_incentive
