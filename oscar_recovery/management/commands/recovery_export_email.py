from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oscar_recovery.management.base import RecoveryCommand, checked_email
from oscar_recovery.privacy.data_rights import export_json


class Command(RecoveryCommand):
    help_text = gettext_lazy(
        "Export everything oscar-recovery holds about an email address, as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument(
            "-o", "--output", help=_("Write to this file instead of standard output.")
        )

    def handle(self, *args, email, output=None, **options):
        checked_email(email)
        data = export_json(email, indent=2, ensure_ascii=False)
        if output:
            with open(output, "w", encoding="utf-8") as file:
                file.write(data + "\n")
        else:
            self.stdout.write(data)
