from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from oscar_recovery.privacy import erase_email


class Command(BaseCommand):
    help = (
        "Erase everything oscar-recovery holds about an email address; only its suppression "
        "hash is kept, so it is never emailed again."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, email, yes=False, **options):
        try:
            validate_email(email.strip())
        except ValidationError as exc:
            raise CommandError("Not an email address.") from exc
        if not yes:
            answer = input("Erase all recovery data of this address? Type 'yes' to continue: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Nothing erased.")
        erasure = erase_email(email)
        self.stdout.write(
            ", ".join(f"{name}: {number}" for name, number in erasure.as_dict().items())
        )
