"""How the dashboard and the admin write dates and durations for people: one function each,
so every page, table and timeline says them the same way, in the owner's language."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import formats, timezone
from django.utils.translation import ngettext


def format_datetime(value: datetime | date | None) -> str:
    """``value`` in the active language's ``DATETIME_FORMAT`` (a date alone in its
    ``DATE_FORMAT``), in the shop's time zone; "" for None.

    Some formats end in a full stop ("3:04 p.m."), so text around the value never puts one
    right after it: a date stands at the end of a line, in brackets or before a colon.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return formats.date_format(value, "DATETIME_FORMAT")
    return formats.date_format(value, "DATE_FORMAT")


def humanize_duration(value: timedelta | None) -> str:
    """A duration in words, its two largest whole units: "1 hour", "7 days", "1 day,
    12 hours", "45 minutes". Weeks are not used: a delay set as 7 days reads "7 days".
    Shorter than a minute (or negative) reads "0 minutes"; None reads ""."""
    if value is None:
        return ""
    minutes_total = max(int(value.total_seconds() // 60), 0)
    days, rest = divmod(minutes_total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(count)d day", "%(count)d days", days) % {"count": days})
    if hours:
        parts.append(ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours})
    if minutes or not parts:
        parts.append(
            ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
        )
    return ", ".join(parts[:2])
