"""Admin validation of prompts and their variants: everything that would make a prompt
misbehave on the shop is refused with a form error."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from oscar_recovery.campaigns.translations import TranslationsFormMixin
from oscar_recovery.campaigns.variants import BaseVariantFormSet, VariantLabelMixin
from oscar_recovery.constants import Incentive, PromptKind
from oscar_recovery.models import Prompt, PromptVariant
from oscar_recovery.prompts.targeting import TEXT_FIELDS
from oscar_recovery.sending.vouchers import validate_incentive

_PATTERN = re.compile(r"^(/\S*|[\w*?\[\]-]+(:[\w*?\[\]-]+)*)$")


def check_patterns(value: str) -> str:
    bad = [
        line.strip()
        for line in value.splitlines()
        if line.strip() and not _PATTERN.match(line.strip())
    ]
    if bad:
        raise ValidationError(
            _("Not a path (starting with /) or URL name (such as catalogue:detail): %(bad)s"),
            code="invalid",
            params={"bad": ", ".join(bad)},
        )
    return value


class PromptForm(TranslationsFormMixin, forms.ModelForm):
    translated_fields = (*TEXT_FIELDS, "incentive_name")

    class Meta:
        model = Prompt
        fields = [
            f.name
            for f in Prompt._meta.get_fields()
            if getattr(f, "editable", False)
            and not f.auto_created
            and f.concrete
            # translations: edited as one field per language (TranslationsFormMixin)
            and f.name not in ("created_at", "updated_at", "translations")
        ]

    def clean_include_pages(self) -> str:
        return check_patterns(self.cleaned_data["include_pages"])

    def clean_exclude_pages(self) -> str:
        return check_patterns(self.cleaned_data["exclude_pages"])

    def clean_cta_url(self) -> str:
        url = self.cleaned_data["cta_url"].strip()
        if (url and not url.startswith(("/", "https://", "http://"))) or url.startswith("//"):
            raise ValidationError(
                _("Give a path on this shop (/offers/) or a full https:// address."),
                code="invalid",
            )
        return url

    def clean(self) -> dict:
        data = super().clean()
        kind = data.get("kind")
        incentive = data.get("incentive") or Incentive.NONE
        asks = data.get("asks_email") and kind in PromptKind.modal_kinds()
        if incentive != Incentive.NONE:
            if not asks:
                self.add_error(
                    "incentive",
                    _(
                        "An offer is revealed once the shopper gives an email: only exit-intent "
                        "and email-capture prompts that ask for one can have an offer."
                    ),
                )
            else:
                try:
                    validate_incentive(
                        incentive, data.get("incentive_value"), data.get("incentive_valid_for")
                    )
                except ValidationError as exc:
                    for name, errors in exc.error_dict.items():
                        self.add_error(name, errors)
        low, high = data.get("min_basket_value"), data.get("max_basket_value")
        if low is not None and high is not None and low > high:
            self.add_error("max_basket_value", _("Must not be below the minimum."))
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("Must be after the start."))
        if data.get("consent_required") and not (data.get("consent_text") or "").strip():
            self.add_error("consent_text", _("Write the wording the shopper must agree to."))
        if kind == PromptKind.EMAIL_CAPTURE and (
            data.get("delay_seconds") is None and data.get("scroll_percent") is None
        ):
            self.add_error(
                "delay_seconds", _("Give a delay or a scroll depth, or the prompt never shows.")
            )
        return data


class PromptVariantForm(TranslationsFormMixin, VariantLabelMixin, forms.ModelForm):
    translated_fields = TEXT_FIELDS

    class Meta:
        model = PromptVariant
        fields = ["label", "headline", "body", "cta_label", "consent_text", "thank_you", "weight"]
        help_texts = {
            "label": _("Its name in reports: B, C… (A is the prompt itself, the control)."),
            "weight": _(
                "Share of visitors who see this variant; all variants together may "
                "take at most 100 (the control gets the rest)."
            ),
        }

    reserved_label_message = _(
        "“%(label)s” is the prompt itself (the control); name the variant B, C…"
    )


class PromptVariantFormSet(BaseVariantFormSet):
    duplicate_label_message = _("Another variant already has this label.")
    over_100_message = _(
        "The variants take %(total)s %% of visitors together; at most 100 %% is "
        "possible. Lower their shares."
    )
