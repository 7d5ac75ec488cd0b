"""The segments migrations: additive (new tables and indexes only), and an existing shop
gets the built-in segments once, with no memberships until the sweep builds them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from oscar_recovery.segments.builtins import BUILTINS

BEFORE = [("oscar_recovery", "0027_sweep_cursor_and_unlinked_index")]
AFTER = [("oscar_recovery", "0029_builtin_segments")]


@pytest.fixture
def at_0026(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_an_existing_shop_gets_the_builtin_segments_once(at_0026):
    Contact = at_0026.get_model("oscar_recovery", "Contact")
    Contact.objects.create(email="ada@example.com")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    Segment = apps.get_model("oscar_recovery", "Segment")
    assert sorted(Segment.objects.values_list("slug", flat=True)) == sorted(
        slug for slug, *_ in BUILTINS
    )
    assert not apps.get_model("oscar_recovery", "SegmentMembership").objects.exists()
    assert Contact.objects.filter(email="ada@example.com").exists()
    # Back and forth: the data migration's reverse leaves the rows; running it again adds
    # nothing twice.
    executor = MigrationExecutor(connection)
    executor.migrate([("oscar_recovery", "0028_segments")])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    assert Segment.objects.count() == len(BUILTINS)


@pytest.mark.django_db
def test_the_segments_migrations_only_add():
    executor = MigrationExecutor(connection)
    for name in ("0028_segments", "0029_builtin_segments"):
        migration = executor.loader.get_migration("oscar_recovery", name)
        kinds = {type(operation).__name__ for operation in migration.operations}
        assert kinds <= {"CreateModel", "AddField", "AddIndex", "AddConstraint", "RunPython"}
