"""Emails to the shop's staff: an alert for each abandoned basket worth at least
``OSCAR_RECOVERY_ALERT_MIN_BASKET_VALUE``, and a weekly summary (the last 7 days against
the 7 before).

Both go to :meth:`~oscar_recovery.adapter.RecoveryAdapter.staff_alert_recipients`, in the
shop's ``LANGUAGE_CODE``. The sweep only records the alerts in the outbox (in its batch's
transaction): rendering and sending never delay or break it, and a broker that is down
only delays them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Count, Q, Sum
from django.template.loader import render_to_string
from django.urls import NoReverseMatch
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from oscar_recovery import app_settings, handoff
from oscar_recovery.adapter import get_adapter
from oscar_recovery.constants import CheckoutStep, JourneyEventKind, JourneyStatus
from oscar_recovery.models import CartJourney, RecoveryMessage
from oscar_recovery.reporting import aggregation
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

TEMPLATE_DIR = "oscar_recovery/alerts"
#: anymail tag on staff emails, so ESP reports keep them apart from recovery emails.
ALERT_TAG = "oscar-recovery-staff"


def alert_threshold() -> Decimal | None:
    value = app_settings.ALERT_MIN_BASKET_VALUE
    return None if value is None else Decimal(str(value))


def queue_abandoned_alerts(journey_ids: list[int]) -> None:
    """What the sweep's ``journeys_abandoned`` receiver calls: records the batch's alerts in
    the outbox, in the sweep's transaction, for a worker (or the sweep itself, without
    Celery) to send once it committed. Costs nothing while alerts are off."""
    if alert_threshold() is None or not journey_ids:
        return
    handoff.record("alert_abandoned", list(journey_ids))


def journeys_to_alert(journey_ids: list[int]):
    """Abandoned journeys at or above the threshold, on their first abandonment only (a
    shopper who comes back and leaves again is no news); bots and staff's own baskets are
    noise."""
    threshold = alert_threshold()
    if threshold is None:
        return CartJourney.objects.none()
    return (
        CartJourney.objects.own_baskets()
        .filter(
            pk__in=journey_ids,
            status=JourneyStatus.ABANDONED,
            total__gte=threshold,
            is_bot=False,
            is_staff=False,
        )
        .annotate(abandonments=Count("events", filter=Q(events__kind=JourneyEventKind.ABANDONED)))
        .filter(abandonments__lte=1)
        .select_related("user")
        .order_by("pk")
    )


def send_abandoned_alerts(journey_ids: list[int]) -> int:
    """One email per qualifying journey; returns how many were sent."""
    recipients = get_adapter().staff_alert_recipients()
    if not recipients:
        return 0
    sent = 0
    for journey in journeys_to_alert(journey_ids):
        try:
            _send(
                "abandoned",
                {**alert_context(journey), "threshold": alert_threshold()},
                recipients,
            )
        except Exception:
            # One bad alert (a template, the ESP) must not stop the others.
            logger.exception("Staff alert for journey %s failed", journey.pk)
            continue
        sent += 1
    return sent


def alert_context(journey: CartJourney) -> dict:
    user = journey.user if journey.user_id else None
    try:
        staff_url = get_adapter().staff_journey_url(journey)
    except NoReverseMatch:
        staff_url = ""
    return {
        "journey": journey,
        "currency": journey.currency or None,
        "lines": journey.lines or [],
        "step": CheckoutStep(journey.furthest_step).label,
        "customer_name": user.get_full_name() if user is not None else "",
        "customer_email": journey.email,
        "registered": user is not None,
        "staff_url": staff_url,
    }


def _send(kind: str, context: dict, recipients: list[str]) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string(f"{TEMPLATE_DIR}/{kind}_subject.txt", context)
        text = render_to_string(f"{TEMPLATE_DIR}/{kind}.txt", context)
        html = render_to_string(f"{TEMPLATE_DIR}/{kind}.html", context)
    email = EmailMultiAlternatives(
        subject=" ".join(subject.split()),  # one line, whatever the template's whitespace
        body=text,
        from_email=app_settings.FROM_EMAIL,
        to=recipients,
    )
    email.attach_alternative(html, "text/html")
    email.tags = [ALERT_TAG]  # anymail; ignored by other backends
    email.send()


# The weekly summary


@dataclass
class Figures:
    """What recovery did in ``[start, end)``."""

    start: datetime
    end: datetime
    abandoned: int = 0
    emails_sent: int = 0
    clicked: int = 0
    recovered_orders: int = 0
    #: Recovered revenue (attributed order totals) by currency.
    recovered_revenue: dict[str, Decimal] = field(default_factory=dict)

    @property
    def recovery_rate(self) -> float | None:
        """Recovered orders per abandoned basket, in percent (None: nothing abandoned)."""
        if not self.abandoned:
            return None
        return 100.0 * self.recovered_orders / self.abandoned

    @property
    def click_rate(self) -> float | None:
        if not self.emails_sent:
            return None
        return 100.0 * self.clicked / self.emails_sent


def period_figures(start: datetime, end: datetime) -> Figures:
    """Figures read from journeys and messages: abandoned baskets and recovered orders
    counted as the dashboard counts them (:func:`.aggregation.reporting_journeys`,
    :func:`.aggregation.order_journeys`), emails sent and clicked, each counted in the
    period its event fell in."""
    figures = Figures(start=start, end=end)
    figures.abandoned = (
        aggregation.reporting_journeys()
        .filter(abandoned_at__gte=start, abandoned_at__lt=end)
        .count()
    )
    figures.emails_sent = RecoveryMessage.objects.filter(
        sent_at__gte=start, sent_at__lt=end
    ).count()
    figures.clicked = RecoveryMessage.objects.filter(
        clicked_at__gte=start, clicked_at__lt=end
    ).count()
    recovered = (
        aggregation.order_journeys()
        .filter(status=JourneyStatus.RECOVERED, ended_at__gte=start, ended_at__lt=end)
        .values("currency")
        .annotate(orders=Count("pk"), revenue=Sum("order_total"))
        .order_by("currency")
    )
    for row in recovered:
        figures.recovered_orders += row["orders"]
        figures.recovered_revenue[row["currency"]] = row["revenue"] or Decimal("0.00")
    return figures


@dataclass
class WeeklySummary:
    current: Figures
    previous: Figures

    def rows(self) -> list[dict]:
        """The counted figures with their change, for the templates."""
        names = [
            ("abandoned", _("Abandoned baskets")),
            ("emails_sent", _("Recovery emails sent")),
            ("clicked", _("Emails clicked")),
            ("recovered_orders", _("Recovered orders")),
        ]
        return [
            {
                "label": label,
                "current": getattr(self.current, name),
                "previous": getattr(self.previous, name),
                "change": percent_change(getattr(self.current, name), getattr(self.previous, name)),
            }
            for name, label in names
        ]

    def revenue_rows(self) -> list[dict]:
        currencies = sorted(
            set(self.current.recovered_revenue) | set(self.previous.recovered_revenue)
        )
        zero = Decimal("0.00")
        return [
            {
                "currency": currency,
                "current": self.current.recovered_revenue.get(currency, zero),
                "previous": self.previous.recovered_revenue.get(currency, zero),
                "change": percent_change(
                    self.current.recovered_revenue.get(currency, zero),
                    self.previous.recovered_revenue.get(currency, zero),
                ),
            }
            for currency in currencies
        ]


def percent_change(current, previous) -> float | None:
    """Change in percent; None when there is nothing to compare with."""
    if not previous:
        return None
    return 100.0 * (float(current) - float(previous)) / float(previous)


def weekly_summary(now: datetime | None = None) -> WeeklySummary:
    """The 7 whole days before today (the shop's time zone) against the 7 before them."""
    now = timezone.localtime(now or timezone.now())
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=7)
    return WeeklySummary(
        current=period_figures(start, end),
        previous=period_figures(start - timedelta(days=7), start),
    )


def send_weekly_summary(now: datetime | None = None) -> bool:
    """Email the weekly summary to staff; False when off or nobody is there to read it."""
    if not app_settings.WEEKLY_SUMMARY_ENABLED:
        return False
    recipients = get_adapter().staff_alert_recipients()
    if not recipients:
        return False
    summary = weekly_summary(now)
    try:
        staff_url = get_adapter().staff_overview_url()
    except NoReverseMatch:
        staff_url = ""
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "summary": summary,
            "current": summary.current,
            "previous": summary.previous,
            "rows": summary.rows(),
            "revenue_rows": summary.revenue_rows(),
            "last_day": summary.current.end - timedelta(days=1),
            "staff_url": staff_url,
        }
    _send("weekly", context, recipients)
    return True
