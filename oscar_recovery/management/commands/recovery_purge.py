from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from oscar_recovery.privacy.retention import purge_expired


class Command(BaseCommand):
    @property
    def help(self) -> str:
        return _(
            "Delete recovery data older than OSCAR_RECOVERY_RETENTION, in batches (what the "
            "oscar_recovery.purge Celery task does)."
        )

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
