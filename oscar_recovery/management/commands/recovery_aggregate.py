from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Min
from django.utils import timezone

from oscar_recovery import aggregation


class Command(BaseCommand):
    help = (
        "Recompute the dashboard's daily figures: the recent days (what the Celery task "
        "does; --days), a range (--from/--to), or everything since the first journey (--all). "
        "Safe to rerun: each day is replaced as a whole."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="last", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--all", action="store_true", help="since the first journey")
        parser.add_argument(
            "--days",
            type=int,
            help="the last DAYS days (default OSCAR_RECOVERY_STATS_RECOMPUTE_DAYS)",
        )
        parser.add_argument(
            "--chunk-days", type=int, default=31, help="days recomputed per transaction"
        )

    def handle(self, *args, first=None, last=None, all=False, days=None, chunk_days=31, **options):
        today = aggregation.local_today()
        if all:
            earliest = aggregation.reporting_journeys().aggregate(first=Min("created_at"))["first"]
            if earliest is None:
                self.stdout.write("No journeys yet.")
                return
            first = min(first or today, timezone.localdate(earliest))
        if first is None:
            if days is not None and days < 1:
                raise CommandError("--days must be at least 1")
            result = aggregation.recompute_recent(today, days)
            self.stdout.write(f"Recomputed {result.days} day(s): {result.rows} rows.")
            return
        last = last or today
        if last < first:
            raise CommandError("--to is before --from")
        if chunk_days < 1:
            raise CommandError("--chunk-days must be at least 1")
        rows = days = 0
        day = first
        while day <= last:
            chunk_last = min(last, day + timedelta(days=chunk_days - 1))
            result = aggregation.recompute(day, chunk_last)
            rows += result.rows
            days += result.days
            day = chunk_last + timedelta(days=1)
        self.stdout.write(f"Recomputed {days} day(s) from {first} to {last}: {rows} rows.")
