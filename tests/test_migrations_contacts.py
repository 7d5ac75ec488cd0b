"""The contacts migrations: an existing shop's consent decisions and suppressions start the
consent ledger, batch by batch, and nothing is carried twice."""

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from oscar_recovery.constants import ConsentStatus
from oscar_recovery.privacy import ledger
from oscar_recovery.privacy.hashing import email_hash

BEFORE = [("oscar_recovery", "0025_contacts_and_consent_ledger")]
AFTER = [("oscar_recovery", "0026_consent_ledger_backfill")]


@pytest.fixture
def at_0020(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def migrate_forward():
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)


def test_existing_decisions_and_suppressions_start_the_ledger(at_0020):
    apps = at_0020
    CartJourney = apps.get_model("oscar_recovery", "CartJourney")
    SuppressedAddress = apps.get_model("oscar_recovery", "SuppressedAddress")
    now = timezone.now()

    def journey(email, **consent):
        return CartJourney.objects.create(email=email, visitor_id="v", **consent)

    journey(
        "given@example.com",
        consent_given=True,
        consent_basis="consent",
        consent_source="checkout",
        consent_text="Yes please",
        consent_at=now,
    )
    journey(
        "Confirmed@Example.com",
        consent_given=True,
        consent_basis="consent",
        consent_source="confirmed",
        consent_at=now,
    )
    journey(
        "no@example.com",
        consent_given=False,
        consent_basis="soft_opt_in",
        consent_source="prompt",
        consent_at=now,
    )
    journey(
        "unticked@example.com",
        consent_given=False,
        consent_basis="consent",
        consent_source="checkout",
        consent_at=now,
    )
    journey("never@example.com")
    SuppressedAddress.objects.create(
        email_hash=email_hash("gone@example.com"),
        reason="bounced",
        created_at=now - timedelta(days=3),
    )

    migrate_forward()
    # Run again (a migration interrupted and restarted): nothing is carried twice.
    backfill = importlib.import_module(
        "oscar_recovery.migrations.0026_consent_ledger_backfill"
    ).backfill
    after = MigrationExecutor(connection).loader.project_state(AFTER).apps
    with connection.schema_editor() as editor:
        backfill(after, editor)

    assert ledger.email_state("given@example.com").status == ConsentStatus.GIVEN
    assert ledger.email_state("confirmed@example.com").status == ConsentStatus.CONFIRMED
    assert ledger.email_state("no@example.com").status == ConsentStatus.WITHDRAWN
    # An unticked consent box is no consent, not a refusal.
    assert ledger.email_state("unticked@example.com").status == ConsentStatus.UNKNOWN
    assert ledger.email_state("never@example.com").status == ConsentStatus.UNKNOWN
    assert ledger.email_state("gone@example.com").status == ConsentStatus.SUPPRESSED
    ConsentEvent = apps.get_model("oscar_recovery", "ConsentEvent")
    assert ConsentEvent.objects.count() == 4
    wording = ConsentEvent.objects.get(address="given@example.com").wording
    assert wording == "Yes please"
