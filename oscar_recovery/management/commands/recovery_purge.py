from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oscar_recovery.management.base import RecoveryCommand
from oscar_recovery.privacy.retention import purge_expired


class Command(RecoveryCommand):
    help_text = gettext_lazy(
        "Delete recovery data older than OSCAR_RECOVERY_RETENTION, in batches (what the "
        "oscar_recovery.purge Celery task does)."
    )
    routine_output = True  # run from cron

    def handle(self, *args, **options):
        result = purge_expired()
        self.stdout.write(
            _(
                "Purged %(journeys)d journeys and %(vouchers)d vouchers: %(rows)d rows in "
                "%(batches)d batches (longest %(longest).3f s)."
            )
            % {
                "journeys": result.journeys,
                "vouchers": result.vouchers,
                "rows": result.rows,
                "batches": result.batches,
                "longest": result.max_batch_seconds,
            }
        )
