"""A journey's history in one list, for the basket detail page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import CheckoutStep
from oscar_recovery.models import CartJourney, PromptEvent


@dataclass(frozen=True)
class Entry:
    at: datetime
    #: "journey", "email", "tracking", "click", "prompt" or "order": the page styles by it.
    kind: str
    title: str
    detail: str = ""


def journey_timeline(journey: CartJourney) -> list[Entry]:
    entries = [Entry(journey.created_at, "journey", str(_("Basket created")))]
    for step in CheckoutStep:
        reached = journey.step_reached_at(step)
        if reached and step != CheckoutStep.BASKET:
            entries.append(Entry(reached, "journey", str(_("Reached: %s") % step.label)))
    if journey.email_captured_at:
        entries.append(
            Entry(
                journey.email_captured_at,
                "journey",
                str(_("Email known")),
                journey.get_email_source_display(),
            )
        )
    for event in journey.events.all():
        detail = ", ".join(f"{key}: {value}" for key, value in sorted(event.data.items()))
        entries.append(Entry(event.created_at, "journey", event.get_kind_display(), detail))
    for message in journey.messages.all():
        label = str(message.step)
        if message.variant_id:
            label = f"{label} [{message.variant.label}]"
        entries.append(
            Entry(
                message.created_at,
                "email",
                str(_("Email scheduled")),
                f"{label}: {message.get_status_display()}"
                + (f" ({message.skip_reason})" if message.skip_reason else "")
                + (f" - {message.error}" if message.error else ""),
            )
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
                    str(_("ESP event: %s") % event.event_type),
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
                str(_("Order %s placed") % order.number),
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
