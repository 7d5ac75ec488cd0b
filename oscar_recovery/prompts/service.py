"""What happens when a prompt is used: events recorded, emails captured (with the consent
wording shown), vouchers revealed, offers used and orders converted. Plain functions: the
views and receivers only call them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from oscar.core.loading import get_model

from oscar_recovery import app_settings
from oscar_recovery.capture import scope as capture
from oscar_recovery.constants import ConsentSource, EmailSource, Incentive, PromptEventKind
from oscar_recovery.contacts.addresses import InvalidAddress, canonical_email
from oscar_recovery.models import CartJourney, Prompt, PromptEvent
from oscar_recovery.outcomes import attribution
from oscar_recovery.privacy import confirmation
from oscar_recovery.privacy import consent as consent_service
from oscar_recovery.privacy.suppression import email_hash
from oscar_recovery.prompts import app_settings as prompt_settings
from oscar_recovery.prompts.targeting import PromptContent
from oscar_recovery.sending import vouchers

ConditionalOffer = get_model("offer", "ConditionalOffer")
Voucher = get_model("voucher", "Voucher")

#: Lawful bases under which the checkout email may be captured as it is typed. Never under
#: consent: nobody has agreed to anything before they submit.
LIVE_CAPTURE_BASES = ("soft_opt_in", "us_canspam")


def live_capture_allowed() -> bool:
    return prompt_settings.LIVE_CAPTURE and app_settings.LAWFUL_BASIS in LIVE_CAPTURE_BASES


# -- events -------------------------------------------------------------------------------


def record_event(
    prompt: Prompt,
    label: str,
    kind: str,
    *,
    visitor_id: str | None,
    visit_id: str,
    now: datetime | None = None,
) -> PromptEvent:
    return PromptEvent.objects.create(
        prompt_id=prompt.pk,
        variant=label,
        kind=kind,
        visitor_id=visitor_id or "",
        visit_id=visit_id,
        created_at=now or timezone.now(),
    )


# -- email capture ------------------------------------------------------------------------


@dataclass(frozen=True)
class Captured:
    journey: CartJourney
    message: str
    voucher_code: str | None


def default_thank_you(has_voucher: bool) -> str:
    if has_voucher:
        return gettext("Thank you! Here is your code. It is yours alone and works once.")
    return gettext("Thank you! We have saved your basket for you.")


def email_error(email: object) -> str | None:
    """What is wrong with an email given on site, in the shopper's language, or None."""
    if not isinstance(email, str) or not email.strip():
        return gettext("Enter your email address.")
    try:
        canonical_email(email)
    except InvalidAddress as exc:
        return str(exc.message)
    return None


def validate_capture(prompt: Prompt, content: PromptContent, email: object, consent: object):
    """The email, canonical, or a ``ValidationError`` keyed by field."""
    errors = {}
    message = email_error(email)
    if message:
        errors["email"] = [message]
    if not isinstance(consent, bool):
        errors["consent"] = [gettext("Consent must be true or false.")]
    elif prompt.consent_required and content.consent_text and not consent:
        errors["consent"] = [gettext("Please tick the box to continue.")]
    if errors:
        raise ValidationError(errors)
    return canonical_email(email)


def capture_live(request: HttpRequest, email: object) -> CartJourney:
    """The checkout email as it is typed (the switch and lawful basis are checked by the
    caller). Raises ``ValidationError`` for anything but a valid address."""
    message = email_error(email)
    if message:
        raise ValidationError({"email": [message]})
    return capture.capture_email(request, email.strip(), EmailSource.CAPTURED)


def capture_from_prompt(
    request: HttpRequest,
    prompt: Prompt,
    content: PromptContent,
    email: str,
    *,
    consent: bool,
    visitor_id: str | None,
    visit_id: str,
    now: datetime | None = None,
) -> Captured:
    """Attach the email to the shopper's cart journey (making it recoverable), record the
    consent wording this prompt showed and when, and reveal the prompt's voucher. All or
    nothing: a failure leaves no half-recorded capture."""
    now = now or timezone.now()
    with transaction.atomic():
        journey = capture.capture_email(request, email, EmailSource.CAPTURED)
        voucher = reveal_voucher(prompt, journey, now, visitor_id=visitor_id)
        event = PromptEvent(
            prompt_id=prompt.pk,
            variant=content.label,
            kind=PromptEventKind.SUBMITTED,
            visitor_id=visitor_id or "",
            visit_id=visit_id,
            journey=journey,
            voucher_code=voucher.code if voucher else "",
            created_at=now,
            data={"email_hash": email_hash(email)},
        )
        record_consent(
            event,
            journey=journey,
            email=email,
            wording=content.consent_text,
            given=consent,
            at=now,
            client=confirmation.client_of(request),
        )
        event.save()
    message = content.thank_you or default_thank_you(voucher is not None)
    return Captured(journey, message, voucher.code if voucher else None)


def record_consent(
    event: PromptEvent,
    *,
    journey: CartJourney,
    email: str,
    wording: str,
    given: bool,
    at: datetime,
    client: str = "",
) -> None:
    """Record what the shopper agreed to when giving ``email``: the exact wording the
    server rendered for the prompt's variant (never text sent by the page), whether the
    box was ticked, and when. The one place prompts record consent; kept on the prompt's
    "submitted" event, next to the journey it made recoverable."""
    given = bool(wording) and given
    event.data["consent"] = {
        "wording": wording,
        "given": given,
        "at": at.isoformat(),
        "language": translation.get_language() or "",
        "journey": journey.pk,
    }
    if wording:
        # The journey's decision is what send-time eligibility reads under every lawful
        # basis: a box left unticked means no recovery email, without suppressing anyone.
        # No wording shown records nothing, so the basis decides alone (no notice, no send
        # under the soft opt-in or consent).
        consent_service.record_consent(
            journey,
            text=wording,
            given=given,
            source=ConsentSource.PROMPT,
            at=at,
            client=client,
        )


# -- vouchers -----------------------------------------------------------------------------


def ensure_prompt_offer(prompt: Prompt) -> ConditionalOffer | None:
    """The Oscar voucher offer behind the prompt's vouchers; made again when the prompt's
    offer changed, so vouchers already revealed keep their promise (as for campaign steps,
    see :func:`oscar_recovery.sending.vouchers.ensure_offer`)."""
    return vouchers.ensure_offer_for(
        prompt,
        # "campaign" is the part shortened when the whole name is too long.
        gettext_noop("Recovery prompt: %(campaign)s (%(incentive)s)"),
        {"campaign": prompt.name},
    )


def reveal_voucher(
    prompt: Prompt, journey: CartJourney, now: datetime, *, visitor_id: str | None = None
):
    """The single-use voucher this visitor earned from a prompt, or None without an offer.

    At most one prompt voucher per visitor (browser cookie) and per journey: the first
    capture mints it, a later one in the same browser or journey reveals the same voucher
    while it is unused and valid, and nothing once it is used or expired. The address
    typed plays no part: before, ten ``me+N@`` addresses got ten codes, and typing someone
    else's address revealed their unused code. A script that drops its cookies gets a new
    basket, journey and visitor per request, so it is bounded by
    ``OSCAR_RECOVERY_PROMPTS_CAPTURE_RATE_LIMIT`` per client."""
    if prompt.incentive == Incentive.NONE:
        return None
    earned = Q(journey_id=journey.pk)
    if visitor_id:
        earned |= Q(visitor_id=visitor_id)
    earlier = (
        PromptEvent.objects.filter(earned, kind=PromptEventKind.SUBMITTED)
        .exclude(voucher_code="")
        .order_by("-created_at")
        .values_list("voucher_code", flat=True)
        .first()
    )
    if earlier:
        voucher = Voucher.objects.filter(code=earlier).first()
        if voucher is not None and voucher.is_active(now) and not voucher.num_orders:
            return voucher
        return None
    offer = ensure_prompt_offer(prompt)
    return vouchers.mint_voucher(
        offer,
        prompt,
        journey,
        prompt.incentive_valid_for,
        now,
        # Voucher names are unique: the code makes sure.
        lambda label, _attempt, code: f"{label[:80]} ({code})",
    )


# -- what the shop tells us ---------------------------------------------------------------


def record_offer_used(voucher_code: str, now: datetime | None = None) -> PromptEvent | None:
    """A prompt's voucher was applied to a basket: "offer used", once per voucher."""
    if not voucher_code.upper().startswith(vouchers.CODE_PREFIX):
        return None  # not one of ours: spares the shop a query per voucher
    submitted = (
        PromptEvent.objects.filter(
            voucher_code=voucher_code.upper(), kind=PromptEventKind.SUBMITTED
        )
        .order_by("-created_at")
        .first()
    )
    if submitted is None:
        return None
    if PromptEvent.objects.filter(
        voucher_code=submitted.voucher_code, kind=PromptEventKind.OFFER_USED
    ).exists():
        return None
    return PromptEvent.objects.create(
        prompt_id=submitted.prompt_id,
        variant=submitted.variant,
        kind=PromptEventKind.OFFER_USED,
        visitor_id=submitted.visitor_id,
        visit_id=submitted.visit_id,
        journey_id=submitted.journey_id,
        voucher_code=submitted.voucher_code,
        created_at=now or timezone.now(),
    )


def record_conversion(
    journey: CartJourney, order, now: datetime | None = None
) -> list[PromptEvent]:
    """An order was placed: each prompt shown to the visitor (or given their email for this
    basket) within ``OSCAR_RECOVERY_PROMPTS_ATTRIBUTION_WINDOW`` before it counts a
    conversion, in the variant the visitor saw. Once per prompt and order. Its ``credit``
    says whether the prompt got the order or only assisted
    (:func:`oscar_recovery.outcomes.attribution.credit_order`)."""
    now = now or timezone.now()
    seen = Q(journey=journey, kind=PromptEventKind.SUBMITTED)
    if journey.visitor_id:
        seen |= Q(visitor_id=journey.visitor_id, kind=PromptEventKind.SHOWN)
    events = (
        PromptEvent.objects.filter(seen)
        .filter(created_at__gte=now - prompt_settings.ATTRIBUTION_WINDOW, created_at__lte=now)
        .order_by("-created_at")
        .values_list("prompt_id", "variant", "visit_id", "created_at")
    )
    latest: dict[int, tuple[str, str]] = {}
    touched: dict[int, datetime] = {}
    for prompt_id, variant, visit_id, created_at in events:
        latest.setdefault(prompt_id, (variant, visit_id))
        touched.setdefault(prompt_id, created_at)
    if not latest:
        return []
    # One order, one channel: the rule and its reasons are in outcomes.attribution.
    credit = attribution.credit_order(journey, now, touched)
    number = str(order.number)
    done = set(
        PromptEvent.objects.filter(
            prompt_id__in=latest, kind=PromptEventKind.CONVERTED, data__order=number
        ).values_list("prompt_id", flat=True)
    )
    return PromptEvent.objects.bulk_create(
        [
            PromptEvent(
                prompt_id=prompt_id,
                variant=variant,
                kind=PromptEventKind.CONVERTED,
                visitor_id=journey.visitor_id,
                visit_id=visit_id,
                journey=journey,
                created_at=now,
                data={
                    "order": number,
                    "total": str(order.total_incl_tax),
                    "credit": "order" if prompt_id == credit.prompt_id else "assisted",
                },
            )
            for prompt_id, (variant, visit_id) in latest.items()
            if prompt_id not in done
        ]
    )
