"""One sweep over 1,000,000 journeys in PostgreSQL, of which 10,000 are due.

    .venv/bin/python -m bench.sweep_scale [--journeys 1000000] [--due 10000] [--rounds 3]
                                          [--contacts JOURNEYS] [--stages whole|abandon]

``--stages whole`` (the default) measures the sweep's email path as the sweep runs it:
``mark_abandoned`` (claim batches, update, write one timeline event per journey, announce
each batch, whose receiver enrols the batch's journeys in the campaigns) and then
``dispatch_due`` (claim due enrolments, write their messages, move them on). Four active
campaigns: checkout abandonment (priority 200) and basket abandonment (100), each with a
10% holdout and a first step due at abandonment, take the due journeys (half reached the
checkout gateway); a returning-customer campaign (300, which reads customer histories) and
a browse campaign (150) match none of them. Its limit is the same writes as bare SQL in
one transaction: ``UPDATE .. RETURNING`` feeding the events' ``INSERT .. SELECT``, one
``INSERT .. SELECT .. ON CONFLICT DO NOTHING`` per campaign that enrols anyone, with the
holdout drawn in SQL (the same hash), one ``INSERT .. SELECT`` of the messages and one
``UPDATE .. FROM`` moving the enrolments to their second step. Both sides' results are
compared (enrolments per campaign, holdout ids, messages by status), so the limit does
exactly the writes the sweep does. ``--contacts`` contacts are seeded too, each journey
linked to one, as a shop whose customers the sweep has linked.

``--stages abandon`` compares the abandon stage alone (no campaign) with a single
``UPDATE .. RETURNING`` of the due rows feeding an ``INSERT .. SELECT`` of their events.

Both sides start from the same state (the due rows put back and the tables vacuumed
before each side), in alternating order round by round, so machine noise hits both.
Prints due journeys per second and the ratio sweep / set-based (goal: <= 3); a bare
indexed SELECT of the due rows is printed for information only (it writes nothing, so it
is no limit for work that must write). Uses its own database, oscar_recovery_bench, on
the local PostgreSQL (OSCAR_RECOVERY_PG_HOST/PORT/USER as for the tests; its name
overridden by OSCAR_RECOVERY_PG_NAME).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.postgres import ensure_database, insert_select, use_database

use_database("oscar_recovery_bench")

#: Both sides' first step is due at abandonment; the second a day later.
STEP_HOURS = (0, 24, 72)
HOLDOUT = 10


def seed(journeys: int, due: int, contacts: int = 0) -> None:
    """Rows in the shapes a busy shop has: mostly ended or abandoned, a few active; with
    ``contacts`` contacts, each journey linked to one (round robin)."""
    from django.db import connection

    from oscar_recovery.models import CartJourney, Contact

    table = CartJourney._meta.db_table
    series = "generate_series(1, %s) AS g"
    shape = {
        "email_source": "'checkout'",
        "visitor_id": "md5(g::text)",
        "language": "'en-gb'",
        "lines": "'[]'::jsonb",
        "num_lines": "1",
        "num_items": "1",
        "total": "25.00",
        "currency": "'GBP'",
        "vouchers": "'[]'::jsonb",
        "viewed": "'[]'::jsonb",
    }
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Contact._meta.db_table} RESTART IDENTITY CASCADE")
        cursor.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")
        if contacts:
            person = {
                "uuid": "md5('contact' || g)::uuid",
                "email": "'person' || g || '@example.com'",
                "first_seen_at": "now() - (g %% 400) * interval '1 day'",
                "last_seen_at": "now() - (g %% 40) * interval '1 day'",
                "identified_at": "now() - (g %% 400) * interval '1 day'",
            }
            cursor.execute(insert_select(Contact, person, series), [contacts])
            # Each block of journeys continues the round robin where the last one stopped.
            shape["contact_id"] = f"((g + %s - 1) %% {contacts}) + 1"
        offset = 0

        def insert(columns: dict, count: int) -> None:
            nonlocal offset
            params = [offset, count] if contacts else [count]
            cursor.execute(insert_select(CartJourney, columns, series), params)
            offset += count

        ended = {
            **shape,
            "email": "'shopper' || g || '@example.com'",
            "furthest_step": "10",
            "created_at": "now() - interval '40 days'",
            "last_activity_at": "now() - (g %% 40) * interval '1 day' - interval '1 hour'",
            "status": "CASE WHEN g %% 3 = 0 THEN 'converted' WHEN g %% 3 = 1 THEN 'expired'"
            " ELSE 'merged' END",
            "basket_reached_at": "now() - interval '40 days'",
        }
        insert(ended, journeys - due - due)
        # Active but still shopping (not due) and active and quiet (due); half of each got
        # past the checkout gateway.
        for count, quiet in ((due, "5 minutes"), (due, "2 hours")):
            active = {
                **shape,
                "email": "'a' || g || '@example.com'",
                "furthest_step": "CASE WHEN g %% 2 = 0 THEN 20 ELSE 10 END",
                "created_at": "now() - interval '1 day'",
                "last_activity_at": f"now() - interval '{quiet}'",
                "status": "'active'",
                "basket_reached_at": "now() - interval '1 day'",
            }
            insert(active, count)
        cursor.execute(f"ANALYZE {table}")


def seed_campaigns() -> dict:
    """The campaigns of ``--stages whole``, by name (see the module's docstring)."""
    from datetime import timedelta

    from oscar_recovery.constants import CampaignTrigger, CustomerType
    from oscar_recovery.models import Campaign, CampaignStep

    specs = {
        "Returning customers": (CampaignTrigger.BASKET_ABANDONED, 300, CustomerType.RETURNING),
        "Checkout": (CampaignTrigger.CHECKOUT_ABANDONED, 200, CustomerType.ANY),
        "Browse": (CampaignTrigger.BROWSE_ABANDONED, 150, CustomerType.ANY),
        "Basket": (CampaignTrigger.BASKET_ABANDONED, 100, CustomerType.ANY),
    }
    campaigns = {}
    for name, (trigger, priority, customers) in specs.items():
        campaign = Campaign.objects.create(
            name=name,
            trigger=trigger,
            priority=priority,
            customer_type=customers,
            is_active=True,
            holdout_percent=HOLDOUT,
        )
        for position, hours in enumerate(STEP_HOURS, start=1):
            CampaignStep.objects.create(
                campaign=campaign, position=position, delay=timedelta(hours=hours), subject=name
            )
        campaigns[name] = campaign
    return campaigns


def bare_select_seconds() -> tuple[float, int]:
    from django.db import connection
    from django.utils import timezone

    from oscar_recovery import app_settings

    cutoff = timezone.now() - app_settings.ABANDON_AFTER
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM oscar_recovery_cartjourney WHERE status = 'active'"
            " AND last_activity_at < %s AND num_items > 0",
            [cutoff],
        )
        rows = cursor.fetchall()
    elapsed = time.perf_counter() - start
    return elapsed, len(rows)


def restore() -> None:
    """Put the due rows back as the seed left them (a sweep or the set-based statements
    have marked them abandoned, enrolled them and written their messages), drop their
    events, enrolments and messages, and vacuum, so each side starts alike."""
    from django.db import connection

    from oscar_recovery.constants import JourneyStatus
    from oscar_recovery.models import (
        CampaignEnrolment,
        CartJourney,
        CartJourneyEvent,
        RecoveryMessage,
    )

    journeys, events = CartJourney._meta.db_table, CartJourneyEvent._meta.db_table
    written = (RecoveryMessage._meta.db_table, CampaignEnrolment._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {journeys} SET status = %s, abandoned_at = NULL WHERE status = %s",
            [JourneyStatus.ACTIVE, JourneyStatus.ABANDONED],
        )
        cursor.execute(f"TRUNCATE {events}")
        # Journeys point at messages (the one attributed): DELETE, not TRUNCATE .. CASCADE.
        for table in written:
            cursor.execute(f"DELETE FROM {table}")
        for table in (journeys, events, *written):
            cursor.execute(f"VACUUM ANALYZE {table}")


def _abandon_sql() -> str:
    """The abandon stage's writes as one statement: the rows and columns ``mark_abandoned``
    writes (status and ``abandoned_at`` on the journey, one ``abandoned`` event with empty
    data per journey), selected by the same due condition."""
    from oscar_recovery.models import CartJourney, CartJourneyEvent

    return f"""
        WITH due AS (
            UPDATE {CartJourney._meta.db_table}
            SET status = %(abandoned)s, abandoned_at = %(now)s
            WHERE status = %(active)s AND last_activity_at < %(cutoff)s
                  AND (num_items > 0 OR (num_viewed > 0 AND email <> ''))
            RETURNING id)
        INSERT INTO {CartJourneyEvent._meta.db_table} (journey_id, kind, created_at, data)
        SELECT id, %(kind)s, %(now)s, '{{}}'::jsonb FROM due
        """


def _params(now) -> dict:
    from oscar_recovery import app_settings
    from oscar_recovery.constants import JourneyEventKind, JourneyStatus

    return {
        "now": now,
        "cutoff": now - app_settings.ABANDON_AFTER,
        "active": JourneyStatus.ACTIVE,
        "abandoned": JourneyStatus.ABANDONED,
        "kind": JourneyEventKind.ABANDONED,
    }


def set_based_seconds(now) -> tuple[float, int]:
    """The abandon stage's writes as one statement in one transaction."""
    from django.db import connection, transaction

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_abandon_sql(), _params(now))
        written = cursor.rowcount
    return time.perf_counter() - start, written


def whole_set_based_seconds(now, campaigns: dict) -> tuple[float, int]:
    """Abandon, enrol and dispatch as bare SQL in one transaction (the module's
    docstring); returns the time and the number of messages written."""
    from django.db import connection, transaction

    from oscar_recovery.constants import CheckoutStep
    from oscar_recovery.models import (
        CampaignEnrolment,
        CampaignStep,
        CartJourney,
        RecoveryMessage,
    )

    journeys, enrolments = CartJourney._meta.db_table, CampaignEnrolment._meta.db_table
    messages, steps = RecoveryMessage._meta.db_table, CampaignStep._meta.db_table
    params = _params(now)
    # in_holdout's hash: the first four bytes of SHA-256("holdout:<campaign>:<journey>").
    holdout = (
        "('x' || substr(encode(sha256(convert_to('holdout:' || %(campaign)s || ':' || j.id,"
        " 'UTF8')), 'hex'), 1, 8))::bit(32)::bigint %% 100 < %(holdout)s"
    )
    enrol = f"""
        INSERT INTO {enrolments} (journey_id, campaign_id, is_holdout, status, stop_reason,
                                  enrolled_at, next_step_id, next_send_at)
        SELECT j.id, %(campaign)s, {holdout}, 'active', '', %(now)s, %(first)s,
               j.abandoned_at + %(delay)s
        FROM {journeys} j
        WHERE j.status = %(abandoned)s AND j.abandoned_at = %(now)s
              AND j.restored_from_id IS NULL AND NOT j.is_bot AND NOT j.is_staff
              AND j.num_items > 0 AND j.furthest_step >= %(step)s
        ON CONFLICT DO NOTHING
        """
    dispatch = f"""
        INSERT INTO {messages} (journey_id, step_id, status, skip_reason, error, to_email,
                                esp_message_id, attempts, voucher_code, created_at)
        SELECT e.journey_id, e.next_step_id,
               CASE WHEN e.is_holdout THEN 'skipped' ELSE 'queued' END,
               CASE WHEN e.is_holdout THEN 'holdout' ELSE '' END,
               '', j.email, '', 0, '', %(now)s
        FROM {enrolments} e JOIN {journeys} j ON j.id = e.journey_id
        WHERE e.status = 'active' AND e.next_send_at <= %(now)s AND j.status = %(abandoned)s
        ON CONFLICT DO NOTHING
        """
    move_on = f"""
        UPDATE {enrolments} e
        SET next_step_id = following.id, next_send_at = j.abandoned_at + following.delay
        FROM {journeys} j, {steps} step, {steps} following
        WHERE e.status = 'active' AND e.next_send_at <= %(now)s AND j.id = e.journey_id
              AND j.status = %(abandoned)s AND step.id = e.next_step_id
              AND following.campaign_id = step.campaign_id
              AND following.position = step.position + 1
        """
    enrolling = [
        (campaigns["Checkout"], CheckoutStep.GATEWAY),
        (campaigns["Basket"], CheckoutStep.BASKET),
    ]
    firsts = {c.pk: c.steps.order_by("position").first() for c, _ in enrolling}
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_abandon_sql(), params)
        for campaign, step in enrolling:
            first = firsts[campaign.pk]
            cursor.execute(
                enrol,
                {
                    **params,
                    "campaign": campaign.pk,
                    "holdout": campaign.holdout_percent,
                    "first": first.pk,
                    "delay": first.delay,
                    "step": step,
                },
            )
        cursor.execute(dispatch, params)
        written = cursor.rowcount
        cursor.execute(move_on, params)
    return time.perf_counter() - start, written


def sweep_seconds(due: int, now) -> tuple[float, int]:
    from django.test.utils import override_settings

    from oscar_recovery.constants import JourneyEventKind, JourneyStatus
    from oscar_recovery.models import CartJourney, CartJourneyEvent
    from oscar_recovery.sweep.stages import mark_abandoned

    with override_settings(OSCAR_RECOVERY_SWEEP_MAX_BATCHES=10_000):
        start = time.perf_counter()
        result = mark_abandoned(now)
        elapsed = time.perf_counter() - start
    assert result.abandoned == due, result
    assert CartJourney.objects.filter(status=JourneyStatus.ABANDONED).count() == due
    assert CartJourneyEvent.objects.filter(kind=JourneyEventKind.ABANDONED).count() == due
    return elapsed, result.batches


def whole_sweep_seconds(due: int, now) -> tuple[float, int]:
    """``mark_abandoned`` (which enrols, through its receiver) then ``dispatch_due``, as
    ``run_sweep`` calls them; returns the time and the number of messages written."""
    from django.test.utils import override_settings

    from oscar_recovery.campaigns.dispatch import dispatch_due
    from oscar_recovery.models import RecoveryMessage
    from oscar_recovery.sweep.stages import mark_abandoned

    with override_settings(OSCAR_RECOVERY_SWEEP_MAX_BATCHES=10_000):
        start = time.perf_counter()
        result = mark_abandoned(now)
        dispatch_due(now)
        elapsed = time.perf_counter() - start
    assert result.abandoned == due and not result.errors, result
    written = RecoveryMessage.objects.count()
    assert written == due, written
    return elapsed, written


def outcome() -> dict:
    """What a side wrote, to compare the two: enrolments per campaign and step, the
    holdout, messages by status."""
    from django.db.models import Count

    from oscar_recovery.models import CampaignEnrolment, RecoveryMessage

    return {
        "enrolments": sorted(
            CampaignEnrolment.objects.values_list("campaign__name", "next_step__position")
            .annotate(n=Count("pk"))
            .order_by()
        ),
        "holdout": set(
            CampaignEnrolment.objects.filter(is_holdout=True).values_list("journey_id", flat=True)
        ),
        "messages": sorted(
            RecoveryMessage.objects.values_list("status", "skip_reason")
            .annotate(n=Count("pk"))
            .order_by()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, help="default: as many as --journeys")
    parser.add_argument("--rounds", type=int, default=3, help="sweep and set-based, alternating")
    parser.add_argument("--stages", choices=("whole", "abandon"), default="whole")
    args = parser.parse_args()
    whole = args.stages == "whole"
    if args.contacts is None:
        args.contacts = args.journeys
    ensure_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from oscar_recovery.models import Campaign, CartJourney, Contact

    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    seed(args.journeys, args.due, args.contacts if whole else 0)
    Campaign.objects.all().delete()  # the seed emptied their enrolments and messages
    campaigns = seed_campaigns() if whole else {}
    print(
        f"seeded {CartJourney.objects.count():,} journeys, {Contact.objects.count():,} "
        f"contacts, {len(campaigns)} campaigns in {time.perf_counter() - start:.1f}s"
    )
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    bare, found = bare_select_seconds()
    bare, found = min(bare, bare_select_seconds()[0]), found  # warm cache, best of two
    assert found == args.due, found

    # Both sides judge "due" at the seed's time: a long run must not let the journeys that
    # are still shopping fall due between rounds.
    now = timezone.now()
    sweeps: list[float] = []
    set_based: list[float] = []
    batches = 0
    outcomes: dict[str, dict] = {}
    for round_ in range(args.rounds):
        order = ("sweep", "set") if round_ % 2 == 0 else ("set", "sweep")
        for side in order:
            restore()
            if side == "sweep":
                if whole:
                    elapsed, batches = whole_sweep_seconds(args.due, now)
                    outcomes["sweep"] = outcome()
                else:
                    elapsed, batches = sweep_seconds(args.due, now)
                sweeps.append(elapsed)
            else:
                if whole:
                    elapsed, written = whole_set_based_seconds(now, campaigns)
                    outcomes["set"] = outcome()
                else:
                    elapsed, written = set_based_seconds(now)
                assert written == args.due, written
                set_based.append(elapsed)
        if whole:
            assert outcomes["sweep"] == outcomes["set"], "the two sides wrote different rows"
        print(
            f"round {round_ + 1} ({' then '.join(order)}): sweep {sweeps[-1] * 1000:.0f} ms, "
            f"set-based {set_based[-1] * 1000:.0f} ms",
            flush=True,
        )
    restore()
    sweep, limit = statistics.median(sweeps), statistics.median(set_based)
    print(f"bare indexed SELECT of the {found:,} due rows: {bare * 1000:.1f} ms (information)")
    if whole:
        held = len(outcomes["sweep"]["holdout"])
        print(
            f"enrolled {args.due:,} ({held:,} held out) and wrote {args.due:,} messages: "
            f"{outcomes['sweep']['enrolments']}"
        )
        what, stage = (
            "abandon + enrol + dispatch as bare SQL",
            "whole sweep (abandon, enrol, dispatch)",
        )
    else:
        what, stage = "UPDATE..RETURNING + INSERT..SELECT", "sweep (abandon stage)"
        print(f"{stage} took {batches} batches")
    print(
        f"set-based ({what}) of the {args.due:,} due rows: median "
        f"{limit * 1000:.0f} ms = {args.due / limit:,.0f} due journeys/s"
    )
    print(f"{stage}: median {sweep * 1000:.0f} ms = {args.due / sweep:,.0f} due journeys/s")
    print(f"ratio sweep / set-based: {sweep / limit:.2f} (goal <= 3; {args.rounds} rounds)")
    print(f"ratio sweep / bare SELECT: {sweep / bare:.1f} (information)")


if __name__ == "__main__":
    main()
