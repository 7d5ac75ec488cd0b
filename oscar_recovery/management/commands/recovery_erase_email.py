from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oscar_recovery.management.base import RecoveryCommand, checked_email
from oscar_recovery.privacy.data_rights import erase_email


class Command(RecoveryCommand):
    help_text = gettext_lazy(
        "Erase everything oscar-recovery holds about an email address; only its "
        "suppression hash is kept, so it is never emailed again."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--yes", action="store_true", help=_("Do not ask for confirmation."))

    def handle(self, *args, email, yes=False, **options):
        checked_email(email)
        if not yes:
            answer = input(_("Erase all recovery data of this address? Type 'yes' to continue: "))
            if answer.strip().lower() != "yes":
                raise CommandError(_("Nothing erased."))
        erasure = erase_email(email)
        self.stdout.write(
            _(
                "Erased %(journeys)d journeys, %(events)d events, %(enrolments)d enrolments, "
                "%(messages)d messages, %(tracking_events)d tracking events and %(vouchers)d "
                "unused vouchers; the address stays suppressed."
            )
            % erasure.as_dict()
        )
