import time

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oscar_recovery.management.base import RecoveryCommand
from oscar_recovery.recommendations.cooccurrence import rebuild


class Command(RecoveryCommand):
    help_text = gettext_lazy(
        "Rebuild the bought-together and bestseller tables behind product recommendations "
        "from the orders (what the nightly Celery task does)."
    )
    routine_output = True  # run from cron

    def handle(self, *args, **options):
        started = time.perf_counter()
        result = rebuild()
        # str(result) stays English for logs and benches; this line is for the person.
        self.stdout.write(
            _(
                "Bought-together pairs: %(pairs)d; products with sales: %(products)d "
                "(%(seconds).1f s)."
            )
            % {
                "pairs": result.pairs,
                "products": result.products,
                "seconds": time.perf_counter() - started,
            }
        )
