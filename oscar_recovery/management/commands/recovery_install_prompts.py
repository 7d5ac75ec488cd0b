from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from oscar_recovery.management.base import RecoveryCommand
from oscar_recovery.prompts.install import install_default_prompts


class Command(RecoveryCommand):
    # xgettext:no-python-format
    help_text = gettext_lazy(
        "Create the example on-site prompts: exit intent (free delivery for new visitors, "
        "10% off for returning ones), guest checkout, welcome back and email capture. They "
        "stay inactive unless --activate is given; running it again changes nothing else."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--activate",
            action="store_true",
            help=_("Switch on the examples meant to be on (all but email capture)."),
        )

    def handle(self, *args, activate, **options):
        for prompt in install_default_prompts(activate=activate):
            state = (
                pgettext("prompt", "active") if prompt.is_active else pgettext("prompt", "inactive")
            )
            self.stdout.write(f"{prompt.name} ({prompt.get_kind_display()}): {state}")
