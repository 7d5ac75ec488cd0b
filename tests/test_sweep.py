"""The sweep: abandonment after inactivity, expiry, batching, and hand-off signals."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from oscar_recovery import signals
from oscar_recovery.constants import JourneyEventKind, JourneyStatus
from oscar_recovery.models import CartJourney
from oscar_recovery.sweep.stages import run_sweep
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def abandoned_ids():
    seen: list[int] = []

    def receiver(sender, journey_ids, **kwargs):
        seen.extend(journey_ids)

    signals.journeys_abandoned.connect(receiver)
    yield seen
    signals.journeys_abandoned.disconnect(receiver)


def test_quiet_journeys_are_abandoned_after_the_default_30_minutes(abandoned_ids):
    quiet = make_journey(quiet_for=timedelta(minutes=31))
    busy = make_journey(quiet_for=timedelta(minutes=29))

    result = run_sweep()

    quiet.refresh_from_db()
    busy.refresh_from_db()
    assert quiet.status == JourneyStatus.ABANDONED and quiet.abandoned_at is not None
    assert busy.status == JourneyStatus.ACTIVE
    assert result.abandoned == 1
    assert abandoned_ids == [quiet.pk]
    assert list(quiet.events.values_list("kind", flat=True)) == [JourneyEventKind.ABANDONED]


def test_abandon_after_is_a_setting(settings):
    settings.OSCAR_RECOVERY_ABANDON_AFTER = timedelta(hours=2)
    journey = make_journey(quiet_for=timedelta(minutes=90))
    run_sweep()
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.ACTIVE


def test_a_journey_is_abandoned_once_however_often_the_sweep_runs(abandoned_ids):
    journey = make_journey(quiet_for=timedelta(hours=1))
    run_sweep()
    run_sweep()
    assert abandoned_ids == [journey.pk]
    assert journey.events.count() == 1


def test_empty_baskets_and_ended_journeys_are_not_abandoned(abandoned_ids):
    make_journey(quiet_for=timedelta(hours=1), num_items=0, num_lines=0, lines=[])
    for status in (JourneyStatus.CONVERTED, JourneyStatus.RECOVERED, JourneyStatus.MERGED):
        make_journey(quiet_for=timedelta(hours=1), status=status)
    assert run_sweep().abandoned == 0
    assert abandoned_ids == []


def test_abandoned_journeys_expire_after_expire_after(settings):
    settings.OSCAR_RECOVERY_EXPIRE_AFTER = timedelta(days=30)
    stale = make_journey(quiet_for=timedelta(days=31), status=JourneyStatus.ABANDONED)
    recent = make_journey(quiet_for=timedelta(days=2), status=JourneyStatus.ABANDONED)

    result = run_sweep()

    stale.refresh_from_db()
    recent.refresh_from_db()
    assert stale.status == JourneyStatus.EXPIRED and stale.expired_at is not None
    assert recent.status == JourneyStatus.ABANDONED
    assert result.expired == 1


def test_the_sweep_works_in_batches_and_stops_at_the_batch_limit(settings, abandoned_ids):
    settings.OSCAR_RECOVERY_SWEEP_BATCH_SIZE = 3
    settings.OSCAR_RECOVERY_SWEEP_MAX_BATCHES = 2
    for _ in range(8):
        make_journey(quiet_for=timedelta(hours=1))

    first = run_sweep()
    assert (first.abandoned, first.batches) == (6, 2)
    second = run_sweep()
    assert second.abandoned == 2
    assert sorted(abandoned_ids) == sorted(CartJourney.objects.values_list("pk", flat=True))


def test_a_failing_receiver_does_not_stop_the_sweep():
    def broken(sender, journey_ids, **kwargs):
        raise RuntimeError("downstream is broken")

    signals.journeys_abandoned.connect(broken)
    try:
        make_journey(quiet_for=timedelta(hours=1))
        result = run_sweep()
    finally:
        signals.journeys_abandoned.disconnect(broken)
    assert result.abandoned == 1
    assert "downstream is broken" in result.errors[0]


def test_returning_shopper_reactivates_an_abandoned_journey(shopper, product):
    from tests.support.journeys import add_to_basket, only_journey

    add_to_basket(shopper, product)
    CartJourney.objects.update(
        last_activity_at=only_journey().last_activity_at - timedelta(hours=1)
    )
    run_sweep()
    assert only_journey().status == JourneyStatus.ABANDONED

    add_to_basket(shopper, product)
    journey = only_journey()
    assert journey.status == JourneyStatus.ACTIVE
    assert journey.abandoned_at is not None  # history kept


def test_recovery_sweep_command_does_the_same_work(capsys):
    make_journey(quiet_for=timedelta(hours=1))
    call_command("recovery_sweep")
    assert "1 abandoned" in capsys.readouterr().out
    assert CartJourney.objects.get().status == JourneyStatus.ABANDONED


def test_sweep_task_runs_the_sweep():
    from oscar_recovery.tasks import sweep

    make_journey(quiet_for=timedelta(hours=1))
    assert sweep.apply().get() == {
        "abandoned": 1,
        "expired": 0,
        "batches": 1,
        "dispatched": 0,
        "requeued": 0,
        "interrupted": 0,
        "browse_abandoned": 0,
        "sent": 0,
        "handed_over": 0,
        "linked": 1,  # the journey's address is a contact now
        # The journey's new contact: new visitor and customer, low value, basket abandoned
        # in the last 2, 7 and 14 days.
        "segment_entries": 6,
        "segment_exits": 0,
        "followed_up": 0,
    }
