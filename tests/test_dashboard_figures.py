"""Every dashboard figure against journeys and orders counted by hand (dashboard_scenario)."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from oscar_recovery.constants import CheckoutStep, JourneyStatus, MessageStatus
from oscar_recovery.models import (
    Campaign,
    CampaignEnrolment,
    CampaignStep,
    DailyProductStat,
    DailyStat,
    RecoveryMessage,
    StepVariant,
)
from oscar_recovery.reporting import aggregation, reports
from oscar_recovery.reporting.statistics import Verdict
from oscar_recovery.tasks import aggregate_stats
from tests.support import dashboard_scenario as sc
from tests.support.factories import journey_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario():
    built = sc.build()
    aggregation.recompute(date(2026, 2, 1), date(2026, 3, 31))
    return built


def test_overview_figures_match_the_hand_count(scenario):
    overview = reports.overview(sc.PERIOD)
    for name, expected in sc.EXPECTED.items():
        assert overview.current[name] == expected, name
    for name, expected in sc.EXPECTED_PREVIOUS.items():
        assert overview.before[name] == expected, name
    assert overview.previous == sc.PREVIOUS


def test_overview_rates_match_the_hand_count(scenario):
    now = reports.overview(sc.PERIOD).current
    assert now["abandonment_rate"] == pytest.approx(5 / 6)
    assert now["identified_share"] == pytest.approx(4 / 5)
    assert now["delivery_rate"] == pytest.approx(2 / 2)
    assert now["click_rate"] == pytest.approx(1 / 2)
    assert now["recovery_rate"] == pytest.approx(1 / 5)
    assert now["revenue_per_email"] == Decimal("15.00")


def test_change_against_the_previous_period(scenario):
    overview = reports.overview(sc.PERIOD)
    assert overview.change("abandoned") == pytest.approx(4.0)  # 1 -> 5
    assert overview.change("recovered_orders") is None  # nothing before


def test_lift_says_not_enough_data_for_a_handful_of_journeys(scenario):
    lift = reports.overview(sc.PERIOD).lift
    assert lift.interval is None
    assert lift.emailed_rate == pytest.approx(1 / 3)
    assert lift.holdout_rate == pytest.approx(1.0)


def test_funnel_counts_by_furthest_step(scenario):
    steps = reports.funnel(sc.PERIOD)
    assert [(s.label, s.reached, s.dropped) for s in steps] == sc.EXPECTED_FUNNEL
    # Six baskets are too few to rank steps by drop-off rate: nothing is named.
    assert reports.worst_step(steps) is None
    # Without the minimum, three steps lose one shopper each: the highest rate (1 of 4 at
    # Payment) is named, not the first 1-of-n.
    assert reports.worst_step(steps, minimum_reached=1).label == "Payment"


def test_daily_series(scenario):
    series = reports.daily_series(sc.PERIOD)
    assert series["days"][0] == "2026-03-01"
    assert series["abandoned"] == [1, 2, 0, 1, 0, 1, 0]
    assert series["recovered"] == [0, 0, 1, 0, 0, 0, 0]
    assert series["sent"] == [1, 1, 0, 0, 0, 0, 0]


def test_campaign_and_step_tables(scenario):
    (campaign,) = reports.campaign_rows(sc.PERIOD)
    assert campaign.label == "Welcome back"
    assert (campaign["enrolled"], campaign["holdout"], campaign["sent"]) == (3, 1, 2)
    assert campaign["emailed"] == 2  # journeys sent an email, not enrolments (J9's failed)
    assert campaign["recovered_revenue"] == Decimal("30.00")
    steps = reports.step_rows(sc.PERIOD)
    assert [(row.label, row["sent"], row["clicked"], row["recovered_orders"]) for row in steps] == [
        ("Welcome back #1", 2, 1, 1)
    ]


def test_ab_results_per_variant(scenario):
    # All of the test's history, not just the period: J8's bounced email the week before
    # belongs to the control (A) too.
    (group,) = reports.ab_results(sample_size=1000)
    assert [(r.label, r.sent, r.clicked, r.recovered_orders) for r in group] == [
        ("A", 2, 1, 1),
        ("B", 1, 0, 0),
    ]
    assert [c.result.verdict for c in group[1].comparisons] == [Verdict.KEEP_RUNNING] * 2


def test_top_products(scenario):
    rows = reports.top_products(sc.PERIOD)
    assert [(r.title, r.baskets, r.quantity, r.value) for r in rows] == [
        ("Wool hat", 3, 3, Decimal("37.50")),  # J1 J3 J9
        ("Winter coat", 2, 4, Decimal("160.00")),  # J1 J2
        ("Thing", 1, 1, Decimal("40.00")),  # J5
    ]


def test_days_follow_the_local_time_zone(scenario):
    # J9 was abandoned at 23:30 local time on 03-06, which is 03-07 in UTC.
    stats = DailyStat.objects.get(day=date(2026, 3, 6), key=DailyStat.TOTAL_KEY)
    assert stats.abandoned == 1


def test_recompute_is_idempotent_and_follows_changes(scenario):
    first = list(DailyStat.objects.order_by("day", "key").values())
    aggregation.recompute(date(2026, 2, 1), date(2026, 3, 31))
    again = list(DailyStat.objects.order_by("day", "key").values())

    def strip(rows):
        return [{k: v for k, v in r.items() if k not in ("id", "computed_at")} for r in rows]

    assert strip(first) == strip(again)
    # A late click on J2's email: a recompute of its send day picks it up.
    RecoveryMessage.objects.filter(journey=scenario.journeys[2]).update(
        clicked_at=sc.at(date(2026, 3, 9))
    )
    aggregation.recompute(date(2026, 3, 2))
    assert reports.overview(sc.PERIOD).current["clicked"] == 2
    assert DailyProductStat.objects.filter(day=date(2026, 3, 2)).count() == 2  # coat, hat


def test_backfill_command_and_task(scenario):
    DailyStat.objects.all().delete()
    call_command(
        "recovery_aggregate", "--from", "2026-02-20", "--to", "2026-03-10", "--chunk-days", "5"
    )
    assert reports.overview(sc.PERIOD).current["created"] == 6
    DailyStat.objects.all().delete()
    call_command("recovery_aggregate", "--all")
    assert reports.overview(sc.PERIOD).current["abandoned"] == 5
    # The periodic task recomputes recent days only (nothing of the scenario's).
    assert aggregate_stats.delay().get()["days"] == 35
    assert aggregate_stats.delay(days=2).get()["days"] == 2
    assert reports.overview(sc.PERIOD).current["abandoned"] == 5


def test_backfill_command_rejects_a_reversed_range(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("recovery_aggregate", "--from", "2026-03-10", "--to", "2026-03-01")
    with pytest.raises(CommandError):
        call_command("recovery_aggregate", "--days", "0")
    out = io.StringIO()
    call_command("recovery_aggregate", "--days", "3", stdout=out)
    assert "Recomputed 3 days" in out.getvalue()


def test_lift_with_enough_data_has_a_confidence_interval(db):
    """100 emailed journeys of which 30 ordered, 100 holdout of which 20 ordered:
    lift 0.10, se = sqrt(.3*.7/100 + .2*.8/100) = 0.060828, 95 % CI [-0.0192, 0.2192]."""
    from oscar.test import factories

    campaign = Campaign.objects.create(name="Lift")
    order = factories.create_order()
    day = date(2026, 4, 1)
    journeys = sc.CartJourney.objects.bulk_create(
        [
            journey_row(quiet_for=timedelta(days=1), status=JourneyStatus.CONVERTED)
            for _ in range(200)
        ]
    )
    enrolments = []
    for index, j in enumerate(journeys):
        holdout = index >= 100
        ordered = (index % 100) < (20 if holdout else 30)
        if ordered:
            j.order = order
        enrolments.append(
            CampaignEnrolment(
                journey=j, campaign=campaign, is_holdout=holdout, enrolled_at=sc.at(day)
            )
        )
    sc.CartJourney.objects.bulk_update(journeys, ["order"])
    CampaignEnrolment.objects.bulk_create(enrolments)
    aggregation.recompute(day)

    lift = reports.overview(reports.Period(day, day)).lift
    assert lift.emailed_rate == pytest.approx(0.30)
    assert lift.holdout_rate == pytest.approx(0.20)
    assert lift.interval.estimate == pytest.approx(0.10)
    assert lift.interval.low == pytest.approx(-0.0192, abs=1e-4)
    assert lift.interval.high == pytest.approx(0.2192, abs=1e-4)


def _ab_messages(step, label_counts, variant, day):
    """``label_counts``: {variant or None: (sent, clicked)}."""
    rows = []
    for arm, (sent, clicks) in label_counts.items():
        journeys = sc.CartJourney.objects.bulk_create(
            [journey_row(quiet_for=timedelta(days=1)) for _ in range(sent)]
        )
        for index, j in enumerate(journeys):
            rows.append(
                RecoveryMessage(
                    journey=j,
                    step=step,
                    variant=variant if arm else None,
                    status=MessageStatus.CLICKED if index < clicks else MessageStatus.SENT,
                    sent_at=sc.at(day),
                    clicked_at=sc.at(day, 13) if index < clicks else None,
                )
            )
    RecoveryMessage.objects.bulk_create(rows)


def test_ab_test_keeps_running_then_judges_on_clicks(db, settings):
    """Control 20 clicks of 200, variant 40 of 200: z = 2.8006, p = 0.0051."""
    campaign = Campaign.objects.create(name="AB")
    step = CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="S"
    )
    variant = StepVariant.objects.create(step=step, label="B")
    day = date(2026, 4, 2)
    _ab_messages(step, {None: (200, 20), "B": (200, 40)}, variant, day)
    aggregation.recompute(day)

    settings.OSCAR_RECOVERY_AB_SAMPLE_SIZE = 1000
    (group,) = reports.ab_results()
    control, b = group
    assert (control.label, control.sent, control.clicked) == ("A", 200, 20)
    clicks, orders = b.comparisons
    assert clicks.result.verdict == Verdict.KEEP_RUNNING
    assert clicks.result.progress == pytest.approx(0.2)

    settings.OSCAR_RECOVERY_AB_SAMPLE_SIZE = 200
    (group,) = reports.ab_results()
    clicks, orders = group[1].comparisons
    assert clicks.result.verdict == Verdict.BETTER
    assert clicks.result.test.z == pytest.approx(2.8006, abs=1e-4)
    assert clicks.result.test.p_value == pytest.approx(0.0051, abs=1e-4)
    # No recovered orders in either arm: no variation, no difference.
    assert orders.result.verdict == Verdict.NO_DIFFERENCE


def test_funnel_of_journeys_driven_through_the_real_checkout(
    shopper, product, other_product, country
):
    """Three shoppers through Oscar's own views: one stops at the basket, one at the
    shipping address, one orders."""
    from django.test import Client
    from django.utils import timezone

    from tests.conftest import BROWSER_UA
    from tests.support import journeys as drive

    drive.add_to_basket(shopper, product)
    second = Client(HTTP_USER_AGENT=BROWSER_UA)
    drive.add_to_basket(second, product)
    drive.guest_gateway(second, "second@example.com")
    drive.shipping_address(second, country)
    third = Client(HTTP_USER_AGENT=BROWSER_UA)
    drive.guest_checkout(third, other_product, country, "third@example.com")

    today = timezone.localdate()
    aggregation.recompute(today)
    funnel = {s.label: (s.reached, s.dropped) for s in reports.funnel(reports.Period(today, today))}
    assert funnel[str(CheckoutStep.BASKET.label)] == (3, 1)
    assert funnel[str(CheckoutStep.GATEWAY.label)] == (2, 0)
    assert funnel[str(CheckoutStep.SHIPPING_ADDRESS.label)] == (2, 1)
    assert funnel[str(CheckoutStep.SHIPPING_METHOD.label)] == (1, 0)
    assert funnel["Order placed"] == (1, 0)


def test_each_figure_has_one_name_everywhere(scenario, client):
    """Before: "Emailed journeys" counted enrolments (anonymous baskets and restored copies
    included), while the lift called the same group "emailed journeys"; the owner read 10
    where 4 addresses had been emailed. Now "Journeys emailed" counts journeys sent an
    email, the emailed group is named as such, and tables, charts and exports share names."""
    client.force_login(sc.recovery_staff(*sc.RECOVERY_STAFF_PERMISSIONS, email="n@example.com"))
    query = {"start": "2026-03-01", "end": "2026-03-07"}
    campaigns_url = reverse("recovery_dashboard:recovery-campaigns")
    campaigns = client.get(campaigns_url, query).content.decode()
    overview = client.get(reverse("recovery_dashboard:recovery-overview"), query)
    labels = {str(label): now for label, now, _then, _kind in overview.context["figures"]}
    assert labels["Journeys emailed"] == 2
    assert "Emailed journeys" not in campaigns
    assert str(reports.LABELS["emailed"]) in campaigns
    assert str(reports.LABELS["enrolled"]) in campaigns
    export = client.get(campaigns_url, {**query, "export": "campaigns"})
    header = b"".join(export.streaming_content if export.streaming else [export.content])
    header = header.decode().lstrip("\ufeff").splitlines()[0]
    assert header.startswith("Campaign,Journeys emailed,Emailed group (enrolled outside")
    config = overview.context["chart_config"]["daily"]
    assert config["abandonedLabel"] == str(reports.LABELS["abandoned"])
