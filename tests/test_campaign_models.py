"""Campaign data: what a shop owner configures, and the exactly-once guarantee."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from oscar_recovery.models import Campaign, CampaignStep, RecoveryMessage
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def step():
    campaign = Campaign.objects.create(name="Default")
    return CampaignStep.objects.create(
        campaign=campaign, position=1, delay=timedelta(hours=1), subject="Still thinking?"
    )


def test_the_database_refuses_a_second_message_for_the_same_journey_and_step(step):
    journey = make_journey(quiet_for=timedelta(hours=2))
    RecoveryMessage.objects.create(journey=journey, step=step)
    with pytest.raises(IntegrityError), transaction.atomic():
        RecoveryMessage.objects.create(journey=journey, step=step)
    assert RecoveryMessage.objects.count() == 1


def test_step_positions_are_unique_within_a_campaign(step):
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignStep.objects.create(
            campaign=step.campaign, position=1, delay=timedelta(hours=24), subject="Again"
        )


def test_staff_configure_campaigns_and_steps_in_the_admin(admin_client, step):
    for url in (
        reverse("admin:oscar_recovery_campaign_changelist"),
        reverse("admin:oscar_recovery_campaign_change", args=[step.campaign.pk]),
        reverse("admin:oscar_recovery_campaignstep_change", args=[step.pk]),
        reverse("admin:oscar_recovery_recoverymessage_changelist"),
        reverse("admin:oscar_recovery_campaignenrolment_changelist"),
    ):
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get(reverse("admin:oscar_recovery_recoverymessage_add")).status_code == 403
