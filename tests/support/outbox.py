"""The outbox in tests: what a worker would do a moment after a request."""

from oscar_recovery.journeys import followups


def run_followups() -> int:
    """Run the pending follow-ups of shop requests, oldest first, until none is left
    (follow-ups may record more); returns how many ran."""
    ran = 0
    while done := followups.run_pending(1000):
        ran += done
    return ran
