"""Advertising consent: the separate, recorded "yes, you may show me ads based on my
address" that an audience needs before anyone is in it.

The consent lives in the consent ledger (:mod:`oscar_recovery.privacy.ledger`) on its own
channel, :attr:`~oscar_recovery.constants.Channel.ADS`, keyed by the canonical address it
was given with, recorded with the exact words shown and their language. It is given only
by ticking an unticked box (the ``{% recovery_ads_consent_field %}`` tag of
``recovery_consent`` renders it; :func:`decision_from_form` reads it) or by staff, and
withdrawn from the page
:func:`oscar_recovery.audiences.views.ads_consent` or by staff in the admin.

The state of an address on the ads channel is the ledger's own (:func:`ledger.fold`):
granted when a consent stands and no later withdrawal or final event (unsubscribed, erased,
...) overrides it. :func:`granted_for` is the same rule as a SQL condition, so the sync
evaluates it for a million contacts at once; tests hold the two to the same answers.
Beyond its own ledger, an audience also leaves out addresses whose *email* was suppressed
(an unsubscribe, bounce, complaint or erasure is honoured everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.db.models.expressions import Expression
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from oscar_recovery import app_settings
from oscar_recovery.constants import Channel, ConsentAction, ConsentSource, ConsentStatus
from oscar_recovery.contacts.addresses import safe_canonical_email
from oscar_recovery.models import ConsentEvent
from oscar_recovery.privacy import ledger
from oscar_recovery.privacy.ledger import VERIFIED_SOURCES

#: Form field names of the ads consent box and its signed notice.
CHOICE_FIELD = "recovery_ads_consent"
NOTICE_FIELD = "recovery_ads_consent_notice"
YES = "yes"
_SALT = "oscar_recovery.ads_consent_notice"
_MAX_AGE = 24 * 3600

DEFAULT_TEXT = _(
    "Yes, you may use a scrambled (hashed) copy of my email address to show me relevant ads "
    "on Google and Meta. I can withdraw this at any time."
)


def notice_text() -> str:
    """The words of the ads consent box, in the active language (the owner's own
    ``OSCAR_RECOVERY_ADS_CONSENT_TEXT`` if set)."""
    return str(app_settings.ADS_CONSENT_TEXT or DEFAULT_TEXT)


@dataclass(frozen=True)
class Decision:
    """What a submitted ads consent box says: the words shown, their language, the answer."""

    text: str
    language: str
    given: bool


def signed_notice(text: str | None = None) -> str:
    """An opaque form value proving, on submit, which words were shown in which language."""
    return signing.dumps(
        {"t": text if text is not None else notice_text(), "l": get_language() or ""},
        salt=_SALT,
        compress=True,
    )


def decision_from_form(data: Any) -> Decision | None:
    """The ads decision a submitted form carries, or None when the form did not show our box
    (or its notice was tampered with or is stale). Only a ticked box is a consent."""
    try:
        payload = signing.loads(data.get(NOTICE_FIELD) or "", salt=_SALT, max_age=_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("t"), str):
        return None
    return Decision(
        text=payload["t"], language=str(payload.get("l") or ""), given=data.get(CHOICE_FIELD) == YES
    )


def record(
    email: str,
    decision: Decision,
    *,
    source: str = ConsentSource.CHECKOUT,
    contact_id: int | None = None,
    evidence: dict | None = None,
) -> ConsentEvent | None:
    """Record a ticked box as an ads consent of ``email`` (canonical or not). An unticked box
    records nothing: it is no consent, and not a withdrawal either."""
    address = safe_canonical_email(email)
    if not address or not decision.given:
        return None
    return ledger.record(
        Channel.ADS,
        address,
        ConsentAction.GIVEN,
        source=source,
        contact_id=contact_id,
        wording=decision.text,
        language=decision.language,
        evidence=evidence,
    )


def withdraw(
    email: str,
    *,
    source: str = ConsentSource.ACCOUNT,
    contact_id: int | None = None,
    evidence: dict | None = None,
) -> ConsentEvent | None:
    """Withdraw the ads consent of ``email``; the next sync removes the person from every
    audience. Returns the event, or None for no valid address."""
    address = safe_canonical_email(email)
    if not address:
        return None
    return ledger.record(
        Channel.ADS,
        address,
        ConsentAction.WITHDRAWN,
        source=source,
        contact_id=contact_id,
        language=get_language() or "",
        evidence=evidence,
        at=timezone.now(),
    )


def state(email: str) -> ledger.State:
    """The ads consent of ``email`` as the ledger folds it."""
    return ledger.state(Channel.ADS, safe_canonical_email(email))


def is_granted(email: str) -> bool:
    """Whether ``email`` holds a standing ads consent."""
    return state(email).status in (ConsentStatus.GIVEN, ConsentStatus.CONFIRMED)


def granted_for(address: Expression | F) -> Q:
    """A condition true when the address ``address`` (an expression over the outer query,
    e.g. ``F("email")`` of a ``Contact`` queryset) holds a standing ads consent: what
    :func:`ledger.fold` gives ``given`` or ``confirmed`` for. One consent event, no final
    event, and no withdrawal later than the newest verified consent."""
    ads = ConsentEvent.objects.filter(channel=Channel.ADS, address=OuterRef(address))
    consent = Q(action=ConsentAction.CONFIRMED) | Q(action=ConsentAction.GIVEN)
    verified = Q(action=ConsentAction.CONFIRMED) | Q(
        action=ConsentAction.GIVEN, source__in=VERIFIED_SOURCES
    )
    # Inside ``ads``: the newest withdrawal of the same address (the ``ads`` row's own).
    last_withdrawal = (
        ConsentEvent.objects.filter(
            channel=Channel.ADS, address=OuterRef("address"), action=ConsentAction.WITHDRAWN
        )
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    # A withdrawal counts unless a verified consent followed it; with no withdrawal at all,
    # any consent stands.
    verified_after = ads.filter(verified, occurred_at__gt=Subquery(last_withdrawal))
    return (
        Q(Exists(ads.filter(consent)))
        & ~Q(Exists(ads.filter(action__in=ConsentAction.final())))
        & (~Q(Exists(ads.filter(action=ConsentAction.WITHDRAWN))) | Q(Exists(verified_after)))
    )


def email_refused(address: Expression | F) -> Q:
    """True when the address's *email* was unsubscribed, bounced, complained or erased in the
    ledger: such a person leaves every audience too."""
    return Q(
        Exists(
            ConsentEvent.objects.filter(
                channel=Channel.EMAIL,
                address=OuterRef(address),
                action__in=ConsentAction.final(),
            )
        )
    )
