"""Contacts, segments and consents for the audience tests, written directly (the sync reads
memberships and the ledger; how they got there is the segments' and capture's business)."""

from __future__ import annotations

import itertools

from django.utils import timezone

from oscar_recovery.constants import ConsentSource
from oscar_recovery.models import Audience, Contact, Segment, SegmentMembership
from oscar_recovery.privacy import ads_consent

_n = itertools.count(1)


def segment(slug: str = "") -> Segment:
    return Segment.objects.create(slug=slug or f"seg-{next(_n)}", name="Test segment")


def audience(seg: Segment | None = None, **fields) -> Audience:
    seg = seg or segment()
    number = next(_n)
    return Audience.objects.create(
        slug=f"aud-{number}", name=f"Audience {number}", segment=seg, **fields
    )


def contact(email: str = "", phone: str = "", *, ads: bool = True, seg: Segment | None = None):
    person = Contact.objects.create(email=email, phone=phone)
    if ads and email:
        give_ads_consent(email, person)
    if seg is not None:
        join(seg, person)
    return person


def give_ads_consent(email: str, person: Contact | None = None) -> None:
    decision = ads_consent.Decision(text=str(ads_consent.DEFAULT_TEXT), language="en", given=True)
    ads_consent.record(
        email, decision, source=ConsentSource.CHECKOUT, contact_id=person.pk if person else None
    )


def join(seg: Segment, person: Contact) -> SegmentMembership:
    return SegmentMembership.objects.create(segment=seg, contact=person, entered_at=timezone.now())


def leave(seg: Segment, person: Contact) -> None:
    SegmentMembership.objects.filter(segment=seg, contact=person, exited_at__isnull=True).update(
        exited_at=timezone.now()
    )
