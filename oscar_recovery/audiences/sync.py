"""The daily diff sync of retargeting audiences: who should be in each list, and what each
platform must be told to get there.

Per audience, :func:`sync_audience`:

1. **Desired members, set-based.** The contacts of the audience's segment (open
   memberships) who are active, hold a standing ads consent on their email address
   (:func:`.ads_consent.granted_for`), whose email was never unsubscribed, bounced, complained
   or erased, who did not order within ``exclude_buyers_days``, and who have something to
   hash. Contacts entering get a member row per destination with their hashes computed once
   (only the entering ones are read into Python); every other change is one ``UPDATE`` of
   ``desired`` (rows of erased contacts, whose ``contact`` is null, and of suppressed
   addresses, by the suppression list's keyed hash, are never desired).
2. **Diff, per platform destination.** Removals (``desired`` false, the platform last told
   ``added``) and additions (``desired`` true, never sent, removed before, or added more
   than ``ttl_days - 30`` days ago so the membership never runs out) are read in primary-key
   order, ``batch_size`` at a time, and sent in separate calls: a call never mixes the two.
   Each batch's rows are marked right after its call succeeds, so a crash sends at most the
   one batch again (adding or removing twice changes nothing on the platforms).
3. **Failures.** A :class:`~.platforms.base.PlatformError` stops that destination for this
   run, records the message on the audience (and the batch's rows), and backs off
   exponentially (``AUDIENCE_RETRY_BASE`` doubled per failure, at most
   ``AUDIENCE_RETRY_MAX``); a non-retryable error holds the audience until staff save it.

Only hashes leave: the rows hold no address, and platforms receive
:class:`~.platforms.base.HashedMember` values built from them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, Max, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from oscar_recovery import app_settings
from oscar_recovery.audiences.platforms.base import (
    HashedMember,
    Platform,
    PlatformError,
    RemoteAudience,
    get_platform,
)
from oscar_recovery.constants import (
    AudienceDestination,
    AudienceSyncState,
    AudienceSyncStatus,
    ContactStatus,
)
from oscar_recovery.contacts.addresses import email_sha256, phone_sha256
from oscar_recovery.models import (
    Audience,
    AudienceMember,
    Contact,
    ContactFacts,
    SegmentMembership,
    SuppressedAddress,
)
from oscar_recovery.privacy import ads_consent
from oscar_recovery.privacy.hashing import email_hash
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

#: Members are re-added this many days before the platform's membership runs out.
READD_MARGIN_DAYS = 30
#: Entering contacts are read and written this many at a time.
WRITE_CHUNK = 2000
#: Contact ids read per query when finding who enters (bounded memory, plain queries).
RANGE_SPAN = 100_000
#: A claim older than this is taken to be a crashed sync's, and taken over.
CLAIM_TIMEOUT = timedelta(hours=2)


@dataclass
class DestinationResult:
    added: int = 0
    removed: int = 0
    add_calls: int = 0
    remove_calls: int = 0
    error: str = ""


@dataclass
class AudienceResult:
    audience_id: int
    entered: int = 0
    left: int = 0
    rejoined: int = 0
    members: int = 0
    skipped: str = ""
    destinations: dict[str, DestinationResult] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "audience": self.audience_id,
            "entered": self.entered,
            "left": self.left,
            "rejoined": self.rejoined,
            "members": self.members,
            "skipped": self.skipped,
            "destinations": {name: vars(result) for name, result in self.destinations.items()},
        }


# -- 1. desired members --


def candidates(audience: Audience, now: datetime | None = None) -> QuerySet:
    """The contacts who should be in ``audience`` now (see the module docstring), as a
    ``Contact`` queryset meant to be used as a subquery; none for an inactive audience."""
    now = now or timezone.now()
    if not audience.is_active:
        return Contact.objects.none()
    in_segment = SegmentMembership.objects.filter(
        segment_id=audience.segment_id, contact=OuterRef("pk"), exited_at__isnull=True
    )
    contacts = Contact.objects.filter(Exists(in_segment), status=ContactStatus.ACTIVE)
    # The consent is given with the email address (the box sits where it is typed); the
    # phone number's hash goes along with it, never on its own.
    contacts = contacts.exclude(email="").filter(ads_consent.granted_for("email"))
    contacts = contacts.exclude(ads_consent.email_refused("email"))
    if audience.exclude_buyers_days is not None:
        since = now - timedelta(days=audience.exclude_buyers_days)
        bought = ContactFacts.objects.filter(contact=OuterRef("pk"), last_order_at__gte=since)
        contacts = contacts.exclude(Exists(bought))
    return contacts


def _members(audience: Audience, destination: str) -> QuerySet:
    return AudienceMember.objects.filter(audience=audience, destination=destination)


def _suppressed() -> QuerySet:
    return SuppressedAddress.objects.filter(email_hash=OuterRef("suppression_hash"))


def _hashes(email: str, phone: str) -> tuple[str, str, str]:
    """The hashes a row keeps: SHA-256 of the canonical email and of the E.164 number, and
    the suppression list's keyed hash of the email."""
    return email_sha256(email), phone_sha256(phone), email_hash(email) if email else ""


def refresh_desired(audience: Audience, destinations: list[str], now: datetime) -> AudienceResult:
    """Bring ``desired`` of every row of ``destinations`` up to date (step 1). The CSV rows
    are computed from the candidates; every platform's rows then follow the CSV rows of the
    same contacts (one indexed anti-join each, instead of the candidates again). Each
    condition is its own UPDATE, so PostgreSQL can run it as a (anti-)join rather than a
    subquery per row."""
    result = AudienceResult(audience.pk)
    wanted = candidates(audience, now)
    wanted_here = wanted.filter(pk=OuterRef("contact_id"))
    csv_rows = _members(audience, AudienceDestination.CSV)
    # Leaving: out of the candidates (or erased: contact null), or suppressed.
    result.left += (
        csv_rows.filter(desired=True)
        .exclude(Exists(wanted_here))
        .update(desired=False, changed_at=now)
    )
    result.left += (
        csv_rows.filter(desired=True)
        .filter(Exists(_suppressed()))
        .update(desired=False, changed_at=now)
    )
    # Coming back: a row already there (the hashes were computed when it was written).
    result.rejoined += (
        csv_rows.filter(desired=False)
        .filter(Exists(wanted_here), ~Exists(_suppressed()))
        .update(desired=True, changed_at=now)
    )
    in_csv = AudienceMember.objects.filter(
        audience=audience,
        destination=AudienceDestination.CSV,
        contact_id=OuterRef("contact_id"),
        desired=True,
    )
    for destination in destinations:
        if destination == AudienceDestination.CSV:
            continue
        rows = _members(audience, destination)
        rows.filter(desired=True).exclude(Exists(in_csv)).update(desired=False, changed_at=now)
        rows.filter(desired=False).filter(Exists(in_csv)).update(desired=True, changed_at=now)
    # Entering: candidates without a CSV row; only they are read into Python and hashed.
    has_row = AudienceMember.objects.filter(
        audience=audience, destination=AudienceDestination.CSV, contact=OuterRef("pk")
    )
    entering = wanted.exclude(Exists(has_row)).values_list("pk", "email", "phone")
    for chunk in (
        part
        for slice_ in _ranges(entering, "pk", Contact.objects)
        for part in _chunks(slice_, WRITE_CHUNK)
    ):
        suppressed = set(
            SuppressedAddress.objects.filter(
                email_hash__in=[email_hash(email) for _, email, _ in chunk if email]
            ).values_list("email_hash", flat=True)
        )
        new_rows = []
        for pk, email, phone in chunk:
            email_digest, phone_digest, keyed = _hashes(email, phone)
            if not email_digest or (keyed and keyed in suppressed):
                continue
            new_rows.append(
                AudienceMember(
                    audience=audience,
                    destination=AudienceDestination.CSV,
                    contact_id=pk,
                    email_sha256=email_digest,
                    phone_sha256=phone_digest,
                    suppression_hash=keyed,
                    desired=True,
                    changed_at=now,
                )
            )
        result.entered += len(new_rows)
        AudienceMember.objects.bulk_create(new_rows, batch_size=WRITE_CHUNK, ignore_conflicts=True)
    # Every platform lists whom the CSV lists: rows missing there are copied with the
    # hashes already computed.
    for destination in destinations:
        if destination == AudienceDestination.CSV:
            continue
        has_platform_row = AudienceMember.objects.filter(
            audience=audience, destination=destination, contact_id=OuterRef("contact_id")
        )
        missing = (
            csv_rows.filter(desired=True, contact__isnull=False)
            .exclude(Exists(has_platform_row))
            .values_list("contact_id", "email_sha256", "phone_sha256", "suppression_hash")
        )
        for chunk in _ranges(missing, "contact_id", csv_rows.exclude(contact=None)):
            AudienceMember.objects.bulk_create(
                [
                    AudienceMember(
                        audience=audience,
                        destination=destination,
                        contact_id=contact_id,
                        email_sha256=email_digest,
                        phone_sha256=phone_digest,
                        suppression_hash=keyed,
                        desired=True,
                        changed_at=now,
                    )
                    for contact_id, email_digest, phone_digest, keyed in chunk
                ],
                batch_size=WRITE_CHUNK,
                ignore_conflicts=True,
            )
    return result


def _ranges(rows: QuerySet, key: str, domain: QuerySet) -> Iterator[list]:
    """``rows`` in slices of ``key`` (an integer column) of :data:`RANGE_SPAN` values from
    the smallest to the largest in ``domain``, each read by one plain query. Not a
    server-side cursor: PostgreSQL plans a cursor for its first rows (a subquery per row
    instead of one anti-join), minutes instead of seconds over a million contacts. Memory
    stays bounded by one slice."""
    bounds = domain.aggregate(low=Min(key), high=Max(key))
    if bounds["low"] is None:
        return
    low = bounds["low"]
    while low <= bounds["high"]:
        chunk = list(rows.filter(**{f"{key}__gte": low, f"{key}__lt": low + RANGE_SPAN}))
        if chunk:
            yield chunk
        low += RANGE_SPAN


def _chunks(iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- 2. the diff --


def _to_remove(audience: Audience, destination: str) -> QuerySet:
    """Rows the platform still lists but should not, as of the last refresh."""
    return _members(audience, destination).filter(
        desired=False, synced_state=AudienceSyncState.ADDED
    )


def pending_removals(audience: Audience, destination: str, now: datetime | None = None) -> QuerySet:
    """Rows the next sync will remove from ``destination``, as of now: those already marked,
    and those listed whose person no longer qualifies (withdrew, was erased or suppressed,
    ordered, left the segment) since the last sync. What the dashboard shows."""
    wanted_here = candidates(audience, now).filter(pk=OuterRef("contact_id"))
    listed = _members(audience, destination).filter(synced_state=AudienceSyncState.ADDED)
    return listed.filter(Q(desired=False) | ~Exists(wanted_here) | Exists(_suppressed()))


def pending_additions(audience: Audience, destination: str, now: datetime) -> QuerySet:
    """Rows to send as additions: never sent, removed before, or due to be refreshed before
    the platform's membership (``ttl_days``) runs out."""
    refresh_before = now - timedelta(days=max(1, audience.ttl_days - READD_MARGIN_DAYS))
    return _members(audience, destination).filter(
        Q(synced_state__in=[AudienceSyncState.NONE, AudienceSyncState.REMOVED])
        | Q(synced_state=AudienceSyncState.ADDED, synced_at__lt=refresh_before),
        desired=True,
    )


def hashed_batches(rows: QuerySet, size: int) -> Iterator[list[HashedMember]]:
    """``rows`` as hashed members, ``size`` at a time, in primary-key order (keyset paging:
    each batch is one indexed query, whatever the list's size)."""
    last = 0
    while True:
        batch = list(
            rows.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "email_sha256", "phone_sha256")[:size]
        )
        if not batch:
            return
        last = batch[-1][0]
        yield [HashedMember(str(pk), email or "", phone or "") for pk, email, phone in batch]


def _send(
    audience: Audience, destination: str, platform: Platform, external_id: str, now: datetime
) -> DestinationResult:
    result = DestinationResult()
    size = max(1, int(platform.batch_size))
    # A row leaving while another row of the list carries the same address (two contacts
    # merged into one) is not removed from the platform: that would take the person who
    # stays out of the list too.
    twin = _members(audience, destination).filter(
        desired=True, email_sha256=OuterRef("email_sha256")
    )
    _to_remove(audience, destination).filter(Exists(twin)).update(
        synced_state=AudienceSyncState.REMOVED, synced_at=timezone.now()
    )
    for state, rows, call in (
        (AudienceSyncState.REMOVED, _to_remove(audience, destination), platform.remove),
        (
            AudienceSyncState.ADDED,
            pending_additions(audience, destination, now),
            platform.add if destination in audience.destinations() else None,
        ),
    ):
        if call is None:
            continue  # a destination switched off: removals only, nobody new is sent
        for members in hashed_batches(rows, size):
            keys = [int(member.key) for member in members]
            try:
                call(external_id, members)
            except PlatformError as exc:
                AudienceMember.objects.filter(pk__in=keys).update(last_error=exc.message[:1000])
                raise
            AudienceMember.objects.filter(pk__in=keys).update(
                synced_state=state, synced_at=timezone.now(), last_error=""
            )
            if state == AudienceSyncState.REMOVED:
                result.removed += len(members)
                result.remove_calls += 1
            else:
                result.added += len(members)
                result.add_calls += 1
    return result


# -- 3. one audience, all audiences --


def _claim(audience: Audience, now: datetime) -> bool:
    """Take the audience for this run (one UPDATE): False when another run holds it."""
    return bool(
        Audience.objects.filter(pk=audience.pk)
        .filter(Q(sync_claimed_at__isnull=True) | Q(sync_claimed_at__lt=now - CLAIM_TIMEOUT))
        .update(sync_claimed_at=now)
    )


def backoff(failures: int) -> timedelta:
    """The wait after ``failures`` failures in a row: the base doubled per failure, capped."""
    base, cap = app_settings.AUDIENCE_RETRY_BASE, app_settings.AUDIENCE_RETRY_MAX
    return min(cap, base * (2 ** max(0, min(failures - 1, 30))))


def platform_destinations(audience: Audience) -> list[str]:
    """The platforms the audience is on or was on (rows the platform may still list)."""
    on = [d for d in audience.destinations() if d != AudienceDestination.CSV]
    was = (
        AudienceMember.objects.filter(audience=audience, synced_state=AudienceSyncState.ADDED)
        .exclude(destination__in=[AudienceDestination.CSV, *on])
        .values_list("destination", flat=True)
        .distinct()
    )
    return on + sorted(set(was))


def sync_audience(
    audience: Audience, *, now: datetime | None = None, force: bool = False
) -> AudienceResult:
    """Sync one audience (see the module docstring). Without ``force``, an audience in
    back-off or held after a permanent error only has its desired members refreshed."""
    now = now or timezone.now()
    if not _claim(audience, now):
        return AudienceResult(audience.pk, skipped="running")
    try:
        audience.refresh_from_db()
        platforms = platform_destinations(audience)
        result = refresh_desired(audience, [AudienceDestination.CSV.value, *platforms], now)
        waiting = audience.held or (
            audience.next_attempt_at is not None and audience.next_attempt_at > now
        )
        errors: dict[str, str] = {}
        permanent = False
        if platforms and app_settings.AUDIENCE_SYNC_ENABLED and (force or not waiting):
            for destination in platforms:
                try:
                    platform = get_platform(destination)
                    external_id = _ensure(audience, destination, platform)
                    result.destinations[destination] = _send(
                        audience, destination, platform, external_id, now
                    )
                except PlatformError as exc:
                    errors[destination] = exc.message[:1000]
                    permanent = permanent or not exc.retryable
                    result.destinations[destination] = DestinationResult(error=exc.message)
                    logger.warning(
                        "Audience %s: %s sync failed: %s", audience.pk, destination, exc.message
                    )
            _record(audience, now, errors, permanent)
        elif waiting and platforms:
            result.skipped = "held" if audience.held else "backing off"
        else:
            # Nothing to send (CSV only, or syncing switched off): the lists are up to date.
            _record(audience, now, {}, False)
        # Rows of erased contacts no platform lists any more have nothing left to do.
        AudienceMember.objects.filter(audience=audience, contact__isnull=True).exclude(
            synced_state=AudienceSyncState.ADDED
        ).delete()
        result.members = _members(audience, AudienceDestination.CSV).filter(desired=True).count()
        Audience.objects.filter(pk=audience.pk).update(member_count=result.members)
        return result
    finally:
        Audience.objects.filter(pk=audience.pk).update(sync_claimed_at=None)


def _ensure(audience: Audience, destination: str, platform: Platform) -> str:
    current = audience.external_id(destination)
    remote = RemoteAudience(
        pk=audience.pk,
        name=audience.name,
        destination=destination,
        external_id=current,
        ttl_days=audience.ttl_days,
        description=audience.segment.name,
    )
    external_id = platform.ensure_audience(remote)
    if external_id != current:
        column = f"{destination}_external_id"
        Audience.objects.filter(pk=audience.pk).update(**{column: external_id})
        setattr(audience, column, external_id)
    return external_id


def _record(audience: Audience, now: datetime, errors: dict[str, str], permanent: bool) -> None:
    if not errors:
        Audience.objects.filter(pk=audience.pk).update(
            last_sync_at=now,
            last_sync_status=AudienceSyncStatus.OK,
            last_errors={},
            failure_count=0,
            next_attempt_at=None,
            held=False,
        )
        return
    failures = audience.failure_count + 1
    with transaction.atomic():
        Audience.objects.filter(pk=audience.pk).update(
            last_sync_at=now,
            last_sync_status=AudienceSyncStatus.HELD if permanent else AudienceSyncStatus.FAILED,
            last_errors=errors,
            failure_count=failures,
            next_attempt_at=None if permanent else now + backoff(failures),
            held=permanent,
        )


def due(now: datetime | None = None) -> QuerySet:
    """Audiences whose sync is due: never synced, synced longer than
    ``AUDIENCE_SYNC_INTERVAL`` ago, or failed and past their back-off; never a held one."""
    now = now or timezone.now()
    interval = app_settings.AUDIENCE_SYNC_INTERVAL
    # A little slack, so a daily beat never slips a day behind by seconds.
    stale = now - interval + min(interval / 24, timedelta(hours=1))
    return Audience.objects.filter(held=False).filter(
        Q(last_sync_at__isnull=True)
        | Q(next_attempt_at__isnull=False, next_attempt_at__lte=now)
        | Q(next_attempt_at__isnull=True, last_sync_at__lte=stale)
    )


def sync_all(*, now: datetime | None = None, force: bool = False) -> list[AudienceResult]:
    """Sync every due audience (every audience with ``force``), inactive ones included (their
    members are removed from the platforms). What the beat task and
    ``recovery_sync_audiences`` run."""
    now = now or timezone.now()
    audiences = Audience.objects.order_by("pk") if force else due(now).order_by("pk")
    results = []
    for audience in audiences:
        try:
            results.append(sync_audience(audience, now=now, force=force))
        except Exception:
            # One audience's unexpected failure (a database error, a bug) must not keep the
            # others, and their removals, from being synced.
            logger.exception("Audience %s: sync failed", audience.pk)
            results.append(AudienceResult(audience.pk, skipped="error"))
    return results


def next_sync_at(audience: Audience) -> datetime | None:
    """When the next sync of ``audience`` will run (what the dashboard says pending removals
    wait for); None while it is held."""
    if audience.held:
        return None
    if audience.next_attempt_at is not None:
        return audience.next_attempt_at
    if audience.last_sync_at is None:
        return timezone.now()
    return audience.last_sync_at + app_settings.AUDIENCE_SYNC_INTERVAL


__all__ = [
    "AudienceResult",
    "DestinationResult",
    "backoff",
    "candidates",
    "due",
    "next_sync_at",
    "pending_additions",
    "pending_removals",
    "refresh_desired",
    "sync_all",
    "sync_audience",
]
