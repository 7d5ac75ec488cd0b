"""A journey's history in one list, for the basket detail page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import (
    CheckoutStep,
    ConsentSource,
    EmailSource,
    JourneyEventKind,
    LawfulBasis,
    MessageStatus,
    SkipReason,
    SuppressionReason,
)
from oscar_recovery.dashboard.contact_state import NoMoreEmails, stop_reason_for
from oscar_recovery.models import CartJourney, CartJourneyEvent, PromptEvent, RecoveryMessage
from oscar_recovery.sending.content import display_subject


@dataclass(frozen=True)
class Entry:
    at: datetime
    #: "journey", "email", "tracking", "click", "prompt", "contact" or "order": the page
    #: styles by it.
    kind: str
    title: str
    detail: str = ""


#: How a consent source reads in "Consent given at checkout (soft opt-in)".
_CONSENT_WHERE = {
    ConsentSource.CHECKOUT: _("at checkout"),
    ConsentSource.PROMPT: _("in an on-site prompt"),
    ConsentSource.ACCOUNT: _("in the customer account"),
    ConsentSource.STAFF: _("as recorded by staff"),
    ConsentSource.CONFIRMED: _("by confirming the email"),
    ConsentSource.OTHER: _("elsewhere"),
}
#: How a lawful basis reads in brackets after the consent sentence.
_BASIS_SHORT = {
    LawfulBasis.SOFT_OPT_IN: _("soft opt-in"),
    LawfulBasis.CONSENT: _("prior consent"),
    LawfulBasis.US_CANSPAM: _("CAN-SPAM"),
}
#: Why an enrolment stopped, as the end of "Stopped: …"; skip reasons read as their label.
_STOP_REASONS = {
    "order_placed": _("an order was placed"),
    "staff": _("stopped by staff"),
}


def stop_reason_text(reason: str, no_more: NoMoreEmails | None = None) -> str:
    """The end of the sentence "Stopped: …" for an enrolment's ``stop_reason``: a known
    reason in words (an order, staff, or the skip reason that ended it), else as stored. A
    suppressed address says which suppression it was when ``no_more`` tells
    (:mod:`.contact_state`): "the address unsubscribed", not "unsubscribed, bounced or
    complained"."""
    specific = stop_reason_for(reason, no_more)
    if specific:
        return specific
    if reason in _STOP_REASONS:
        return str(_STOP_REASONS[reason])
    if reason in SkipReason.values:
        label = str(SkipReason(reason).label)
        return label[:1].lower() + label[1:]
    return reason


def tracking_event_label(event_type: str) -> str:
    """An ESP tracking event's type (anymail's) in words where the app has them ("Bounced",
    "Delivered"), else as the ESP named it."""
    if event_type in MessageStatus.values:
        return str(MessageStatus(event_type).label)
    if event_type == SuppressionReason.UNSUBSCRIBED:
        return str(SuppressionReason.UNSUBSCRIBED.label)
    return event_type


def describe_event(event: CartJourneyEvent) -> tuple[str, str]:
    """A journey event as a sentence (title) and a detail line, from its kind and data."""
    data = event.data or {}
    kind = event.kind
    if kind == JourneyEventKind.CONSENT_RECORDED:
        where = _CONSENT_WHERE.get(data.get("source"), "")
        basis = _BASIS_SHORT.get(data.get("basis"), data.get("basis", ""))
        if data.get("given"):
            title = _("Consent given %(where)s (%(basis)s)")
        else:
            title = _("Reminders refused %(where)s (%(basis)s)")
        return " ".join(str(title % {"where": where, "basis": basis}).split()), ""
    if kind == JourneyEventKind.EMAIL_CAPTURED:
        source = data.get("source", "")
        label = EmailSource(source).label if source in EmailSource.values else source
        return str(_("Email address known (%(source)s)") % {"source": label}), ""
    if kind == JourneyEventKind.ORDER_PLACED and data.get("order_number"):
        return str(_("Order %(number)s placed") % {"number": data["order_number"]}), ""
    if kind == JourneyEventKind.MERGED_IN and data.get("journey"):
        return str(_("Guest basket #%(journey)s merged in") % {"journey": data["journey"]}), ""
    if kind == JourneyEventKind.MOVED_ON_LOGIN:
        return str(_("The shopper logged in and continued with this basket")), ""
    return str(event.get_kind_display()), ""


def _message_sentence(
    message: RecoveryMessage, label: str, no_more: NoMoreEmails | None
) -> tuple[str, str]:
    """(title, detail) of a message's entry: "… not sent: <reason>" for a skipped one,
    "… scheduled" with its status (and any error) otherwise."""
    if message.status == MessageStatus.SKIPPED:
        reason = stop_reason_text(message.skip_reason, no_more) if message.skip_reason else ""
        if reason:
            return str(_("%(email)s not sent: %(reason)s") % {"email": label, "reason": reason}), ""
        return str(_("%(email)s not sent") % {"email": label}), ""
    detail = str(_("Status: %(status)s") % {"status": message.get_status_display()})
    if message.error:
        detail = f"{detail} ({message.error})"
    return str(_("%(email)s scheduled") % {"email": label}), detail


def journey_timeline(
    journey: CartJourney, language: str | None = None, no_more: NoMoreEmails | None = None
) -> list[Entry]:
    """Every dated thing that happened to the journey, oldest first, as sentences in the
    active language; email subjects are rendered (:func:`display_subject`) in ``language``
    (the active one by default), never shown as template source. ``no_more``: the address
    is on the suppression list (:mod:`.contact_state`), an entry of its own."""
    language = language or translation.get_language()
    entries = [Entry(journey.created_at, "journey", str(_("Basket created")))]
    if no_more is not None:
        entries.append(
            Entry(no_more.since, "contact", str(_("No more recovery emails")), no_more.because)
        )
    if journey.restored_from_id:
        entries.append(
            Entry(
                journey.created_at,
                "journey",
                str(
                    _("A restore link of basket #%(journey)s opened in another browser")
                    % {"journey": journey.restored_from_id}
                ),
                str(_("The same abandoned basket: not emailed, not counted again.")),
            )
        )
    for step in CheckoutStep:
        reached = journey.step_reached_at(step)
        if reached and step != CheckoutStep.BASKET:
            entries.append(
                Entry(reached, "journey", str(_("Reached: %(step)s") % {"step": step.label}))
            )
    events = list(journey.events.all())
    if journey.email_captured_at and not any(
        event.kind == JourneyEventKind.EMAIL_CAPTURED for event in events
    ):
        entries.append(
            Entry(
                journey.email_captured_at,
                "journey",
                str(
                    _("Email address known (%(source)s)")
                    % {"source": journey.get_email_source_display()}
                ),
            )
        )
    for event in events:
        if event.kind == JourneyEventKind.ORDER_PLACED and journey.order_id:
            continue  # the order's own entry below says it, with the order's time
        title, detail = describe_event(event)
        entries.append(Entry(event.created_at, "journey", title, detail))
    for message in journey.messages.all():
        label = str(
            _("Email %(position)s “%(subject)s”")
            % {
                "position": message.step.position,
                "subject": display_subject(message.step, language, message.variant),
            }
        )
        if message.variant_id:
            label = f"{label} [{message.variant.label}]"
        entries.append(
            Entry(message.created_at, "email", *_message_sentence(message, label, no_more))
        )
        for field, title, kind in (
            ("sent_at", _("Email sent"), "email"),
            ("delivered_at", _("Email delivered"), "email"),
            ("opened_at", _("Email opened"), "email"),
            ("clicked_at", _("Email link clicked"), "click"),
        ):
            when = getattr(message, field)
            if when:
                entries.append(Entry(when, kind, str(title), label))
        for event in message.tracking_events.all():
            entries.append(
                Entry(
                    event.occurred_at,
                    "tracking",
                    str(
                        _("The email service reported: %(event)s")
                        % {"event": tracking_event_label(event.event_type)}
                    ),
                    f"{label} ({event.esp_name})" if event.esp_name else label,
                )
            )
    entries.extend(prompt_timeline(journey))
    if journey.order_id:
        order = journey.order
        entries.append(
            Entry(
                order.date_placed,
                "order",
                str(_("Order %(number)s placed") % {"number": order.number}),
                journey.get_status_display(),
            )
        )
    entries.sort(key=lambda entry: entry.at)
    return entries


def prompt_timeline(journey: CartJourney) -> list[Entry]:
    """The journey's on-site prompt events: those tied to it (email captured, offer used,
    converted) and those its browser saw while the journey lasted (shown, dismissed)."""
    same_browser = Q()
    if journey.visitor_id:
        same_browser = Q(
            visitor_id=journey.visitor_id,
            created_at__gte=journey.created_at,
            created_at__lte=journey.ended_at or timezone.now(),
        )
    events = PromptEvent.objects.filter(Q(journey=journey) | same_browser).select_related("prompt")
    return [
        Entry(
            event.created_at,
            "prompt",
            f"{event.prompt.name}: {event.get_kind_display()}",
            str(_("variant %s") % event.variant),
        )
        for event in events.order_by("created_at", "pk")
    ]
