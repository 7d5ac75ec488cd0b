from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oscar_recovery.audiences import sync
from oscar_recovery.management.base import RecoveryCommand


class Command(RecoveryCommand):
    help_text = gettext_lazy(
        "Sync the retargeting audiences that are due: work out who should be in each, send "
        "only the additions and removals to Meta and Google, in separate batches (what the "
        "oscar_recovery.sync_audiences Celery task does)."
    )
    routine_output = True  # run from cron

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help=_("Sync every audience now, including those waiting after a failure."),
        )

    def handle(self, *args, force=False, **options):
        for result in sync.sync_all(force=force):
            sent = ", ".join(
                _("%(destination)s +%(added)d -%(removed)d%(error)s")
                % {
                    "destination": name,
                    "added": dest.added,
                    "removed": dest.removed,
                    "error": _(" (failed: %(error)s)") % {"error": dest.error}
                    if dest.error
                    else "",
                }
                for name, dest in result.destinations.items()
            )
            self.stdout.write(
                _(
                    "Audience %(audience)d: %(members)d members, %(entered)d entered, "
                    "%(left)d left. %(sent)s"
                )
                % {
                    "audience": result.audience_id,
                    "members": result.members,
                    "entered": result.entered + result.rejoined,
                    "left": result.left,
                    "sent": sent or result.skipped,
                }
            )
