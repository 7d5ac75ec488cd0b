"""Set-based enrolment and batch dispatch: the SQL keeps the rules the Python states.

Enrolment is one ``INSERT .. SELECT`` per campaign and dispatch writes a batch's messages
in one INSERT; these tests hold them to :func:`oscar_recovery.campaigns.enrolment.matches`
(the rules in Python), to :func:`in_holdout` and to a cost that does not grow with the
batch.
"""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oscar.test.factories import UserFactory, create_order

from oscar_recovery.campaigns.dispatch import dispatch_due
from oscar_recovery.campaigns.enrolment import (
    customer_histories,
    enrol_journeys,
    in_holdout,
    matches,
)
from oscar_recovery.campaigns.variants import choose_variant
from oscar_recovery.constants import (
    CampaignTrigger,
    CheckoutStep,
    CustomerType,
    EnrolmentStatus,
    JourneyStatus,
    MessageStatus,
    SkipReason,
    ValueTier,
)
from oscar_recovery.models import (
    Campaign,
    CampaignEnrolment,
    CampaignStep,
    RecoveryMessage,
    StepVariant,
)
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db


def campaign(name, *, steps=(1, 24), holdout=0, **fields) -> Campaign:
    campaign = Campaign.objects.create(name=name, is_active=True, holdout_percent=holdout, **fields)
    for position, hours in enumerate(steps, start=1):
        CampaignStep.objects.create(
            campaign=campaign, position=position, delay=timedelta(hours=hours), subject=name
        )
    return campaign


def abandoned(**fields):
    return make_journey(quiet_for=timedelta(hours=2), status=JourneyStatus.ABANDONED, **fields)


AUDIENCES = [
    {"trigger": CampaignTrigger.BASKET_ABANDONED},
    {"trigger": CampaignTrigger.CHECKOUT_ABANDONED},
    {"trigger": CampaignTrigger.BROWSE_ABANDONED, "exclude_staff": False},
    {"min_basket_value": Decimal("20.00")},
    {"max_basket_value": Decimal("20.00")},
    {"min_basket_value": Decimal("10.00"), "max_basket_value": Decimal("10.00")},
    {"min_step": CheckoutStep.SHIPPING_ADDRESS},
    {"exclude_staff": False},
    {"customer_type": CustomerType.NEW},
    {"customer_type": CustomerType.RETURNING},
    {"value_tier": ValueTier.LOW},
    {"value_tier": ValueTier.MEDIUM},
    {"customer_type": CustomerType.RETURNING, "value_tier": ValueTier.HIGH},
]

SHAPES = [
    {},
    {"total": Decimal("25.00"), "furthest_step": CheckoutStep.GATEWAY},
    {"total": Decimal("9.99"), "furthest_step": CheckoutStep.PAYMENT},
    {"is_staff": True, "furthest_step": CheckoutStep.SHIPPING_ADDRESS},
    {"num_items": 0, "num_lines": 0, "lines": [], "num_viewed": 2, "viewed": [1, 2]},
    {"num_items": 0, "num_lines": 0, "lines": [], "num_viewed": 0},
    {"num_items": 0, "num_lines": 0, "lines": [], "num_viewed": 1, "is_staff": True},
]


@pytest.mark.parametrize("audience", AUDIENCES, ids=lambda a: "-".join(map(str, a.values())))
def test_the_sql_audience_is_the_python_one(settings, audience):
    """Every campaign rule against journeys of every shape, new and returning, low, medium
    and high value: a journey is enrolled exactly when :func:`matches` says so."""
    settings.OSCAR_RECOVERY_VALUE_TIERS = {"medium": 100, "high": 500}
    target = campaign("Under test", **audience)
    spenders = {
        "new": None,
        "low": Decimal("20.00"),
        "medium": Decimal("150.00"),
        "high": Decimal("900.00"),
    }
    journeys = []
    for (who, spent), shape in itertools.product(spenders.items(), SHAPES):
        user = UserFactory(email=f"{who}-{len(journeys)}@example.com")
        if spent is not None:
            order = create_order(user=user)
            order.total_incl_tax = spent
            order.save()
        journeys.append(abandoned(user=user, email=user.email, **shape))
    histories = customer_histories(journeys)
    expected = {j.pk for j in journeys if matches(target, j, histories[j.pk])}
    assert expected and len(expected) < len(journeys)  # the grid tells both ways

    enrol_journeys([j.pk for j in journeys])

    assert set(CampaignEnrolment.objects.values_list("journey_id", flat=True)) == expected


def test_a_campaign_that_matches_nobody_leaves_the_next_one_its_journeys():
    campaign("Returning only", customer_type=CustomerType.RETURNING, priority=300)
    campaign("High value only", min_basket_value=Decimal("1000"), priority=200)
    default = campaign("Everyone", priority=100)
    journeys = [abandoned(email=f"n{n}@example.com") for n in range(3)]

    assert enrol_journeys([j.pk for j in journeys]) == 3

    assert set(CampaignEnrolment.objects.values_list("campaign", flat=True)) == {default.pk}


def test_ended_restored_bot_and_already_enrolled_journeys_are_left_alone():
    first = campaign("First", priority=200)
    campaign("Second", priority=100)
    enrolled = abandoned()
    enrol_journeys([enrolled.pk])
    first.priority = 50  # the Second now comes first, but a journey stays where it is
    first.save()
    others = [
        make_journey(quiet_for=timedelta(hours=2)),  # still active
        abandoned(is_bot=True),
        abandoned(restored_from=enrolled),
    ]

    assert enrol_journeys([enrolled.pk, *(j.pk for j in others)]) == 0

    assert list(CampaignEnrolment.objects.values_list("journey", "campaign")) == [
        (enrolled.pk, first.pk)
    ]


def test_a_browse_enrolment_gives_way_to_a_basket_campaign_only_when_one_matches():
    browse = campaign("Browse", trigger=CampaignTrigger.BROWSE_ABANDONED, priority=300)
    campaign("Big baskets", min_basket_value=Decimal("100"))
    browsing = abandoned(num_items=0, num_lines=0, lines=[], num_viewed=1, viewed=[1])
    small = abandoned(num_items=0, num_lines=0, lines=[], num_viewed=1, viewed=[1])
    enrol_journeys([browsing.pk, small.pk])
    assert CampaignEnrolment.objects.filter(campaign=browse).count() == 2
    type(browsing).objects.filter(pk=browsing.pk).update(num_items=1, total=Decimal("150"))
    type(small).objects.filter(pk=small.pk).update(num_items=1, total=Decimal("15"))

    assert enrol_journeys([browsing.pk, small.pk]) == 1

    chosen = dict(CampaignEnrolment.objects.values_list("journey", "campaign__name"))
    assert chosen == {browsing.pk: "Big baskets", small.pk: "Browse"}


def test_the_holdout_is_drawn_as_in_holdout_and_the_first_step_scheduled():
    held_out = campaign("Held", holdout=30, steps=(2, 24))
    journeys = [abandoned() for _ in range(60)]

    enrol_journeys([j.pk for j in journeys], now=timezone.now())

    enrolments = list(CampaignEnrolment.objects.select_related("journey"))
    assert len(enrolments) == 60
    assert 0 < sum(e.is_holdout for e in enrolments) < 60
    for enrolment in enrolments:
        assert enrolment.is_holdout == in_holdout(held_out, enrolment.journey)
        assert enrolment.next_send_at == enrolment.journey.abandoned_at + timedelta(hours=2)
        assert enrolment.next_step.position == 1


def test_enrolment_costs_the_same_queries_for_one_journey_or_many():
    campaign("A", priority=300, customer_type=CustomerType.NEW)
    campaign("B", priority=200, min_basket_value=Decimal("5"))
    campaign("C", priority=100, holdout=20)
    one = [abandoned().pk]
    many = [abandoned(email=f"m{n}@example.com").pk for n in range(40)]
    with CaptureQueriesContext(connection) as few:
        enrol_journeys(one)
    with CaptureQueriesContext(connection) as lots:
        enrol_journeys(many)
    assert CampaignEnrolment.objects.count() == 41
    assert len(lots) <= len(few) + 1  # + at most the holdout UPDATE the one did not need


# -- Dispatch -------------------------------------------------------------------------------


def test_dispatch_costs_the_same_queries_for_a_batch_of_two_or_forty(settings):
    settings.OSCAR_RECOVERY_SWEEP_BATCH_SIZE = 1000
    campaign("Default", steps=(1, 24), holdout=25)

    def dispatched(count: int) -> int:
        ids = [abandoned(email=f"q{count}-{n}@example.com").pk for n in range(count)]
        enrol_journeys(ids)
        with CaptureQueriesContext(connection) as queries:
            dispatch_due()
        assert RecoveryMessage.objects.filter(journey_id__in=ids).count() == count
        return len(queries)

    assert dispatched(40) == dispatched(2)


def test_dispatch_writes_each_step_once_moves_every_enrolment_on_and_picks_variants():
    default = campaign("Default", steps=(1, 24), holdout=40)
    step = default.steps.get(position=1)
    StepVariant.objects.create(step=step, label="B", weight=50, subject="Other")
    journeys = [abandoned(email=f"v{n}@example.com") for n in range(30)]
    enrol_journeys([j.pk for j in journeys])
    already = journeys[0]  # a message another sweep wrote: never a second one
    RecoveryMessage.objects.create(journey=already, step=step, to_email=already.email)

    created = dispatch_due()

    messages = RecoveryMessage.objects.filter(step=step)
    assert messages.count() == 30
    holdout = set(messages.filter(skip_reason=SkipReason.HOLDOUT).values_list("pk", flat=True))
    assert holdout and holdout == set(
        messages.filter(status=MessageStatus.SKIPPED).values_list("pk", flat=True)
    )
    queued_now = messages.exclude(journey=already).filter(status=MessageStatus.QUEUED)
    assert sorted(created) == sorted(queued_now.values_list("pk", flat=True))
    assert messages.filter(variant__label="B").exists()
    assert messages.filter(variant__isnull=True).exists()
    for message in messages.select_related("variant"):
        want = "B" if message.variant else None
        got = choose_variant(step, message.journey_id)
        assert (got.label if got else None) == want
    for enrolment in CampaignEnrolment.objects.select_related("journey", "next_step"):
        assert enrolment.next_step.position == 2
        assert enrolment.next_send_at == enrolment.journey.abandoned_at + timedelta(hours=24)
        assert enrolment.status == EnrolmentStatus.ACTIVE
