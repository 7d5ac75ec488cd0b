"""The consent ledger starts with what the shop already holds: each journey's recorded
decision under its address, and each suppression under its hash.

Non-atomic and batched by id range (one short transaction per batch), so a shop with
millions of journeys never holds a lock on the journey table for long; the journey table
is only read. Running it again adds nothing (each batch skips rows already carried over).
"""

from django.db import migrations, transaction

BATCH = 20_000


def _journey_batch_sql(journeys: str, events: str) -> str:
    # GIVEN (or CONFIRMED for a confirmation) for a consent, WITHDRAWN for a "no thanks"
    # (an unticked consent box under the ``consent`` basis is no consent, not a refusal).
    return f"""
        INSERT INTO {events} (channel, address, action, source, basis, wording, language,
                              evidence, journey_id, visitor_id, occurred_at, contact_id)
        SELECT 'email', LOWER(TRIM(j.email)),
               CASE WHEN j.consent_given AND j.consent_source = 'confirmed' THEN 'confirmed'
                    WHEN j.consent_given THEN 'given'
                    ELSE 'withdrawn' END,
               CASE WHEN j.consent_source = '' THEN 'other' ELSE j.consent_source END,
               j.consent_basis, j.consent_text, j.language, '{{}}', j.id, j.visitor_id,
               j.consent_at, NULL
        FROM {journeys} j
        WHERE j.id >= %s AND j.id < %s
          AND j.consent_at IS NOT NULL AND j.email <> ''
          AND (j.consent_given OR j.consent_basis <> 'consent')
          AND NOT EXISTS (SELECT 1 FROM {events} e WHERE e.journey_id = j.id)
    """


_SUPPRESSION_ACTIONS = {
    "unsubscribed": ("unsubscribed", "unsubscribe"),
    "bounced": ("bounced", "provider"),
    "complained": ("complained", "provider"),
    "erased": ("erased", "erasure"),
    "staff": ("unsubscribed", "staff"),
    "declined": ("withdrawn", "other"),
}


def backfill(apps, schema_editor):
    connection = schema_editor.connection
    CartJourney = apps.get_model("oscar_recovery", "CartJourney")
    ConsentEvent = apps.get_model("oscar_recovery", "ConsentEvent")
    SuppressedAddress = apps.get_model("oscar_recovery", "SuppressedAddress")
    quote = connection.ops.quote_name
    sql = _journey_batch_sql(
        quote(CartJourney._meta.db_table), quote(ConsentEvent._meta.db_table)
    )
    bounds = CartJourney.objects.order_by("id").values_list("id", flat=True)
    first, last = bounds.first(), bounds.last()
    if first is not None:
        start = first
        while start <= last:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.execute(sql, [start, start + BATCH])
            start += BATCH
    # Suppressions: known by their hash only.
    carried = set(
        ConsentEvent.objects.filter(evidence__has_key="suppression").values_list(
            "address", flat=True
        )
    )
    rows = []
    for hashed, reason, created_at in SuppressedAddress.objects.values_list(
        "email_hash", "reason", "created_at"
    ).iterator(chunk_size=BATCH):
        if hashed in carried:
            continue
        action, source = _SUPPRESSION_ACTIONS.get(reason, ("unsubscribed", "staff"))
        rows.append(
            ConsentEvent(
                channel="email",
                address=hashed,
                action=action,
                source=source,
                evidence={"suppression": reason},
                occurred_at=created_at,
            )
        )
        if len(rows) >= BATCH:
            ConsentEvent.objects.bulk_create(rows, batch_size=1000)
            rows = []
    ConsentEvent.objects.bulk_create(rows, batch_size=1000)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("oscar_recovery", "0025_contacts_and_consent_ledger")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
