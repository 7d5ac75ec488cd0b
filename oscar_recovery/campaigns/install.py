"""The recommended default campaign, installed by ``manage.py recovery_install_defaults``.

Three emails after the basket is left: a reminder after 1 hour, a nudge after 24 hours and a
last call after 72 hours. Subjects and preheaders are plain text in the shop's language and,
as translations, in every language the app ships, so each shopper gets them in their own
language and owners edit them side by side in the admin. Bodies are left empty, which means
the shipped default templates (``oscar_recovery/email/default.html`` and ``.txt``), so
improvements to those reach shops on upgrade unless the owner has edited the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext_noop

from oscar_recovery.campaigns.translations import translations_of
from oscar_recovery.constants import CampaignTrigger, Incentive
from oscar_recovery.models import Campaign, CampaignStep

DEFAULT_CAMPAIGN_NAME = "Abandoned basket (default)"


@dataclass(frozen=True)
class DefaultStep:
    delay: timedelta
    subject: str
    preheader: str


# gettext_noop: makemessages picks the sentences up; they are translated when installed.
DEFAULT_STEPS = (
    DefaultStep(
        timedelta(hours=1),
        gettext_noop("You left something in your basket"),
        gettext_noop("Your basket is saved. Pick up where you left off."),
    ),
    DefaultStep(
        timedelta(hours=24),
        gettext_noop("Still thinking it over?"),
        gettext_noop("The items in your basket are waiting for you."),
    ),
    DefaultStep(
        timedelta(hours=72),
        gettext_noop("Last chance to complete your order"),
        gettext_noop("We can only keep your basket for a little longer."),
    ),
)


def install_defaults(*, activate: bool = False, discount: Decimal | None = None) -> Campaign:
    """Create the default campaign if it is missing. An existing one (perhaps edited by the
    owner) is left as it is, except that ``activate`` switches it on.

    ``discount``: a percentage voucher on the last email (none by default: a discount every
    shopper learns to expect teaches them to abandon baskets).
    """
    return _install(
        DEFAULT_CAMPAIGN_NAME,
        CampaignTrigger.BASKET_ABANDONED,
        DEFAULT_STEPS,
        activate=activate,
        discount=discount,
    )


def _install(
    name: str,
    trigger: str,
    steps: tuple[DefaultStep, ...],
    *,
    activate: bool,
    discount: Decimal | None = None,
) -> Campaign:
    """The campaign called ``name`` with ``steps``, created in one transaction if missing
    (``discount`` on its last step); an existing one is only switched on by ``activate``."""
    with transaction.atomic():
        campaign, created = Campaign.objects.get_or_create(
            name=name,
            defaults={
                "trigger": trigger,
                "is_active": activate,
                "exclude_staff": True,
                "holdout_percent": 10,
            },
        )
        if created:
            last = len(steps)
            for position, step in enumerate(steps, start=1):
                incentive = position == last and discount is not None
                texts, translations = translations_of(
                    {"subject": step.subject, "preheader": step.preheader}
                )
                CampaignStep.objects.create(
                    campaign=campaign,
                    position=position,
                    delay=step.delay,
                    **texts,
                    translations=translations,
                    incentive=Incentive.PERCENTAGE if incentive else Incentive.NONE,
                    incentive_value=discount if incentive else None,
                )
        elif activate and not campaign.is_active:
            campaign.is_active = True
            campaign.save(update_fields=["is_active", "updated_at"])
    return campaign


# -- Browse abandonment ----------------------------------------------------------------

BROWSE_CAMPAIGN_NAME = "Browse abandonment (default)"

#: Two emails at most: a shopper who only looked tolerates less than one who left a basket.
BROWSE_STEPS = (
    DefaultStep(
        timedelta(hours=2),
        gettext_noop("Still interested in what you saw?"),
        gettext_noop("The products you looked at, and a few more you might like."),
    ),
    DefaultStep(
        timedelta(hours=48),
        gettext_noop("Take another look"),
        gettext_noop("Picked for you from what you viewed."),
    ),
)


def install_browse_defaults(*, activate: bool = False) -> Campaign:
    """Create the default browse-abandonment campaign if it is missing (as
    :func:`install_defaults`: an existing one is left alone, ``activate`` switches it on)."""
    return _install(
        BROWSE_CAMPAIGN_NAME, CampaignTrigger.BROWSE_ABANDONED, BROWSE_STEPS, activate=activate
    )
