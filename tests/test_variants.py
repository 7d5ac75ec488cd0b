"""One variant choice for campaign steps and on-site prompts: the same rule, each in its own
hash namespace, so the split of a test already running never changes."""

import hashlib
from datetime import timedelta

import pytest

from oscar_recovery.campaigns.variants import CONTROL_LABEL, choose_variant, pick_variant
from oscar_recovery.models import Campaign, CampaignStep, Prompt, PromptVariant, StepVariant
from oscar_recovery.prompts import targeting


def roll(*parts) -> int:
    # Worked out here rather than through utils.percentile: the assignment itself is pinned.
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:4]) % 100


def expected(namespace: str, experiment_id: int, unit, weights: dict[str, int]) -> str:
    value, threshold = roll(namespace, experiment_id, unit), 0
    for label in sorted(weights):
        threshold += weights[label]
        if value < threshold:
            return label
    return CONTROL_LABEL


@pytest.mark.django_db
def test_a_step_assigns_journeys_in_the_variant_namespace():
    campaign = Campaign.objects.create(name="Default")
    step = CampaignStep.objects.create(campaign=campaign, position=1, delay=timedelta(hours=1))
    weights = {"C": 30, "B": 25}
    for label, weight in weights.items():
        StepVariant.objects.create(step=step, label=label, weight=weight)
    labels = [
        (variant.label if (variant := choose_variant(step, journey_id)) else CONTROL_LABEL)
        for journey_id in range(1, 201)
    ]
    assert labels == [expected("variant", step.pk, pk, weights) for pk in range(1, 201)]
    assert set(labels) == {"A", "B", "C"}


def test_a_prompt_assigns_visitors_in_the_prompt_namespace():
    prompt = Prompt(pk=7)
    prompt.variant_list = [PromptVariant(label="B", weight=40), PromptVariant(label="C", weight=10)]
    visitors = [f"visitor-{n}" for n in range(200)]
    labels = [
        (variant.label if (variant := targeting.choose_variant(prompt, v)) else CONTROL_LABEL)
        for v in visitors
    ]
    assert labels == [expected("prompt", 7, v, {"B": 40, "C": 10}) for v in visitors]
    assert set(labels) == {"A", "B", "C"}


def test_no_variants_or_no_weight_leaves_everyone_in_the_control():
    assert pick_variant([], "prompt", 1, "v") is None
    assert pick_variant([PromptVariant(label="B", weight=0)], "prompt", 1, "v") is None
