"""The retention purge on the real PostgreSQL: rows another transaction holds are skipped,
never waited for, and picked up by a later run."""

import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction

from oscar_recovery.models import CartJourney, CartJourneyEvent
from oscar_recovery.privacy.retention import purge_expired
from tests.support.factories import make_journey
from tests.support.workers import STUCK_AFTER

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_purge_skips_a_journey_another_transaction_holds():
    old = [make_journey(quiet_for=timedelta(days=120)) for _ in range(3)]
    for journey in old:
        CartJourneyEvent.objects.create(journey=journey, kind="abandoned")
    young = make_journey(quiet_for=timedelta(days=1))
    locked, purged = threading.Event(), threading.Event()

    def hold_a_lock():
        try:
            with transaction.atomic():
                CartJourney.objects.select_for_update().get(pk=old[0].pk)
                locked.set()
                # Released when the purge is done. Should the purge wait on it, the run is
                # stuck: released after STUCK_AFTER, the row is gone and the test fails.
                purged.wait(timeout=STUCK_AFTER)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_a_lock)
    holder.start()
    assert locked.wait(timeout=STUCK_AFTER)
    try:
        result = purge_expired(batch_size=2)
    finally:
        purged.set()
        holder.join()
    assert result.journeys == 2
    assert set(CartJourney.objects.values_list("pk", flat=True)) == {old[0].pk, young.pk}

    assert purge_expired().journeys == 1  # the next run takes what was held
    assert list(CartJourney.objects.all()) == [young]
    assert not CartJourneyEvent.objects.exists()
