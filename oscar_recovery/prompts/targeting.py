"""Which prompts a visitor sees on a page: decided on the server, from one cached query.

Rules, in order (each prompt of the shop is checked against the visitor):

1. the prompt is active and inside its start/end dates;
2. its kind's own rules: the guest-checkout prompt only on the checkout gateway, for
   anonymous shoppers, in shops that allow guest checkout; the others never on checkout
   pages; the returning-visitor reminder only with something to bring back;
3. its audience: new or returning visitor, guest or logged in, items in the basket, basket
   value range, customer value tier, device class, pages included and excluded;
4. its caps: not while dismissed (quiet for the prompt's days), not after the visitor placed
   an order, at most one interrupting prompt per visit, and no email form for a visitor whose
   email the shop already has. The guest-checkout prompt is help rather than marketing: only
   a dismissal holds it back;
5. its offer: never one the basket already has (free delivery for a basket that ships
   free, by the free-delivery threshold or an offer already applied).

Of the prompts left, the highest priority of each kind is shown, in a variant chosen from a
hash of the prompt and the visitor id (the same visitor always sees the same variant).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import get_language
from oscar.core.loading import get_model

from oscar_recovery.adapter import get_adapter
from oscar_recovery.campaigns.enrolment import CustomerHistory
from oscar_recovery.campaigns.translations import (
    app_speaks,
    default_language,
    is_rtl,
    layered_text,
    normalise,
)
from oscar_recovery.campaigns.variants import CONTROL_LABEL, pick_variant
from oscar_recovery.capture.history import viewed_from_cookie
from oscar_recovery.capture.visitor import read_visitor_id
from oscar_recovery.constants import (
    DeviceClass,
    Incentive,
    LoginState,
    PromptKind,
    ValueTier,
    VisitorType,
)
from oscar_recovery.models import Prompt, PromptVariant
from oscar_recovery.prompts import app_settings as prompt_settings
from oscar_recovery.prompts import state
from oscar_recovery.sending import vouchers
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

Order = get_model("order", "Order")

CACHE_KEY = "oscar_recovery:prompts:active"
_TIER_KEY = "oscar_recovery:prompts:tier:{user_id}"
_TIER_TIMEOUT = 3600
#: Oscar's checkout gateway, where the guest-checkout prompt belongs.
GATEWAY_URL_NAME = "checkout:index"


# -- the active prompts, cached -----------------------------------------------------------

_PROMPT_FIELDS = [f.attname for f in Prompt._meta.concrete_fields]
_VARIANT_FIELDS = [f.attname for f in PromptVariant._meta.concrete_fields if f.name != "prompt"]


def active_prompts(now: datetime | None = None) -> list[Prompt]:
    """Active prompts not yet ended, highest priority first, with their variants: one
    query, then cached until a prompt or variant changes (or the cache times out)."""
    prompts = cache.get(CACHE_KEY)
    if prompts is None:
        prompts = _load_active_prompts(now or timezone.now())
        cache.set(CACHE_KEY, prompts, prompt_settings.CACHE_TIMEOUT)
    return prompts


def _load_active_prompts(now: datetime) -> list[Prompt]:
    # One LEFT JOIN rather than a prefetch: a cache miss costs one query, not two.
    rows = (
        Prompt.objects.filter(is_active=True)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .order_by("-priority", "name", "variants__label")
        .values_list(*_PROMPT_FIELDS, *[f"variants__{name}" for name in _VARIANT_FIELDS])
    )
    prompts: dict[int, Prompt] = {}
    split = len(_PROMPT_FIELDS)
    for row in rows:
        values = dict(zip(_PROMPT_FIELDS, row[:split], strict=True))
        prompt = prompts.get(values["id"])
        if prompt is None:
            prompt = prompts[values["id"]] = Prompt(**values)
            prompt.variant_list = []
        variant = dict(zip(_VARIANT_FIELDS, row[split:], strict=True))
        if variant["id"] is not None:
            prompt.variant_list.append(PromptVariant(prompt_id=prompt.pk, **variant))
    return list(prompts.values())


def clear_cache() -> None:
    cache.delete(CACHE_KEY)


# -- variants -----------------------------------------------------------------------------


#: The prompt texts written per language (a prompt's and a variant's alike).
TEXT_FIELDS = ("headline", "body", "cta_label", "consent_text", "thank_you")


@dataclass(frozen=True)
class PromptContent:
    """What a visitor reads, all in one language (:func:`prompt_language`): the variant's
    text where it sets any, else the prompt's (see
    :func:`oscar_recovery.campaigns.translations.layered_text`)."""

    label: str
    headline: str
    body: str
    cta_label: str
    consent_text: str
    thank_you: str
    #: The one language of the whole prompt, the app's labels included: its ``lang`` and
    #: ``dir``, and the language its endpoints answer and record consent in.
    language: str = ""

    @property
    def rtl(self) -> bool:
        return is_rtl(self.language)


def choose_variant(prompt: Prompt, unit_id: str) -> PromptVariant | None:
    """The variant a visitor (``unit_id``) sees, or None for the control. Deterministic: a
    hash of the prompt (the experiment) and the visitor, so it never changes between pages,
    processes or restarts while the weights stay the same."""
    return pick_variant(variants_of(prompt), "prompt", prompt.pk, unit_id)


def variants_of(prompt: Prompt) -> list[PromptVariant]:
    cached = getattr(prompt, "variant_list", None)
    return cached if cached is not None else list(prompt.variants.all())


def prompt_language(prompt: Prompt, variant: PromptVariant | None, language: str) -> str:
    """The one language a prompt shows in on a page in ``language``: that one when the
    owner wrote every text of the prompt (or variant) in it and the app's own labels come
    in it too, else the default language, whole. Never half: an Arabic headline over an
    English body, or English text under a German "E-Mail" label, reads as a broken shop."""
    default = settings.LANGUAGE_CODE
    if not language or normalise(language) == default_language():
        return default
    if not app_speaks(language):
        return default
    for name in TEXT_FIELDS:
        text, code = layered_text(variant, prompt, name, language)
        if text and code == default_language():
            return default
    return language


def content_for(
    prompt: Prompt, variant: PromptVariant | None, language: str | None = None
) -> PromptContent:
    """The texts of ``prompt`` (or ``variant`` over it) on a page in ``language``, by
    default the active one (the request's), all in :func:`prompt_language`."""
    language = get_language() if language is None else language
    language = prompt_language(prompt, variant, language or settings.LANGUAGE_CODE)
    return PromptContent(
        CONTROL_LABEL if variant is None else variant.label,
        *(layered_text(variant, prompt, name, language)[0] for name in TEXT_FIELDS),
        language=language,
    )


def content_by_label(prompt: Prompt, label: str) -> PromptContent | None:
    """The content shown as variant ``label``; None for a label the prompt does not have."""
    if label == CONTROL_LABEL:
        return content_for(prompt, None)
    variant = next((v for v in variants_of(prompt) if v.label == label), None)
    return None if variant is None else content_for(prompt, variant)


# -- the visitor --------------------------------------------------------------------------


@dataclass
class Visitor:
    """What one request tells about the visitor, read lazily: the basket and the value
    tier are only looked at when a prompt's rules ask for them."""

    request: HttpRequest
    now: datetime = field(default_factory=timezone.now)

    @cached_property
    def cookies(self) -> dict[str, str]:
        return self.request.COOKIES

    @cached_property
    def user(self):
        user = getattr(self.request, "user", None)
        return user if user is not None and user.is_authenticated else None

    @cached_property
    def visitor_id(self) -> str | None:
        return read_visitor_id(self.cookies)

    @cached_property
    def visit_id(self) -> str:
        return state.read_visit_id(self.cookies) or state.new_visit_id()

    @property
    def unit_id(self) -> str:
        """Who variants are assigned to: the visitor, or this visit before the visitor
        cookie exists."""
        return self.visitor_id or self.visit_id

    @cached_property
    def caps(self) -> state.Caps:
        return state.read_caps(self.cookies)

    @cached_property
    def is_returning(self) -> bool:
        return state.is_returning(self.cookies, self.now)

    @cached_property
    def user_agent(self) -> str:
        return self.request.META.get("HTTP_USER_AGENT", "")

    @cached_property
    def is_bot(self) -> bool:
        return get_adapter().is_bot(self.user_agent)

    @cached_property
    def device(self) -> str:
        return get_adapter().device_class(self.user_agent)

    @cached_property
    def path(self) -> str:
        return self.request.path

    @cached_property
    def view_name(self) -> str:
        match = getattr(self.request, "resolver_match", None)
        return match.view_name if match is not None else ""

    @cached_property
    def basket(self) -> Any:
        return getattr(self.request, "basket", None)

    @cached_property
    def basket_items(self) -> int:
        basket = self.basket
        if basket is None or not basket.id:
            return 0
        return basket.num_items

    @cached_property
    def basket_total(self) -> Decimal:
        basket = self.basket
        if not self.basket_items:
            return Decimal("0")
        total = basket.total_incl_tax if basket.is_tax_known else basket.total_excl_tax
        return Decimal(total or 0)

    @cached_property
    def ships_free(self) -> bool:
        """The basket already ships free (threshold reached, or a free-delivery offer)."""
        return bool(self.basket_items) and vouchers.basket_ships_free(self.basket)

    @cached_property
    def has_history(self) -> bool:
        return bool(viewed_from_cookie(self.cookies))

    @cached_property
    def has_email(self) -> bool:
        """The shop already has this visitor's email: no email form for them."""
        return bool(self.user is not None and self.user.email) or self.caps.captured

    @cached_property
    def value_tier(self) -> str:
        if self.user is None:
            return ValueTier.LOW
        return customer_tier(self.user.pk)


def customer_tier(user_id: int) -> str:
    """The customer's lifetime value tier, cached for an hour (one query on a miss)."""
    key = _TIER_KEY.format(user_id=user_id)
    tier = cache.get(key)
    if tier is None:
        totals = Order.objects.filter(user_id=user_id).aggregate(
            orders=Count("pk"), spent=Sum("total_incl_tax")
        )
        history = CustomerHistory(orders=totals["orders"], spent=totals["spent"] or Decimal(0))
        tier = str(history.tier)
        cache.set(key, tier, _TIER_TIMEOUT)
    return tier


# -- the rules ----------------------------------------------------------------------------


def page_matches(patterns: str, visitor: Visitor) -> bool:
    """Whether any pattern (one a line) matches the page: a path glob (``/catalogue/*``)
    or a URL name glob (``catalogue:detail``, ``checkout:*``)."""
    for pattern in (line.strip() for line in patterns.splitlines()):
        if not pattern:
            continue
        target = visitor.path if pattern.startswith("/") else visitor.view_name
        if target and fnmatch.fnmatchcase(target, pattern):
            return True
    return False


def _is_checkout_page(visitor: Visitor) -> bool:
    return visitor.view_name.startswith("checkout:")


def within_dates(prompt: Prompt, now: datetime) -> bool:
    if not prompt.is_active:
        return False
    if prompt.starts_at is not None and prompt.starts_at > now:
        return False
    return prompt.ends_at is None or prompt.ends_at > now


def kind_allows(prompt: Prompt, visitor: Visitor) -> bool:
    if prompt.kind == PromptKind.GUEST_CHECKOUT:
        return (
            visitor.user is None
            and visitor.view_name == GATEWAY_URL_NAME
            and bool(getattr(settings, "OSCAR_ALLOW_ANON_CHECKOUT", False))
        )
    if _is_checkout_page(visitor):
        return False
    if prompt.kind == PromptKind.RETURNING_BANNER:
        return visitor.is_returning and (visitor.basket_items > 0 or visitor.has_history)
    return True


def audience_allows(prompt: Prompt, visitor: Visitor) -> bool:
    if prompt.visitor_type == VisitorType.NEW and visitor.is_returning:
        return False
    if prompt.visitor_type == VisitorType.RETURNING and not visitor.is_returning:
        return False
    if prompt.login_state == LoginState.GUEST and visitor.user is not None:
        return False
    if prompt.login_state == LoginState.LOGGED_IN and visitor.user is None:
        return False
    if prompt.device != DeviceClass.ANY and prompt.device != visitor.device:
        return False
    if prompt.include_pages.strip() and not page_matches(prompt.include_pages, visitor):
        return False
    if prompt.exclude_pages.strip() and page_matches(prompt.exclude_pages, visitor):
        return False
    # The basket and the value tier last: they may cost a query.
    if prompt.requires_basket and not visitor.basket_items:
        return False
    if prompt.min_basket_value is not None and visitor.basket_total < prompt.min_basket_value:
        return False
    if prompt.max_basket_value is not None and visitor.basket_total > prompt.max_basket_value:
        return False
    return prompt.value_tier in (ValueTier.ANY, visitor.value_tier)


def asks_email(prompt: Prompt) -> bool:
    """Whether the prompt shows an email form (rather than a link)."""
    return prompt.asks_email and prompt.kind in (PromptKind.EXIT_INTENT, PromptKind.EMAIL_CAPTURE)


def caps_allow(prompt: Prompt, visitor: Visitor) -> bool:
    caps = visitor.caps
    if caps.is_quiet(prompt.pk, visitor.now):
        return False
    if prompt.kind == PromptKind.GUEST_CHECKOUT:
        return True
    if caps.ordered:
        return False
    if caps.shown_visit and caps.shown_visit == visitor.visit_id:
        return False
    return not (asks_email(prompt) and visitor.has_email)


def offer_allows(prompt: Prompt, visitor: Visitor) -> bool:
    """Never an offer the basket already has: no "free delivery on this order" for a
    basket that ships free (the prompt's words promise it, so the prompt stays away)."""
    if prompt.incentive != Incentive.FREE_SHIPPING:
        return True
    return not vouchers.adds_nothing(prompt.incentive, already_free=visitor.ships_free)


def is_eligible(prompt: Prompt, visitor: Visitor) -> bool:
    return (
        within_dates(prompt, visitor.now)
        and kind_allows(prompt, visitor)
        and caps_allow(prompt, visitor)
        and audience_allows(prompt, visitor)
        and offer_allows(prompt, visitor)
    )


@dataclass(frozen=True)
class Decision:
    prompt: Prompt
    content: PromptContent


def eligible_prompts(visitor: Visitor) -> list[Decision]:
    """The prompts this visitor sees on this page, highest priority first, one per kind."""
    if not prompt_settings.ENABLED or visitor.is_bot:
        return []
    chosen: dict[str, Decision] = {}
    for prompt in active_prompts(visitor.now):
        if prompt.kind in chosen:
            continue
        try:
            eligible = is_eligible(prompt, visitor)
        except Exception:  # one broken prompt must not hide the others
            logger.exception("oscar_recovery: eligibility of prompt %s failed", prompt.pk)
            continue
        if eligible:
            variant = choose_variant(prompt, visitor.unit_id)
            chosen[prompt.kind] = Decision(prompt, content_for(prompt, variant))
    return list(chosen.values())
