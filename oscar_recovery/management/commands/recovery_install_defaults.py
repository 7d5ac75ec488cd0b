from decimal import Decimal, InvalidOperation

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from oscar_recovery.audiences import builtins as audience_builtins
from oscar_recovery.campaigns.enrolment import holdout_note
from oscar_recovery.campaigns.install import install_browse_defaults, install_defaults
from oscar_recovery.management.base import RecoveryCommand
from oscar_recovery.models import Campaign
from oscar_recovery.segments import builtins as segment_builtins


def _percentage(value: str) -> Decimal:
    try:
        percent = Decimal(value)
    except InvalidOperation as exc:
        raise CommandError(
            _("--discount must be a number, not %(value)r") % {"value": value}
        ) from exc
    if not 0 < percent <= 100:
        raise CommandError(_("--discount must be a percentage above 0 and at most 100"))
    return percent


class Command(RecoveryCommand):
    help_text = gettext_lazy(
        "Create the recommended abandoned-basket campaign (emails after 1 h, 24 h and 72 h; "
        "one journey in ten held out, never emailed, to measure lift). It stays inactive "
        "unless --activate is given. Run again, it leaves an existing campaign as it is, "
        "except that --activate switches it on."
    )

    def add_arguments(self, parser):
        parser.add_argument("--activate", action="store_true", help=_("Switch the campaign on."))
        parser.add_argument(
            "--discount",
            type=_percentage,
            default=None,
            metavar="PERCENT",
            help=_("Add a unique single-use percentage voucher to the last email."),
        )
        parser.add_argument(
            "--browse",
            action="store_true",
            help=_("Also create the browse-abandonment campaign (emails after 2 h and 48 h)."),
        )

    def handle(self, *args, activate, discount, browse=False, **options):
        campaigns = [install_defaults(activate=activate, discount=discount)]
        # The built-in segments too (also installed by a migration; existing ones untouched).
        segment_builtins.install()
        audience_builtins.install()
        if browse:
            campaigns.append(install_browse_defaults(activate=activate))
        for campaign in campaigns:
            count = campaign.steps.count()
            if campaign.is_active:
                summary = ngettext(
                    "%(campaign)s: %(count)d email, active",
                    "%(campaign)s: %(count)d emails, active",
                    count,
                )
            else:
                summary = ngettext(
                    "%(campaign)s: %(count)d email, inactive (use --activate to switch it on)",
                    "%(campaign)s: %(count)d emails, inactive (use --activate to switch it on)",
                    count,
                )
            self.stdout.write(summary % {"campaign": campaign.name, "count": count})
            self.stdout.write("    " + holdout_note(campaign.holdout_percent))
        self.stdout.write(
            _(
                "Change the holdout in the admin (Campaigns, “%(field)s”); 0 emails every journey, "
                "your test baskets included."
            )
            % {"field": Campaign._meta.get_field("holdout_percent").verbose_name}
        )
