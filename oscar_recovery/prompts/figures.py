"""A prompt's statistics and A/B results: counts of its events per variant, rates per
visitor shown, and each variant's conversion rate tested against the control's with the
one z-test of :mod:`oscar_recovery.reporting.statistics`."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count

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


def prompt_statistics(prompt: Prompt) -> list[VariantStats]:
    """One row per variant (the control first), in one aggregate query."""
    labels = [CONTROL_LABEL, *sorted(v.label for v in variants_of(prompt))]
    rows = {label: VariantStats(label) for label in labels}
    for row in (
        PromptEvent.objects.filter(prompt=prompt)
        .values("variant", "kind")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        stats = rows.setdefault(row["variant"], VariantStats(row["variant"]))
        stats.counts[row["kind"]] = row["n"]
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
