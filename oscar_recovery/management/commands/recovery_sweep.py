from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy, ngettext

from oscar_recovery.handoff.publish import wait_for_publisher
from oscar_recovery.management.base import RecoveryCommand
from oscar_recovery.operations.health import recorded_sweep


class Command(RecoveryCommand):
    help_text = gettext_lazy(
        "Mark quiet cart journeys abandoned and expire stale ones (what the Celery task does)."
    )

    routine_output = True

    def handle(self, *args, **options):
        """Prints the sweep's figures (not at ``-v0``, the verbosity for cron); errors go to
        stderr and end the command with exit status 1 at any verbosity."""
        result = recorded_sweep()
        # Celery mode: what the sweep published goes out before the process exits (bounded
        # by OSCAR_RECOVERY_BROKER_TIMEOUT; anything left stays in the database).
        wait_for_publisher()
        self.stdout.write(summary(result))
        for error in result.errors:
            self.stderr.write(error)
        if result.errors:
            raise CommandError(
                ngettext(
                    "The sweep ran with %(count)d error.",
                    "The sweep ran with %(count)d errors.",
                    len(result.errors),
                )
                % {"count": len(result.errors)}
            )


def summary(result) -> str:
    """The sweep's figures for the person who ran it, in their language (``str(result)``
    stays English for logs)."""
    return " ".join(
        [
            ngettext(
                "%(abandoned)d abandoned, %(expired)d expired in %(count)d batch;",
                "%(abandoned)d abandoned, %(expired)d expired in %(count)d batches;",
                result.batches,
            )
            % {"abandoned": result.abandoned, "expired": result.expired, "count": result.batches},
            ngettext(
                "%(count)d email dispatched, %(requeued)d requeued, %(interrupted)d interrupted",
                "%(count)d emails dispatched, %(requeued)d requeued, %(interrupted)d interrupted",
                result.dispatched,
            )
            % {
                "count": result.dispatched,
                "requeued": result.requeued,
                "interrupted": result.interrupted,
            },
        ]
    )
