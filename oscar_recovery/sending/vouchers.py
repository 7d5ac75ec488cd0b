"""Incentives as plain Oscar vouchers: one unique, single-use, expiring voucher per sent email.

A campaign step with an incentive gets one Oscar voucher offer (``ConditionalOffer`` of type
``VOUCHER``: any basket with an item, the step's discount, once per basket). The offer is made
when the step is first sent, and again whenever the step's incentive changes; older offers stay
as they were, so the vouchers already emailed keep their promise. Each email then gets its own
voucher for that offer, minted at send time and valid for ``incentive_valid_for``.

Everything the shop does with these vouchers is Oscar's own machinery (basket, applicator,
checkout, dashboard): nothing of ours runs in the basket or at checkout.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import formats, translation
from django.utils.translation import gettext, gettext_noop
from oscar.core.loading import get_model
from oscar.templatetags.currency_filters import currency as format_currency

from oscar_recovery.adapter import get_adapter
from oscar_recovery.campaigns.translations import (
    base_language,
    default_language,
    normalise,
    translated,
)
from oscar_recovery.constants import Incentive, PromptEventKind
from oscar_recovery.models import CampaignStep, CartJourney, PromptEvent, RecoveryMessage

Benefit = get_model("offer", "Benefit")
Condition = get_model("offer", "Condition")
ConditionalOffer = get_model("offer", "ConditionalOffer")
Range = get_model("offer", "Range")
Voucher = get_model("voucher", "Voucher")

#: The product range behind every recovery offer. Found by this name, so an owner may edit it
#: (exclude gift cards, say) and every recovery voucher follows.
RANGE_NAME = "Recovery emails: all products"

#: Voucher codes read ``BACK-XXXX-XXXX-XXXX``. Without 0/O, 1/I/L the code survives being read
#: aloud or retyped; 12 characters of 31 (~59 bits) cannot be guessed at the basket form.
CODE_PREFIX = "BACK-"
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_GROUPS = 3
CODE_GROUP_LENGTH = 4
#: Attempts at a fresh code before giving up; a clash is already a one-in-10^17 event.
CODE_ATTEMPTS = 5

_BENEFIT_TYPES = {
    Incentive.PERCENTAGE: Benefit.PERCENTAGE,
    Incentive.FIXED: Benefit.FIXED,
    # Oscar's free shipping: 100 % off the shipping charge.
    Incentive.FREE_SHIPPING: Benefit.SHIPPING_PERCENTAGE,
}
_FREE_SHIPPING_PERCENT = Decimal("100.00")
_INCENTIVES = {benefit: incentive for incentive, benefit in _BENEFIT_TYPES.items()}

_NAME_MAX = 128  # ConditionalOffer.name and Voucher.name
#: The owner's "name shown to shoppers" (its field's length).
_SHOWN_NAME_MAX = 60


def validate_incentive(
    incentive: str, value: Decimal | None, valid_for: timedelta | None = None
) -> None:
    """Raise :class:`ValidationError` (keyed by the step's field names) unless the incentive
    can become a voucher: a percentage in (0, 100], a positive amount, a positive validity.

    The value of "none" and "free shipping" incentives is ignored.
    """
    if incentive not in Incentive.values:
        raise ValidationError(
            {"incentive": gettext("Unknown incentive %(incentive)r.") % {"incentive": incentive}},
            code="invalid",
        )
    if incentive == Incentive.NONE:
        return
    errors = {}
    if incentive in (Incentive.PERCENTAGE, Incentive.FIXED):
        message = _value_error(incentive, value)
        if message:
            errors["incentive_value"] = ValidationError(message, code="invalid")
    if valid_for is not None and valid_for <= timedelta(0):
        errors["incentive_valid_for"] = ValidationError(
            gettext("A voucher must be valid for some time."), code="invalid"
        )
    if errors:
        raise ValidationError(errors)


def _value_error(incentive: str, value: Decimal | None) -> str | None:
    if value in (None, ""):
        if incentive == Incentive.PERCENTAGE:
            return gettext("Enter the percentage off for a percentage incentive.")
        return gettext("Enter the amount off for a fixed amount incentive.")
    try:
        value = Decimal(str(value))
    except InvalidOperation:
        return gettext("Enter a number.")
    if not value.is_finite():
        return gettext("Enter a number.")
    if incentive == Incentive.PERCENTAGE and not Decimal(0) < value <= Decimal(100):
        return gettext("A percentage off must be more than 0 and at most 100.")
    if incentive == Incentive.FIXED and value <= 0:
        return gettext("An amount off must be more than 0.")
    return None


def describe_incentive(step: CampaignStep, currency: str) -> str:
    """The incentive in words, in the active language: "10% off your order", "£5.00 off your
    order", "Free delivery". Empty for a step without incentive; an invalid incentive raises
    :class:`ValidationError`."""
    if step.incentive == Incentive.NONE:
        return ""
    validate_incentive(step.incentive, step.incentive_value)
    if step.incentive == Incentive.PERCENTAGE:
        return gettext("%(percent)s%% off your order") % {
            "percent": formats.number_format(_plain(step.incentive_value))
        }
    if step.incentive == Incentive.FIXED:
        return gettext("%(amount)s off your order") % {
            "amount": format_currency(step.incentive_value, currency)
        }
    return gettext("Free delivery")


def _plain(value: Decimal) -> Decimal:
    """10.00 -> 10, 12.50 -> 12.5: a percentage reads best without trailing zeros."""
    value = Decimal(str(value))
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


# -- what a basket already has ----------------------------------------------------------
#
# The one offer chooser every incentive asks (prompts, email steps, restore links): an
# incentive is never offered, minted, shown or applied where it changes nothing, e.g. a
# "free delivery on this order" code for a basket that already ships free.


def ships_free(total: Decimal | None, journey: CartJourney | None = None) -> bool:
    """Whether a basket worth ``total`` ships free anyway: at or over the adapter's
    free-delivery threshold for ``journey`` (the figure the emails' gap to free delivery
    uses). False without a threshold or a basket (``total`` None)."""
    threshold = get_adapter().free_shipping_threshold(journey)
    return threshold is not None and total is not None and Decimal(total) >= threshold


def basket_total(basket) -> Decimal | None:
    """A live Oscar basket's total as the shop shows it (with tax when known); None for
    an empty or unsaved basket."""
    if basket is None or not basket.id or not basket.num_items:
        return None
    return Decimal(basket.total_incl_tax if basket.is_tax_known else basket.total_excl_tax)


def has_free_delivery_offer(basket) -> bool:
    """Whether an offer or voucher already applied to ``basket`` makes delivery free."""
    if basket is None or not basket.id:
        return False
    for application in basket.offer_applications:
        benefit = application["offer"].benefit
        if benefit.type == Benefit.SHIPPING_PERCENTAGE and (benefit.value or 0) >= 100:
            return True
        if benefit.type == Benefit.SHIPPING_FIXED_PRICE and not benefit.value:
            return True
    return False


def basket_ships_free(basket, journey: CartJourney | None = None) -> bool:
    """:func:`ships_free` for a live basket, or an offer already giving it free delivery.
    The basket's total (which may cost a query) only where the shop has a threshold."""
    if has_free_delivery_offer(basket):
        return True
    if get_adapter().free_shipping_threshold(journey) is None:
        return False
    return ships_free(basket_total(basket), journey)


def adds_nothing(incentive: str, *, already_free: bool) -> bool:
    """Whether ``incentive`` would give a basket nothing it lacks: free delivery where
    delivery is ``already_free``. A discount off the order always gives something."""
    return incentive == Incentive.FREE_SHIPPING and already_free


def ensure_offer(step: CampaignStep, language: str | None = None) -> ConditionalOffer | None:
    """The Oscar offer behind the step's vouchers for shoppers in ``language`` (default: the
    shop's), made now if there is none yet or the incentive or its shopper-facing name
    changed since; the default language's is saved as ``step.offer``. None without
    incentive.

    An outdated offer is left alone: the vouchers already sent for it keep their discount.
    The step's row is locked meanwhile, so two workers sending the same step make one offer.
    """
    return ensure_offer_for(
        step,
        # For staff (the offer's description): which step made it.
        gettext_noop("Recovery: %(campaign)s step %(position)s (%(incentive)s)"),
        {"campaign": step.campaign.name, "position": step.position},
        language,
    )


def offer_language(language: str | None) -> str:
    """The language an offer is named in for a shopper in ``language``: one of the shop's
    ``LANGUAGES`` (its base language if only that is offered), else the default one."""
    code = normalise(language or "")
    offered = {normalise(code) for code, __ in settings.LANGUAGES}
    for candidate in (code, base_language(code)):
        if candidate and candidate in offered:
            return candidate
    return default_language()


def shopper_offer_name(holder, language: str | None = None) -> str:
    """The name a shopper in ``language`` reads next to the discount (basket, checkout,
    order): the owner's "name shown to shoppers" written in that language, else what the
    incentive gives in that language ("10% off your order", "Free delivery"). Never the
    internal name of a prompt or campaign, whose audience rules are not for shoppers."""
    language = offer_language(language)
    found = translated(holder, "incentive_name", language)
    if found:
        return found[0].strip()[:_SHOWN_NAME_MAX]
    if language == default_language() and (holder.incentive_name or "").strip():
        return holder.incentive_name.strip()[:_SHOWN_NAME_MAX]
    with translation.override(language):
        return describe_incentive(holder, settings.OSCAR_DEFAULT_CURRENCY)


def ensure_offer_for(
    holder, name: str, values: dict, language: str | None = None
) -> ConditionalOffer | None:
    """:func:`ensure_offer` for anything with a step's incentive fields (a campaign step,
    an on-site prompt). The offer is named for shoppers (:func:`shopper_offer_name`, in
    ``language``); ``name``, an untranslated ``%`` template given ``values`` and
    ``incentive``, describes it for staff. An offer of ours that already gives the same
    discount under the same name is shared rather than made twice (Oscar wants names
    unique, and "Free delivery #2" would tell shoppers nothing)."""
    if holder.incentive == Incentive.NONE:
        return None
    validate_incentive(holder.incentive, holder.incentive_value, holder.incentive_valid_for)
    benefit_type, benefit_value = _benefit_for(holder)
    language = offer_language(language)
    default = language == default_language()
    shown = shopper_offer_name(holder, language)
    model = type(holder)
    with transaction.atomic():
        offer_id, by_language = (
            model.objects.select_for_update()
            .filter(pk=holder.pk)
            .values_list("offer_id", "language_offers")
            .get()
        )
        by_language = by_language if isinstance(by_language, dict) else {}
        if not default:
            offer_id = by_language.get(language)
        offer = (
            ConditionalOffer.objects.select_related("benefit").filter(pk=offer_id).first()
            if offer_id
            else None
        )
        if offer is None or not _offer_gives(offer, benefit_type, benefit_value, shown):
            offer = _shared_offer(benefit_type, benefit_value, shown) or _create_offer(
                holder, benefit_type, benefit_value, shown, name, values
            )
            if default:
                model.objects.filter(pk=holder.pk).update(offer=offer)
            else:
                model.objects.filter(pk=holder.pk).update(
                    language_offers={**by_language, language: offer.pk}
                )
    if default:
        holder.offer = offer
    return offer


def _benefit_for(step: CampaignStep) -> tuple[str, Decimal]:
    if step.incentive == Incentive.FREE_SHIPPING:
        return _BENEFIT_TYPES[step.incentive], _FREE_SHIPPING_PERCENT
    return _BENEFIT_TYPES[step.incentive], Decimal(str(step.incentive_value))


def _offer_gives(
    offer: ConditionalOffer, benefit_type: str, value: Decimal, shown: str | None = None
) -> bool:
    """Whether an existing offer still is what the holder promises (under the name shoppers
    are to read, when ``shown`` is given: a clash-numbered "shown #2" counts)."""
    benefit = offer.benefit
    return (
        offer.offer_type == ConditionalOffer.VOUCHER
        and not benefit.proxy_class
        and benefit.type == benefit_type
        and benefit.value is not None
        and Decimal(benefit.value) == value
        and (shown is None or offer.name == shown or offer.name.startswith(f"{shown} #"))
    )


def _shared_offer(benefit_type: str, value: Decimal, shown: str) -> ConditionalOffer | None:
    """An offer of ours named ``shown`` that gives the same discount, to share."""
    offer = (
        ConditionalOffer.objects.select_related("benefit", "condition__range")
        .filter(name=shown, offer_type=ConditionalOffer.VOUCHER)
        .first()
    )
    if offer is None or not _offer_gives(offer, benefit_type, value):
        return None
    condition = offer.condition
    ours = (
        condition.range is not None
        and condition.range.name == RANGE_NAME
        and condition.type == Condition.COUNT
        and condition.value == 1
        and offer.max_basket_applications == 1
    )
    return offer if ours else None


def _create_offer(
    holder, benefit_type: str, value: Decimal, shown: str, name: str, values: dict
) -> ConditionalOffer:
    everything = _recovery_range()
    condition = Condition.objects.create(range=everything, type=Condition.COUNT, value=1)
    benefit = Benefit.objects.create(
        # Oscar's shipping benefits must have no range; product discounts need one.
        range=None if benefit_type == Benefit.SHIPPING_PERCENTAGE else everything,
        type=benefit_type,
        value=value,
    )
    # Staff read the description in the dashboard, in the shop's language.
    with translation.override(settings.LANGUAGE_CODE):
        label = describe_incentive(holder, settings.OSCAR_DEFAULT_CURRENCY)
        description = _fit(gettext(name), {**values, "incentive": label}, "")
    return _create_uniquely_named(
        lambda offer_name: ConditionalOffer.objects.create(
            name=offer_name,
            description=description,
            offer_type=ConditionalOffer.VOUCHER,
            condition=condition,
            benefit=benefit,
            # One discount per order, however many items the basket holds.
            max_basket_applications=1,
        ),
        lambda suffix: f"{shown[: _NAME_MAX - len(suffix)]}{suffix}",
    )


def _fit(template: str, values: dict, suffix: str) -> str:
    """``template % values`` + ``suffix`` within the name length, shortening the campaign."""
    name = template % values + suffix
    overflow = len(name) - _NAME_MAX
    if overflow > 0:
        campaign = str(values["campaign"])
        values = {**values, "campaign": campaign[: max(len(campaign) - overflow - 1, 1)] + "…"}
        name = (template % values + suffix)[:_NAME_MAX]
    return name


def _create_uniquely_named(create, name_for):
    """Oscar wants unique offer names; a step's incentive may come back to an earlier value
    (or a renamed campaign free up its name), so a taken name gets a number."""
    for number in range(1, 100):
        name = name_for("" if number == 1 else f" #{number}")
        if ConditionalOffer.objects.filter(name=name).exists():
            continue
        try:
            with transaction.atomic():
                return create(name)
        except IntegrityError:
            continue  # taken between the look and the insert
    raise IntegrityError("No free offer name for this recovery step.")


def _recovery_range() -> Range:
    everything, __ = Range.objects.get_or_create(
        name=RANGE_NAME, defaults={"includes_all_products": True}
    )
    return everything


def new_code() -> str:
    """A fresh, unguessable voucher code such as ``BACK-7KQ2-M9XD-R4TB``."""
    groups = (
        "".join(secrets.choice(CODE_ALPHABET) for __ in range(CODE_GROUP_LENGTH))
        for __ in range(CODE_GROUPS)
    )
    return CODE_PREFIX + "-".join(groups)


def journey_voucher(
    journey: CartJourney,
    now: datetime,
    *,
    exclude_message: int | None = None,
    already_free: bool = False,
) -> Voucher | None:
    """The journey's unused voucher that can still be used, or None: one revealed by a
    prompt on this journey or sent by one of its emails (``exclude_message`` left out),
    the newest first. "Unused" means no order used it and no basket holds it but the
    journey's own (Oscar's single-use check); "valid" means active at ``now``. When
    delivery is ``already_free``, a free-delivery voucher is passed over: it would
    change nothing (see :func:`adds_nothing`).

    One offer, one story: later emails show this voucher again instead of minting
    another, and the restore link applies it to the restored basket."""
    if journey.pk is None:
        return None
    prompt_codes = (
        PromptEvent.objects.filter(journey_id=journey.pk, kind=PromptEventKind.SUBMITTED)
        .exclude(voucher_code="")
        .values_list("voucher_code", "created_at")
    )
    messages = RecoveryMessage.objects.filter(journey_id=journey.pk).exclude(voucher_code="")
    if exclude_message is not None:
        messages = messages.exclude(pk=exclude_message)
    message_codes = messages.values_list("voucher_code", "created_at")
    codes = sorted([*prompt_codes, *message_codes], key=lambda row: row[1], reverse=True)
    if not codes:
        return None
    found = {
        voucher.code: voucher
        for voucher in Voucher.objects.filter(code__in={code.upper() for code, __ in codes})
    }
    for code, __ in codes:
        voucher = found.get(code.upper())
        if voucher is None or not voucher.is_active(now) or voucher.num_orders:
            continue
        if already_free and adds_nothing(voucher_kind(voucher), already_free=True):
            continue
        return voucher
    return None


def describe_voucher(voucher: Voucher, currency: str) -> str:
    """What ``voucher`` gives, in words in the active language, read from its offer (so a
    prompt's voucher and a step's read alike); "" when it is not one of ours."""
    offer = voucher.offers.select_related("benefit").first()
    benefit = offer.benefit if offer is not None else None
    incentive = _INCENTIVES.get(getattr(benefit, "type", None))
    if incentive is None or (incentive != Incentive.FREE_SHIPPING and benefit.value is None):
        return ""
    holder = CampaignStep(incentive=incentive, incentive_value=benefit.value)
    try:
        return describe_incentive(holder, currency)
    except ValidationError:
        return ""


def voucher_kind(voucher: Voucher) -> str:
    """The :class:`Incentive` a voucher of ours gives, or "" for another kind."""
    offer = voucher.offers.select_related("benefit").first()
    return _INCENTIVES.get(getattr(getattr(offer, "benefit", None), "type", None), "")


def journeys_holding_codes(journey_ids: list[int]) -> set[int]:
    """Which of ``journey_ids`` have a voucher code from a prompt or an email at all (two
    queries for a batch): the others can skip :func:`journey_voucher` altogether."""
    prompt = PromptEvent.objects.filter(
        journey_id__in=journey_ids, kind=PromptEventKind.SUBMITTED
    ).exclude(voucher_code="")
    sent = RecoveryMessage.objects.filter(journey_id__in=journey_ids).exclude(voucher_code="")
    return {
        *prompt.values_list("journey_id", flat=True),
        *sent.values_list("journey_id", flat=True),
    }


def issue_voucher(
    message: RecoveryMessage, now: datetime, *, journey_holds_codes: bool = True
) -> Voucher | None:
    """The message's voucher: chosen on first call, the same one on every retry after.

    One offer, one story: when the journey holds an unused, valid voucher (a prompt's or
    an earlier email's, see :func:`journey_voucher`), the message shows that one, whether or
    not the step has an incentive of its own, unless the step says ``new_voucher``.
    Otherwise a step with an incentive mints one, unless it would change nothing for the
    journey's basket (:func:`adds_nothing`; a held voucher that would is passed over too):
    single use, valid from ``now`` for the
    step's ``incentive_valid_for``; None for a step without incentive. The code is saved on
    the message in the same transaction, so a retried send never mints a second voucher. A
    voucher deleted by staff since is replaced. ``journey_holds_codes=False`` (a batch's
    :func:`journeys_holding_codes` said so) spares the queries when there is nothing to
    find or mint.
    """
    step = message.step
    if not (journey_holds_codes or message.voucher_code or step.incentive != Incentive.NONE):
        return None
    # What the basket held when it was left: no free-delivery code for one that ships free.
    already_free = ships_free(message.journey.total, message.journey)
    with transaction.atomic():
        # The row lock serialises two sends of one message; the saved code is the truth.
        code = (
            RecoveryMessage.objects.select_for_update()
            .filter(pk=message.pk)
            .values_list("voucher_code", flat=True)
            .get()
        )
        if code:
            voucher = Voucher.objects.filter(code=code.upper()).first()
            if voucher is not None:
                message.voucher_code = voucher.code
                return voucher
        if not step.new_voucher or step.incentive == Incentive.NONE:
            held = journey_voucher(
                message.journey, now, exclude_message=message.pk, already_free=already_free
            )
            if held is not None:
                message.voucher_code = held.code
                message.save(update_fields=["voucher_code"])
                return held
        if step.incentive == Incentive.NONE:
            return None
        if adds_nothing(step.incentive, already_free=already_free):
            return None
        # Validates the incentive: a bad one raises here, before anything is written.
        offer = ensure_offer(step, message.journey.language)
        voucher = mint_voucher(offer, step, message.journey, step.incentive_valid_for, now)
        message.voucher_code = voucher.code
        message.save(update_fields=["voucher_code"])
    return voucher


def voucher_name(shown: str, code: str) -> str:
    """A voucher's name as shoppers read it in the basket, next to its code: the offer's
    shopper-facing name, made unique (Oscar wants it so) by the code's last two groups,
    which the shopper sees anyway, never by an internal id."""
    tail = "-".join(code.split("-")[-2:])
    return f"{shown[: _NAME_MAX - len(tail) - 3]} · {tail}"


def mint_voucher(offer, holder, journey, valid_for: timedelta, now: datetime) -> Voucher:
    """A new single-use voucher for ``offer`` with a fresh code, valid from ``now`` for
    ``valid_for``; a code (or name) clash is retried with another code. Named by
    :func:`voucher_name` from the incentive's name for shoppers (of ``holder``: a step or
    a prompt) in the shopper's language."""
    shown = shopper_offer_name(holder, journey.language)
    clash = None
    for __ in range(CODE_ATTEMPTS):
        code = new_code()
        try:
            with transaction.atomic():
                voucher = Voucher.objects.create(
                    name=voucher_name(shown, code),
                    code=code,
                    usage=Voucher.SINGLE_USE,
                    start_datetime=now,
                    end_datetime=now + valid_for,
                )
        except IntegrityError as exc:
            clash = exc
            continue
        voucher.offers.add(offer)
        return voucher
    raise clash
