"""The dashboard's aggregation on real PostgreSQL: overlapping recomputes of the same days."""

import threading
from datetime import date

import pytest
from django.db import connections

from oscar_recovery.models import DailyStat
from oscar_recovery.reporting import aggregation, reports
from tests.support import dashboard_scenario as sc

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_overlapping_recomputes_take_turns_and_agree():
    sc.build()
    barrier = threading.Barrier(3)
    errors = []

    def recompute():
        try:
            barrier.wait()
            aggregation.recompute(date(2026, 2, 1), date(2026, 3, 31))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=recompute) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert DailyStat.objects.filter(day=date(2026, 3, 2), key=DailyStat.TOTAL_KEY).count() == 1
    overview = reports.overview(sc.PERIOD)
    for name, expected in sc.EXPECTED.items():
        assert overview.current[name] == expected, name
