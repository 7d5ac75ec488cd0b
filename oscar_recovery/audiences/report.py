"""What the owner sees of an audience (dashboard, health report) and what its CSV
downloads hold. Read-only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count
from django.utils import timezone

from oscar_recovery import app_settings
from oscar_recovery.audiences import sync
from oscar_recovery.constants import AudienceDestination, AudienceSyncState, AudienceSyncStatus
from oscar_recovery.models import Audience, AudienceMember, SegmentMembership

#: The CSV formats, by platform: the header each platform's customer-list upload reads
#: for hashed (SHA-256) values. Google Customer Match: "Email", "Phone" (its hashed-upload
#: template); Meta Custom Audiences: "email", "phone" (its customer-list identifiers).
CSV_FORMATS: dict[str, tuple[str, str]] = {
    AudienceDestination.GOOGLE.value: ("Email", "Phone"),
    AudienceDestination.META.value: ("email", "phone"),
}


@dataclass
class DestinationState:
    destination: str
    label: str
    on: bool
    external_id: str
    listed: int = 0
    to_add: int = 0
    to_remove: int = 0
    failing: int = 0
    error: str = ""


@dataclass
class AudienceOverview:
    audience: Audience
    members: int
    segment_size: int
    #: Members / contacts of the segment: how many of them gave ads consent (and qualify).
    consented_share: float | None
    below_minimum: bool
    #: Who leaves at the next sync (withdrew, erased, suppressed, ordered, left the segment).
    leaving: int
    next_sync_at: datetime | None
    destinations: list[DestinationState] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        return self.audience.last_sync_status in (
            AudienceSyncStatus.FAILED,
            AudienceSyncStatus.HELD,
        )


def overview(audience: Audience, now: datetime | None = None) -> AudienceOverview:
    """An audience's size, consented share, sync state per destination and who leaves next."""
    now = now or timezone.now()
    segment_size = SegmentMembership.objects.filter(
        segment_id=audience.segment_id, exited_at__isnull=True
    ).count()
    members = AudienceMember.objects.filter(
        audience=audience, destination=AudienceDestination.CSV, desired=True
    ).count()
    csv_rows = AudienceMember.objects.filter(
        audience=audience, destination=AudienceDestination.CSV, desired=True
    )
    leaving = (
        csv_rows.count()
        - csv_rows.filter(contact_id__in=sync.candidates(audience, now).values("pk")).count()
    )
    counts: dict[tuple[str, bool, str], int] = {}
    for row in (
        AudienceMember.objects.filter(audience=audience)
        .exclude(destination=AudienceDestination.CSV)
        .values("destination", "desired", "synced_state")
        .annotate(n=Count("pk"))
    ):
        counts[(row["destination"], row["desired"], row["synced_state"])] = row["n"]
    destinations = []
    for name in AudienceDestination.platforms():
        on = name in audience.destinations()
        state = DestinationState(
            destination=name,
            label=str(AudienceDestination(name).label),
            on=on,
            external_id=audience.external_id(name),
            error=str(audience.last_errors.get(name, "")) if audience.last_errors else "",
        )
        state.listed = sum(
            n for (d, _, s), n in counts.items() if d == name and s == AudienceSyncState.ADDED
        )
        state.to_remove = sync.pending_removals(audience, name, now).count() if state.listed else 0
        state.to_add = sync.pending_additions(audience, name, now).count() if on else 0
        state.failing = (
            AudienceMember.objects.filter(audience=audience, destination=name)
            .exclude(last_error="")
            .count()
        )
        if on or state.listed:
            destinations.append(state)
    return AudienceOverview(
        audience=audience,
        members=members,
        segment_size=segment_size,
        consented_share=(members / segment_size) if segment_size else None,
        below_minimum=members < app_settings.AUDIENCE_MIN_SIZE,
        leaving=leaving,
        next_sync_at=sync.next_sync_at(audience),
        destinations=destinations,
    )


def failing_audiences() -> list[Audience]:
    """Audiences whose last sync failed (retrying or held): the health report lists them."""
    return list(
        Audience.objects.filter(
            last_sync_status__in=[AudienceSyncStatus.FAILED, AudienceSyncStatus.HELD]
        ).order_by("name")
    )


def csv_rows(audience: Audience, platform: str, chunk: int = 5000) -> Iterator[tuple[str, str]]:
    """The hashed rows of ``audience``'s current members (as of its last sync), for the
    ``platform`` CSV format: SHA-256 hex of the canonical email and of the E.164 phone.
    Hashes only: the member rows hold nothing else. Read in primary-key pages."""
    if platform not in CSV_FORMATS:
        raise ValueError(f"no CSV format for {platform!r}")
    rows = AudienceMember.objects.filter(
        audience=audience, destination=AudienceDestination.CSV, desired=True
    )
    for batch in sync.hashed_batches(rows, chunk):
        for member in batch:
            yield member.email_sha256, member.phone_sha256
