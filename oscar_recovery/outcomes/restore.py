"""What a restore link does: bring an abandoned basket back to the shopper, record the click.

A restore link is a bearer token that anyone can forward, and any page can make a browser
open it (the shop's cookies go along). So opening one never moves state between browsers:

- it never logs anyone in: a basket that belongs to an account only ever reaches that
  account, through Oscar's login;
- it never makes two browsers share a basket: the link's lines are *copied* into the
  opener's own basket (created if they have none), which keeps what it had; the link's
  basket and journey stay as they were, so the link keeps working. A journey the copy
  starts is linked to the link's (``CartJourney.restored_from``): the same abandoned
  basket, never enrolled nor counted again;
- it never changes whose address a journey has: the opener's journey keeps its address
  (or its lack of one), and the link's journey keeps the sender's;
- it applies the journey's unused voucher (:func:`apply_voucher`) only to the opener's own
  basket, and only through Oscar's own checks: whoever holds the link could read the same
  code in the email, and a single-use code still pays for one order only;
- it never puts an address into checkout: Oscar's checkout session is left alone (a guest
  email there lets checkout skip the gateway, so the order would go out in the sender's
  name unseen). The link's address is only *suggested* (:func:`suggested_email`) for a shop
  that wants to pre-fill the visible gateway field, where the shopper sees and confirms it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.signing import Signer
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from oscar.core.loading import get_class, get_model

from oscar_recovery import app_settings, ratelimit
from oscar_recovery.capture import scope as capture
from oscar_recovery.constants import JourneyEventKind, MessageStatus
from oscar_recovery.contacts.addresses import display_email
from oscar_recovery.models import CartJourney, CartJourneyEvent, RecoveryMessage
from oscar_recovery.outcomes.tracking import advance_status
from oscar_recovery.sending.tokens import InvalidLink, RestoreLink
from oscar_recovery.sending.vouchers import journey_voucher
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

Basket = get_model("basket", "Basket")
Applicator = get_class("offer.applicator", "Applicator")

#: Session key of the address a restore link suggests for the checkout gateway.
SUGGESTED_EMAIL_KEY = "oscar_recovery_suggested_email"

# A click proves delivery, but must not hide that the address bounced or complained: those
# statuses drive suppression and the ESP reports.
_KEEPS_STATUS_ON_CLICK = (MessageStatus.BOUNCED, MessageStatus.COMPLAINED)


class Restored:
    """How :func:`restore_basket` brought the basket back (``RestoreOutcome.how``)."""

    #: The journey's basket already was the visitor's basket.
    CURRENT = "current"
    #: The journey's lines were copied into the visitor's own basket (new if they had none).
    COPIED = "copied"
    #: The basket belongs to the logged-in visitor; Oscar loads it for them.
    OWNER = "owner"
    #: The basket belongs to an account the visitor is not logged in as: login first.
    LOGIN = "login"


@dataclass(frozen=True)
class RestoreOutcome:
    how: str
    #: Where to send the shopper: a clean URL, never one with the token.
    redirect_to: str
    #: Open basket the visitor's basket cookie must name from now on, if any.
    cookie_basket_id: int | None = None
    #: The visitor's basket the link's lines were copied into, if any.
    copied_to: int | None = None
    #: The journey's voucher code now applied to the visitor's basket, if any.
    voucher_code: str | None = None


def basket_url() -> str:
    return reverse("basket:summary")


def restore_basket(request: HttpRequest, link: RestoreLink) -> RestoreOutcome:
    """Bring the link's basket back to the visitor of ``request``: its lines copied into
    the visitor's own basket (see the module docstring for what never happens).

    Raises :class:`InvalidLink` (used up) when the basket can no longer be restored.
    Database changes happen in one transaction: a failure leaves both baskets as they were.
    """
    journey = link.journey
    basket = journey.basket
    if basket is None or basket.status != Basket.OPEN or journey.is_ended:
        raise InvalidLink(InvalidLink.USED_UP)

    user = request.user
    owner_id = basket.owner_id or journey.user_id
    if owner_id is not None:
        if not user.is_authenticated or user.pk != owner_id:
            # Never this account's basket without its login; Oscar loads it after login.
            query = urlencode({"next": basket_url()})
            return RestoreOutcome(Restored.LOGIN, f"{reverse('customer:login')}?{query}")
        if basket.owner_id == user.pk:
            code = None
            if request.basket.id == basket.id:  # the middleware loaded it: same lines
                code = apply_voucher(request, request.basket, journey)
            return RestoreOutcome(Restored.OWNER, basket_url(), voucher_code=code)
        # An account's journey on a basket without an owner: theirs, so it joins their basket.

    current = request.basket
    if current.id == basket.id:
        code = apply_voucher(request, current, journey)
        return RestoreOutcome(Restored.CURRENT, basket_url(), voucher_code=code)
    created = current.id is None
    copy_lines(basket, current)
    # A journey this copy starts is the link's abandoned basket again, not a new one.
    capture.lines_restored(current, journey.pk)
    code = apply_voucher(request, current, journey)
    if journey.email and not user.is_authenticated:
        suggest_email(request, display_email(journey.email))  # as people read it
    # A guest's new basket needs Oscar's basket cookie; an account's basket is found by owner.
    cookie = current.id if created and not user.is_authenticated else None
    return RestoreOutcome(
        Restored.COPIED,
        basket_url(),
        cookie_basket_id=cookie,
        copied_to=current.id,
        voucher_code=code,
    )


def apply_voucher(request: HttpRequest, basket, journey: CartJourney) -> str | None:
    """Apply the journey's unused, valid voucher (see
    :func:`~oscar_recovery.sending.vouchers.journey_voucher`) to the visitor's ``basket``
    as Oscar's ``VoucherAddView`` does: only if active, available to this visitor (a
    single-use code already used is not) and giving a discount on this basket; otherwise
    the basket is left as it was. Returns the code applied (or already there), else None.
    Never raises: a voucher is a bonus, the basket is what the shopper came for."""
    try:
        with transaction.atomic():
            return _apply_voucher(request, basket, journey)
    except Exception:
        logger.exception("oscar_recovery: applying the journey's voucher failed")
        return None


def _apply_voucher(request: HttpRequest, basket, journey: CartJourney) -> str | None:
    voucher = journey_voucher(journey, timezone.now())
    if voucher is None or basket.id is None:
        return None
    if basket.contains_voucher(voucher.code):
        return voucher.code
    available, __ = voucher.is_available_to_user(user=request.user)
    if not voucher.is_active() or not available:
        return None
    # No ``voucher_addition`` signal: its receivers expect Oscar's view as sender; the
    # capture notices the change through the vouchers relation itself.
    basket.vouchers.add(voucher)
    Applicator().apply(basket, request.user, request)
    if not any(
        discount["voucher"] and discount["voucher"] == voucher
        for discount in basket.offer_applications
    ):
        basket.vouchers.remove(voucher)
        return None
    return voucher.code


def journey_language(journey: CartJourney) -> str | None:
    """The journey's language if the shop offers it, else None (leave the visitor's)."""
    language = journey.language
    if language and language in {code for code, __ in settings.LANGUAGES}:
        return language
    return None


def welcome_back(request: HttpRequest, outcome: RestoreOutcome) -> None:
    """Tell the shopper on the basket page what the link did, in the active language (the
    view activates the journey's): "Your basket is back; code X applied." Nothing when
    they are sent to log in first."""
    if outcome.how == Restored.LOGIN:
        return
    if outcome.voucher_code:
        text = gettext("Your basket is back; code %(code)s applied.") % {
            "code": outcome.voucher_code
        }
    else:
        text = gettext("Your basket is back.")
    messages.success(request, text, fail_silently=True)


def set_language_cookie(response: HttpResponse, language: str | None) -> None:
    """Bring back the shopper's language: Django's language cookie, as ``set_language``
    writes it, so every later page (not only the one redirected to) speaks it."""
    if not language:
        return
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def copy_lines(source, target) -> int:
    """Copy ``source``'s lines into the visitor's basket ``target`` (saved first if new),
    in one transaction. A product already in ``target`` keeps the larger quantity rather
    than doubling, as Oscar's login merge does; a product no longer for sale is left out.
    ``source`` is not changed. Returns the number of lines added or raised."""
    copied = 0
    with transaction.atomic():
        if target.id is None:
            target.save()
        for line in source.all_lines():
            options = [
                {"option": attribute.option, "value": attribute.value}
                for attribute in line.attributes.all()
            ]
            have = target.line_quantity(line.product, line.stockrecord, options)
            if line.quantity <= have:
                continue
            try:
                target.add_product(line.product, line.quantity - have, options)
            except ValueError:  # no price or stock record any more: nothing to buy
                logger.info("oscar_recovery: product %s not restored", line.product_id)
                continue
            copied += 1
    return copied


def suggest_email(request: HttpRequest, email: str) -> None:
    """Remember the link's address for :func:`suggested_email`. Never written into Oscar's
    checkout session (see the module docstring)."""
    request.session[SUGGESTED_EMAIL_KEY] = email


def suggested_email(request: HttpRequest) -> str:
    """The address a restore link opened in this browser suggests for the visible email
    field of the checkout gateway, or "". A shop that wants the field pre-filled passes it
    as the gateway form's ``initial`` in its own ``checkout.views.IndexView``; the shopper
    then sees it and confirms it by submitting."""
    return str(request.session.get(SUGGESTED_EMAIL_KEY, ""))


def set_basket_cookie(request: HttpRequest, response: HttpResponse, basket_id: int) -> None:
    """Make ``basket_id`` the visitor's open basket, written the way Oscar's
    ``BasketMiddleware`` writes its basket cookie."""
    key = settings.OSCAR_BASKET_COOKIE_OPEN
    # A stale basket cookie is deleted by the middleware after this view; that would
    # delete the new one too.
    cookies_to_delete = getattr(request, "cookies_to_delete", [])
    while key in cookies_to_delete:
        cookies_to_delete.remove(key)
    response.set_cookie(
        key,
        Signer().sign(basket_id),
        max_age=settings.OSCAR_BASKET_COOKIE_LIFETIME,
        secure=settings.OSCAR_BASKET_COOKIE_SECURE,
        httponly=True,
    )


def record_click(
    message_id: int | None,
    journey: CartJourney,
    now: datetime | None = None,
    *,
    copied_to: int | None = None,
) -> RecoveryMessage | None:
    """Record a shopper's click on a restore link: on the message (first click time, status
    moved forward, never back) when the link names one of this journey's messages, and
    on the journey's timeline, with the basket the lines were ``copied_to`` (an order of
    that basket by the same address then ends this journey, crediting the click). Returns
    the message, if any."""
    now = now or timezone.now()
    with transaction.atomic():
        message = None
        if message_id is not None:
            message = RecoveryMessage.objects.filter(pk=message_id, journey=journey).first()
        if message is not None:
            if message.status in _KEEPS_STATUS_ON_CLICK:
                RecoveryMessage.objects.filter(pk=message.pk, clicked_at__isnull=True).update(
                    clicked_at=now
                )
            else:
                advance_status(message, MessageStatus.CLICKED, now)
        CartJourneyEvent.objects.create(
            journey=journey,
            kind=JourneyEventKind.RESTORED,
            created_at=now,
            data={
                "message": message.pk if message else None,
                **({"copied_to": copied_to} if copied_to else {}),
            },
        )
    return message


def throttle_invalid(request: HttpRequest, now: float | None = None) -> int | None:
    """Count one request with a link that could not be honoured from the client of
    ``request``. Returns the seconds to wait when it is over
    ``OSCAR_RECOVERY_RESTORE_RATE_LIMIT``, else None (see :mod:`.ratelimit`).

    Only failures count per client: behind a shared proxy or NAT, junk sent by one client
    must never make genuine links answer 429 for everyone else."""
    return ratelimit.hit_client("restore-invalid", request, app_settings.RESTORE_RATE_LIMIT, now)


def throttle_link(link: RestoreLink, now: float | None = None) -> int | None:
    """Count one request with a valid link, per link's journey: whoever hammers a link
    (each fresh browser gets a copy of the basket) exhausts that link's budget only."""
    return ratelimit.hit(
        "restore", f"journey-{link.journey.pk}", app_settings.RESTORE_RATE_LIMIT, now
    )
