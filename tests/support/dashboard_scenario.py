"""A small shop's week, built row by row, whose every dashboard figure is counted by hand.

The period under report is 2026-03-01 to 2026-03-07; the week before is the comparison.
Every journey below says what it contributes; the tests compare the dashboard with these
hand counts, never with the aggregation's own output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone
from oscar.test import factories

from oscar_recovery.constants import CheckoutStep, EnrolmentStatus, JourneyStatus, MessageStatus
from oscar_recovery.models import (
    Campaign,
    CampaignEnrolment,
    CampaignStep,
    CartJourney,
    RecoveryMessage,
    StepVariant,
)
from oscar_recovery.reporting.reports import Period

PERIOD = Period(date(2026, 3, 1), date(2026, 3, 7))
PREVIOUS = Period(date(2026, 2, 22), date(2026, 2, 28))


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """A moment of a local calendar day (the project's time zone)."""
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


def d(day: int, month: int = 3) -> date:
    return date(2026, month, day)


def journey(
    created: date,
    *,
    step=CheckoutStep.BASKET,
    abandoned: date | None = None,
    email="shopper@example.com",
    total="10.00",
    lines=None,
    **fields,
) -> CartJourney:
    values = {
        "created_at": at(created, 10),
        "last_activity_at": at(abandoned or created, 11),
        "basket_reached_at": at(created, 10),
        "furthest_step": step,
        "email": email,
        "total": Decimal(total),
        "currency": "GBP",
        "num_lines": 1,
        "num_items": 1,
        "lines": lines
        if lines is not None
        else [
            {
                "product_id": None,
                "title": "Thing",
                "quantity": 1,
                "unit_price": total,
                "line_total": total,
            }
        ],
        "status": JourneyStatus.ABANDONED if abandoned else JourneyStatus.ACTIVE,
    }
    if abandoned:
        values["abandoned_at"] = at(abandoned, 11)
    values.update(fields)
    return CartJourney.objects.create(**values)


def order_for(j: CartJourney, placed: date, total: str, *, recovered_by=None):
    order = factories.create_order()
    order.date_placed = at(placed, 15)
    order.save(update_fields=["date_placed"])
    j.order = order
    j.order_total = Decimal(total)
    j.ended_at = at(placed, 15)
    j.status = JourneyStatus.RECOVERED if recovered_by else JourneyStatus.CONVERTED
    j.attributed_message = recovered_by
    j.save()
    return order


def enrol(j: CartJourney, campaign: Campaign, day: date, holdout=False) -> CampaignEnrolment:
    return CampaignEnrolment.objects.create(
        journey=j,
        campaign=campaign,
        is_holdout=holdout,
        enrolled_at=at(day, 11, 30),
        status=EnrolmentStatus.ACTIVE,
    )


def message(j, step, *, sent: date | None, variant=None, status=MessageStatus.SENT, **times):
    return RecoveryMessage.objects.create(
        journey=j,
        step=step,
        variant=variant,
        status=status,
        to_email=j.email,
        created_at=at(sent or d(1), 12),
        sent_at=at(sent, 12) if sent else None,
        **times,
    )


@dataclass
class Scenario:
    campaign: Campaign
    step1: CampaignStep
    step2: CampaignStep
    variant_b: StepVariant
    journeys: dict


def build() -> Scenario:
    campaign = Campaign.objects.create(name="Welcome back", is_active=True)
    step1 = CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Forgot something?"
    )
    step2 = CampaignStep.objects.create(
        campaign=campaign, position=2, delay=timedelta(days=1), subject="Still there"
    )
    variant_b = StepVariant.objects.create(step=step1, label="B", subject="Your basket")
    coat = {
        "product_id": 101,
        "title": "Winter coat",
        "quantity": 2,
        "unit_price": "40.00",
        "line_total": "80.00",
    }
    hat = {
        "product_id": 102,
        "title": "Wool hat",
        "quantity": 1,
        "unit_price": "12.50",
        "line_total": "12.50",
    }

    js = {}
    # J1: abandoned at the basket 03-01, emailed (A) 03-01, clicked 03-02, recovered 03-03
    # for 30.00.
    js[1] = journey(d(1), abandoned=d(1), total="92.50", lines=[coat, hat])
    enrol(js[1], campaign, d(1))
    m1 = message(
        js[1],
        step1,
        sent=d(1),
        status=MessageStatus.CLICKED,
        delivered_at=at(d(1), 13),
        clicked_at=at(d(2), 9),
    )
    order_for(js[1], d(3), "30.00", recovered_by=m1)
    # J2: reached the gateway, abandoned 03-02, emailed (B) 03-02: opened, not clicked, and
    # the ESP never said "delivered" (the open proves it).
    js[2] = journey(
        d(2),
        step=CheckoutStep.GATEWAY,
        abandoned=d(2),
        total="20.00",
        gateway_reached_at=at(d(2), 10, 5),
        lines=[coat],
    )
    enrol(js[2], campaign, d(2))
    message(
        js[2],
        step1,
        sent=d(2),
        variant=variant_b,
        status=MessageStatus.OPENED,
        opened_at=at(d(2), 14),
    )
    # J3: reached payment, abandoned 03-02 without an email: no campaign.
    js[3] = journey(
        d(2), step=CheckoutStep.PAYMENT, abandoned=d(2), email="", total="50.00", lines=[hat]
    )
    # J4: ordered at once 03-03 (never abandoned).
    js[4] = journey(d(3), step=CheckoutStep.PREVIEW, total="15.00")
    order_for(js[4], d(3), "15.00")
    # J5: abandoned 03-04, holdout, ordered on its own 03-05.
    js[5] = journey(d(4), abandoned=d(4), total="40.00")
    enrol(js[5], campaign, d(4), holdout=True)
    message(js[5], step1, sent=None, status=MessageStatus.SKIPPED, skip_reason="holdout")
    order_for(js[5], d(5), "40.00")
    # J6: a bot: counted nowhere.
    js[6] = journey(d(4), abandoned=d(4), total="99.00", is_bot=True)
    # J7: a guest basket merged into another journey: counted nowhere.
    js[7] = journey(d(5), abandoned=d(5), total="99.00", status=JourneyStatus.MERGED)
    # J9: reached the shipping address, abandoned 03-06 late in the evening (local time),
    # step 2 failed to send: enrolled, no email sent.
    js[9] = journey(
        d(6),
        step=CheckoutStep.SHIPPING_ADDRESS,
        abandoned=d(6),
        total="7.50",
        abandoned_at=at(d(6), 23, 30),
        lines=[hat],
    )
    enrol(js[9], campaign, d(6))
    message(js[9], step2, sent=None, status=MessageStatus.FAILED, error="ESP down")
    # J8: the week before: abandoned 02-25, emailed (A) 02-25, bounced.
    js[8] = journey(d(25, 2), abandoned=d(25, 2), total="60.00")
    enrol(js[8], campaign, d(25, 2))
    message(js[8], step1, sent=d(25, 2), status=MessageStatus.BOUNCED)
    # J11: J2's restore link opened in another browser 03-02 (a copy of J2's basket, no
    # address), abandoned again: enrolled, as copies were before they were told apart, and
    # counted nowhere: J2 is that basket.
    js[11] = journey(d(2), abandoned=d(2), email="", total="20.00", restored_from=js[2])
    enrol(js[11], campaign, d(2))
    # J10: created the day after the period: outside both.
    js[10] = journey(d(8), abandoned=d(8), total="5.00")
    return Scenario(campaign, step1, step2, variant_b, js)


#: The figures of PERIOD, counted from the journeys above.
EXPECTED = {
    "created": 6,  # J1 J2 J3 J4 J5 J9
    "abandoned": 5,  # J1 J2 J3 J5 J9
    "identified": 4,  # all but J3
    "abandoned_value": Decimal("210.00"),  # 92.50 + 20 + 50 + 40 + 7.50
    "ordered": 3,  # J1 J4 J5 (created in the period)
    "sent": 2,  # J1 (A), J2 (B)
    "delivered": 2,  # J1 delivered, J2 opened
    "opened": 1,
    "clicked": 1,
    "bounced": 0,
    "recovered_orders": 1,  # J1
    "recovered_revenue": Decimal("30.00"),
    "enrolled": 3,  # J1 J2 J9
    "emailed": 2,  # J1 J2 (J9's email failed, J5 is in the holdout)
    "enrolled_ordered": 1,  # J1
    "holdout": 1,  # J5
    "holdout_ordered": 1,
}
EXPECTED_PREVIOUS = {
    "created": 1,
    "abandoned": 1,
    "identified": 1,
    "sent": 1,
    "delivered": 0,
    "bounced": 1,
    "recovered_orders": 0,
    "enrolled": 1,
    "emailed": 1,  # J8: sent, then bounced
}
#: (step, reached, went no further) of journeys created in PERIOD.
EXPECTED_FUNNEL = [
    ("Basket", 6, 0),
    ("Checkout gateway / email", 6, 1),  # J2 stops here
    ("Shipping address", 5, 1),  # J9
    ("Shipping method", 4, 0),
    ("Payment", 4, 1),  # J3
    ("Order preview", 3, 0),
    ("Order placed", 3, 0),  # J1 J4 J5
]


#: What staff need for every page and action of the recovery dashboard.
RECOVERY_STAFF_PERMISSIONS = ("view_campaign", "view_cartjourney", "change_campaignenrolment")


def recovery_staff(*codenames: str, **fields):
    """A staff user with the given ``oscar_recovery`` model permissions (none: a staff user
    the admin refuses)."""
    from django.contrib.auth.models import Permission

    user = factories.UserFactory(is_staff=True, **fields)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="oscar_recovery", codename__in=codenames)
    )
    return user
