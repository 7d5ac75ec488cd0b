from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from oscar_recovery.privacy import export_json


class Command(BaseCommand):
    help = "Export everything oscar-recovery holds about an email address, as JSON."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("-o", "--output", help="Write to this file instead of standard output.")

    def handle(self, *args, email, output=None, **options):
        try:
            validate_email(email.strip())
        except ValidationError as exc:
            raise CommandError("Not an email address.") from exc
        data = export_json(email, indent=2, ensure_ascii=False)
        if output:
            with open(output, "w", encoding="utf-8") as file:
                file.write(data + "\n")
        else:
            self.stdout.write(data)
