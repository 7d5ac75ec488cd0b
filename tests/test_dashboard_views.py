"""The recovery dashboard's pages: access, what they show, CSV exports and staff actions."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oscar.test import factories

from oscar_recovery.constants import (
    EnrolmentStatus,
    JourneyStatus,
    MessageStatus,
    SkipReason,
    SuppressionReason,
)
from oscar_recovery.models import (
    Campaign,
    CampaignEnrolment,
    CampaignStep,
    CartJourney,
    RecoveryMessage,
    TrackingEvent,
)
from oscar_recovery.privacy.suppression import suppress
from oscar_recovery.reporting import aggregation
from tests.support import dashboard_scenario as sc
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db

PERIOD_QUERY = {"start": "2026-03-01", "end": "2026-03-07"}


def url(name, *args):
    return reverse(f"recovery_dashboard:{name}", args=args)


@pytest.fixture
def scenario():
    built = sc.build()
    aggregation.recompute(date(2026, 2, 1), date(2026, 3, 31))
    return built


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(sc.recovery_staff(*sc.RECOVERY_STAFF_PERMISSIONS, email="staff@example.com"))
    return client


def all_pages(journey_pk: int) -> list[str]:
    return [
        url("recovery-overview"),
        url("recovery-campaigns"),
        url("recovery-ab-tests"),
        url("recovery-products"),
        url("recovery-basket-list"),
        url("recovery-basket-detail", journey_pk),
    ]


def test_anonymous_visitors_are_sent_to_the_dashboard_login(scenario, client):
    pk = scenario.journeys[1].pk
    for page in all_pages(pk):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith(reverse("dashboard:login")), page
    response = client.post(url("recovery-basket-action", pk), {"action": "stop"})
    assert response.status_code == 302
    assert CampaignEnrolment.objects.get(journey_id=pk).status == EnrolmentStatus.ACTIVE


def test_customers_who_are_not_staff_are_refused(scenario):
    client = Client()
    client.force_login(factories.UserFactory(is_staff=False))
    pk = scenario.journeys[1].pk
    for page in [*all_pages(pk), url("recovery-overview") + "?export=overview"]:
        assert client.get(page).status_code == 403, page
    assert client.post(url("recovery-basket-action", pk), {"action": "stop"}).status_code == 403
    assert CampaignEnrolment.objects.get(journey_id=pk).status == EnrolmentStatus.ACTIVE


def test_staff_without_recovery_permissions_are_refused(scenario):
    """The admin refuses them; so does the dashboard: no addresses, no CSV, no actions."""
    client = Client()
    client.force_login(sc.recovery_staff())
    pk = scenario.journeys[1].pk
    for page in all_pages(pk):
        assert client.get(page).status_code == 403, page
    assert client.get(url("recovery-basket-list"), {"export": "baskets"}).status_code == 403
    assert client.post(url("recovery-basket-action", pk), {"action": "stop"}).status_code == 403
    assert CampaignEnrolment.objects.get(journey_id=pk).status == EnrolmentStatus.ACTIVE


def test_figures_need_view_campaign_and_baskets_view_cartjourney(scenario):
    pk = scenario.journeys[1].pk
    figures = Client()
    figures.force_login(sc.recovery_staff("view_campaign"))
    assert figures.get(url("recovery-overview"), PERIOD_QUERY).status_code == 200
    assert figures.get(url("recovery-basket-list")).status_code == 403
    assert figures.get(url("recovery-basket-detail", pk)).status_code == 403
    baskets = Client()
    baskets.force_login(sc.recovery_staff("view_cartjourney"))
    assert baskets.get(url("recovery-basket-list")).status_code == 200
    assert baskets.get(url("recovery-overview")).status_code == 403


def test_view_only_staff_read_a_basket_but_cannot_act_on_it(scenario):
    pk = scenario.journeys[1].pk
    client = Client()
    client.force_login(sc.recovery_staff("view_cartjourney"))
    response = client.get(url("recovery-basket-detail", pk))
    assert response.status_code == 200 and response.context["actions"] == {}
    assert client.post(url("recovery-basket-action", pk), {"action": "stop"}).status_code == 403
    assert CampaignEnrolment.objects.get(journey_id=pk).status == EnrolmentStatus.ACTIVE


def test_every_page_renders_for_staff(scenario, staff_client):
    for page in all_pages(scenario.journeys[1].pk):
        assert staff_client.get(page, PERIOD_QUERY).status_code == 200, page


def test_menu_entry_is_in_the_dashboard(staff_client):
    response = staff_client.get(reverse("dashboard:index"))
    assert url("recovery-overview") in response.content.decode()


def test_overview_shows_the_figures(scenario, staff_client):
    response = staff_client.get(url("recovery-overview"), PERIOD_QUERY)
    figures = {str(label): (now, then) for label, now, then, _kind in response.context["figures"]}
    assert figures["Baskets abandoned"] == (5, 1)
    assert figures["Recovered orders"] == (1, 0)
    html = response.content.decode()
    assert "within 5 days before ordering" in html  # the attribution window
    assert "data-not-enough-data" in html
    assert "data-no-figures" not in html
    assert 'id="recovery-chart-config"' in html
    assert "chart-4.6.1.umd.min.js" in html
    # Nothing the page runs is inline, and nothing comes from another host.
    assert "googleapis" not in html


def test_overview_says_how_work_runs_when_celery_is_eager(staff_client, celery_eager):
    """The sandbox without a broker. Before: "Work is done by Celery workers" and "No
    worker seen yet" while every task ran inline."""
    html = staff_client.get(url("recovery-overview")).content.decode()
    assert "Celery runs each task eagerly" in html
    assert "Celery workers" not in html and "No worker seen yet" not in html
    celery_eager.conf.task_always_eager = False
    html = staff_client.get(url("recovery-overview")).content.decode()
    assert "Work is done by Celery workers." in html and "No worker seen yet" in html


def test_overview_without_figures_says_how_to_compute_them(staff_client):
    html = staff_client.get(url("recovery-overview")).content.decode()
    assert "data-no-figures" in html


def test_a_bad_period_is_a_form_error_and_the_default_period_is_shown(scenario, staff_client):
    response = staff_client.get(
        url("recovery-overview"), {"start": "2026-03-09", "end": "2026-03-01"}
    )
    assert response.status_code == 200
    assert "The period must start before it ends." in response.content.decode()
    assert response.context["period"].end == timezone.localdate()
    response = staff_client.get(url("recovery-overview"), {"start": "not a date"})
    assert response.status_code == 200
    assert response.context["period_form"].errors


def read_csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    content = (
        b"".join(response.streaming_content) if response.streaming else response.content
    ).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content)))


def test_csv_export_of_every_table(scenario, staff_client):
    def export(page, table, **query):
        return read_csv(staff_client.get(url(page), {**PERIOD_QUERY, **query, "export": table}))

    overview = export("recovery-overview", "overview")
    assert ["Baskets abandoned", "5", "1"] in overview
    assert ["Recovered revenue", "30.00", "0.00"] in overview
    funnel = export("recovery-overview", "funnel")
    assert funnel[1:] == [
        [label, str(reached), str(dropped), f"{dropped / reached * 100:.2f}" if reached else ""]
        for label, reached, dropped in sc.EXPECTED_FUNNEL
    ]
    daily = export("recovery-overview", "daily")
    assert daily[1] == ["2026-03-01", "1", "1", "0", "0"]
    campaigns = export("recovery-campaigns", "campaigns")
    # Journeys emailed, emailed group, holdout.
    assert campaigns[1][:4] == ["Welcome back", "2", "3", "1"]
    steps = export("recovery-campaigns", "steps")
    assert steps[1][:4] == ["Welcome back #1", "Forgot something?", "2", "2"]
    prompts = export("recovery-campaigns", "prompts")
    assert prompts[0][0] == "Prompt" and len(prompts) == 1
    ab = read_csv(staff_client.get(url("recovery-ab-tests"), {"export": "ab-tests"}))
    assert [row[1] for row in ab[1:]] == ["A", "B", "B"]
    products = export("recovery-products", "products")
    assert products[1] == ["102", "Wool hat", "3", "3", "37.50"]
    baskets = export("recovery-basket-list", "baskets")
    # Abandoned journeys of all time, bots and merged baskets left out: J1 J2 J3 J5 J8 J9 J10.
    assert len(baskets) == 1 + 7
    assert staff_client.get(url("recovery-overview"), {"export": "nope"}).status_code == 404
    j1 = scenario.journeys[1]
    detail = url("recovery-basket-detail", j1.pk)
    lines = read_csv(staff_client.get(detail, {"export": "lines"}))
    assert lines[1:] == [
        ["101", "Winter coat", "", "2", "40.00", "80.00"],
        ["102", "Wool hat", "", "1", "12.50", "12.50"],
    ]
    timeline = read_csv(staff_client.get(detail, {"export": "timeline"}))
    assert [row[2] for row in timeline[1:]][-1] == f"Order {j1.order.number} placed"
    assert staff_client.get(detail, {"export": "nope"}).status_code == 404


def test_csv_cells_cannot_run_formulas(scenario, staff_client):
    scenario.journeys[3].email = "=HYPERLINK(evil)@example.com"
    scenario.journeys[3].save()
    rows = read_csv(staff_client.get(url("recovery-basket-list"), {"export": "baskets"}))
    assert "'=HYPERLINK(evil)@example.com" in [row[1] for row in rows]


def ids(response) -> set[int]:
    return {journey.pk for journey in response.context["journeys"]}


def test_basket_list_filters_and_search(scenario, staff_client):
    j = scenario.journeys
    list_url = url("recovery-basket-list")
    everything = ids(staff_client.get(list_url))
    assert everything == {j[n].pk for n in (1, 2, 3, 5, 8, 9, 10)}
    assert ids(staff_client.get(list_url, {"status": JourneyStatus.RECOVERED})) == {j[1].pk}
    assert ids(staff_client.get(list_url, {"step": 50})) == {j[3].pk}
    assert ids(staff_client.get(list_url, {"min_value": "40", "max_value": "60"})) == {
        j[3].pk,
        j[5].pk,
        j[8].pk,
    }
    assert ids(staff_client.get(list_url, {"campaign": scenario.campaign.pk})) == {
        j[n].pk for n in (1, 2, 5, 8, 9)
    }
    assert ids(
        staff_client.get(list_url, {"date_from": "2026-03-02", "date_to": "2026-03-04"})
    ) == {j[2].pk, j[3].pk, j[5].pk}
    assert ids(staff_client.get(list_url, {"q": f"#{j[9].pk}"})) == {j[9].pk}
    assert ids(staff_client.get(list_url, {"q": j[1].order.number})) == {j[1].pk}
    scenario.journeys[2].email = "jane@example.org"
    scenario.journeys[2].save()
    assert ids(staff_client.get(list_url, {"q": "JANE@"})) == {j[2].pk}


def test_staff_find_an_address_by_any_spelling_and_read_it_as_people_do(scenario, staff_client):
    journey = scenario.journeys[2]
    journey.email = "Jane@Bücher.de"
    journey.save()
    assert CartJourney.objects.get(pk=journey.pk).email == "jane@xn--bcher-kva.de"
    list_url = url("recovery-basket-list")
    for spelling in ("JANE@BÜCHER.DE", "jane@xn--bcher-kva.de", " Jane@bu\u0308cher.de"):
        assert ids(staff_client.get(list_url, {"q": spelling})) == {journey.pk}
    response = staff_client.get(url("recovery-basket-detail", journey.pk))
    assert "jane@bücher.de" in response.content.decode()


def test_basket_list_bad_filters_are_form_errors(scenario, staff_client):
    response = staff_client.get(
        url("recovery-basket-list"), {"min_value": "60", "max_value": "10", "step": "7"}
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"max_value", "step"}


def test_basket_detail_shows_lines_and_the_whole_timeline(scenario, staff_client):
    j1 = scenario.journeys[1]
    response = staff_client.get(url("recovery-basket-detail", j1.pk))
    html = response.content.decode()
    assert "Winter coat" in html and "Wool hat" in html
    timeline = [(entry.kind, entry.title) for entry in response.context["timeline"]]
    assert timeline == [
        ("journey", "Basket created"),
        ("email", "Email 1 “Forgot something?” scheduled"),
        ("email", "Email sent"),
        ("email", "Email delivered"),
        ("click", "Email link clicked"),
        ("order", f"Order {j1.order.number} placed"),
    ]
    assert staff_client.get(url("recovery-basket-detail", 999999)).status_code == 404


def csrf_client(staff_user_email="actions@example.com") -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(sc.recovery_staff(*sc.RECOVERY_STAFF_PERMISSIONS, email=staff_user_email))
    return client


def post_action(client, journey_pk, action):
    page = client.get(url("recovery-basket-detail", journey_pk))
    token = (
        page.cookies["csrftoken"].value
        if "csrftoken" in page.cookies
        else client.cookies["csrftoken"].value
    )
    return client.post(
        url("recovery-basket-action", journey_pk),
        {"action": action, "csrfmiddlewaretoken": token},
    )


def test_actions_need_post_and_csrf(scenario):
    client = csrf_client()
    pk = scenario.journeys[9].pk
    assert client.get(url("recovery-basket-action", pk)).status_code == 405
    assert client.post(url("recovery-basket-action", pk), {"action": "pause"}).status_code == 403
    assert CampaignEnrolment.objects.get(journey_id=pk).status == EnrolmentStatus.ACTIVE


def test_pause_resume_and_stop(scenario):
    client = csrf_client()
    j9 = scenario.journeys[9]
    enrolment = CampaignEnrolment.objects.get(journey=j9)
    enrolment.next_step = scenario.step2
    enrolment.save()

    def offered():
        return list(client.get(url("recovery-basket-detail", j9.pk)).context["actions"])

    assert offered() == ["send_now", "pause", "stop"]
    response = post_action(client, j9.pk, "pause")
    assert response.status_code == 303
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.PAUSED
    assert offered() == ["resume", "stop"]

    post_action(client, j9.pk, "pause")  # already paused: an error message, nothing changes
    page = client.get(url("recovery-basket-detail", j9.pk))
    assert "Only an active enrolment can be paused." in page.content.decode()

    post_action(client, j9.pk, "resume")
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.ACTIVE
    # Step 2 fell due long ago (a day after 2026-03-06): it goes out with the next dispatch.
    assert enrolment.next_send_at <= timezone.now()

    post_action(client, j9.pk, "stop")
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.stop_reason) == (EnrolmentStatus.STOPPED, "staff")
    assert offered() == []
    assert post_action(client, j9.pk, "bogus").status_code == 400


def test_send_the_next_step_now(shopper, product, django_capture_on_commit_callbacks):
    """A real basket whose second email is due tomorrow: staff send it now."""
    from django.core import mail

    from oscar_recovery.campaigns.dispatch import dispatch_due
    from oscar_recovery.campaigns.enrolment import enrol_journeys
    from oscar_recovery.models import Campaign, CampaignStep, CartJourney
    from tests.support.journeys import add_to_basket, guest_gateway

    campaign = Campaign.objects.create(name="Now", is_active=True, holdout_percent=0)
    for position, delay in ((1, timedelta(hours=1)), (2, timedelta(days=1))):
        CampaignStep.objects.create(
            campaign=campaign, position=position, delay=delay, subject=f"Email {position}"
        )
    add_to_basket(shopper, product)
    guest_gateway(shopper, "now@example.com")
    journey = CartJourney.objects.get()
    two_hours_ago = timezone.now() - timedelta(hours=2)
    CartJourney.objects.filter(pk=journey.pk).update(
        status=JourneyStatus.ABANDONED, abandoned_at=two_hours_ago, last_activity_at=two_hours_ago
    )
    enrol_journeys([journey.pk])
    dispatch_due()  # step 1 is due: its message is created (and left queued here)
    enrolment = CampaignEnrolment.objects.get(journey=journey)
    assert enrolment.next_step.position == 2 and enrolment.next_send_at > timezone.now()

    client = csrf_client()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_action(client, journey.pk, "send_now")
    assert response.status_code == 303
    message = RecoveryMessage.objects.get(journey=journey, step__position=2)
    assert (message.status, message.skip_reason) == (MessageStatus.SENT, "")
    assert [m.to for m in mail.outbox] == [["now@example.com"]]
    enrolment.refresh_from_db()
    assert enrolment.status == EnrolmentStatus.COMPLETED

    # Nothing left to send: an error message, no second email.
    with django_capture_on_commit_callbacks(execute=True):
        post_action(client, journey.pk, "send_now")
    page = client.get(url("recovery-basket-detail", journey.pk))
    assert "Only an active enrolment can send its next step." in page.content.decode()
    assert len(mail.outbox) == 1


def test_holdout_journeys_cannot_be_sent_an_email(scenario):
    from django.core import mail

    client = csrf_client()
    j5 = scenario.journeys[5]
    j5.status = JourneyStatus.ABANDONED
    j5.save()
    enrolment = CampaignEnrolment.objects.get(journey=j5)
    enrolment.next_step = scenario.step2
    enrolment.save()
    post_action(client, j5.pk, "send_now")
    page = client.get(url("recovery-basket-detail", j5.pk))
    assert "Holdout journeys are never emailed." in page.content.decode()
    assert not RecoveryMessage.objects.filter(journey=j5, step=scenario.step2).exists()
    assert mail.outbox == []


# -- an address that wants no more emails ---------------------------------------------------


@pytest.fixture
def three_addresses():
    """Three abandoned baskets, each enrolled with its next step due tomorrow: their
    addresses unsubscribed, bounced and complained just now."""
    campaign = Campaign.objects.create(name="Default")
    step = CampaignStep.objects.create(campaign=campaign, position=1, delay=timedelta(hours=1))
    journeys = {}
    for reason in (
        SuppressionReason.UNSUBSCRIBED,
        SuppressionReason.BOUNCED,
        SuppressionReason.COMPLAINED,
    ):
        journey = make_journey(
            quiet_for=timedelta(hours=2),
            status=JourneyStatus.ABANDONED,
            email=f"{reason}@Example.com",
        )
        CampaignEnrolment.objects.create(
            journey=journey,
            campaign=campaign,
            next_step=step,
            next_send_at=timezone.now() + timedelta(days=1),
        )
        suppress(f" {reason}@example.COM", reason)
        journeys[reason] = journey
    return journeys


def test_an_unsubscribe_shows_at_once_and_says_which(three_addresses, staff_client):
    """Before: nothing showed until the next step fell due, and then only "Stopped: address
    unsubscribed, bounced or complained"; the list had no column for it."""
    response = staff_client.get(url("recovery-basket-list"))
    html = response.content.decode()
    assert "No more emails" in html
    for reason, journey in three_addresses.items():
        assert f'data-no-more-emails="{reason}"' in html
        page = staff_client.get(url("recovery-basket-detail", journey.pk))
        assert page.context["no_more_emails"].reason == reason
        assert f'data-no-more-emails="{reason}"' in page.content.decode()
        assert "data-next-step" not in page.content.decode()  # no "Next: step 1, due …"
    detail = staff_client.get(url("recovery-basket-detail", three_addresses["bounced"].pk))
    assert "emails to the address bounced" in detail.content.decode()
    timeline = [(entry.kind, entry.detail) for entry in detail.context["timeline"]]
    assert ("contact", "emails to the address bounced") in timeline
    rows = read_csv(staff_client.get(url("recovery-basket-list"), {"export": "baskets"}))
    assert rows[0][-1] == "No more emails"
    assert sorted(row[-1] for row in rows[1:]) == ["Hard bounce", "Spam complaint", "Unsubscribed"]


def test_a_stopped_enrolment_says_which_suppression_stopped_it(three_addresses, staff_client):
    journey = three_addresses["unsubscribed"]
    CampaignEnrolment.objects.filter(journey=journey).update(
        status=EnrolmentStatus.STOPPED, stop_reason=SkipReason.SUPPRESSED
    )
    html = staff_client.get(url("recovery-basket-detail", journey.pk)).content.decode()
    assert "Stopped: the address unsubscribed" in html
    assert "unsubscribed, bounced or complained" not in html


def test_tracking_events_read_as_words_in_the_timeline(staff_client):
    """Before: "The email service reported: bounced" (anymail's code)."""
    journey = make_journey(quiet_for=timedelta(hours=2), status=JourneyStatus.ABANDONED)
    step = CampaignStep.objects.create(
        campaign=Campaign.objects.create(name="Default"), position=1, delay=timedelta(hours=1)
    )
    message = RecoveryMessage.objects.create(
        journey=journey, step=step, status=MessageStatus.BOUNCED, sent_at=timezone.now()
    )
    for key, kind in (("k1", "bounced"), ("k2", "unsubscribed"), ("k3", "autoresponded")):
        TrackingEvent.objects.create(
            event_key=key, message=message, event_type=kind, occurred_at=timezone.now()
        )
    response = staff_client.get(url("recovery-basket-detail", journey.pk))
    titles = [entry.title for entry in response.context["timeline"]]
    assert "The email service reported: Bounced" in titles
    assert "The email service reported: Unsubscribed" in titles
    assert "The email service reported: autoresponded" in titles  # no words for it: as named
