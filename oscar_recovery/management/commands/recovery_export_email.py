from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from oscar_recovery.privacy.data_rights import export_json


class Command(BaseCommand):
    @property
    def help(self) -> str:
        # A property: argparse needs a real str, in the language active when help is shown.
        return _("Export everything oscar-recovery holds about an email address, as JSON.")

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument(
            "-o", "--output", help=_("Write to this file instead of standard output.")
        )

    def handle(self, *args, email, output=None, **options):
        try:
            validate_email(email.strip())
        except ValidationError as exc:
            raise CommandError(_("Not an email address.")) from exc
        data = export_json(email, indent=2, ensure_ascii=False)
        if output:
            with open(output, "w", encoding="utf-8") as file:
                file.write(data + "\n")
        else:
            self.stdout.write(data)
