"""Whether a due recovery message may still go out. Asked right before every send, because
everything can change between scheduling and sending: an order, an unsubscribe, a newer
basket, another campaign's email."""

from __future__ import annotations

from django.db.models import Q
from oscar.core.loading import get_model

from oscar_recovery import app_settings
from oscar_recovery.constants import (
    CampaignTrigger,
    EnrolmentStatus,
    JourneyStatus,
    MessageStatus,
    SkipReason,
)
from oscar_recovery.models import CartJourney, RecoveryMessage, email_matches
from oscar_recovery.privacy.consent import why_not_contact
from oscar_recovery.privacy.suppression import is_suppressed

Order = get_model("order", "Order")

SENT_STATUSES = (
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.OPENED,
    MessageStatus.CLICKED,
)


def why_not_send(message: RecoveryMessage, now) -> SkipReason | None:
    """The first reason this message must not be sent, or None when it may go out.

    Cheap checks come first; each database check is one indexed query.
    """
    journey = message.journey
    if journey.is_ended:
        return SkipReason.JOURNEY_ENDED
    enrolment = getattr(journey, "enrolment", None)
    # A completed enrolment has dispatched its last step, which may still be going out.
    if enrolment is not None and enrolment.status in (
        EnrolmentStatus.STOPPED,
        EnrolmentStatus.PAUSED,
    ):
        return SkipReason.ENROLMENT_STOPPED
    contact = journey.why_not_contactable()
    if contact is not None:
        return contact
    if message.step.campaign.trigger == CampaignTrigger.BROWSE_ABANDONED:
        if journey.num_items:
            return SkipReason.BASKET_STARTED
        if not journey.num_viewed:
            return SkipReason.NOTHING_VIEWED
    elif journey.num_items == 0:
        return SkipReason.BASKET_EMPTY
    if order_placed_since(journey):
        return SkipReason.ORDER_PLACED
    if is_suppressed(journey.email):
        return SkipReason.SUPPRESSED
    lawful = why_not_contact(journey)
    if lawful is not None:
        return lawful
    if newer_journey_exists(journey):
        return SkipReason.NEWER_JOURNEY
    if recently_emailed(journey.email, now, exclude=message.pk):
        return SkipReason.COOLDOWN
    return None


def order_placed_since(journey: CartJourney) -> bool:
    """Any order for this basket, this address or this user since the journey began."""
    who = email_matches(journey.email, "guest_email", "user__email")
    if journey.basket_id:
        who |= Q(basket_id=journey.basket_id)
    if journey.user_id:
        who |= Q(user_id=journey.user_id)
    return Order.objects.filter(who, date_placed__gte=journey.created_at).exists()


def newer_journey_exists(journey: CartJourney) -> bool:
    """Only the newest journey per shopper is pursued: a newer journey with the address
    counts only when it is the same shopper's, by the same account or the same browser
    (visitor id). Anyone can type an address into their own basket; were any newer journey
    of the address to count, a stranger could silence the owner's own reminder (#12). Nor
    does a confirmed address make it the same shopper: the owner may confirm the link a
    stranger's basket triggered. Two journeys of one address from unrelated browsers are
    both pursued; ``ADDRESS_COOLDOWN`` still keeps the address to one email per window."""
    same_shopper = Q()
    if journey.user_id:
        same_shopper |= Q(user_id=journey.user_id)
    if journey.visitor_id:
        same_shopper |= Q(visitor_id=journey.visitor_id)
    if not same_shopper:
        return False
    return (
        CartJourney.objects.for_email(journey.email)
        .filter(same_shopper, created_at__gt=journey.created_at, num_items__gt=0)
        .exclude(pk=journey.pk)
        .exclude(status=JourneyStatus.MERGED)
        .exists()
    )


def recently_emailed(email: str, now, *, exclude: int | None = None) -> bool:
    since = now - app_settings.ADDRESS_COOLDOWN
    return (
        RecoveryMessage.objects.for_email(email)
        .filter(status__in=SENT_STATUSES, sent_at__gte=since)
        .exclude(pk=exclude)
        .exists()
    )
