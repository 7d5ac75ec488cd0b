from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.template.defaultfilters import floatformat
from django.utils import translation

from oscar_recovery.constants import ConsentStatus
from oscar_recovery.dashboard.formatting import format_datetime, humanize_duration
from oscar_recovery.sending.content import display_step

register = template.Library()
#: Shown for a rate without a denominator (an en dash).
NO_VALUE = "\u2013"


@register.filter
def percent(value, digits: int = 1) -> str:
    """A rate (0..1) as a percentage; a dash when there is no rate (no denominator)."""
    if value is None or value == "":
        return NO_VALUE
    return f"{floatformat(float(value) * 100, digits)} %"


@register.filter
def points(value, digits: int = 1) -> str:
    """A difference of two rates in percentage points."""
    if value is None:
        return NO_VALUE
    sign = "+" if value > 0 else ""
    return f"{sign}{floatformat(float(value) * 100, digits)} pp"


@register.filter
def duration(value: timedelta) -> str:
    """A timedelta in words ("7 days", "1 day, 12 hours"): :func:`humanize_duration`."""
    return humanize_duration(value)


@register.filter
def step_label(step) -> str:
    """A campaign step with its subject rendered in the active language."""
    return display_step(step)


@register.filter
def when(value: datetime | None) -> str:
    """A date and time as every dashboard page writes it: :func:`format_datetime`."""
    return format_datetime(value)


@register.filter
def consent_label(state) -> str:
    """A ledger state (:class:`oscar_recovery.privacy.ledger.State`) in words."""
    return str(ConsentStatus(state.status).label) if state is not None else NO_VALUE


@register.filter
def language_name(code: str) -> str:
    """A language code by its name in the active language ("German" for "de"); an unknown
    code as it is, none as a dash."""
    if not code:
        return NO_VALUE
    try:
        return str(translation.get_language_info(code)["name_translated"])
    except KeyError:
        return code
