"""Recovery emails: what goes into one, and the email itself.

Sending (:mod:`oscar_recovery.sending`) decides *whether* and *when*; this module decides
*what*: the basket lines still for sale at today's prices, the template context (plain data
only, see :mod:`oscar_recovery.templating`), the rendered subject and bodies in the shopper's
language, and the :class:`~django.core.mail.EmailMultiAlternatives` with its headers.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.templatetags.static import static
from django.urls import reverse
from django.utils import formats, translation
from oscar.core.loading import get_class, get_model
from oscar.templatetags.currency_filters import currency as oscar_currency

from oscar_recovery import app_settings
from oscar_recovery.adapter import RecoveryAdapter, get_adapter
from oscar_recovery.campaigns.translations import isolate_lines
from oscar_recovery.campaigns.variants import StepContent, content_for
from oscar_recovery.constants import CampaignTrigger, Incentive, RecommendationReason
from oscar_recovery.models import (
    CampaignStep,
    CartJourney,
    RecoveryMessage,
    StepVariant,
    raw_email_candidates,
)
from oscar_recovery.privacy.hashing import normalise_email
from oscar_recovery.recommendations.service import batch_memo, purchased_product_ids
from oscar_recovery.sending.templating import (
    TemplateError,
    default_source,
    inline_css,
    render_html,
    render_line,
    render_text,
)
from oscar_recovery.sending.tokens import restore_token, unsubscribe_token
from oscar_recovery.sending.vouchers import describe_incentive, describe_voucher, voucher_kind
from oscar_recovery.utils import BatchMemo

Order = get_model("order", "Order")
Product = get_model("catalogue", "Product")
Selector = get_class("partner.strategy", "Selector")

#: Tag on every recovery email, so ESP reports can tell them apart from the shop's others.
TAG = "oscar-recovery"

#: What the emails of one send batch share (see :func:`email_batch`).
_batch = BatchMemo("oscar_recovery_email_batch")


def email_batch(journeys: Sequence[CartJourney] = ()):
    """A block (one send batch) within which what an email shows of a product (title, link,
    image) is worked out once per product and language, and the default templates are read
    once: the batch's emails show the same products again and again, and a thumbnail URL
    may cost a query. The names ``journeys``' guests are greeted by (:func:`first_name_of`)
    are looked up at the start, in one query. Nothing is refreshed inside the block."""
    guests = [j.email for j in journeys if j.email and not (j.user_id and j.user.first_name)]
    return _batch.active(greetings=past_order_names(guests) if guests else {})


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
    #: Previews only: each recommendation's title, reason and its label, for the owner.
    recommendations: tuple[tuple[str, str, str], ...] = ()


def _price_of(purchase_info) -> Decimal | None:
    price = purchase_info.price
    if not price.exists:
        return None
    return price.incl_tax if price.is_tax_known else price.excl_tax


@dataclass(frozen=True)
class EmailProducts:
    """The products an email shows, loaded together."""

    #: The journey's lines still for sale, at today's prices.
    lines: list[PricedLine]
    #: Recommended products for sale, best first (the recommendation service's order).
    candidates: list[PricedLine]
    #: Why each candidate was recommended, by product id (``RecommendationReason``).
    reasons: dict[int, str] = field(default_factory=dict)
    #: Browse abandonment: the products the shopper viewed that are still for sale.
    viewed: list[PricedLine] = field(default_factory=list)

    @property
    def is_browse(self) -> bool:
        return not self.lines and bool(self.viewed)


def load_email_products(journey: CartJourney) -> EmailProducts:
    """The journey's lines that can still be bought, and the recommendations that can be.

    Products deleted, hidden or out of stock since the basket was left are dropped: an email
    must not push what cannot be ordered. Quantities are capped at what is available. A
    journey without lines (browse abandonment) shows the viewed products still for sale,
    less those the customer bought since.
    """
    return load_email_products_many([journey])[0]


def load_email_products_many(journeys: Sequence[CartJourney]) -> list[EmailProducts]:
    """:func:`load_email_products` for many journeys (one batch of emails), in order.

    Work is done per batch, not per email: the products of every journey are loaded in one
    go, each product is priced once per strategy (one strategy per customer: guests share
    one), and the recommender's sources and purchase history are looked up once for the
    batch (:func:`~oscar_recovery.recommendations.service.batch_memo`).
    """
    adapter = get_adapter()
    plans = []
    for journey in journeys:
        line_ids = [line["product_id"] for line in journey.lines if line.get("product_id")]
        plans.append((journey, line_ids))
    with batch_memo([(j.user if j.user_id else None, j.email) for j in journeys]):
        viewed_by_journey = [[] if ids else browse_product_ids(j) for j, ids in plans]
        wanted = {pk for (_, ids) in plans for pk in ids}
        wanted.update(pk for viewed in viewed_by_journey for pk in viewed)
        products = adapter.load_products(list(wanted))
        strategies: dict[int | None, _PricingMemo] = {}
        loaded = []
        for (journey, line_ids), viewed_ids in zip(plans, viewed_by_journey, strict=True):
            key = journey.user_id or None
            if key not in strategies:
                strategies[key] = _PricingMemo(Selector().strategy(user=journey.user))
            loaded.append(
                _email_products(journey, line_ids, viewed_ids, products, strategies[key], adapter)
            )
    return loaded


class _PricingMemo:
    """A pricing strategy that prices each product once: a batch of emails shows the same
    products again and again. Everything but ``fetch_for_product`` is the strategy's own."""

    def __init__(self, strategy):
        self._strategy = strategy
        self._infos: dict[int, object] = {}

    def fetch_for_product(self, product, stockrecord=None):
        if stockrecord is not None or product.pk is None:
            return self._strategy.fetch_for_product(product, stockrecord)
        if product.pk not in self._infos:
            self._infos[product.pk] = self._strategy.fetch_for_product(product)
        return self._infos[product.pk]

    def __getattr__(self, name):
        return getattr(self._strategy, name)


def _email_products(
    journey: CartJourney,
    line_ids: list[int],
    viewed_ids: list[int],
    products: dict,
    strategy,
    adapter: RecoveryAdapter,
) -> EmailProducts:
    lines = []
    for line in journey.lines:
        product = products.get(line.get("product_id"))
        priced = _priced(strategy, product, int(line.get("quantity") or 1))
        if priced is not None:
            lines.append(priced)
    viewed = [
        priced
        for pk in viewed_ids
        if (priced := _priced(strategy, products.get(pk), 1)) is not None
    ]
    limit = app_settings.RECOMMENDATIONS_LIMIT
    if not limit:
        return EmailProducts(lines, [], {}, viewed)
    gap = free_shipping_gap(journey, lines_total(lines) if lines else None, adapter)
    recommended = adapter.recommendations(
        journey, line_ids or viewed_ids, limit, gap=gap, exclude=viewed_ids, strategy=strategy
    )
    candidates = [PricedLine(item.product, 1, item.price, item.currency) for item in recommended]
    reasons = {item.product_id: str(item.reason) for item in recommended}
    return EmailProducts(lines, candidates, reasons, viewed)


def browse_product_ids(journey: CartJourney) -> list[int]:
    """The viewed products a browse email may show: most recent first, never one the
    customer has bought (the journey may predate the order)."""
    ids = [int(pk) for pk in journey.viewed][: app_settings.BROWSE_VIEWED_LIMIT]
    if not ids:
        return []
    bought = purchased_product_ids(journey.user if journey.user_id else None, journey.email)
    return [pk for pk in ids if pk not in bought]


def free_shipping_gap(
    journey: CartJourney | None, total: Decimal | None, adapter: RecoveryAdapter | None = None
) -> Decimal | None:
    """What a basket worth ``total`` lacks for free delivery: the adapter's threshold for
    ``journey`` (None on the shop's own pages) minus the total. None when there is nothing
    to top up: no threshold, the threshold reached, or no basket (``total`` None). Emails
    and the basket page's recommendations both ask here."""
    threshold = (adapter or get_adapter()).free_shipping_threshold(journey)
    if threshold is None or total is None or total >= threshold:
        return None
    return threshold - total


def lines_total(lines: list[PricedLine]) -> Decimal:
    """What the lines cost today (0.00 for none)."""
    return sum((line.line_price for line in lines), Decimal("0.00"))


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
    total = lines_total(lines)
    threshold = adapter.free_shipping_threshold(journey)
    gap = free_shipping_gap(journey, total if lines else None, adapter)
    viewed = [_line_context(line, adapter) for line in products.viewed]
    rtl = translation.get_language_bidi()
    context = {
        "language": translation.get_language(),
        "direction": "rtl" if rtl else "ltr",
        "start": "right" if rtl else "left",
        "end": "left" if rtl else "right",
        "shop": {
            "name": settings.OSCAR_SHOP_NAME,
            "url": adapter.absolute_url("/"),
            "postal_address": isolate_lines(app_settings.POSTAL_ADDRESS, rtl),
            "logo": email_logo(adapter),
        },
        "shopper": {"first_name": first_name_of(journey)},
        "lines": [_line_context(line, adapter) for line in lines],
        "num_items": sum(line.quantity for line in lines),
        "total": format_currency(total, currency),
        "restore_url": (
            # A browse email has no basket to restore: its button leads back to the products.
            (viewed[0]["url"] if viewed else adapter.absolute_url("/"))
            if products.is_browse
            else adapter.absolute_url(
                reverse("oscar_recovery:restore", args=[restore_token(journey, message)])
            )
        ),
        "browse": products.is_browse,
        "viewed": viewed,
        "unsubscribe_url": unsubscribe_url(journey.email, adapter, journey.language),
        "incentive": _incentive_context(step, voucher, currency),
        "free_shipping": None,
        "recommendations": [
            _recommendation_context(line, products.reasons, adapter)
            for line in products.candidates[: app_settings.RECOMMENDATIONS_LIMIT]
        ],
        "step": {"position": step.position},
    }
    # The voucher the email shows, whoever made it (this step, an earlier one, a prompt).
    context["voucher"] = context["incentive"]
    free_delivery = bool(context["incentive"]) and context["incentive"]["kind"] == (
        Incentive.FREE_SHIPPING
    )
    # A free-delivery code already closes the gap: no "£21.00 away from free delivery".
    if gap is not None and not free_delivery:
        context["free_shipping"] = free_shipping_context(
            threshold, gap, currency, context["recommendations"], products
        )
    # Subject and preheader may use the context too ("{{ lines.0.title }} is waiting").
    context["subject"] = render_line(content.subject, context)
    context["preheader"] = render_line(content.preheader, context)
    return context


def free_shipping_context(
    threshold: Decimal,
    gap: Decimal,
    currency: str,
    recommendations: list[dict],
    products: EmailProducts,
) -> dict:
    """The gap block: threshold and distance, always; ``closers`` (the first one or two
    recommendations labelled ``FREE_SHIPPING``, as
    :func:`oscar_recovery.recommendations.service.close_gap` puts them) and their
    ``closers_total`` only when their prices really close the gap (a custom recommender's
    label is not taken as proof). Without closers the email says how far the basket is and
    claims nothing more."""
    labelled = [
        (index, line.unit_price)
        for index, line in enumerate(products.candidates[: len(recommendations)])
        if products.reasons.get(line.product.pk) == RecommendationReason.FREE_SHIPPING
    ]
    chosen: list[tuple[int, Decimal]] = []
    if labelled and labelled[0][1] >= gap:
        chosen = labelled[:1]
    elif len(labelled) >= 2 and labelled[0][1] + labelled[1][1] >= gap:
        chosen = labelled[:2]
    total = sum((price for _, price in chosen), Decimal("0.00"))
    return {
        "threshold": format_currency(threshold, currency),
        "gap": format_currency(gap, currency),
        "closers": [recommendations[index] for index, _ in chosen],
        "closers_total": format_currency(total, currency) if chosen else "",
    }


def _line_context(line: PricedLine, adapter: RecoveryAdapter) -> dict:
    product = line.product
    shown = _batch.get(
        ("product", product.pk, translation.get_language()),
        lambda: {
            "title": product.get_title(),
            "image_url": adapter.product_image_url(product),
            "url": adapter.absolute_url(product.get_absolute_url()),
        },
    )
    return {
        **shown,
        "quantity": line.quantity,
        "price": format_currency(line.unit_price, line.currency),
        "line_price": format_currency(line.line_price, line.currency),
    }


def _recommendation_context(
    line: PricedLine, reasons: dict[int, str], adapter: RecoveryAdapter
) -> dict:
    reason = reasons.get(line.product.pk, "")
    context = _line_context(line, adapter)
    context["reason"] = reason
    context["reason_label"] = str(RecommendationReason(reason).label) if reason else ""
    return context


def _incentive_context(step: CampaignStep, voucher, currency: str) -> dict | None:
    if not voucher:
        return None
    if getattr(voucher, "pk", None) is None:  # the preview's sample voucher
        kind, description = step.incentive, describe_incentive(step, currency)
    else:
        # The voucher may be a prompt's or an earlier step's: say what *it* gives.
        kind, description = voucher_kind(voucher), describe_voucher(voucher, currency)
    return {
        "kind": kind,
        "code": voucher.code,
        "description": description,
        "expires": formats.date_format(voucher.end_datetime, "DATE_FORMAT"),
    }


#: The longest name an email greets with; a longer one is not a first name.
PLAIN_NAME_MAX = 40
PLAIN_NAME_WORDS = 3


def plain_name(text: str | None) -> str:
    """``text`` if it is a plain first name, else "": at most :data:`PLAIN_NAME_WORDS`
    words of letters and marks of any script, joined by single spaces, hyphens or
    apostrophes, a dot only after a one-letter initial ("J. R."), at most
    :data:`PLAIN_NAME_MAX` characters. Nothing else a shopper typed ever reaches an email:
    no digits, no links, no sentences ("customer. Your payment FAILED ... verify at
    https://...")."""
    name = unicodedata.normalize("NFC", " ".join((text or "").split()))
    words = name.split(" ")
    if not name or len(name) > PLAIN_NAME_MAX or len(words) > PLAIN_NAME_WORDS:
        return ""
    for word in words:
        initial = len(word) == 2 and word.endswith(".")
        parts = [word[:-1]] if initial else word.replace("\u2019", "'").replace("-", "'").split("'")
        if not all(part and _letters(part) for part in parts):
            return ""
    return name


def _letters(text: str) -> bool:
    return unicodedata.category(text[0]).startswith("L") and all(
        unicodedata.category(char)[0] in "LM" for char in text
    )


def first_name_of(journey: CartJourney) -> str:
    """The name an email greets, from a verified source only: the customer account's first
    name, else the first name of the latest order placed with the journey's address; else
    "" (the email says "Hello,"). The name typed at checkout is never used: anyone can type
    anyone's address there, and the name would reach the address's owner. Whatever the
    source, only a :func:`plain_name` is used."""
    if journey.user_id and journey.user.first_name:
        return plain_name(journey.user.first_name)
    if not journey.email:
        return ""
    address = normalise_email(journey.email)
    memo = _batch.current()
    if memo is not None and address in memo.get("greetings", {}):
        return memo["greetings"][address]
    return past_order_names([journey.email]).get(address, "")


def past_order_names(addresses: Sequence[str]) -> dict[str, str]:
    """The plain first name of the latest order placed with each address (canonical
    address -> name; "" when there is none or its name is not plain), in one query."""
    names = {normalise_email(address): "" for address in addresses if address}
    rows = (
        Order.objects.filter(raw_email_candidates(addresses, "guest_email", "user__email"))
        .exclude(shipping_address=None)
        .order_by("date_placed", "pk")
        .values_list("guest_email", "user__email", "shipping_address__first_name")
    )
    for guest_email, user_email, first_name in rows:  # oldest first: the latest wins
        address = normalise_email(guest_email or user_email or "")
        if address in names:  # the SQL look is generous: only the addresses asked for
            names[address] = plain_name(first_name)
    return names


def email_logo(adapter: RecoveryAdapter | None = None) -> dict | None:
    """The shop's logo for the email header, from ``OSCAR_RECOVERY_EMAIL_LOGO_URL`` (an
    absolute URL, or a path made absolute on the shop's site) at
    ``OSCAR_RECOVERY_EMAIL_LOGO_WIDTH`` pixels wide (and ``..._HEIGHT`` high, if set: email
    clients lay out by the attributes before images load). None without a logo."""
    url = app_settings.EMAIL_LOGO_URL
    if not url:
        return None
    if not url.startswith(("https://", "http://")):
        if not url.startswith("/"):
            url = static(url)
        url = (adapter or get_adapter()).absolute_url(url)
    return {
        "url": url,
        "width": app_settings.EMAIL_LOGO_WIDTH,
        "height": app_settings.EMAIL_LOGO_HEIGHT,
    }


def unsubscribe_url(email: str, adapter: RecoveryAdapter | None = None, language: str = "") -> str:
    """The absolute one-click unsubscribe link; its page speaks ``language``."""
    adapter = adapter or get_adapter()
    path = reverse("oscar_recovery:unsubscribe", args=[unsubscribe_token(email, language)])
    return adapter.absolute_url(path)


def render_email(content: StepContent, context: dict) -> RenderedEmail:
    """Subject, preheader and both bodies; the HTML with its CSS inlined."""
    html = render_html(content.body_html or _default("html"), context)
    text = render_text(content.body_text or _default("text"), context)
    return RenderedEmail(context["subject"], context["preheader"], inline_css(html), text)


def _default(kind: str) -> str:
    return _batch.get(("default template", kind), lambda: default_source(kind))


def display_subject(
    step: CampaignStep, language: str | None = None, variant: StepVariant | None = None
) -> str:
    """A step's (or variant's) subject as staff should read it in lists and timelines:
    rendered in ``language`` (the active one by default), so ``{% translate %}`` tags show
    their text, never their source. Basket-specific variables render empty; a subject that
    does not render shows its source rather than break the page."""
    language = language or translation.get_language()
    # The owner's text for that language (per-language fields), else the default's.
    source = content_for(step, variant, language).subject
    context = {
        "shop": {"name": settings.OSCAR_SHOP_NAME},
        "shopper": {"first_name": ""},
        "step": {"position": step.position},
        "lines": [],
        "num_items": 0,
    }
    with translation.override(language):
        try:
            return render_line(source, context)
        except TemplateError:
            return source


def display_step(step: CampaignStep, language: str | None = None) -> str:
    """ "Campaign #2: rendered subject", the step as staff read it (see
    :func:`display_subject`); the model's ``__str__`` keeps the raw subject."""
    return f"{step.campaign} #{step.position}: {display_subject(step, language)}"


def language_of(journey: CartJourney) -> str:
    return journey.language or settings.LANGUAGE_CODE


def compose(
    message: RecoveryMessage, products: EmailProducts, voucher=None
) -> EmailMultiAlternatives:
    """The email for a message, ready to send: rendered in the shopper's language, with
    one-click unsubscribe headers and ESP tags that carry no personal data."""
    journey, step = message.journey, message.step
    content = content_for(step, message.variant, language_of(journey))
    with translation.override(language_of(journey)):
        context = build_context(journey, step, content, products, message=message, voucher=voucher)
        rendered = render_email(content, context)
    email = build_email(
        rendered, subject=rendered.subject, to=journey.email, unsubscribe=context["unsubscribe_url"]
    )
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


def build_email(
    rendered: RenderedEmail, *, subject: str, to: str, unsubscribe: str
) -> EmailMultiAlternatives:
    """The email around a rendered message, the same for real sends and staff's test
    emails: text body with the HTML as alternative, the configured sender, RFC 8058
    one-click unsubscribe headers for ``unsubscribe`` and a Message-ID on the shop's
    domain. Tags, metadata and tracking are the caller's."""
    email = EmailMultiAlternatives(
        subject=subject,
        body=rendered.text,
        from_email=app_settings.FROM_EMAIL or settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            # RFC 8058: mail clients show an unsubscribe button that POSTs to the URL.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Message-ID": make_msgid(domain=_message_id_domain()),
        },
    )
    email.attach_alternative(rendered.html, "text/html")
    return email


def _message_id_domain() -> str:
    from urllib.parse import urlsplit

    return urlsplit(get_adapter().site_url()).hostname or "localhost"


def preview(
    step: CampaignStep, journey: CartJourney, *, content: StepContent | None = None
) -> RenderedEmail:
    """How a step looks for a journey, without sending or storing anything (admin preview).
    No voucher is minted: the incentive block shows a sample code."""
    content = content or content_for(step, None, language_of(journey))
    if step.campaign.trigger == CampaignTrigger.BROWSE_ABANDONED and not journey.viewed:
        # A basket (or the sample) stands in for what a browsing shopper viewed.
        journey = copy.copy(journey)
        journey.viewed = [line["product_id"] for line in journey.lines if line.get("product_id")]
        journey.lines, journey.num_items = [], 0
    products = load_email_products(journey)
    with translation.override(language_of(journey)):
        context = build_context(journey, step, content, products, voucher=_SampleVoucher(step))
        rendered = render_email(content, context)
    reasons = tuple(
        (item["title"], item["reason"], item["reason_label"]) for item in context["recommendations"]
    )
    return dataclasses.replace(rendered, recommendations=reasons)


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
