"""A/B variants, of campaign steps and of on-site prompts alike.

The thing itself (a step's own subject and body, a prompt's own text) is the control, labelled
:data:`CONTROL_LABEL`; each variant takes ``weight`` % of the units (journeys, visitors) and
the control keeps the rest. Assignment is deterministic per experiment and unit
(:func:`pick_variant`), so a retried message or the next page never switches sides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from oscar_recovery.models import CampaignStep, StepVariant
from oscar_recovery.utils import percentile

#: The label reports and events give the control (steps and prompts alike).
CONTROL_LABEL = "A"


class Weighted(Protocol):
    label: str
    weight: int


V = TypeVar("V", bound=Weighted)


def pick_variant(
    variants: Iterable[V], experiment: str, experiment_id: int, unit_id: int | str
) -> V | None:
    """The variant ``unit_id`` gets in an experiment, or None for the control.

    A hash of ``experiment`` (a namespace: ``"variant"`` for steps, ``"prompt"`` for
    prompts; changing one reshuffles every running test), ``experiment_id`` and the unit,
    mapped to 0-99: the variants, in label order, take their weights' share of that range
    and the control what they leave. The same inputs always give the same variant, in any
    process, while the weights stay the same."""
    roll = percentile(experiment, experiment_id, unit_id)
    threshold = 0
    for variant in sorted(variants, key=lambda variant: variant.label):
        threshold += variant.weight
        if roll < threshold:
            return variant
    return None


def choose_variant(step: CampaignStep, journey_id: int) -> StepVariant | None:
    """The variant this journey gets for this step, or None for the control."""
    return pick_variant(step.variants.all(), "variant", step.pk, journey_id)


@dataclass(frozen=True)
class StepContent:
    """The templates a message is rendered from: the variant's where it sets them."""

    label: str
    subject: str
    preheader: str
    body_html: str
    body_text: str


def content_for(step: CampaignStep, variant: StepVariant | None) -> StepContent:
    if variant is None:
        return StepContent(
            CONTROL_LABEL, step.subject, step.preheader, step.body_html, step.body_text
        )
    return StepContent(
        variant.label,
        variant.subject or step.subject,
        variant.preheader or step.preheader,
        variant.body_html or step.body_html,
        variant.body_text or step.body_text,
    )
