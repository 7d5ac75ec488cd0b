from datetime import date, timedelta

from django.core.management.base import CommandError
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from oscar_recovery.management.base import RecoveryCommand
from oscar_recovery.reporting import aggregation


class Command(RecoveryCommand):
    help_text = gettext_lazy(
        "Recompute the dashboard's daily figures: the recent days (what the Celery task "
        "does; --days), a range (--from/--to), or everything since the first journey "
        "(--all). Safe to rerun: each day is replaced as a whole."
    )
    routine_output = True  # run from cron

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="last", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--all", action="store_true", help=_("since the first journey"))
        parser.add_argument(
            "--days",
            type=int,
            help=_("the last DAYS days (default OSCAR_RECOVERY_STATS_RECOMPUTE_DAYS)"),
        )
        parser.add_argument(
            "--chunk-days", type=int, default=31, help=_("days recomputed per transaction")
        )

    def handle(self, *args, first=None, last=None, all=False, days=None, chunk_days=31, **options):
        today = aggregation.local_today()
        if all:
            earliest = aggregation.reporting_journeys().aggregate(first=Min("created_at"))["first"]
            if earliest is None:
                self.stdout.write(_("No journeys yet."))
                return
            first = min(first or today, timezone.localdate(earliest))
        if first is None:
            if days is not None and days < 1:
                raise CommandError(_("--days must be at least 1"))
            result = aggregation.recompute_recent(today, days)
            self.stdout.write(
                ngettext(
                    "Recomputed %(days)d day: %(rows)d rows.",
                    "Recomputed %(days)d days: %(rows)d rows.",
                    result.days,
                )
                % {"days": result.days, "rows": result.rows}
            )
            return
        last = last or today
        if last < first:
            raise CommandError(_("--to is before --from"))
        if chunk_days < 1:
            raise CommandError(_("--chunk-days must be at least 1"))
        rows = days = 0
        day = first
        while day <= last:
            chunk_last = min(last, day + timedelta(days=chunk_days - 1))
            result = aggregation.recompute(day, chunk_last)
            rows += result.rows
            days += result.days
            day = chunk_last + timedelta(days=1)
        self.stdout.write(
            ngettext(
                "Recomputed %(days)d day from %(first)s to %(last)s: %(rows)d rows.",
                "Recomputed %(days)d days from %(first)s to %(last)s: %(rows)d rows.",
                days,
            )
            % {"days": days, "first": first, "last": last, "rows": rows}
        )
