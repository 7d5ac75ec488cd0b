"""What a restore link does: bring an abandoned basket back to the shopper, record the click.

A restore link never logs anyone in. A guest's basket goes to whoever holds the link; a
basket that belongs to an account only ever reaches that account, through Oscar's login.
The visitor's current basket is never silently replaced: when it has lines, the journey's
basket is merged into it, as Oscar merges a guest basket on login.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.core.signing import Signer
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_class, get_model

from oscar_recovery import app_settings, ratelimit
from oscar_recovery.constants import JourneyEventKind, JourneyStatus, MessageStatus
from oscar_recovery.journeys import writes as journeys
from oscar_recovery.models import CartJourney, CartJourneyEvent, RecoveryMessage
from oscar_recovery.outcomes.tracking import advance_status
from oscar_recovery.sending.tokens import InvalidLink, RestoreLink

Basket = get_model("basket", "Basket")
CheckoutSessionData = get_class("checkout.utils", "CheckoutSessionData")

# A click proves delivery, but must not hide that the address bounced or complained: those
# statuses drive suppression and the ESP reports.
_KEEPS_STATUS_ON_CLICK = (MessageStatus.BOUNCED, MessageStatus.COMPLAINED)


class Restored:
    """How :func:`restore_basket` brought the basket back (``RestoreOutcome.how``)."""

    #: The journey's basket already was the visitor's basket.
    CURRENT = "current"
    #: The visitor had no lines: the journey's basket became theirs (Oscar's basket cookie).
    ADOPTED = "adopted"
    #: The visitor had lines (or an account basket): the journey's basket was merged into it.
    MERGED = "merged"
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


def basket_url() -> str:
    return reverse("basket:summary")


def restore_basket(request: HttpRequest, link: RestoreLink) -> RestoreOutcome:
    """Bring the link's basket back to the visitor of ``request``.

    Raises :class:`InvalidLink` (used up) when the basket can no longer be restored.
    Database changes happen in one transaction: a failure leaves both baskets as they were.
    """
    journey = link.journey
    basket = journey.basket
    if (
        basket is None
        or basket.status != Basket.OPEN
        or journey.status in JourneyStatus.ended_statuses()
    ):
        raise InvalidLink(InvalidLink.USED_UP)

    user = request.user
    owner_id = basket.owner_id or journey.user_id
    if owner_id is not None:
        if not user.is_authenticated or user.pk != owner_id:
            # Never this account's basket without its login; Oscar loads it after login.
            query = urlencode({"next": basket_url()})
            return RestoreOutcome(Restored.LOGIN, f"{reverse('customer:login')}?{query}")
        if basket.owner_id == user.pk:
            return RestoreOutcome(Restored.OWNER, basket_url())
        # An account's journey on a basket without an owner: theirs, so it joins their basket.

    current = request.basket
    if current.id == basket.id:
        outcome = RestoreOutcome(Restored.CURRENT, basket_url())
    elif user.is_authenticated or (current.id and not current.is_empty):
        merge_into(current, basket)
        outcome = RestoreOutcome(Restored.MERGED, basket_url())
    else:
        outcome = RestoreOutcome(Restored.ADOPTED, basket_url(), cookie_basket_id=basket.id)

    if journey.email and not user.is_authenticated:
        prefill_guest_email(request, journey.email)
    return outcome


def merge_into(current, basket) -> None:
    """Merge ``basket`` into the visitor's ``current`` basket, as Oscar does on login, and
    let the journeys follow (the journey behind ``current`` continues, with the link's
    journey merged into it)."""
    with transaction.atomic():
        # Like Oscar's login merge: a product in both baskets keeps the larger quantity
        # rather than doubling, which the shopper never asked for.
        current.merge(basket, add_quantities=False)
        if app_settings.CAPTURE_ENABLED:
            # Capture notices most merges through Basket signals, but not all (its guess at
            # the master basket fails when the last moved line was a duplicate);
            # merge_baskets is idempotent, so calling it here makes sure.
            journeys.merge_baskets(basket.id, current)


def prefill_guest_email(request: HttpRequest, email: str) -> None:
    """Where Oscar's checkout gateway looks for the guest's email. An email the visitor
    already gave in this browser wins."""
    checkout_session = CheckoutSessionData(request)
    if not checkout_session.get_guest_email():
        checkout_session.set_guest_email(email)


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
    message_id: int | None, journey: CartJourney, now: datetime | None = None
) -> RecoveryMessage | None:
    """Record a shopper's click on a restore link: on the message (first click time, status
    moved forward, never back) when the link names one of this journey's messages, and
    on the journey's timeline. Returns the message, if any."""
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
            data={"message": message.pk if message else None},
        )
    return message


def throttle(address: str, now: float | None = None) -> int | None:
    """Count one restore request from ``address``. Returns the seconds to wait when it is
    over ``OSCAR_RECOVERY_RESTORE_RATE_LIMIT``, else None (see :mod:`.ratelimit`)."""
    return ratelimit.hit("restore", address, app_settings.RESTORE_RATE_LIMIT, now)
