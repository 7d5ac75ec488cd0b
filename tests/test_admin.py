"""Staff see journeys read-only in the Django admin."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from oscar.test.factories import UserFactory

from oscar_recovery.constants import EnrolmentStatus, JourneyStatus, MessageStatus
from oscar_recovery.models import (
    Campaign,
    CampaignEnrolment,
    CampaignStep,
    CartJourney,
    RecoveryMessage,
)
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_changelist_filters_and_search(staff_client):
    make_journey(quiet_for=timedelta(hours=1), email="findme@example.com", total=120)
    make_journey(quiet_for=timedelta(hours=1), email="", status=JourneyStatus.ABANDONED)
    url = reverse("admin:oscar_recovery_cartjourney_changelist")

    assert staff_client.get(url).status_code == 200
    searched = staff_client.get(url, {"q": "findme"})
    assert list(searched.context["cl"].result_list.values_list("email", flat=True)) == [
        "findme@example.com"
    ]
    for params, expected in [
        ({"status": "abandoned"}, 1),
        ({"has_email": "no"}, 1),
        ({"value": "100-250"}, 1),
        ({"furthest_step__exact": "10"}, 2),
    ]:
        response = staff_client.get(url, params)
        assert response.status_code == 200
        assert response.context["cl"].result_count == expected, params


def test_detail_shows_lines_and_timeline_and_cannot_be_edited(staff_client, shopper, product):
    from tests.support.journeys import add_to_basket, guest_gateway, only_journey

    add_to_basket(shopper, product)
    guest_gateway(shopper)
    journey = only_journey()
    url = reverse("admin:oscar_recovery_cartjourney_change", args=[journey.pk])

    page = staff_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Winter coat" in html and "Email captured" in html and "Checkout gateway" in html
    assert staff_client.post(url, {"email": "changed@example.com"}).status_code == 403
    journey.refresh_from_db()
    assert journey.email == "guest@example.com"
    add_url = reverse("admin:oscar_recovery_cartjourney_add")
    assert staff_client.get(add_url).status_code == 403


def test_the_journey_page_speaks_words_not_codes_json_or_iso_dates(
    staff_client, shopper, product, other_product
):
    """Before: the event data as JSON ({"source": "checkout"}), viewed products as
    "[8, 4]", funnel times as "2026-12-07 22:44:46.123+00:00" and the language as "en-gb"."""
    from tests.support.journeys import add_to_basket, guest_gateway, only_journey

    add_to_basket(shopper, product)
    guest_gateway(shopper)
    journey = only_journey()
    CartJourney.objects.filter(pk=journey.pk).update(
        viewed=[other_product.pk, product.pk], vouchers=["WELCOME10"], language="ar"
    )
    html = staff_client.get(reverse("admin:oscar_recovery_cartjourney_change", args=[journey.pk]))
    html = html.content.decode()

    assert f"[{other_product.pk}, {product.pk}]" not in html
    assert re.search(r'>Wool hat</a>, <a href="[^"]+">Winter coat</a>', html)  # newest first
    assert "WELCOME10" in html and '["WELCOME10"]' not in html
    assert "Email address known (Checkout gateway)" in html and "&quot;source&quot;" not in html
    assert "Arabic (ar)" in html
    assert not re.search(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}", html)  # no ISO time


def test_stop_and_skip_reasons_read_as_words(staff_client):
    journey = make_journey(quiet_for=timedelta(hours=1), status=JourneyStatus.ABANDONED)
    campaign = Campaign.objects.create(name="Default")
    step = CampaignStep.objects.create(campaign=campaign, position=1, delay=timedelta(hours=1))
    enrolment = CampaignEnrolment.objects.create(
        journey=journey, campaign=campaign, status=EnrolmentStatus.STOPPED, stop_reason="no_email"
    )
    message = RecoveryMessage.objects.create(
        journey=journey, step=step, status=MessageStatus.SKIPPED, skip_reason="suppressed"
    )
    pages = [
        reverse("admin:oscar_recovery_campaignenrolment_changelist"),
        reverse("admin:oscar_recovery_campaignenrolment_change", args=[enrolment.pk]),
        reverse("admin:oscar_recovery_recoverymessage_changelist"),
        reverse("admin:oscar_recovery_recoverymessage_change", args=[message.pk]),
    ]
    for url in pages:
        html = staff_client.get(url).content.decode()
        assert ">no_email<" not in html and ">suppressed<" not in html, url
    assert "No email address" in staff_client.get(pages[1]).content.decode()
    assert "Address unsubscribed" in staff_client.get(pages[3]).content.decode()


def test_a_steps_delay_is_a_number_and_a_unit(staff_client):
    """Before: "00:01:00" for a one-minute delay."""
    campaign = Campaign.objects.create(name="Default")
    step = CampaignStep.objects.create(campaign=campaign, position=1, delay=timedelta(minutes=1))
    url = reverse("admin:oscar_recovery_campaignstep_change", args=[step.pk])
    form = staff_client.get(url).context["adminform"].form
    assert form["delay"].value() == timedelta(minutes=1)
    html = str(form["delay"])
    assert 'value="1"' in html and '<option value="minutes" selected>' in html
    assert "00:01:00" not in html
    assert "7" in str(form["incentive_valid_for"]) and "days" in str(form["incentive_valid_for"])

    data = {
        "campaign": campaign.pk,
        "position": 1,
        "delay_0": "2",
        "delay_1": "hours",
        "subject": "Hi",
        "incentive": "none",
        "incentive_valid_for_0": "7",
        "incentive_valid_for_1": "days",
        "variants-TOTAL_FORMS": 0,
        "variants-INITIAL_FORMS": 0,
    }
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    step.refresh_from_db()
    assert step.delay == timedelta(hours=2)
