"""Whether recovery may still email a journey's address, as the dashboard shows it.

An unsubscribe, a hard bounce or a spam complaint only puts the address's keyed hash on the
suppression list (:mod:`oscar_recovery.privacy.suppression`); an enrolment only notices when
its next step falls due. The dashboard reads the list for the journeys it shows instead, so
an unsubscribe shows at once and says which it was. One query per page of journeys (their
addresses hashed here), whatever the page's length.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import SkipReason, SuppressionReason
from oscar_recovery.dashboard.formatting import format_datetime
from oscar_recovery.models import SuppressedAddress
from oscar_recovery.privacy.suppression import all_hashes, normalise_email

#: Why no more emails go to the address, as the end of "Stopped: …".
_BECAUSE = {
    SuppressionReason.UNSUBSCRIBED: _("the address unsubscribed"),
    SuppressionReason.BOUNCED: _("emails to the address bounced"),
    SuppressionReason.COMPLAINED: _("the address reported an email as spam"),
    SuppressionReason.ERASED: _("the address's data was erased on request"),
    SuppressionReason.STAFF: _("staff stopped emails to the address"),
    SuppressionReason.DECLINED: _("the shopper said no thanks to reminders"),
}


@dataclass(frozen=True)
class NoMoreEmails:
    """The address is on the suppression list: why, and since when."""

    reason: str
    since: datetime

    @property
    def label(self) -> str:
        """The reason's short label ("Unsubscribed", "Hard bounce", "Spam complaint")."""
        if self.reason in SuppressionReason.values:
            return str(SuppressionReason(self.reason).label)
        return self.reason

    @property
    def because(self) -> str:
        """The end of "Stopped: …": "the address unsubscribed"."""
        return str(_BECAUSE.get(self.reason, self.label))

    @property
    def sentence(self) -> str:
        """What the basket page says about it, with the date."""
        return str(
            _("No more recovery emails: %(because)s (%(when)s).")
            % {"because": self.because, "when": format_datetime(self.since)}
        )


def no_more_emails(emails: Iterable[str]) -> dict[str, NoMoreEmails]:
    """The suppressed addresses among ``emails``, by their normalised form, in one query
    (every key's hash, as the send-time check looks them up)."""
    by_hash: dict[str, str] = {}
    for email in {normalise_email(e) for e in emails if e}:
        for hashed in all_hashes(email):
            by_hash[hashed] = email
    if not by_hash:
        return {}
    found: dict[str, NoMoreEmails] = {}
    for row in SuppressedAddress.objects.filter(email_hash__in=list(by_hash)).order_by(
        "created_at"
    ):
        found.setdefault(by_hash[row.email_hash], NoMoreEmails(row.reason, row.created_at))
    return found


def attach(journeys: Iterable) -> list:
    """Set ``journey.no_more_emails`` (a :class:`NoMoreEmails`, or None) on each journey;
    returns them as a list."""
    journeys = list(journeys)
    found = no_more_emails(journey.email for journey in journeys)
    for journey in journeys:
        journey.no_more_emails = found.get(normalise_email(journey.email or ""))
    return journeys


def stop_reason_for(reason: str, no_more: NoMoreEmails | None) -> str | None:
    """The end of "Stopped: …" for a suppressed address, saying which suppression it was;
    None when ``reason`` is another one (or the list no longer has the address)."""
    if reason == SkipReason.SUPPRESSED and no_more is not None:
        return no_more.because
    return None
