"""``recovery_install_defaults`` and the default campaign it creates."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from oscar_recovery.campaigns.install import DEFAULT_CAMPAIGN_NAME
from oscar_recovery.constants import Incentive
from oscar_recovery.models import Campaign
from oscar_recovery.sending.templating import validate_template

pytestmark = pytest.mark.django_db


def test_installs_an_inactive_campaign_of_three_emails():
    call_command("recovery_install_defaults")

    campaign = Campaign.objects.get(name=DEFAULT_CAMPAIGN_NAME)
    assert not campaign.is_active
    steps = list(campaign.steps.order_by("position"))
    assert [step.delay for step in steps] == [
        timedelta(hours=1),
        timedelta(hours=24),
        timedelta(hours=72),
    ]
    assert all(step.incentive == Incentive.NONE for step in steps)
    for step in steps:  # plain text per language, which compiles in the sandbox
        validate_template(step.subject)
        validate_template(step.preheader)
        assert "{%" not in step.subject
        assert set(step.translations) == {"ar", "fa", "ko", "ro"}
        for values in step.translations.values():
            validate_template(values["subject"])
            assert values["subject"] != step.subject and values["preheader"] != step.preheader
    assert steps[0].subject == "You left something in your basket"
    assert steps[0].translations["ar"]["subject"] == "تركتَ شيئًا في سلة التسوق"


def test_activate_switches_it_on_and_running_again_changes_nothing_else():
    call_command("recovery_install_defaults")
    campaign = Campaign.objects.get()
    campaign.steps.filter(position=1).update(subject="Edited by the owner")

    call_command("recovery_install_defaults", "--activate")

    campaign.refresh_from_db()
    assert campaign.is_active
    assert campaign.steps.count() == 3
    assert campaign.steps.get(position=1).subject == "Edited by the owner"


def test_a_discount_puts_a_percentage_voucher_on_the_last_email():
    call_command("recovery_install_defaults", "--discount", "10")

    last = Campaign.objects.get().steps.get(position=3)
    assert last.incentive == Incentive.PERCENTAGE
    assert last.incentive_value == Decimal("10")
    assert Campaign.objects.get().steps.exclude(incentive=Incentive.NONE).count() == 1


@pytest.mark.parametrize("value", ["0", "150", "ten"])
def test_an_impossible_discount_is_refused(value):
    with pytest.raises(CommandError):
        call_command("recovery_install_defaults", "--discount", value)
    assert not Campaign.objects.exists()


def test_the_browse_campaign_installs_the_same_way():
    from oscar_recovery.campaigns.install import BROWSE_CAMPAIGN_NAME, install_browse_defaults
    from oscar_recovery.constants import CampaignTrigger

    campaign = install_browse_defaults()
    assert campaign.name == BROWSE_CAMPAIGN_NAME and not campaign.is_active
    assert campaign.trigger == CampaignTrigger.BROWSE_ABANDONED
    assert campaign.holdout_percent == 10 and campaign.exclude_staff
    steps = list(campaign.steps.order_by("position"))
    assert [step.delay for step in steps] == [timedelta(hours=2), timedelta(hours=48)]
    assert all(step.incentive == Incentive.NONE for step in steps)
    assert all(set(step.translations) == {"ar", "fa", "ko", "ro"} for step in steps)
    campaign.steps.filter(position=1).update(subject="Edited by the owner")

    again = install_browse_defaults(activate=True)

    assert again.pk == campaign.pk and again.is_active
    assert again.steps.count() == 2
    assert again.steps.get(position=1).subject == "Edited by the owner"
