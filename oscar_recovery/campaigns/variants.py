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

from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.functional import Promise

from oscar_recovery.campaigns.translations import layered_text
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


#: The fields of a step or variant written per language (and templates, all of them).
STEP_TEXT_FIELDS = ("subject", "preheader", "body_html", "body_text")


@dataclass(frozen=True)
class StepContent:
    """The templates a message is rendered from: the variant's where it sets them."""

    label: str
    subject: str
    preheader: str
    body_html: str
    body_text: str


def content_for(
    step: CampaignStep, variant: StepVariant | None, language: str | None = None
) -> StepContent:
    """The templates of ``step`` (or ``variant`` over it) in ``language``: each field the
    variant's or the step's text written for that language (or its base language), else
    the default-language text (:func:`oscar_recovery.campaigns.translations.layered_text`). ``None``
    is the shop's default language, whose text is the fields themselves."""
    language = settings.LANGUAGE_CODE if language is None else language
    label = CONTROL_LABEL if variant is None else variant.label
    return StepContent(
        label, *(layered_text(variant, step, name, language)[0] for name in STEP_TEXT_FIELDS)
    )


# -- the admin's variant forms, for steps and prompts alike --------------------------------


class VariantLabelMixin:
    """A variant form's ``label``: stripped, and never the control's (case-insensitively,
    so "a" cannot pose as the control in reports either). ``reserved_label_message`` says
    what the control is for this kind of variant; ``%(label)s`` is the control label."""

    reserved_label_message: str | Promise

    def clean_label(self) -> str:
        label = self.cleaned_data["label"].strip()
        if label.upper() == CONTROL_LABEL:
            raise ValidationError(
                self.reserved_label_message, code="reserved", params={"label": CONTROL_LABEL}
            )
        return label


class BaseVariantFormSet(BaseInlineFormSet):
    """One thing's variants together: labels distinct ignoring case (B and b would be told
    apart by the database but not by people reading reports), and weights adding up to at
    most 100 so the control keeps its share. Forms being deleted and untouched extra forms
    do not count. The messages are per kind of variant: ``duplicate_label_message`` gets
    ``%(label)s`` (the label taken first), ``over_100_message`` gets ``%(total)s``."""

    duplicate_label_message: str | Promise
    over_100_message: str | Promise

    def clean(self) -> None:
        super().clean()
        labels: dict[str, str] = {}
        total = 0
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            if not form.has_changed() and not form.instance.pk:
                continue  # an untouched extra form is not a variant
            label = form.cleaned_data.get("label")
            if label:
                if label.casefold() in labels:
                    form.add_error(
                        "label",
                        ValidationError(
                            self.duplicate_label_message,
                            code="duplicate",
                            params={"label": labels[label.casefold()]},
                        ),
                    )
                labels.setdefault(label.casefold(), label)
            total += form.cleaned_data.get("weight") or 0
        if total > 100:
            raise ValidationError(self.over_100_message, code="over_100", params={"total": total})
