"""The outbox in tests: what a worker would do a moment after a request."""

from oscar_recovery.handoff import outbox
from oscar_recovery.journeys import followups
from oscar_recovery.models import HandOff

#: What capture leaves for after a shop request (:mod:`oscar_recovery.journeys.followups`).
FOLLOWUP_TASKS = (followups.TASK, followups.ORDER_TASK)


def run_followups() -> int:
    """Run the pending follow-ups of shop requests, oldest first (as many times as they
    record more); returns how many ran."""
    ran = 0
    while True:
        pending = list(
            HandOff.objects.filter(task__in=FOLLOWUP_TASKS, done_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not pending:
            return ran
        done = sum(outbox.run(pk) for pk in pending)
        ran += done
        if not done:  # failing ones stay pending, with their error
            return ran
