"""Customers for the dashboard's contact pages, linked and counted the way the sweep does:
Ada ordered as a guest, then signed up (her guest contact merged into her account's); Bob is
a guest who never ordered and unsubscribed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from oscar.test import factories

from oscar_recovery.constants import ConsentSource, LawfulBasis, MessageStatus, SuppressionReason
from oscar_recovery.contacts import facts, identity
from oscar_recovery.models import (
    Campaign,
    CampaignStep,
    CartJourney,
    Contact,
    RecoveryMessage,
)
from oscar_recovery.privacy import consent, suppression
from tests.support.factories import make_journey


@dataclass
class People:
    ada: Contact
    ada_guest: Contact
    bob: Contact
    ada_journeys: list[CartJourney]
    bob_journey: CartJourney
    orders: list
    message: RecoveryMessage


def _order(placed_ago: timedelta, total: str, **fields):
    order = factories.create_order(**fields)
    type(order).objects.filter(pk=order.pk).update(
        date_placed=timezone.now() - placed_ago, total_incl_tax=Decimal(total)
    )
    order.refresh_from_db()
    return order


def build() -> People:
    guest = make_journey(
        quiet_for=timedelta(days=20), email="Ada@Example.com", visitor_id="laptop", total=40
    )
    consent.record_consent(
        guest,
        text="Email me about my basket",
        given=True,
        source=ConsentSource.CHECKOUT,
        basis=LawfulBasis.CONSENT,
    )
    bob_journey = make_journey(quiet_for=timedelta(days=2), email="bob@example.com")
    identity.link_journeys()
    guest.refresh_from_db()
    ada_guest = guest.contact
    user = factories.UserFactory(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    account = make_journey(
        quiet_for=timedelta(hours=1), email="ada@example.com", user=user, visitor_id="laptop"
    )
    identity.link_journeys()
    orders = [
        _order(timedelta(days=19), "40.00", guest_email="Ada@Example.com"),
        _order(timedelta(days=1), "120.00", user=user),
        _order(timedelta(days=1), "99.00", guest_email="someone.else@example.com"),
    ]
    campaign = Campaign.objects.create(name="Welcome back", is_active=True)
    step = CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Forgot something?"
    )
    message = RecoveryMessage.objects.create(
        journey=guest,
        step=step,
        status=MessageStatus.SENT,
        to_email="ada@example.com",
        sent_at=timezone.now() - timedelta(days=19, hours=12),
    )
    suppression.suppress("bob@example.com", SuppressionReason.UNSUBSCRIBED)
    ada = Contact.objects.get(user=user)
    bob = Contact.objects.get(email="bob@example.com")
    facts.refresh(Contact.objects.values_list("pk", flat=True))
    ada_guest.refresh_from_db()
    return People(
        ada=ada,
        ada_guest=ada_guest,
        bob=bob,
        ada_journeys=[guest, account],
        bob_journey=bob_journey,
        orders=orders,
        message=message,
    )
