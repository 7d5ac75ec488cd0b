"""Every status change of a journey goes through ``journeys.status``, which allows only the
transitions of its table and writes their timestamps and events."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from oscar.test.factories import create_order

import oscar_recovery
from oscar_recovery.constants import JourneyEventKind, JourneyStatus
from oscar_recovery.journeys import status
from oscar_recovery.models import CartJourney
from tests.support.factories import make_journey

pytestmark = pytest.mark.django_db

OPEN = [JourneyStatus.ACTIVE, JourneyStatus.ABANDONED, JourneyStatus.EXPIRED]
ENDED = [JourneyStatus.CONVERTED, JourneyStatus.RECOVERED, JourneyStatus.MERGED]


def kinds(journey) -> list[str]:
    return list(journey.events.values_list("kind", flat=True))


def test_activity_reopens_open_journeys_in_one_update_and_leaves_ended_ones(
    django_assert_num_queries,
):
    rows = {s: make_journey(quiet_for=timedelta(days=2), status=s) for s in OPEN + ENDED}
    now = timezone.now()

    with django_assert_num_queries(1):
        changed = status.record_activity(CartJourney.objects.all(), now=now, num_items=7)

    assert changed == len(OPEN)
    for old, journey in rows.items():
        journey.refresh_from_db()
        if old in OPEN:
            assert (journey.status, journey.last_activity_at, journey.num_items) == (
                JourneyStatus.ACTIVE,
                now,
                7,
            )
        else:
            assert (journey.status, journey.num_items) == (old, 1)


@pytest.mark.parametrize(
    ("to_status", "from_status", "stamp", "event"),
    [
        (JourneyStatus.ABANDONED, JourneyStatus.ACTIVE, "abandoned_at", JourneyEventKind.ABANDONED),
        (JourneyStatus.EXPIRED, JourneyStatus.ABANDONED, "expired_at", JourneyEventKind.EXPIRED),
    ],
)
def test_going_quiet_moves_only_the_allowed_status_and_records_it(
    to_status, from_status, stamp, event
):
    due = make_journey(quiet_for=timedelta(days=2), status=from_status)
    others = [
        make_journey(quiet_for=timedelta(days=2), status=s)
        for s in OPEN + ENDED
        if s not in (from_status, to_status)
    ]
    now = timezone.now()

    ids = status.mark_quiet(CartJourney.objects.all(), to_status, now=now)

    assert ids == [due.pk]
    due.refresh_from_db()
    assert (due.status, getattr(due, stamp)) == (to_status, now)
    assert event in kinds(due)
    for other in others:
        old = other.status
        other.refresh_from_db()
        assert other.status == old
        assert event not in kinds(other)


def test_only_the_sweep_steps_exist():
    with pytest.raises(KeyError):
        status.mark_quiet(CartJourney.objects.all(), JourneyStatus.RECOVERED, now=timezone.now())


@pytest.mark.parametrize("old", OPEN)
def test_an_open_journey_converts_with_its_order_and_an_event(old):
    journey = make_journey(quiet_for=timedelta(hours=2), status=old)
    order = create_order()
    now = timezone.now()

    status.convert(journey, order, now=now)

    journey.refresh_from_db()
    assert (journey.status, journey.ended_at, journey.order) == (
        JourneyStatus.CONVERTED,
        now,
        order,
    )
    assert journey.events.get(kind=JourneyEventKind.ORDER_PLACED).data == {
        "order_number": order.number
    }


@pytest.mark.parametrize("old", ENDED)
def test_an_ended_journey_never_converts_or_merges_again(old):
    journey = make_journey(quiet_for=timedelta(hours=2), status=old)
    other = make_journey(quiet_for=timedelta(hours=2))

    with pytest.raises(status.InvalidTransition):
        status.convert(journey, create_order(), now=timezone.now())
    with pytest.raises(status.InvalidTransition):
        status.merge_into(journey, other, now=timezone.now())

    journey.refresh_from_db()
    assert journey.status == old
    assert not journey.events.exists() and not other.events.exists()


def test_a_merged_guest_ends_and_the_continuing_journey_records_it():
    guest = make_journey(quiet_for=timedelta(hours=1))
    continuing = make_journey(quiet_for=timedelta(hours=1))
    now = timezone.now()

    status.merge_into(guest, continuing, now=now, from_basket=42)

    guest.refresh_from_db()
    assert (guest.status, guest.merged_into, guest.ended_at) == (
        JourneyStatus.MERGED,
        continuing,
        now,
    )
    assert continuing.events.get(kind=JourneyEventKind.MERGED_IN).data == {
        "journey": guest.pk,
        "from_basket": 42,
    }


@pytest.mark.parametrize("old", [*OPEN, JourneyStatus.MERGED])
def test_only_a_converted_journey_becomes_recovered(old):
    journey = make_journey(quiet_for=timedelta(hours=1), status=old)
    with pytest.raises(status.InvalidTransition):
        status.recover(journey)
    assert journey.status == old

    converted = make_journey(quiet_for=timedelta(hours=1), status=JourneyStatus.CONVERTED)
    status.recover(converted)
    assert converted.status == JourneyStatus.RECOVERED


def test_no_other_module_sets_a_journey_status():
    """The table in ``journeys/status.py`` is the whole story only if nothing else writes."""
    package = Path(oscar_recovery.__file__).parent
    writes = re.compile(r"\.status\s*=\s*JourneyStatus\.|\.update\(.*\bstatus=JourneyStatus\.")
    offenders = [
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in package.rglob("*.py")
        if path.relative_to(package).as_posix() != "journeys/status.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if writes.search(line)
    ]
    assert offenders == []
