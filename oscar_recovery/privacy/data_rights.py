"""Data rights: everything recovery holds about an email address, exported or erased.

What is held about an address: its cart journeys (by the journey's email, or through a user
account with that email) with their timelines, campaign enrolments, recovery messages (also
any sent to the address from another journey), ESP tracking events, the vouchers minted
for those messages and revealed by prompts, the prompt events of the address (its keyed
hash, the consent wording it agreed to, its voucher; and the events of its journeys and
browser), the outgoing webhook deliveries whose payload names it (endpoints opted into
personal data), whether the address is suppressed, the contacts of the address (by its
address, or through its journeys) with their identifiers, facts and merge log, and the
consent ledger's events of the address, its journeys and contacts. Links in emails are signed
tokens, not stored: restore links die with their journey; unsubscribe links name only the
suppression hash.

Erasure deletes all of it except the suppression hash: the address is added to the
suppression list (reason ``erased``) so that it is never emailed again, which is the one
thing a shopper who asked to be forgotten must be able to rely on. Used vouchers stay (an
order refers to them; they name no one); unused ones are deleted. Prompt events are
anonymised rather than deleted (visitor, visit, journey, voucher and data cleared; prompt,
variant, kind and time kept) so prompt statistics keep their counts. Webhook deliveries
keep their log row with the customer's address, name and account id blanked and the
endpoint's stored answers cleared; what an endpoint already received is the shop's to erase
downstream. Contacts are deleted with their identifiers, facts and merge log; consent
events are kept as proof of what was asked and answered, with the address replaced by its
suppression hash and the journey, contact, browser and evidence cleared.

Shops with their own data-request flow call :func:`export_email` / :func:`erase_email`
directly, extend them through the adapter (``export_personal_data``,
``erase_personal_data``), or listen to :data:`oscar_recovery.signals.personal_data_erased`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery import signals
from oscar_recovery.adapter import get_adapter
from oscar_recovery.constants import IdentifierKind, SuppressionReason
from oscar_recovery.models import (
    CampaignEnrolment,
    CartJourney,
    CartJourneyEvent,
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
)
from oscar_recovery.privacy.suppression import all_hashes, email_hash, normalise_email, suppress

Voucher = get_model("voucher", "Voucher")

#: The version of the export's layout, for tools that read it.
EXPORT_FORMAT = 1


def journeys_of(email: str) -> models.QuerySet:
    """Journeys of an address: its own email, or a user account with that email, and the
    anonymous journeys of the same browser (before the address was given, they are the
    same shopper's baskets)."""
    email = email.strip()
    identified = email_matches(email, "email", "user__email")
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
        Q(journey__in=journeys_of(email)) | email_matches(email, "to_email")
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


def webhook_deliveries_of(email: str) -> models.QuerySet:
    """Outgoing webhook deliveries whose payload carries the address (only endpoints opted
    into personal data get it, under ``data.customer.email``)."""
    return WebhookDelivery.objects.filter(payload__data__customer__email__iexact=email.strip())


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
    deliveries = webhook_deliveries_of(email).order_by("created_at", "pk")
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
        "webhook_deliveries": [_row(delivery, ("next_attempt_at",)) for delivery in deliveries],
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
    #: Segment memberships (current and past) of the erased contacts.
    segment_memberships: int = 0

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
        _, deleted_contacts = Contact.objects.filter(
            pk__in=list(contacts_of(email).values_list("pk", flat=True))
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
            segment_memberships=deleted_contacts.get(SegmentMembership._meta.label, 0),
        )
    signals.personal_data_erased.send(
        sender=CartJourney, email_hash=email_hash(normalise_email(email)), erasure=erasure
    )
    return erasure


def _redact_consent_events(email: str) -> int:
    """Keep the ledger's proof of what was asked and answered, without who: the address
    becomes its suppression hash, and journey, contact, browser and evidence are cleared.
    Returns how many events were redacted."""
    hashed = email_hash(email)
    return ConsentEvent.objects.filter(
        pk__in=list(consent_events_of(email).values_list("pk", flat=True))
    ).update(address=hashed, journey=None, contact=None, visitor_id="", evidence={})


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
