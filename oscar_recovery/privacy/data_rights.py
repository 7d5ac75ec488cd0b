"""Data rights: everything recovery holds about an email address, exported or erased.

What is held about an address: its cart journeys (by the journey's email, or through a user
account with that email) with their timelines, campaign enrolments, recovery messages (also
any sent to the address from another journey), ESP tracking events, the vouchers minted
for those messages and revealed by prompts, the prompt events of the address (its keyed
hash, the consent wording it agreed to, its voucher; and the events of its journeys and
browser), the outgoing webhook deliveries whose payload names it (endpoints opted into
personal data) with the endpoints' answers, its double opt-in confirmation emails (by the
address's keyed hash, or through its journeys), whether the address is suppressed, the
contacts of the address (by its address, or through its journeys) with their identifiers,
facts and merge log, the consent ledger's events of the address, its journeys and
contacts, and its rows in retargeting audiences (by its contacts, or by the address's
SHA-256 once erased). Links in emails are signed tokens, not stored: restore links die
with their journey; unsubscribe links name only the suppression hash.

Erasure deletes all of it except the suppression hash: the address is added to the
suppression list (reason ``erased``) so that it is never emailed again, which is the one
thing a shopper who asked to be forgotten must be able to rely on. Used vouchers stay (an
order refers to them; they name no one); unused ones are deleted. Prompt events are
anonymised rather than deleted (visitor, visit, journey, voucher and data cleared; prompt,
variant, kind and time kept) so prompt statistics keep their counts. Confirmation records
are deleted (the suppression now says more than they did). Webhook deliveries
keep their log row with the customer's address, name and account id blanked and the
endpoint's stored answers cleared; what an endpoint already received is the shop's to erase
downstream. Contacts are deleted with their identifiers, facts and merge log; consent
events are kept as proof of what was asked and answered, each address replaced by its own
suppression hash (another address of an erased contact keeps its consent state) and the
journey, contact, browser and evidence cleared. Retargeting audience rows are deleted,
except those an ad platform still lists: they keep only the platform hashes until the next
audience sync has removed the person from the platform, and that sync deletes them.

The worst cases this guards against: a record the shopper is never shown, or one an
erasure leaves behind (``tests/test_privacy.py`` walks every model of the app for the
address and its keyed hashes, and maps each model holding them to its export section); and
an address that is emailed again after it asked to be forgotten (the suppression comes
first, in the same transaction). Who may ask is the shop's to verify: the admin actions
need staff permissions, the commands a shell.

Shops with their own data-request flow call :func:`export_email` / :func:`erase_email`
directly, extend them through the adapter (``export_personal_data``,
``erase_personal_data``), or listen to :data:`oscar_recovery.signals.personal_data_erased`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery import signals
from oscar_recovery.adapter import get_adapter
from oscar_recovery.constants import (
    AudienceDestination,
    AudienceSyncState,
    IdentifierKind,
    SuppressionReason,
)
from oscar_recovery.contacts.addresses import email_sha256, safe_canonical_email
from oscar_recovery.models import (
    AudienceMember,
    CampaignEnrolment,
    CartJourney,
    CartJourneyEvent,
    ConsentConfirmation,
    ConsentEvent,
    Contact,
    ContactIdentifier,
    PromptEvent,
    RecoveryMessage,
    SegmentMembership,
    SuppressedAddress,
    TrackingEvent,
    WebhookAttempt,
    WebhookDelivery,
    email_matches,
    raw_email_candidates,
    same_email,
)
from oscar_recovery.privacy.suppression import all_hashes, email_hash, normalise_email, suppress

Voucher = get_model("voucher", "Voucher")
User = get_user_model()

#: The version of the export's layout, for tools that read it.
EXPORT_FORMAT = 1


def _address_matches(email: str, field: str) -> Q:
    """``field`` (canonical) holds ``email`` under any spelling; or, for an address that
    cannot be made canonical, holds it as earlier versions stored it (case aside): a row
    the data migration had to leave as it was is still found, exported and erased."""
    matches = email_matches(email, field)
    if not safe_canonical_email(email):
        matches |= Q(**{f"{field}__iexact": email.strip()})
    return matches


def _accounts_of(email: str) -> list:
    """Ids of the user accounts whose address (kept by Django as typed) is ``email``."""
    canonical = safe_canonical_email(email)
    candidates = User._default_manager.filter(raw_email_candidates([email], "email"))
    return [pk for pk, raw in candidates.values_list("pk", "email") if same_email(raw, canonical)]


def journeys_of(email: str) -> models.QuerySet:
    """Journeys of an address (any spelling): its own email, or a user account with that
    email, and the anonymous journeys of the same browser (before the address was given,
    they are the same shopper's baskets)."""
    email = email.strip()
    identified = _address_matches(email, "email") | Q(user_id__in=_accounts_of(email))
    visitors = (
        CartJourney.objects.filter(identified)
        .exclude(visitor_id="")
        .values_list("visitor_id", flat=True)
    )
    anonymous = Q(visitor_id__in=visitors, email="", user__isnull=True)
    return CartJourney.objects.filter(identified | anonymous)


def messages_of(email: str) -> models.QuerySet:
    email = email.strip()
    return RecoveryMessage.objects.filter(
        Q(journey__in=journeys_of(email)) | _address_matches(email, "to_email")
    )


def prompt_events_of(email: str) -> models.QuerySet:
    """Prompt events of an address: submissions keyed by its hash (under every key), the
    events of its journeys and of their browsers, and the "offer used" events of the
    vouchers its submissions revealed."""
    journeys = journeys_of(email)
    visitors = journeys.exclude(visitor_id="").values_list("visitor_id", flat=True)
    submitted = PromptEvent.objects.filter(data__email_hash__in=all_hashes(email))
    codes = submitted.exclude(voucher_code="").values_list("voucher_code", flat=True)
    return PromptEvent.objects.filter(
        Q(pk__in=submitted.values("pk"))
        | Q(journey__in=journeys)
        | Q(visitor_id__in=visitors)
        | Q(voucher_code__in=list(codes))
    )


def contacts_of(email: str) -> models.QuerySet:
    """Contacts of an address: its own, the one its email identifier leads to, and those its
    journeys are linked to."""
    address = normalise_email(email)
    by_identifier = ContactIdentifier.objects.filter(
        kind=IdentifierKind.EMAIL, value=address
    ).values("contact_id")
    linked = journeys_of(email).exclude(contact=None).values("contact_id")
    return Contact.objects.filter(Q(email=address) | Q(pk__in=by_identifier) | Q(pk__in=linked))


def consent_events_of(email: str) -> models.QuerySet:
    """The consent ledger's events of an address (in clear or by its hash), of its journeys
    and of its contacts."""
    address = normalise_email(email)
    return ConsentEvent.objects.filter(
        Q(address__in=[address, *all_hashes(email)])
        | Q(journey__in=journeys_of(email))
        | Q(contact__in=contacts_of(email))
    )


def audience_members_of(email: str) -> models.QuerySet:
    """Retargeting audience rows of an address: those of its contacts, and those kept by the
    address's hash alone (an erased person not yet removed from a platform)."""
    digest = email_sha256(email)
    by_hash = Q(email_sha256=digest) if digest else Q(pk__in=[])
    return AudienceMember.objects.filter(Q(contact__in=contacts_of(email)) | by_hash)


def webhook_deliveries_of(email: str) -> models.QuerySet:
    """Outgoing webhook deliveries whose payload carries the address (only endpoints opted
    into personal data get it, under ``data.customer.email``): the canonical address, or
    the address as given (payloads written before addresses were canonical)."""
    spellings = {email.strip(), safe_canonical_email(email)} - {""}
    matches = Q(pk__in=[])
    for spelling in spellings:
        matches |= Q(payload__data__customer__email__iexact=spelling)
    return WebhookDelivery.objects.filter(matches)


def confirmations_of(email: str) -> models.QuerySet:
    """Double opt-in confirmation records of an address: by its keyed hash (under every
    key), and those of its journeys."""
    return ConsentConfirmation.objects.filter(
        Q(email_hash__in=all_hashes(email)) | Q(journey__in=journeys_of(email))
    )


def vouchers_of(email: str) -> models.QuerySet:
    """Recovery vouchers minted for the emails sent to the address or revealed to it by
    prompts."""
    codes = [
        code.upper()
        for code in messages_of(email)
        .exclude(voucher_code="")
        .values_list("voucher_code", flat=True)
    ]
    codes += [
        code.upper()
        for code in prompt_events_of(email)
        .exclude(voucher_code="")
        .values_list("voucher_code", flat=True)
    ]
    return Voucher.objects.filter(code__in=codes)


def _row(obj: models.Model, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        field.attname: field.value_from_object(obj)
        for field in obj._meta.concrete_fields
        if field.attname not in exclude
    }


def export_email(email: str) -> dict[str, Any]:
    """Everything held about ``email``, as JSON-ready data (see :func:`export_json`)."""
    journeys = list(journeys_of(email).order_by("created_at", "pk"))
    journey_ids = [journey.pk for journey in journeys]
    events: dict[int, list] = {}
    for event in CartJourneyEvent.objects.filter(journey_id__in=journey_ids).order_by(
        "created_at", "pk"
    ):
        events.setdefault(event.journey_id, []).append(_row(event, ("journey_id",)))
    enrolments = {
        e.journey_id: _row(e, ("journey_id",))
        for e in CampaignEnrolment.objects.filter(journey_id__in=journey_ids)
    }
    messages = list(messages_of(email).order_by("created_at", "pk"))
    tracking: dict[int, list] = {}
    for event in TrackingEvent.objects.filter(message__in=messages).order_by("occurred_at"):
        tracking.setdefault(event.message_id, []).append(_row(event, ("message_id", "event_key")))
    suppressed = SuppressedAddress.objects.filter(email_hash__in=all_hashes(email)).first()
    prompt_events = prompt_events_of(email).order_by("created_at", "pk")
    deliveries = list(webhook_deliveries_of(email).order_by("created_at", "pk"))
    attempts: dict[int, list] = {}
    for attempt in WebhookAttempt.objects.filter(delivery__in=deliveries).order_by("number"):
        attempts.setdefault(attempt.delivery_id, []).append(_row(attempt, ("delivery_id",)))
    # The keyed hash means nothing to the shopper; the journey and the times do.
    confirmations = confirmations_of(email).order_by("requested_at", "pk")
    contacts = list(
        contacts_of(email)
        .prefetch_related("identifiers", "merges", "segment_memberships__segment")
        .select_related("facts")
    )
    return {
        "format": EXPORT_FORMAT,
        "email": email.strip(),
        "exported_at": timezone.now(),
        "suppressed": (
            {"reason": suppressed.reason, "since": suppressed.created_at} if suppressed else None
        ),
        "journeys": [
            {
                **_row(journey),
                "events": events.get(journey.pk, []),
                "enrolment": enrolments.get(journey.pk),
            }
            for journey in journeys
        ],
        "messages": [
            {**_row(message), "tracking_events": tracking.get(message.pk, [])}
            for message in messages
        ],
        "vouchers": [
            {
                "code": voucher.code,
                "start_datetime": voucher.start_datetime,
                "end_datetime": voucher.end_datetime,
                "used": voucher.num_orders > 0,
            }
            for voucher in vouchers_of(email).order_by("start_datetime")
        ],
        "prompt_events": [_row(event) for event in prompt_events],
        "contacts": [_contact_row(contact) for contact in contacts],
        "consent_events": [
            _row(event) for event in consent_events_of(email).order_by("occurred_at", "pk")
        ],
        "webhook_deliveries": [
            {**_row(delivery, ("next_attempt_at",)), "attempts": attempts.get(delivery.pk, [])}
            for delivery in deliveries
        ],
        "consent_confirmations": [_row(row, ("email_hash",)) for row in confirmations],
        # The keyed suppression hash means nothing to the shopper; the platform hashes are
        # what was (or will be) uploaded.
        "audience_memberships": [
            {"audience": member.audience.name, **_row(member, ("suppression_hash",))}
            for member in audience_members_of(email)
            .select_related("audience")
            .order_by("audience_id", "destination", "pk")
        ],
        "links": (
            "Links in emails are signed tokens and are not stored: restore links stop working "
            "once the journey is erased; unsubscribe links name only the suppression hash."
        ),
        "shop": get_adapter().export_personal_data(email),
    }


def _contact_row(contact: Contact) -> dict[str, Any]:
    facts = getattr(contact, "facts", None)
    return {
        **_row(contact),
        "identifiers": [_row(i, ("contact_id",)) for i in contact.identifiers.all()],
        "facts": _row(facts, ("contact_id",)) if facts else None,
        "merges": [_row(m, ("winner_id",)) for m in contact.merges.all()],
        "segments": [
            {
                "segment": membership.segment.name,
                "entered_at": membership.entered_at,
                "exited_at": membership.exited_at,
            }
            for membership in contact.segment_memberships.all()
        ],
    }


def export_json(email: str, **dumps_kwargs) -> str:
    import json

    return json.dumps(export_email(email), cls=DjangoJSONEncoder, **dumps_kwargs)


@dataclass(frozen=True)
class Erasure:
    """What :func:`erase_email` removed."""

    journeys: int = 0
    events: int = 0
    enrolments: int = 0
    messages: int = 0
    tracking_events: int = 0
    vouchers: int = 0
    prompt_events: int = 0
    webhook_deliveries: int = 0
    contacts: int = 0
    consent_events: int = 0
    consent_confirmations: int = 0
    #: Segment memberships (current and past) of the erased contacts.
    segment_memberships: int = 0
    #: Retargeting audience rows: deleted, or (those a platform still lists) reduced to the
    #: hashes the next sync needs to remove the person, then deleted by that sync.
    audience_members: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def erase_email(email: str) -> Erasure:
    """Erase everything held about ``email`` but its suppression hash, in one transaction.
    Idempotent: erasing again finds nothing and changes nothing."""
    email = email.strip()
    with transaction.atomic():
        # First: should anything below fail, the address is still never emailed again.
        suppress(email, SuppressionReason.ERASED)
        journeys = journeys_of(email)
        messages = messages_of(email)
        journey_ids = list(journeys.values_list("pk", flat=True))
        message_ids = list(messages.values_list("pk", flat=True))
        unused = vouchers_of(email).filter(num_orders=0, applications__isnull=True)
        vouchers = unused.count()
        Voucher.objects.filter(pk__in=list(unused.values_list("pk", flat=True))).delete()
        # Before the journeys go: the events are found through them too.
        prompt_events = PromptEvent.objects.filter(
            pk__in=list(prompt_events_of(email).values_list("pk", flat=True))
        ).update(visitor_id="", visit_id="", journey=None, voucher_code="", data={})
        webhook_deliveries = _redact_webhook_deliveries(email)
        consent_events = _redact_consent_events(email)
        # Before the contacts go: their rows are found through them.
        audience_members = _erase_audience_members(email)
        _, deleted_contacts = Contact.objects.filter(
            pk__in=list(contacts_of(email).values_list("pk", flat=True))
        ).delete()
        # Before the journeys go (they find some); by hash too, whichever journey they name.
        consent_confirmations, _ = ConsentConfirmation.objects.filter(
            pk__in=list(confirmations_of(email).values_list("pk", flat=True))
        ).delete()
        get_adapter().erase_personal_data(email)
        _, deleted_messages = RecoveryMessage.objects.filter(pk__in=message_ids).delete()
        _, deleted = CartJourney.objects.filter(pk__in=journey_ids).delete()
        counts = {**deleted_messages}
        for label, number in deleted.items():
            counts[label] = counts.get(label, 0) + number
        erasure = Erasure(
            journeys=counts.get(CartJourney._meta.label, 0),
            events=counts.get(CartJourneyEvent._meta.label, 0),
            enrolments=counts.get(CampaignEnrolment._meta.label, 0),
            messages=counts.get(RecoveryMessage._meta.label, 0),
            tracking_events=counts.get(TrackingEvent._meta.label, 0),
            vouchers=vouchers,
            prompt_events=prompt_events,
            webhook_deliveries=webhook_deliveries,
            contacts=deleted_contacts.get(Contact._meta.label, 0),
            consent_events=consent_events,
            consent_confirmations=consent_confirmations,
            segment_memberships=deleted_contacts.get(SegmentMembership._meta.label, 0),
            audience_members=audience_members,
        )
    signals.personal_data_erased.send(
        sender=CartJourney, email_hash=email_hash(normalise_email(email)), erasure=erasure
    )
    return erasure


def _erase_audience_members(email: str) -> int:
    """Delete the address's audience rows, but for those a platform still lists: they keep
    only the platform hashes, no contact, and are marked to be removed; the next audience
    sync sends the removal and deletes them. Returns how many rows were affected."""
    rows = audience_members_of(email)
    listed = Q(
        synced_state=AudienceSyncState.ADDED, destination__in=AudienceDestination.platforms()
    )
    marked = AudienceMember.objects.filter(
        pk__in=list(rows.filter(listed).values_list("pk", flat=True))
    ).update(
        contact=None, desired=False, suppression_hash="", last_error="", changed_at=timezone.now()
    )
    deleted, _ = AudienceMember.objects.filter(
        pk__in=list(rows.exclude(listed).values_list("pk", flat=True))
    ).delete()
    return marked + deleted


def _redact_consent_events(email: str) -> int:
    """Keep the ledger's proof of what was asked and answered, without who: each address
    becomes its own suppression hash (an event of another address of the erased contact
    keeps counting for that address: a "no" given there is never lost or moved to the
    erased one), an event given before any address was known takes the erased address's,
    and journey, contact, browser and evidence are cleared. Returns how many events were
    redacted."""
    erased = email_hash(email)
    events = ConsentEvent.objects.filter(
        pk__in=list(consent_events_of(email).values_list("pk", flat=True))
    )
    redacted = 0
    for address in set(events.values_list("address", flat=True)):
        redacted += events.filter(address=address).update(
            address=_ledger_key(address, erased),
            journey=None,
            contact=None,
            visitor_id="",
            evidence={},
        )
    return redacted


_HASHED = re.compile(r"[0-9a-f]{64}")


def _ledger_key(address: str, erased: str) -> str:
    """What a redacted event is kept under: a hash as it is, an address by its own keyed
    hash (the ledger finds email events by it), no address by the erased one's."""
    if not address:
        return erased
    if _HASHED.fullmatch(address):
        return address
    return email_hash(address)


def _redact_webhook_deliveries(email: str) -> int:
    """Blank who the customer is in the stored payloads naming ``email`` (a pending
    delivery then goes out without them) and drop the endpoints' stored answers, which may
    echo the payload. Returns how many deliveries were redacted."""
    redacted = []
    for delivery in webhook_deliveries_of(email).only("pk", "payload"):
        customer = delivery.payload["data"]["customer"]
        customer.update(email=None, name=None, user_id=None)
        redacted.append(delivery)
    WebhookDelivery.objects.bulk_update(redacted, ["payload"], batch_size=500)
    WebhookAttempt.objects.filter(delivery__in=redacted).update(response_body="")
    return len(redacted)
