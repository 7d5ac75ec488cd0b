import time

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from oscar_recovery.recommendations.cooccurrence import rebuild


class Command(BaseCommand):
    @property
    def help(self) -> str:
        # A property: argparse needs a real str, in the language active when help is shown.
        return _(
            "Rebuild the bought-together and bestseller tables behind product recommendations "
            "from the orders (what the nightly Celery task does)."
        )

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
