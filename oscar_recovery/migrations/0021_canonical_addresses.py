"""Addresses are stored canonical (``contacts.addresses.canonical_email``): the fields become
``CanonicalEmailField`` (no schema change), then existing rows are rewritten in batches.

Not atomic: each batch of 5,000 ids is its own short transaction, so a shop with millions
of journeys keeps taking orders while it runs. Addresses that cannot be made canonical are
left as they were and logged by journey id (never the address): they match nothing typed
from now on and are never emailed.
"""

import logging

from django.db import migrations

import oscar_recovery.models.journeys
from oscar_recovery.contacts.backfill import canonicalise_addresses

logger = logging.getLogger("oscar_recovery.migrations")


def canonicalise(apps, schema_editor):
    alias = schema_editor.connection.alias
    for model_name, field_name in (("CartJourney", "email"), ("RecoveryMessage", "to_email")):
        model = apps.get_model("oscar_recovery", model_name)
        done = canonicalise_addresses(model, field_name, using=alias)
        if done.refused:
            logger.warning(
                "%s: %d addresses cannot be made canonical and were left as they were "
                "(ids %s%s); they are not emailed.",
                model_name,
                len(done.refused),
                ", ".join(map(str, done.refused[:50])),
                ", ..." if len(done.refused) > 50 else "",
            )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("oscar_recovery", "0020_webhook_signature_format"),
    ]

    operations = [
        migrations.AlterField(
            model_name="cartjourney",
            name="email",
            field=oscar_recovery.models.journeys.CanonicalEmailField(
                blank=True, db_index=True, max_length=254, verbose_name="email"
            ),
        ),
        migrations.AlterField(
            model_name="recoverymessage",
            name="to_email",
            field=oscar_recovery.models.journeys.CanonicalEmailField(
                blank=True, max_length=254, verbose_name="to"
            ),
        ),
        migrations.RunPython(canonicalise, migrations.RunPython.noop, elidable=True),
    ]
