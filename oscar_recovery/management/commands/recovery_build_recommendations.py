import time

from django.core.management.base import BaseCommand

from oscar_recovery.cooccurrence import rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the bought-together and bestseller tables behind product recommendations "
        "from the orders (what the nightly Celery task does)."
    )

    def handle(self, *args, **options):
        started = time.perf_counter()
        result = rebuild()
        self.stdout.write(f"{result} in {time.perf_counter() - started:.1f} s")
