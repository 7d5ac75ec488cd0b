from django.core.management.base import BaseCommand

from oscar_recovery.sweep import run_sweep


class Command(BaseCommand):
    help = "Mark quiet cart journeys abandoned and expire stale ones (what the Celery task does)."

    def handle(self, *args, **options):
        result = run_sweep()
        self.stdout.write(str(result))
        for error in result.errors:
            self.stderr.write(error)
