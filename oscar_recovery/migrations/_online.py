"""Schema operations that never hold a busy table's lock for long on PostgreSQL.

Django's ``AddField`` of a foreign key and ``AddIndex`` each lock the whole table (writes
wait) while PostgreSQL validates the constraint or builds the index: seconds to minutes on
a shop's journey table. These do the same in steps that let the shop keep writing, in a
non-atomic migration: the column (instant), the constraint added ``NOT VALID`` (instant)
then validated (a lock that lets writes through), and the index built ``CONCURRENTLY``.
Other databases get Django's own operation. The migration state is the same either way.
"""

from __future__ import annotations

from django.db import migrations


def _on_postgresql(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class AddForeignKeyOnline(migrations.AddField):
    """``AddField`` of a nullable ``ForeignKey`` (see the module docstring)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _on_postgresql(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        quote = schema_editor.quote_name
        table, column = model._meta.db_table, field.column
        target = field.related_model._meta
        kind = field.db_type(schema_editor.connection)
        constraint = schema_editor._create_index_name(table, [column], suffix="_fk_online")
        index = schema_editor._create_index_name(table, [column])
        for sql in (
            f"ALTER TABLE {quote(table)} ADD COLUMN IF NOT EXISTS {quote(column)} {kind} NULL",
            f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(constraint)} "
            f"FOREIGN KEY ({quote(column)}) REFERENCES {quote(target.db_table)} "
            f"({quote(target.pk.column)}) DEFERRABLE INITIALLY DEFERRED NOT VALID",
            f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(constraint)}",
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {quote(index)} "
            f"ON {quote(table)} ({quote(column)})",
        ):
            schema_editor.execute(sql)


class AddIndexOnline(migrations.AddIndex):
    """``AddIndex``, built ``CONCURRENTLY`` on PostgreSQL (see the module docstring)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not _on_postgresql(schema_editor):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        schema_editor.add_index(model, self.index, concurrently=True)
