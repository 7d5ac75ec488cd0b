"""A prompt's statistics and A/B results: counts of its events per variant, rates per
visitor shown, and a two-proportion z-test of each variant against the control."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.db.models import Count

from oscar_recovery.constants import PromptEventKind
from oscar_recovery.models import Prompt, PromptEvent
from oscar_recovery.prompts.targeting import CONTROL_LABEL, variants_of

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
        return self.count(kind) / self.shown if self.shown else None

    @property
    def submit_rate(self) -> float | None:
        return self.rate(PromptEventKind.SUBMITTED)

    @property
    def conversion_rate(self) -> float | None:
        return self.rate(PromptEventKind.CONVERTED)


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value that two rates differ only by chance; None when undefined."""
    if not n1 or not n2:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return None
    z = (x1 / n1 - x2 / n2) / spread
    return math.erfc(abs(z) / math.sqrt(2))


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
        if stats is control or min(stats.shown, control.shown) < MIN_SAMPLE:
            continue
        stats.p_value = two_proportion_p_value(
            stats.count(PromptEventKind.CONVERTED),
            stats.shown,
            control.count(PromptEventKind.CONVERTED),
            control.shown,
        )
    return list(rows.values())
