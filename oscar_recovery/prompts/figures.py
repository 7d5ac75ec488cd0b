"""Prompt figures, counted one way: :func:`event_counts` counts events by kind per variant or
per prompt (the admin's A/B results, the dashboard's prompts table in
:func:`oscar_recovery.reporting.reports.prompt_rows`), and :func:`with_event_counts` puts the
same counts on a list of prompts as columns it can sort by (the admin's list).

A prompt's A/B results (:func:`prompt_statistics`) are rates per visitor shown, and each
variant's conversion rate tested against the control's with the one z-test of
:mod:`oscar_recovery.reporting.statistics`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet

from oscar_recovery.campaigns.variants import CONTROL_LABEL
from oscar_recovery.constants import PromptEventKind
from oscar_recovery.models import Prompt, PromptEvent
from oscar_recovery.prompts.targeting import variants_of
from oscar_recovery.reporting.statistics import rate, two_proportion_z_test

#: Below this many shown per variant a difference is noise: no verdict is given.
MIN_SAMPLE = 100


@dataclass
class VariantStats:
    label: str
    counts: dict[str, int] = field(default_factory=dict)
    #: Two-sided p-value of the conversion rate against the control (None: the control,
    #: or too few shown to tell).
    p_value: float | None = None

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    @property
    def shown(self) -> int:
        return self.count(PromptEventKind.SHOWN)

    def rate(self, kind: str) -> float | None:
        return rate(self.count(kind), self.shown)

    @property
    def submit_rate(self) -> float | None:
        return self.rate(PromptEventKind.SUBMITTED)

    @property
    def conversion_rate(self) -> float | None:
        return self.rate(PromptEventKind.CONVERTED)


def event_counts(events: QuerySet[PromptEvent], by: str) -> dict[Any, dict[str, int]]:
    """``{value of by: {kind: count}}`` for these events, in one aggregate query; ``by`` is
    a field of the event (``"variant"``, ``"prompt_id"``). Kinds without events are absent."""
    counts: dict[Any, dict[str, int]] = {}
    for row in events.values(by, "kind").annotate(n=Count("pk")).order_by():
        counts.setdefault(row[by], {})[row["kind"]] = row["n"]
    return counts


def with_event_counts(prompts: QuerySet[Prompt]) -> QuerySet[Prompt]:
    """The prompts with ``shown_count``, ``submitted_count`` and ``converted_count`` over
    all their events: the counts of :func:`event_counts` as columns of the same query, so
    a list can show and sort by them."""

    def count(kind: str) -> Count:
        return Count("events", filter=Q(events__kind=kind))

    return prompts.annotate(
        shown_count=count(PromptEventKind.SHOWN),
        submitted_count=count(PromptEventKind.SUBMITTED),
        converted_count=count(PromptEventKind.CONVERTED),
    )


def prompt_statistics(prompt: Prompt) -> list[VariantStats]:
    """One row per variant (the control first), in one aggregate query."""
    labels = [CONTROL_LABEL, *sorted(v.label for v in variants_of(prompt))]
    rows = {label: VariantStats(label) for label in labels}
    for label, kinds in event_counts(PromptEvent.objects.filter(prompt=prompt), "variant").items():
        rows.setdefault(label, VariantStats(label)).counts.update(kinds)
    control = rows[CONTROL_LABEL]
    for stats in rows.values():
        if stats is control:
            continue
        test = two_proportion_z_test(
            control.count(PromptEventKind.CONVERTED),
            control.shown,
            stats.count(PromptEventKind.CONVERTED),
            stats.shown,
            minimum_trials=MIN_SAMPLE,
        )
        stats.p_value = None if test is None else test.p_value
    return list(rows.values())
