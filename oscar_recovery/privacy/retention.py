"""Retention: recovery data is kept ``OSCAR_RECOVERY_RETENTION`` (90 days) and no longer.

A journey untouched for longer than the window goes, and with it its timeline events,
enrolment, messages and their tracking events (one journey is one record of one shopper).
ESP tracking events that never matched a message go by their own age. The suppression list
is kept: it holds hashes only, and forgetting an unsubscribe would break the law.
Pre-aggregated statistics, which name no one, are not touched here.

Deletes run in small batches of primary keys, each in its own short transaction whose rows
are locked with ``SKIP LOCKED`` (PostgreSQL): a journey a shopper is touching right now is
never waited for, and no lock is held for longer than one batch. A run stops after
``PURGE_MAX_BATCHES``; the next one continues.

Unused recovery vouchers past their expiry are deleted too; used ones stay, since orders
refer to them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_recovery import app_settings
from oscar_recovery.models import (
    CampaignStep,
    CartJourney,
    CartJourneyEvent,
    RecoveryMessage,
    TrackingEvent,
)
from oscar_recovery.sending.vouchers import CODE_PREFIX, RANGE_NAME
from oscar_recovery.utils import skip_locked

Voucher = get_model("voucher", "Voucher")


@dataclass
class PurgeResult:
    """What one purge run deleted, and how long its longest transaction took."""

    journeys: int = 0
    rows: int = 0
    vouchers: int = 0
    batches: int = 0
    max_batch_seconds: float = 0.0
    by_model: dict[str, int] = field(default_factory=dict)

    def add(self, deleted: dict[str, int], seconds: float) -> None:
        self.batches += 1
        self.max_batch_seconds = max(self.max_batch_seconds, seconds)
        for label, number in deleted.items():
            if number:
                self.by_model[label] = self.by_model.get(label, 0) + number
                self.rows += number

    def as_dict(self) -> dict:
        return asdict(self)


def cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - app_settings.RETENTION


def _raw_delete(queryset) -> int:
    # One DELETE .. WHERE, without loading rows: Django's collector loads every row it
    # deletes as soon as any app listens to delete signals for all models (haystack's
    # realtime processor does), which makes each batch several times longer. Only for rows
    # nothing else refers to; ``_raw_delete`` is what Django's own fast-delete path runs.
    return queryset._raw_delete(queryset.db)


def delete_journeys(ids: list[int]) -> dict[str, int]:
    """Delete journeys and everything hanging on them; returns rows deleted per model.

    The bulky dependants (timeline events, messages and their tracking events) go in one
    statement each; the journeys themselves through Django's collector, so that enrolments
    and any relation another app adds to journeys are handled as their ``on_delete`` says.
    """
    messages = RecoveryMessage.objects.filter(journey_id__in=ids)
    # The only reference to a message from outside its own rows (nullable, SET_NULL).
    CartJourney.objects.filter(attributed_message__in=messages).update(attributed_message=None)
    deleted = {
        TrackingEvent._meta.label: _raw_delete(TrackingEvent.objects.filter(message__in=messages)),
        RecoveryMessage._meta.label: _raw_delete(messages),
        CartJourneyEvent._meta.label: _raw_delete(
            CartJourneyEvent.objects.filter(journey_id__in=ids)
        ),
    }
    # Only keys: the collector needs no more, and the basket snapshots are large.
    _, rest = CartJourney.objects.filter(pk__in=ids).only("pk").delete()
    for label, number in rest.items():
        deleted[label] = deleted.get(label, 0) + number
    return deleted


def _delete_rows(model):
    return lambda ids: model.objects.filter(pk__in=ids).delete()[1]


def _batches(queryset, delete, result: PurgeResult, size: int, max_batches: int) -> int:
    """Delete the rows of ``queryset`` batch by batch with ``delete(ids)``; returns how many
    batches ran."""
    ran = 0
    while ran < max_batches:
        started = time.monotonic()
        with transaction.atomic():
            ids = list(
                skip_locked(queryset, of=("self",))
                .order_by("pk")
                .values_list("pk", flat=True)[:size]
            )
            if not ids:
                break
            deleted = delete(ids)
        result.add(deleted, time.monotonic() - started)
        ran += 1
        if len(ids) < size:
            break
    return ran


def purge_expired(
    now: datetime | None = None,
    *,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> PurgeResult:
    """Delete everything older than the retention window; see the module's docstring."""
    now = now or timezone.now()
    size = batch_size or app_settings.PURGE_BATCH_SIZE
    budget = max_batches or app_settings.PURGE_MAX_BATCHES
    before = cutoff(now)
    result = PurgeResult()
    budget -= _batches(
        CartJourney.objects.filter(last_activity_at__lt=before),
        delete_journeys,
        result,
        size,
        budget,
    )
    result.journeys = result.by_model.get(CartJourney._meta.label, 0)
    if budget > 0:
        budget -= _batches(
            TrackingEvent.objects.filter(message__isnull=True, occurred_at__lt=before),
            _delete_rows(TrackingEvent),
            result,
            size,
            budget,
        )
    if budget > 0:
        _batches(expired_unused_vouchers(now), _delete_rows(Voucher), result, size, budget)
        result.vouchers = result.by_model.get(Voucher._meta.label, 0)
    return result


def recovery_vouchers():
    """Vouchers minted by :mod:`oscar_recovery.vouchers`: our code prefix, for an offer of a
    campaign step or on the recovery range."""
    step_offers = CampaignStep.objects.exclude(offer=None).values("offer_id")
    return Voucher.objects.filter(code__startswith=CODE_PREFIX).filter(
        Q(offers__in=step_offers) | Q(offers__condition__range__name=RANGE_NAME)
    )


def expired_unused_vouchers(now: datetime | None = None):
    now = now or timezone.now()
    candidates = recovery_vouchers().filter(
        end_datetime__lt=now, num_orders=0, applications__isnull=True
    )
    # A plain pk filter: a DELETE .. FOR UPDATE cannot take the joins above.
    return Voucher.objects.filter(pk__in=candidates.values("pk"))
