from django.core.management.base import BaseCommand

from oscar_recovery.retention import purge_expired


class Command(BaseCommand):
    help = (
        "Delete recovery data older than OSCAR_RECOVERY_RETENTION, in batches (what the "
        "oscar_recovery.purge Celery task does)."
    )

    def handle(self, *args, **options):
        result = purge_expired()
        self.stdout.write(
            f"{result.journeys} journeys, {result.vouchers} vouchers, {result.rows} rows in "
            f"{result.batches} batches (longest {result.max_batch_seconds:.3f} s)"
        )
