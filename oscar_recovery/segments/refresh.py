"""Keeping segment memberships up to date, set-based and incrementally.

Each segment compiles to one predicate over a contact and its facts (:func:`predicate`).
A refresh applies it to a *scope* of contacts with two statements per batch:

* entries: one ``INSERT .. SELECT`` of the matching contacts without an open membership
  (``ON CONFLICT DO NOTHING`` against the partial unique constraint, so a concurrent
  refresh never opens a second one);
* exits: one ``UPDATE`` closing the open memberships whose contact no longer matches.

The scope of an incremental run is the contacts whose facts changed since the segment's
last run, those seen or merged away since, and the *time band*: contacts whose timestamp
crossed one of the segment's rolling thresholds between the last run and now (for "ordered
less than 90 days ago", last order between ``last_run - 90 d`` and ``now - 90 d``). Nothing
else can have changed side. A first run, a new version of the definition, or a change of
the settings a built-in reads rebuilds the whole segment, batched by contact id ranges.

Each segment's refresh holds its row locked (``SELECT .. FOR UPDATE SKIP LOCKED`` on
PostgreSQL): a second sweep arriving meanwhile skips the segment rather than waiting.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import BooleanField, Expression, F, Max, Min, Q
from django.utils import timezone

from oscar_recovery.constants import ContactStatus, SegmentKind
from oscar_recovery.models import Contact, ContactFacts, ContactMerge, Segment, SegmentMembership
from oscar_recovery.prompts import app_settings as prompt_settings
from oscar_recovery.segments import builtins, definition, shared
from oscar_recovery.utils import get_logger, skip_locked

logger = get_logger(__name__)

#: Facts and sightings stamped a little before the last run are looked at again: a row
#: stamped before it but committed after it is still seen (checking twice is harmless).
OVERLAP = timedelta(minutes=10)
#: Contacts per statement of an incremental run (ids are query parameters): a sweep's
#: changes usually fit in one.
CHUNK = 20_000
#: Contact ids per range of a rebuild.
REBUILD_RANGE = 50_000


def conditions_of(segment: Segment) -> list | None:
    """The segment's conditions: its definition, or its built-in rule with its numbers;
    ``None`` when it can match nobody."""
    if segment.kind == SegmentKind.BUILTIN:
        return builtins.conditions(segment.rule, segment.days, segment.amount, segment.amount_basis)
    return definition.validate(segment.definition)


def predicate(segment: Segment, now: datetime | None = None) -> Q:
    """The one predicate over ``Contact`` that says who is in ``segment`` at ``now``: an
    active contact whose facts are computed, meeting every condition."""
    now = now or timezone.now()
    conditions = conditions_of(segment)
    if conditions is None:
        return Q(pk__isnull=True)  # nobody, in a form every statement can embed
    return Q(status=ContactStatus.ACTIVE, facts__isnull=False) & definition.conditions_q(
        conditions, now
    )


def matching(segment: Segment, now: datetime | None = None):
    """The contacts ``segment`` holds by its definition at ``now`` (the admin's live count)."""
    return Contact.objects.filter(predicate(segment, now))


def signature(segment: Segment) -> str:
    """What the memberships are built from: the version, and the settings built-ins read."""
    medium, high = shared.tier_thresholds()
    basis = [segment.pk, segment.version, str(medium), str(high)]
    basis.append(prompt_settings.VISIT_GAP.total_seconds())
    return hashlib.sha256(json.dumps(basis).encode()).hexdigest()


@dataclass
class Outcome:
    segment: str
    entered: int = 0
    exited: int = 0
    rebuilt: bool = False
    scope: int = 0
    skipped: bool = False


@dataclass
class RefreshResult:
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def refresh_all(now: datetime | None = None) -> RefreshResult:
    """Refresh every active segment; one failing is logged and recorded, the others run."""
    now = now or timezone.now()
    result = RefreshResult()
    changed: dict[datetime, set[int]] = {}  # segments last run together share their scope
    for pk in Segment.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True):
        try:
            result.outcomes.append(refresh(pk, now, changed=changed))
        except Exception as exc:
            logger.exception("Refreshing segment %s failed", pk)
            result.errors.append(repr(exc))
    return result


def refresh(
    segment_id: int,
    now: datetime | None = None,
    *,
    rebuild: bool = False,
    changed: dict[datetime, set[int]] | None = None,
) -> Outcome:
    """Bring one segment's memberships up to date at ``now``: incrementally, or whole on a
    first run, a changed definition or ``rebuild``. ``changed`` caches, by last run, the
    contacts changed since (for several segments refreshed at one ``now``)."""
    now = now or timezone.now()
    started = time.monotonic()
    with transaction.atomic():
        segment = skip_locked(Segment.objects.filter(pk=segment_id)).first()
        if segment is None:
            return Outcome(segment=str(segment_id), skipped=True)
        outcome = Outcome(segment=segment.slug)
        current = signature(segment)
        q = predicate(segment, now)
        if rebuild or segment.last_run_at is None or segment.built_signature != current:
            outcome.rebuilt = True
            for low, high in _ranges():
                _apply(segment, q, _Scope(low=low, high=high), now, outcome)
            segment.member_count = segment.memberships.filter(exited_at__isnull=True).count()
            segment.built_signature = current
        else:
            since = segment.last_run_at
            if changed is None or since not in changed:
                changed = {since: _changed_since(since)}
            ids = sorted(changed[since] | _time_band(segment, since, now))
            outcome.scope = len(ids)
            # PostgreSQL takes the ids as one array; SQLite as placeholders, of which it
            # allows a few hundred.
            chunk = min(CHUNK, (connection.features.max_query_params or CHUNK * 4) // 4)
            for start in range(0, len(ids), chunk):
                _apply(segment, q, _Scope(ids[start : start + chunk]), now, outcome)
            segment.member_count = max(segment.member_count + outcome.entered - outcome.exited, 0)
        segment.last_run_at = now
        segment.last_duration_ms = int((time.monotonic() - started) * 1000)
        Segment.objects.filter(pk=segment.pk).update(
            member_count=segment.member_count,
            built_signature=segment.built_signature,
            last_run_at=now,
            last_duration_ms=segment.last_duration_ms,
        )
    return outcome


def _ranges():
    bounds = Contact.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        # No contacts: one empty range still closes memberships of contacts long gone.
        yield 0, 1
        return
    for low in range(bounds["low"], bounds["high"] + 1, REBUILD_RANGE):
        yield low, low + REBUILD_RANGE


def _changed_since(since: datetime) -> set[int]:
    """The contacts whose facts were recomputed, or who were seen or merged away, since
    ``since`` (less :data:`OVERLAP`)."""
    recent = since - OVERLAP
    ids = set(
        ContactFacts.objects.filter(updated_at__gte=recent).values_list("contact_id", flat=True)
    )
    ids |= set(Contact.objects.filter(last_seen_at__gte=recent).values_list("pk", flat=True))
    merged = ContactMerge.objects.filter(merged_at__gte=recent).values("loser_uuid")
    ids |= set(Contact.objects.filter(uuid__in=merged).values_list("pk", flat=True))
    return ids


def _time_band(segment: Segment, since: datetime, now: datetime) -> set[int]:
    """The contacts whose timestamp crossed one of the segment's rolling thresholds
    between ``since`` and ``now``: with no change to their facts, they may change side."""
    ids: set[int] = set()
    for column, window in definition.rolling_windows(conditions_of(segment) or []):
        band = {f"{column}__gte": since - window, f"{column}__lte": now - window}
        if column.startswith("facts__"):
            band = {key.removeprefix("facts__"): value for key, value in band.items()}
            ids |= set(ContactFacts.objects.filter(**band).values_list("contact_id", flat=True))
        else:
            ids |= set(Contact.objects.filter(**band).values_list("pk", flat=True))
    return ids


class _AnyOf(Expression):
    """``column = ANY(ids)`` with the ids as one array parameter on PostgreSQL (an ``IN``
    list of ten thousand placeholders costs more to write and parse than to run);
    ``IN (..)`` elsewhere."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str, ids: list[int]) -> None:
        super().__init__()
        self.column = F(column)
        self.ids = ids

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, exprs):
        (self.column,) = exprs

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.column)
        placeholders = ", ".join(["%s"] * len(self.ids)) or "NULL"
        return f"{sql} IN ({placeholders})", [*params, *self.ids]

    def as_postgresql(self, compiler, connection):
        sql, params = compiler.compile(self.column)
        return f"{sql} = ANY(%s::bigint[])", [*params, self.ids]


class _Scope:
    """Which contacts a statement looks at (ids, or an id range), said of the table each
    part of the statement starts from, so that it is read by its key alone (a join the
    planner cannot narrow would read a million facts to refresh ten thousand)."""

    def __init__(self, ids: list[int] | None = None, low: int = 0, high: int = 0) -> None:
        self.ids, self.low, self.high = ids, low, high

    def of(self, column: str) -> Q:
        if self.ids is not None:
            return Q(_AnyOf(column, self.ids))
        return Q(**{f"{column}__gte": self.low, f"{column}__lt": self.high})


def _apply(segment: Segment, q: Q, scope: _Scope, now: datetime, outcome: Outcome) -> None:
    """Entries and exits of ``segment`` among the contacts of ``scope``: two statements.

    Each reads the scope's open memberships, and its matching contacts, once, as a
    subquery the database hashes (``NOT IN``): a plan that does not hang on row estimates,
    which are stale right after a sweep changed the facts they count."""
    # The scope is said of the facts alone (the predicate joins them): said of the contact
    # too, each contact looked up would be compared with every id of the scope.
    matching = Contact.objects.filter(scope.of("facts__contact_id")).filter(q)
    open_here = SegmentMembership.objects.filter(
        scope.of("contact_id"), segment=segment, exited_at__isnull=True
    )
    entering = matching.exclude(pk__in=open_here.values("contact_id")).order_by().values_list("pk")
    outcome.entered += _insert_memberships(segment, entering, now)
    outcome.exited += open_here.exclude(contact_id__in=matching.values("pk")).update(exited_at=now)


def _insert_memberships(segment: Segment, contacts, now: datetime) -> int:
    """``INSERT .. SELECT`` an open membership for each contact of the ``contacts`` query
    (its SQL and parameters; it selects the contact id alone). A contact given one meanwhile
    by another refresh is skipped by the partial unique constraint."""
    sql, params = contacts.query.sql_with_params()
    table = connection.ops.quote_name(SegmentMembership._meta.db_table)
    statement = (
        f"INSERT INTO {table} (contact_id, segment_id, entered_at, exited_at) "
        f"SELECT matched.*, %s, %s, NULL FROM ({sql}) matched WHERE 1 = 1 "
        "ON CONFLICT DO NOTHING"
    )
    entered_at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(statement, [segment.pk, entered_at, *params])
        return max(cursor.rowcount, 0)
