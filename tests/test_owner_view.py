"""What shop owners read: text for people, figures that agree with
each other, and an A/B test a small shop can finish."""

from __future__ import annotations

import math
import random
import re
from datetime import date, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from oscar.test import factories

from oscar_recovery.campaigns import dispatch
from oscar_recovery.campaigns.dispatch import dispatch_due
from oscar_recovery.campaigns.enrolment import enrol_journeys
from oscar_recovery.constants import (
    CheckoutStep,
    ConsentSource,
    EnrolmentStatus,
    JourneyEventKind,
    JourneyStatus,
    LawfulBasis,
    MessageStatus,
    PromptEventKind,
    PromptKind,
    SkipReason,
)
from oscar_recovery.dashboard.formatting import format_datetime, humanize_duration
from oscar_recovery.dashboard.timeline import describe_event, journey_timeline
from oscar_recovery.models import (
    Campaign,
    CampaignEnrolment,
    CampaignStep,
    CartJourney,
    CartJourneyEvent,
    Prompt,
    PromptEvent,
    RecoveryMessage,
)
from oscar_recovery.outcomes import attribution
from oscar_recovery.privacy.suppression import suppress
from oscar_recovery.prompts import service as prompt_service
from oscar_recovery.reporting import reports
from oscar_recovery.reporting import statistics as stats
from oscar_recovery.sending import send as sending
from oscar_recovery.sending.content import display_subject
from tests.support import dashboard_scenario as sc
from tests.support.journeys import add_to_basket, guest_gateway

pytestmark = pytest.mark.django_db

TEMPLATED_SUBJECT = '{% translate "Forgot something?" %}'


def url(name, *args):
    return reverse(f"recovery_dashboard:{name}", args=args)


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(sc.recovery_staff(*sc.RECOVERY_STAFF_PERMISSIONS, email="owner@example.com"))
    return client


# -- 7. Text for people ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay", "words"),
    [
        (timedelta(hours=1), "1 hour"),
        (timedelta(days=7), "7 days"),
        (timedelta(days=1, hours=12), "1 day, 12 hours"),
        (timedelta(minutes=45), "45 minutes"),
        (timedelta(hours=72), "3 days"),
        (timedelta(0), "0 minutes"),
    ],
)
def test_delays_read_as_words(delay, words):
    with translation.override("en"):
        assert humanize_duration(delay) == words


def test_one_date_format_never_leaves_a_double_stop(settings):
    settings.USE_TZ = True
    with translation.override("en"):
        text = format_datetime(datetime(2026, 3, 5, 15, 4, tzinfo=timezone.get_current_timezone()))
    assert text == "March 5, 2026, 3:04 p.m."


def templated_step(position=1, delay=timedelta(days=7)) -> CampaignStep:
    campaign, _ = Campaign.objects.get_or_create(name="Welcome back", defaults={"is_active": True})
    return CampaignStep.objects.create(
        campaign=campaign, position=position, delay=delay, subject=TEMPLATED_SUBJECT
    )


def test_a_subject_is_shown_rendered_never_as_template_source():
    step = templated_step()
    assert display_subject(step, "en") == "Forgot something?"
    # A subject that does not render shows its source rather than break the page.
    step.subject = "{% if %}"
    assert display_subject(step, "en") == "{% if %}"


def test_the_admin_step_list_shows_rendered_subjects_and_worded_delays(admin_client):
    templated_step(delay=timedelta(days=7))
    templated_step(position=2, delay=timedelta(hours=1))
    html = admin_client.get(reverse("admin:oscar_recovery_campaignstep_changelist")).content
    # What the owner reads: the text between tags (a checkbox's aria-label keeps __str__).
    html = re.sub(r"<[^>]*>", " ", html.decode())
    assert "{%" not in html
    assert "Welcome back #1: Forgot something?" in html
    assert "7 days" in html and "1 hour" in html
    assert "7 days, 0:00:00" not in html


def consent_journey() -> CartJourney:
    journey = sc.journey(sc.d(2), abandoned=sc.d(2), step=CheckoutStep.PAYMENT)
    CartJourneyEvent.objects.create(
        journey=journey,
        kind=JourneyEventKind.CONSENT_RECORDED,
        created_at=sc.at(sc.d(2), 10, 5),
        data={"basis": LawfulBasis.SOFT_OPT_IN, "given": True, "source": ConsentSource.CHECKOUT},
    )
    return journey


def test_timeline_lines_are_sentences_with_rendered_subjects(staff_client):
    journey = consent_journey()
    step = templated_step()
    sc.message(journey, step, sent=None, status=MessageStatus.SKIPPED)
    RecoveryMessage.objects.filter(journey=journey).update(skip_reason=SkipReason.SUPPRESSED)
    CampaignEnrolment.objects.create(
        journey=journey,
        campaign=step.campaign,
        enrolled_at=sc.at(sc.d(2), 11),
        status=EnrolmentStatus.STOPPED,
        stop_reason="order_placed",
    )
    CartJourney.objects.filter(pk=journey.pk).update(
        last_activity_at=sc.at(sc.d(2), 15, 30)  # an afternoon: "p.m."
    )
    with translation.override("en"):
        titles = [entry.title for entry in journey_timeline(journey)]
        html = staff_client.get(url("recovery-basket-detail", journey.pk)).content.decode()
    assert "Consent given at checkout (soft opt-in)" in titles
    assert (
        "Email 1 “Forgot something?” not sent: address unsubscribed, bounced or complained"
        in titles
    )
    assert "Stopped: an order was placed" in html
    assert "{%" not in html
    assert "p.m." in html and ".." not in html.replace("...", "")


def test_a_refusal_reads_as_one():
    event = CartJourneyEvent(
        kind=JourneyEventKind.CONSENT_RECORDED,
        data={"basis": LawfulBasis.CONSENT, "given": False, "source": ConsentSource.PROMPT},
    )
    with translation.override("en"):
        assert describe_event(event) == (
            "Reminders refused in an on-site prompt (prior consent)",
            "",
        )


def test_the_campaigns_table_and_export_show_rendered_subjects(staff_client):
    journey = sc.journey(sc.d(2), abandoned=sc.d(2))
    step = templated_step()
    sc.message(journey, step, sent=sc.d(2))
    from oscar_recovery.reporting import aggregation

    aggregation.recompute(date(2026, 3, 1), date(2026, 3, 7))
    query = {"start": "2026-03-01", "end": "2026-03-07"}
    html = staff_client.get(url("recovery-campaigns"), query).content.decode()
    export = staff_client.get(url("recovery-campaigns"), {**query, "export": "steps"})
    export_text = b"".join(export.streaming_content if export.streaming else [export.content])
    assert "Forgot something?" in html and "{%" not in html
    assert "{%" not in export_text.decode() and "Forgot something?" in export_text.decode()


# -- 8. Figures that agree ------------------------------------------------------------------


@pytest.fixture
def due_message(shopper, product):
    campaign = Campaign.objects.create(name="Default", is_active=True, holdout_percent=0)
    for position in (1, 2, 3):
        CampaignStep.objects.create(
            campaign=campaign,
            position=position,
            delay=timedelta(hours=position),
            subject=TEMPLATED_SUBJECT,
        )
    add_to_basket(shopper, product)
    guest_gateway(shopper, "guest@example.com")
    journey = CartJourney.objects.get()
    ago = timezone.now() - timedelta(hours=1, minutes=30)
    CartJourney.objects.filter(pk=journey.pk).update(
        status=JourneyStatus.ABANDONED, abandoned_at=ago, last_activity_at=ago
    )
    enrol_journeys([journey.pk])
    (message_id,) = dispatch_due()
    return RecoveryMessage.objects.get(pk=message_id)


def test_a_step_skipped_as_suppressed_stops_the_enrolment_everywhere(due_message, staff_client):
    journey = due_message.journey
    suppress(journey.email)
    enrolment = CampaignEnrolment.objects.get(journey=journey)
    # Before the send: the dashboard already offers no "Send now" to that address.
    assert "send_now" not in dispatch.allowed_actions(enrolment)
    with pytest.raises(dispatch.EnrolmentActionError):
        dispatch.send_next_step_now(enrolment.pk)

    assert sending.send_message(due_message.pk) == MessageStatus.SKIPPED

    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.STOPPED
    assert enrolment.stop_reason == SkipReason.SUPPRESSED and enrolment.next_send_at is None
    assert dispatch_due(now=timezone.now() + timedelta(days=3)) == []
    page = staff_client.get(url("recovery-basket-detail", journey.pk))
    html = page.content.decode()
    assert page.context["actions"] == {}
    assert 'data-enrolment-status="stopped"' in html
    assert "Stopped: the address unsubscribed" in html  # which suppression, not "or"
    assert "data-next-step" not in html


def test_a_passing_skip_reason_leaves_the_later_steps(due_message):
    # A cooldown passes: the next step is still checked on its own.
    RecoveryMessage.objects.create(
        journey=sc.journey(sc.d(1), email=due_message.journey.email),
        step=due_message.step,
        status=MessageStatus.SENT,
        to_email=due_message.journey.email,
        sent_at=timezone.now() - timedelta(minutes=5),
    )
    assert sending.send_message(due_message.pk) == MessageStatus.SKIPPED
    due_message.refresh_from_db()
    assert due_message.skip_reason == SkipReason.COOLDOWN
    assert CampaignEnrolment.objects.get(journey=due_message.journey).status == (
        EnrolmentStatus.ACTIVE
    )


def test_shoppers_stop_most_where_the_drop_off_rate_is_highest():
    steps = [
        reports.FunnelStep("Basket", 200, 60),  # 30 %, most shoppers by count
        reports.FunnelStep("Shipping", 140, 56),  # 40 %: the worst rate
        reports.FunnelStep("Payment", 2, 2),  # 100 %, but 2 baskets are no evidence
        reports.FunnelStep("Order placed", 82, 0),
    ]
    assert reports.worst_step(steps).label == "Shipping"
    assert reports.worst_step(steps, minimum_reached=1).label == "Payment"
    # A 1-vs-1 tie is not a ranking: below the minimum nothing is named.
    assert reports.worst_step([reports.FunnelStep("A", 1, 1), reports.FunnelStep("B", 1, 1)]) is (
        None
    )


def make_prompt(name: str) -> Prompt:
    return Prompt.objects.create(
        name=name, kind=PromptKind.EXIT_INTENT, is_active=True, headline="H", cta_label="C"
    )


def test_one_order_one_channel_an_email_click_gets_it_and_the_prompt_assisted(staff_client):
    journey = sc.journey(sc.d(3), abandoned=sc.d(3), visitor_id="v" * 32)
    step = templated_step()
    clicked = sc.message(journey, step, sent=sc.d(3), clicked_at=sc.at(sc.d(4), 9))
    prompt = make_prompt("Exit")
    PromptEvent.objects.create(
        prompt=prompt, kind=PromptEventKind.SHOWN, visitor_id="v" * 32, created_at=sc.at(sc.d(4))
    )
    order = sc.order_for(journey, sc.d(4), "10.00")
    placed = order.date_placed

    credit = attribution.credit_order(journey, placed, {prompt.pk: sc.at(sc.d(4))})
    assert credit.message == clicked and credit.prompt_id is None
    assert credit.assisted_prompt_ids == {prompt.pk}

    attribution.attribute_order(journey, order)
    prompt_service.record_conversion(journey, order, now=placed)
    converted = PromptEvent.objects.get(kind=PromptEventKind.CONVERTED)
    assert converted.data["credit"] == "assisted"
    (row,) = reports.prompt_rows(reports.Period(date(2026, 3, 1), date(2026, 3, 7)))
    assert (row["recovered_orders"], row["assisted_orders"]) == (0, 1)
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.RECOVERED and journey.attributed_message == clicked


def test_without_an_email_click_the_latest_prompt_gets_the_order():
    journey = sc.journey(sc.d(3), abandoned=sc.d(3), visitor_id="v" * 32)
    early, late = make_prompt("Early"), make_prompt("Late")
    for prompt, hour in ((early, 9), (late, 11)):
        PromptEvent.objects.create(
            prompt=prompt,
            kind=PromptEventKind.SHOWN,
            visitor_id="v" * 32,
            created_at=sc.at(sc.d(4), hour),
        )
    placed = sc.at(sc.d(4), 15)
    prompt_service.record_conversion(journey, factories.create_order(), now=placed)
    rows = {row.label: row for row in reports.prompt_rows(reports.Period(sc.d(1), sc.d(7)))}
    assert (rows["Late"]["recovered_orders"], rows["Late"]["assisted_orders"]) == (1, 0)
    assert (rows["Early"]["recovered_orders"], rows["Early"]["assisted_orders"]) == (0, 1)


def test_emails_delivered_explains_a_backend_that_reports_none(staff_client):
    journey = sc.journey(sc.d(2), abandoned=sc.d(2))
    sc.message(journey, templated_step(), sent=sc.d(2))
    from oscar_recovery.reporting import aggregation

    aggregation.recompute(date(2026, 3, 1), date(2026, 3, 7))
    query = {"start": "2026-03-01", "end": "2026-03-07"}
    html = staff_client.get(url("recovery-overview"), query).content.decode()
    assert "data-deliveries-unreported" in html
    RecoveryMessage.objects.update(delivered_at=sc.at(sc.d(2), 13))
    aggregation.recompute(date(2026, 3, 1), date(2026, 3, 7))
    html = staff_client.get(url("recovery-overview"), query).content.decode()
    assert "data-deliveries-unreported" not in html


# -- 9. A/B tests a small shop can finish ---------------------------------------------------


def test_msprt_matches_its_closed_form():
    result = stats.msprt((20, 200), (45, 200), alpha=0.05, tau=0.05)
    p1, p2 = 20 / 200, 45 / 200
    pooled = 65 / 400
    v = pooled * (1 - pooled) * (2 / 200)
    tau2 = 0.05**2
    expected = math.sqrt(v / (v + tau2)) * math.exp(tau2 * (p2 - p1) ** 2 / (2 * v * (v + tau2)))
    assert result.likelihood_ratio == pytest.approx(expected, rel=1e-12)
    assert result.p_value == pytest.approx(min(1, 1 / expected))
    assert result.verdict == stats.Verdict.BETTER
    # The fixed-sample test has to keep running at 200 emails per arm.
    assert stats.ab_verdict((20, 200), (45, 200), 1000).verdict == stats.Verdict.KEEP_RUNNING
    assert stats.msprt((45, 200), (20, 200)).verdict == stats.Verdict.WORSE
    assert stats.msprt((20, 200), (22, 200)).verdict == stats.Verdict.KEEP_RUNNING
    assert stats.msprt((2, 200), (3, 200)) is None  # too few successes for the approximation


def test_msprt_stays_valid_when_looked_at_every_day():
    """A/A tests (no real difference) peeked at after every day of 20 emails per arm for a
    year: the share ever declared a winner stays within alpha, where the fixed-sample
    z-test read the same way finds many."""
    rng = random.Random(14)
    runs, days, per_day, rate = 200, 120, 20, 0.1
    sequential_false, naive_false = 0, 0
    for _ in range(runs):
        x1 = x2 = n = 0
        sequential_hit = naive_hit = False
        for _day in range(days):
            n += per_day
            x1 += sum(rng.random() < rate for _ in range(per_day))
            x2 += sum(rng.random() < rate for _ in range(per_day))
            result = stats.msprt((x1, n), (x2, n))
            if result is not None and result.verdict != stats.Verdict.KEEP_RUNNING:
                sequential_hit = True
            z = stats.two_proportion_z_test(x1, n, x2, n)
            if z is not None and z.p_value < 0.05:
                naive_hit = True
        sequential_false += sequential_hit
        naive_false += naive_hit
    assert sequential_false / runs <= 0.05
    assert naive_false / runs > 0.15


def test_the_ab_page_shows_the_sequential_test_beside_the_fixed_one(staff_client):
    sc.build()
    from oscar_recovery.reporting import aggregation

    aggregation.recompute(date(2026, 2, 1), date(2026, 3, 31))
    response = staff_client.get(url("recovery-ab-tests"))
    html = response.content.decode()
    assert "data-sequential-assumptions" in html and "mSPRT" in html
    assert 'data-sequential="not_enough_data"' in html  # the scenario's arms are tiny
    assert "{%" not in html
    export = staff_client.get(url("recovery-ab-tests"), {"export": "ab-tests"})
    body = b"".join(export.streaming_content if export.streaming else [export.content]).decode()
    assert "Sequential verdict" in body and "Always-valid p" in body
