"""A/B variants of campaign steps.

A step's own subject and body are the control; each :class:`~oscar_recovery.models.StepVariant`
takes ``weight`` % of journeys and the control keeps the rest. Assignment is deterministic
per journey and step, so a retried or re-dispatched message never switches sides.
"""

from __future__ import annotations

from dataclasses import dataclass

from oscar_recovery.models import CampaignStep, StepVariant
from oscar_recovery.utils import percentile

CONTROL_LABEL = "A"


def choose_variant(step: CampaignStep, journey_id: int) -> StepVariant | None:
    """The variant this journey gets for this step, or None for the control."""
    roll = percentile("variant", step.pk, journey_id)
    threshold = 0
    for variant in sorted(step.variants.all(), key=lambda variant: variant.label):
        threshold += variant.weight
        if roll < threshold:
            return variant
    return None


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
