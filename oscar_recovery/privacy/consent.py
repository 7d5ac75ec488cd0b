"""Consent to recovery email: what the shopper is told where their email is captured, what
they decided, and whether that lets us write to them under the shop's lawful basis.

The shop chooses its basis with ``OSCAR_RECOVERY_LAWFUL_BASIS`` (see :class:`LawfulBasis`):

- ``soft_opt_in``: the shopper is told a reminder may follow and can opt out there (and in
  every email). Emails given at checkout or from an account qualify; an email captured
  elsewhere on site (a prompt) only once the notice was recorded with it.
- ``consent``: nothing is sent without a recorded, actively given consent (an unticked-by-
  default checkbox the shopper ticked), or consent the shop holds itself
  (:meth:`RecoveryAdapter.has_prior_consent`).
- ``us_canspam``: email is allowed; every opt-out is honoured.

Under every basis a "no thanks" is final: it is remembered on the journey (and for later
journeys of the same address or browser) and the address is suppressed, so no later send,
campaign or journey writes to it. An unsubscribe, bounce or complaint is never lifted.

Anyone can type anyone's address, so a consent given with an address nobody verified
covers the journey it was given on, with that address, and nothing else: it never lifts
a "no thanks" or a suppression of the address, never becomes the decision of another
journey (not even one of the same browser), and is dropped when the journey's address
changes. Only a *verified* consent (:data:`VERIFIED_SOURCES`: recorded by staff, or
confirmed from the address's mailbox) speaks for the address, through the consent ledger
(:mod:`.ledger`), where every decision with an address is recorded. A "no thanks" always
covers the address and the browser: it can only stop email.

Double opt-in (``OSCAR_RECOVERY_DOUBLE_OPT_IN``, on by default, ``consent`` basis only): an
unverified consent also asks the address to confirm (:mod:`.confirmation`), and no recovery
email goes to the address until it has (``SkipReason.UNCONFIRMED``).

Public API for code that captures an email (the checkout gateway here; prompts, account
forms, a shop's own forms)::

    from oscar_recovery import consent
    shown = consent.notice()                      # texts in the active language
    consent.record_consent(journey, text=shown.text_shown, given=True,
                           source=ConsentSource.PROMPT)
    consent.record_refusal(journey, text=shown.text_shown, source=ConsentSource.PROMPT)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core import signing
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery import app_settings
from oscar_recovery.adapter import get_adapter
from oscar_recovery.constants import (
    Channel,
    ConsentAction,
    ConsentSource,
    ConsentStatus,
    EmailSource,
    JourneyEventKind,
    LawfulBasis,
    SkipReason,
    SuppressionReason,
)
from oscar_recovery.models import CartJourney, CartJourneyEvent, SuppressedAddress
from oscar_recovery.privacy import ledger
from oscar_recovery.privacy.confirmation_requests import request_confirmation
from oscar_recovery.privacy.ledger import VERIFIED_SOURCES
from oscar_recovery.privacy.suppression import all_hashes, normalise_email, suppress

#: Form field names the gateway tag renders and the ``start_checkout`` receiver reads.
CHOICE_FIELD = "recovery_consent"
NOTICE_FIELD = "recovery_consent_notice"
#: Checkbox values: ``consent`` ticks "yes", the opt-out bases tick "no".
YES, NO = "yes", "no"

_NOTICE_SALT = "oscar_recovery.consent_notice"
#: A checkout page left open longer than this shows the notice again rather than trusting it.
_NOTICE_MAX_AGE = timedelta(days=1)

DEFAULT_TEXTS = {
    LawfulBasis.SOFT_OPT_IN: _(
        "If you do not complete your order, we may send you one or more emails to remind you "
        "of your basket. You can opt out here or with the link in any of them."
    ),
    LawfulBasis.CONSENT: _(
        "Yes, email me a reminder of my basket if I do not complete my order. I can "
        "withdraw this at any time with the link in each email."
    ),
    LawfulBasis.US_CANSPAM: _(
        "If you do not complete your order, we may email you about your basket. You can opt "
        "out here or with the link in any email."
    ),
}
DEFAULT_OPT_OUT_TEXT = _("No thanks, do not send me reminders.")


def current_basis() -> str:
    """The configured lawful basis; an unknown value is treated as the strictest one."""
    basis = app_settings.LAWFUL_BASIS
    return basis if basis in LawfulBasis.values else LawfulBasis.CONSENT


@dataclass(frozen=True)
class ConsentNotice:
    """What the shopper is shown where their email is captured, in one language."""

    basis: str
    #: The notice (opt-out bases) or the consent checkbox's label (``consent``).
    text: str
    #: The opt-out checkbox's label; empty under ``consent`` (the one box is the consent).
    opt_out_text: str = ""

    @property
    def asks_consent(self) -> bool:
        return self.basis == LawfulBasis.CONSENT

    @property
    def text_shown(self) -> str:
        """Every word the shopper saw, as stored with their decision."""
        return "\n".join(part for part in (self.text, self.opt_out_text) if part)

    def signed(self) -> str:
        """An opaque form value that proves, on submit, exactly what was shown."""
        payload = {"b": self.basis, "t": self.text, "o": self.opt_out_text}
        return signing.dumps(payload, salt=_NOTICE_SALT, compress=True)

    @classmethod
    def from_signed(cls, value: str) -> ConsentNotice | None:
        """The notice a form showed, or None when the value was not ours or is stale."""
        try:
            payload = signing.loads(
                value, salt=_NOTICE_SALT, max_age=_NOTICE_MAX_AGE.total_seconds()
            )
        except signing.BadSignature:
            return None
        if not isinstance(payload, dict) or payload.get("b") not in LawfulBasis.values:
            return None
        return cls(basis=payload["b"], text=str(payload["t"]), opt_out_text=str(payload["o"]))


def notice(basis: str | None = None) -> ConsentNotice:
    """The consent text for ``basis`` (default: the configured one) in the active language."""
    basis = basis or current_basis()
    text = app_settings.CONSENT_TEXT or DEFAULT_TEXTS[basis]
    opt_out = ""
    if basis != LawfulBasis.CONSENT:
        opt_out = app_settings.OPT_OUT_TEXT or DEFAULT_OPT_OUT_TEXT
    return ConsentNotice(basis=basis, text=str(text), opt_out_text=str(opt_out))


@dataclass(frozen=True)
class Decision:
    """A shopper's answer to a consent notice."""

    notice: ConsentNotice
    given: bool
    source: str = ConsentSource.CHECKOUT

    @property
    def is_refusal(self) -> bool:
        # Ticking "no thanks" is a refusal; leaving a consent box unticked is only no consent.
        return not self.given and not self.notice.asks_consent


def decision_from_form(data: Any, source: str = ConsentSource.CHECKOUT) -> Decision | None:
    """The decision a submitted form (``request.POST``) carries, or None when the form did
    not show our notice (or its notice was tampered with)."""
    shown = ConsentNotice.from_signed(data.get(NOTICE_FIELD) or "")
    if shown is None:
        return None
    choice = data.get(CHOICE_FIELD)
    given = choice == YES if shown.asks_consent else choice != NO
    return Decision(notice=shown, given=given, source=source)


def double_opt_in(basis: str | None = None) -> bool:
    """Whether unverified consents must be confirmed by email under ``basis``."""
    return app_settings.DOUBLE_OPT_IN and (basis or current_basis()) == LawfulBasis.CONSENT


# -- recording ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """A decision as written on a journey, with everything that follows it (plain values:
    capture hands it to the outbox, :mod:`oscar_recovery.journeys.followups`)."""

    basis: str
    text: str
    given: bool
    source: str
    #: A "no thanks": the address is suppressed, not merely left without consent.
    refusal: bool = False

    @classmethod
    def of(cls, decision: Decision) -> Recorded:
        return cls(
            basis=decision.notice.basis or current_basis(),
            text=decision.notice.text_shown,
            given=decision.given,
            source=decision.source,
            refusal=decision.is_refusal,
        )

    def fields(self, at: datetime) -> dict[str, object]:
        """The journey's consent fields (:data:`FIELDS`) for this decision made at ``at``."""
        return {
            "consent_basis": self.basis,
            "consent_text": self.text,
            "consent_given": bool(self.given),
            "consent_at": at,
            "consent_source": self.source,
        }


def record_consent(
    journey: CartJourney,
    *,
    text: str,
    given: bool,
    source: str,
    basis: str | None = None,
    at: datetime | None = None,
    client: str = "",
) -> CartJourney:
    """Store the shopper's decision on ``journey``: the basis, the exact ``text`` they saw,
    whether they agreed (or, under an opt-out basis, did not opt out) and when.

    The latest decision wins on this journey. Only a consent from a verified ``source``
    (:data:`VERIFIED_SOURCES`) under the ``consent`` basis lifts an earlier "no thanks" of
    the address; use :func:`record_refusal` for a "no thanks". Under double opt-in an
    unverified consent asks the address to confirm (rate-limited per address and per
    ``client``, see :func:`.confirmation_requests.request_confirmation`).
    """
    recorded = Recorded(basis=basis or current_basis(), text=text, given=given, source=source)
    return _record(journey, recorded, at=at, client=client)


def _record(
    journey: CartJourney, recorded: Recorded, *, at: datetime | None, client: str = ""
) -> CartJourney:
    at = at or timezone.now()
    fields = recorded.fields(at)
    CartJourney.objects.filter(pk=journey.pk).update(**fields)
    for name, value in fields.items():
        setattr(journey, name, value)
    decision_recorded(journey, recorded, email=journey.email, at=at, client=client)
    return journey


def decision_recorded(
    journey: CartJourney, recorded: Recorded, *, email: str, at: datetime, client: str = ""
) -> None:
    """What follows a decision already written on ``journey`` while its address was
    ``email`` ("" before any): the timeline event, the ledger entry under that address, and
    under the ``consent`` basis the lifted "no thanks" (verified sources) or the request to
    confirm (double opt-in, only while the journey still has that address). A refusal
    suppresses the address. Capture runs this from the outbox, after the request."""
    CartJourneyEvent.objects.create(
        journey_id=journey.pk,
        kind=JourneyEventKind.CONSENT_RECORDED,
        created_at=at,
        # No text here: it is on the journey; the timeline says what happened.
        data={
            "basis": str(recorded.basis),
            "given": bool(recorded.given),
            "source": str(recorded.source),
        },
    )
    if recorded.refusal:
        _refused(journey, recorded, email=email, at=at)
        return
    if not (recorded.given and email):
        return
    _to_ledger(
        journey,
        email,
        ConsentAction.GIVEN,
        source=recorded.source,
        basis=recorded.basis,
        text=recorded.text,
        at=at,
    )
    if recorded.basis == LawfulBasis.CONSENT:
        if recorded.source in VERIFIED_SOURCES:
            _lift_refusal(email)
        elif journey.email == email:
            _ask_to_confirm(journey, recorded.basis, client=client, at=at)


def _to_ledger(
    journey: CartJourney, email: str, action: str, *, source, basis="", text="", at=None
):
    """Append the journey's decision to the ledger, under the address ``email`` it was given
    with (empty: given before any address was known; it then speaks for the journey and its
    browser only)."""
    ledger.record(
        Channel.EMAIL,
        normalise_email(email) if email else "",
        ConsentAction.CONFIRMED if source == ConsentSource.CONFIRMED else action,
        source=source,
        basis=basis,
        wording=text,
        language=journey.language,
        journey_id=journey.pk,
        contact_id=journey.contact_id,
        visitor_id=journey.visitor_id,
        evidence={"journey": journey.pk},
        at=at,
    )


def _ask_to_confirm(journey: CartJourney, basis: str, *, client: str = "", at=None) -> None:
    if double_opt_in(basis) and not address_confirmed(journey.email):
        request_confirmation(journey, client=client, now=at)


def record_refusal(
    journey: CartJourney,
    *,
    text: str = "",
    source: str,
    basis: str | None = None,
    at: datetime | None = None,
) -> CartJourney:
    """The shopper said "no thanks": remembered on the journey (and so for later journeys of
    the same address or browser), and the address, when known, is suppressed."""
    recorded = Recorded(
        basis=basis or current_basis(), text=text, given=False, source=source, refusal=True
    )
    return _record(journey, recorded, at=at)


def _refused(journey: CartJourney, recorded: Recorded, *, email: str, at: datetime) -> None:
    if email:
        # The suppression appends the withdrawal to the ledger.
        suppress(
            email,
            SuppressionReason.DECLINED,
            source=recorded.source,
            journey_id=journey.pk,
            evidence={"journey": journey.pk},
        )
    else:
        _to_ledger(
            journey,
            "",
            ConsentAction.WITHDRAWN,
            source=recorded.source,
            basis=recorded.basis or "",
            text=recorded.text,
            at=at,
        )


def record_decision(
    journey: CartJourney, decision: Decision, *, at=None, client: str = ""
) -> CartJourney:
    """Record what a form (:func:`decision_from_form`) says."""
    recorded = Recorded.of(decision)
    return _record(journey, recorded, at=at, client=client)


def record_for_basket(
    basket_id: int, decision: Decision, *, at=None, client: str = ""
) -> CartJourney | None:
    """Record a decision on the journey of an (open or frozen) basket, if it has one."""
    journey = CartJourney.objects.filter(basket_id=basket_id).first()
    if journey is None:
        return None
    return record_decision(journey, decision, at=at, client=client)


#: The journey fields that hold a consent decision, carried over when journeys merge.
FIELDS = ("consent_basis", "consent_text", "consent_given", "consent_at", "consent_source")
#: Each of those fields' value when no decision was recorded.
BLANKS = {
    "consent_basis": "",
    "consent_text": "",
    "consent_given": None,
    "consent_at": None,
    "consent_source": "",
}


def email_attached(journey: CartJourney, email: str) -> None:
    """A "no thanks" given before the address was known covers the address once it is.

    A consent given with another address (or none) asks nothing of this one: under double
    opt-in it stays unconfirmed until the shopper ticks the box with it. Otherwise retyping
    the address on one basket would mail address after address, past the per-client limit.
    """
    # A decision written in the same statement as the address (the same instant) was given
    # with it, and :func:`decision_recorded` covers it (an unticked box is no refusal).
    given_with_it = journey.consent_at == journey.email_captured_at
    if journey.consent_given is False and journey.consent_at is not None and not given_with_it:
        suppress(
            email,
            SuppressionReason.DECLINED,
            source=journey.consent_source or ConsentSource.OTHER,
            journey_id=journey.pk,
            evidence={"journey": journey.pk},
        )


def _lift_refusal(email: str) -> None:
    SuppressedAddress.objects.filter(
        email_hash__in=all_hashes(email), reason=SuppressionReason.DECLINED
    ).delete()


# -- deciding -----------------------------------------------------------------------------


#: ``why_not_contact`` looks the decision up itself.
_LOOK_UP = object()


def latest_decision(journey: CartJourney) -> dict | None:
    """The newest decision that speaks for this journey's shopper, or None: the journey's
    own (given with its present address), a "no thanks" given on another journey of the
    same browser or address, or what the consent ledger says of the address (a refusal, or
    a verified consent). An unverified consent speaks for its own journey only, so a
    stranger who typed the address cannot decide for its owner, and a browser's consent
    never carries to another address. Keys: ``consent_given``, ``consent_basis``,
    ``consent_source``. Two queries (:func:`latest_decisions`)."""
    return latest_decisions([journey])[journey.pk]


_DECISION_KEYS = ("consent_given", "consent_basis", "consent_source")


def latest_decisions(journeys: Sequence[CartJourney]) -> dict[int, dict | None]:
    """:func:`latest_decision` for many journeys, by journey id, in two queries whatever
    their number (the send pipeline checks a batch of messages at once): one for the
    journeys' own and their browsers' refusals, one for the addresses' ledgers."""
    journeys = list(journeys)
    if not journeys:
        return {}
    who = Q(pk__in=[j.pk for j in journeys])
    visitors = {j.visitor_id for j in journeys if j.visitor_id}
    if visitors:
        who |= Q(visitor_id__in=visitors, consent_given=False)
    addresses = {j.pk: normalise_email(j.email) for j in journeys if j.email}
    if addresses:
        # A "no thanks" of the address on another journey, before (or without) the ledger:
        # capture records the ledger's side after the request (journeys.followups).
        who |= Q(email__in=set(addresses.values()), consent_given=False)
    rows = list(
        CartJourney.objects.filter(who, consent_at__isnull=False)
        .order_by("-consent_at", "-pk")
        .values("pk", "visitor_id", "email", "consent_at", *_DECISION_KEYS)
    )
    states = ledger.states(Channel.EMAIL, addresses.values())
    decisions: dict[int, dict | None] = {}
    for journey in journeys:
        own = next(
            (
                row
                for row in rows  # newest first
                if row["pk"] == journey.pk
                or (
                    row["consent_given"] is False
                    and (
                        (journey.visitor_id and row["visitor_id"] == journey.visitor_id)
                        or (journey.pk in addresses and row["email"] == addresses[journey.pk])
                    )
                )
            ),
            None,
        )
        decisions[journey.pk] = _newest(own, states.get(addresses.get(journey.pk, "")))
    return decisions


def _newest(own: dict | None, state: ledger.State | None) -> dict | None:
    """The journey's own decision or the address's ledger, whichever is newer; the ledger
    speaks only when it refuses or holds a verified consent, and a suppression always wins."""
    if state is None or not (state.refused or state.verified):
        return {key: own[key] for key in _DECISION_KEYS} if own else None
    from_ledger = {
        "consent_given": state.verified,
        "consent_basis": state.basis or (LawfulBasis.CONSENT if state.verified else ""),
        "consent_source": ConsentSource.CONFIRMED if state.verified else ConsentSource.OTHER,
    }
    if own is None or state.status == ConsentStatus.SUPPRESSED or state.at >= own["consent_at"]:
        return from_ledger
    return {key: own[key] for key in _DECISION_KEYS}


def address_confirmed(email: str) -> bool:
    """Whether the address's ledger holds a verified consent (staff-recorded or confirmed
    from its mailbox) that no "no thanks", unsubscribe, bounce or complaint followed. One
    query."""
    return bool(email) and ledger.email_state(normalise_email(email)).verified


def why_not_contact(
    journey: CartJourney, basis: str | None = None, *, decision=_LOOK_UP
) -> SkipReason | None:
    """The lawful-basis reason this journey's shopper must not get a recovery email, or
    None when they may. One indexed query, none when ``decision`` (the journey's
    :func:`latest_decision`, None for none) is given."""
    basis = basis or current_basis()
    if decision is _LOOK_UP:
        decision = latest_decision(journey)
    if decision is not None and decision["consent_given"] is False:
        return SkipReason.CONSENT_REFUSED
    if basis == LawfulBasis.CONSENT:
        consented = (
            decision is not None
            and decision["consent_given"]
            and decision["consent_basis"] == LawfulBasis.CONSENT
        )
        if not consented and not get_adapter().has_prior_consent(journey):
            return SkipReason.NO_CONSENT
        if (
            double_opt_in(basis)
            and decision is not None
            and decision["consent_source"] not in VERIFIED_SOURCES
            and not address_confirmed(journey.email)
            and not get_adapter().has_prior_consent(journey)
        ):
            # Until the address confirms, the consent may be a stranger's who typed it.
            return SkipReason.UNCONFIRMED
    elif (
        basis == LawfulBasis.SOFT_OPT_IN
        and journey.email_source == EmailSource.CAPTURED
        and decision is None
    ):
        # Checkout and account emails come "in the course of a sale"; an email captured
        # elsewhere on site qualifies only with the notice and its opt-out recorded.
        return SkipReason.NO_NOTICE
    return None
