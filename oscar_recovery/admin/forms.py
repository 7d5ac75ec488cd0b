"""Admin forms for campaign steps and their A/B variants, and what the step's Preview page
does: render a step for a journey without storing anything, and send staff a test email.

Plain functions, so the admin views stay thin. Nothing here touches a shopper: previews and
test emails are rendered for a detached copy of the journey (see :func:`detached_journey`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateSyntaxError
from django.utils.dateparse import parse_duration
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oscar_recovery.campaigns.translations import TranslationsFormMixin
from oscar_recovery.campaigns.variants import (
    CONTROL_LABEL,
    STEP_TEXT_FIELDS,
    BaseVariantFormSet,
    StepContent,
    VariantLabelMixin,
    content_for,
)
from oscar_recovery.models import CampaignStep, CartJourney, StepVariant
from oscar_recovery.sending.content import (
    RenderedEmail,
    build_email,
    language_of,
    preview,
    sample_journey,
    unsubscribe_url,
)
from oscar_recovery.sending.templating import TemplateError, validate_template
from oscar_recovery.sending.vouchers import validate_incentive
from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

#: The fields of a step or variant that are templates, compiled in the sandbox.
TEMPLATE_FIELDS = ("subject", "preheader", "body_html", "body_text")

#: Every key of a recovery email's template context, one line each. The single list: the
#: Preview page shows it and the README points here. Keep it in step with
#: :func:`oscar_recovery.sending.content.build_context`.
TEMPLATE_VARIABLES: tuple[tuple[str, str], ...] = (
    ("language", _("Language code the email is rendered in, e.g. “de”.")),
    ("direction", _('Text direction of that language: “ltr” or “rtl”, for dir="…".')),
    ("start", _("“left”, or “right” in right-to-left languages: for text-align and padding.")),
    ("end", _("The opposite side to start.")),
    ("shop.name", _("The shop's name (OSCAR_SHOP_NAME).")),
    ("shop.url", _("Absolute URL of the shop's home page.")),
    ("shop.postal_address", _("The shop's postal address (OSCAR_RECOVERY_POSTAL_ADDRESS).")),
    (
        "shopper.first_name",
        _(
            "The shopper's first name from their account or a past order (never one typed "
            "where anyone could type it), else empty."
        ),
    ),
    ("lines", _("The basket lines still for sale at today's price; loop over them.")),
    ("lines[].title", _("Product title.")),
    ("lines[].quantity", _("Quantity in the basket.")),
    ("lines[].price", _("Unit price, formatted with its currency.")),
    ("lines[].line_price", _("Unit price times quantity, formatted.")),
    ("lines[].image_url", _("Absolute URL of a product thumbnail, or empty.")),
    ("lines[].url", _("Absolute URL of the product page.")),
    ("num_items", _("Number of items in those lines.")),
    ("total", _("Their total, formatted.")),
    ("restore_url", _("Link that brings the basket back in any browser.")),
    ("unsubscribe_url", _("One-click unsubscribe link: every email must show it.")),
    ("incentive", _("The step's voucher, or empty when the step offers none.")),
    ("incentive.kind", _("“percentage”, “fixed” or “free_shipping”.")),
    ("incentive.code", _("The voucher code, unique to this email.")),
    # xgettext:no-python-format
    ("incentive.description", _("What it gives, e.g. “10% off your order”.")),
    ("incentive.expires", _("Last day the code works, formatted.")),
    ("free_shipping", _("Empty unless the basket is below the free-shipping threshold.")),
    ("free_shipping.threshold", _("Basket total from which delivery is free, formatted.")),
    ("free_shipping.gap", _("How much more the shopper has to spend for it, formatted.")),
    ("recommendations", _("Products to suggest, same keys as lines[] (quantity is 1).")),
    ("recommendations.0.reason", _("Why it was picked: “bought_together”, “curated”, …")),
    ("recommendations.0.reason_label", _("That reason in words, e.g. “Often bought together”.")),
    ("browse", _("True in a browse-abandonment email (no basket; products viewed).")),
    ("viewed", _("Browse abandonment: the products viewed, same keys as recommendations.")),
    ("step.position", _("Which email of the campaign this is: 1, 2, 3…")),
    ("subject", _("The rendered subject line.")),
    ("preheader", _("The rendered preheader (the preview line after the subject).")),
)

_TEMPLATE_HELP = _(
    "A template: {{ shop.name }}, {{ lines.0.title }} and the other template variables "
    "listed on the step's Preview page can be used."
)
_STEP_BODY_HELP = _(
    "Leave empty to use the shipped default template, which improves with upgrades. To "
    "change it, copy the default from “Default templates” on this page and edit it here."
)
_VARIANT_HELP = _("Leave empty to use the step's own (the control's).")


def _check_template(value: str) -> str:
    if value:
        validate_template(value)
    return value


class TemplateFieldsMixin:
    """Every form that takes a step's templates checks they compile in the sandbox."""

    def clean_subject(self) -> str:
        return _check_template(self.cleaned_data["subject"])

    def clean_preheader(self) -> str:
        return _check_template(self.cleaned_data["preheader"])

    def clean_body_html(self) -> str:
        return _check_template(self.cleaned_data["body_html"])

    def clean_body_text(self) -> str:
        return _check_template(self.cleaned_data["body_text"])

    def clean_translation(self, field: str, value: str) -> str:
        """Each language's subject and bodies compile too (see TranslationsFormMixin)."""
        return _check_template(value) if field in TEMPLATE_FIELDS else value


#: The units a delay is written in, smallest first: (key, label, length).
DURATION_UNITS = (
    ("seconds", _("seconds"), timedelta(seconds=1)),
    ("minutes", _("minutes"), timedelta(minutes=1)),
    ("hours", _("hours"), timedelta(hours=1)),
    ("days", _("days"), timedelta(days=1)),
)
_UNIT_LENGTH = {key: length for key, _label, length in DURATION_UNITS}


class DurationWidget(forms.MultiWidget):
    """A duration as a number and a unit ("1" "hours"), not "01:00:00"."""

    template_name = "django/forms/widgets/multiwidget.html"

    def __init__(self, attrs=None):
        widgets = (
            forms.NumberInput(attrs={"min": 0, "class": "vIntegerField"}),
            forms.Select(choices=[(key, label) for key, label, _length in DURATION_UNITS]),
        )
        super().__init__(widgets, attrs)

    def decompress(self, value):
        """The largest unit that writes ``value`` as a whole number."""
        if isinstance(value, str):
            value = parse_duration(value)
        if value is None:
            return [None, "hours"]
        for key, _label, length in reversed(DURATION_UNITS):
            if value >= length and value % length == timedelta(0):
                return [value // length, key]
        return [int(value.total_seconds()), "seconds"]

    def value_from_datadict(self, data, files, name):
        # One "<name>" value in Django's duration format ("01:00:00", "1 00:00:00") is still
        # accepted: scripts and older forms post it that way.
        if name in data and f"{name}_0" not in data:
            return data.get(name)
        return super().value_from_datadict(data, files, name)


class DurationField(forms.MultiValueField):
    """A ``timedelta`` typed as a number and a unit (:class:`DurationWidget`)."""

    widget = DurationWidget
    default_error_messages = {"invalid": _("Enter a whole number and a unit.")}

    def __init__(self, **kwargs):
        kwargs.pop("max_length", None)
        fields = (
            forms.IntegerField(min_value=0),
            forms.ChoiceField(choices=[(key, label) for key, label, _l in DURATION_UNITS]),
        )
        super().__init__(fields, require_all_fields=True, **kwargs)

    def clean(self, value):
        if isinstance(value, str):
            parsed = parse_duration(value.strip())
            if parsed is None:
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            return parsed
        return super().clean(value)

    def compress(self, data_list):
        if not data_list:
            return None
        amount, unit = data_list
        return amount * _UNIT_LENGTH[unit]

    def has_changed(self, initial, data):
        if isinstance(data, str):
            return parse_duration(data.strip()) != initial
        return super().has_changed(initial, data)


class CampaignStepForm(TranslationsFormMixin, TemplateFieldsMixin, forms.ModelForm):
    """A step: its templates, in every language, compile in the sandbox and its incentive
    makes sense."""

    translated_fields = (*STEP_TEXT_FIELDS, "incentive_name")

    class Meta:
        model = CampaignStep
        fields = [
            "campaign",
            "position",
            "delay",
            "subject",
            "preheader",
            "body_html",
            "body_text",
            "incentive",
            "incentive_value",
            "incentive_valid_for",
            "incentive_name",
            "new_voucher",
        ]
        field_classes = {"delay": DurationField, "incentive_valid_for": DurationField}
        help_texts = {
            "subject": _TEMPLATE_HELP,
            "preheader": _TEMPLATE_HELP,
            "body_html": _STEP_BODY_HELP,
            "body_text": _STEP_BODY_HELP,
        }

    def clean(self) -> dict:
        cleaned = super().clean()
        names = ("incentive", "incentive_value", "incentive_valid_for")
        if any(name in self.errors for name in names):
            return cleaned  # already told; checking a half-valid incentive would repeat it
        # The inline on the campaign page does not show every field: the others keep their
        # saved values, so check those.
        incentive, value, valid_for = (
            cleaned.get(name, getattr(self.instance, name)) for name in names
        )
        try:
            validate_incentive(incentive, value, valid_for)
        except ValidationError as exc:
            self._add_incentive_error(exc)
        return cleaned

    def _add_incentive_error(self, exc: ValidationError) -> None:
        """Put the error next to the field it is about, or on top when that field is not on
        this form."""
        by_field = exc.error_dict if hasattr(exc, "error_dict") else {"incentive_value": exc}
        for field, errors in by_field.items():
            self.add_error(field if field in self.fields else None, errors)


class StepVariantForm(
    TranslationsFormMixin, VariantLabelMixin, TemplateFieldsMixin, forms.ModelForm
):
    """A variant: templates compile in every language; the label is the variant's name in
    reports."""

    translated_fields = STEP_TEXT_FIELDS

    class Meta:
        model = StepVariant
        fields = ["step", "label", "subject", "preheader", "body_html", "body_text", "weight"]
        help_texts = {
            "label": _("Its name in reports: B, C… (A is the step itself, the control)."),
            "subject": _VARIANT_HELP,
            "preheader": _VARIANT_HELP,
            "body_html": _VARIANT_HELP,
            "body_text": _VARIANT_HELP,
            "weight": _(
                "Share of journeys that get this variant; the control gets what the variants "
                "leave, so all variants together may take at most 100."
            ),
        }

    reserved_label_message = _(
        "“%(label)s” is the step itself (the control); name the variant B, C…"
    )


class StepVariantFormSet(BaseVariantFormSet):
    """A step's variants together: distinct labels, and shares that leave the control its
    part (weights add up to at most 100)."""

    duplicate_label_message = _("Another variant of this step is already called “%(label)s”.")
    over_100_message = _(
        "The variants take %(total)s %% of journeys together; at most 100 %% is "
        "possible (the control gets what is left). Lower their shares."
    )


class PreviewDraftForm(TemplateFieldsMixin, forms.Form):
    """Edited templates to preview (or send as a test) without saving them."""

    subject = forms.CharField(label=_("Subject"), max_length=200)
    preheader = forms.CharField(label=_("Preheader"), max_length=200, required=False)
    body_html = forms.CharField(
        label=_("HTML body"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 16, "cols": 100, "class": "vLargeTextField"}),
        help_text=_STEP_BODY_HELP,
    )
    body_text = forms.CharField(
        label=_("Text body"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 100, "class": "vLargeTextField"}),
        help_text=_STEP_BODY_HELP,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Templates are edited as written: stripping would change what the owner sees.
        for field in self.fields.values():
            field.strip = False

    def error_summary(self) -> str:
        """All errors in one line, shown in place of the preview."""
        parts = []
        for name, errors in self.errors.items():
            text = " ".join(errors)
            parts.append(f"{self.fields[name].label}: {text}" if name in self.fields else text)
        return gettext("The draft cannot be previewed. %(errors)s") % {"errors": " ".join(parts)}

    @classmethod
    def initial_for(cls, content: StepContent) -> dict:
        return {name: getattr(content, name) for name in TEMPLATE_FIELDS}

    def content(self, label: str) -> StepContent:
        return StepContent(label, **{name: self.cleaned_data[name] for name in TEMPLATE_FIELDS})


class PreviewOptionsForm(forms.Form):
    """What to preview: which journey's basket, which variant, in which language. A bad
    choice is reported on the form and the default is used instead."""

    journey = forms.IntegerField(
        label=_("Journey"),
        required=False,
        min_value=1,
        widget=forms.NumberInput(attrs={"list": "recent-journeys"}),
        help_text=_("A cart journey's id. Empty: the latest journey with lines."),
    )
    variant = forms.ChoiceField(label=_("Variant"), required=False)
    language = forms.ChoiceField(label=_("Language"), required=False)

    def __init__(self, *args, step: CampaignStep, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.step = step
        self.user = user
        self.fields["variant"].choices = [(CONTROL_LABEL, _("A (the step itself)"))] + [
            (label, label)
            for label in step.variants.order_by("label").values_list("label", flat=True)
        ]
        self.fields["language"].choices = [("", _("The journey's language")), *settings.LANGUAGES]
        if not may_see_journeys(user):
            self.fields["journey"].disabled = True
            self.fields["journey"].help_text = _(
                "You may not view cart journeys, so previews use a sample basket."
            )

    def clean_journey(self) -> CartJourney | None:
        pk = self.cleaned_data["journey"]
        if pk is None:
            return None
        journey = CartJourney.objects.filter(pk=pk).select_related("user").first()
        if journey is None:
            raise ValidationError(
                _("There is no journey #%(id)s; showing the default instead."),
                code="missing",
                params={"id": pk},
            )
        return journey

    def chosen_journey(self) -> CartJourney:
        self.is_valid()
        return self.cleaned_data.get("journey") or default_journey(self.user)

    def chosen_variant(self) -> StepVariant | None:
        self.is_valid()
        label = self.cleaned_data.get("variant") or CONTROL_LABEL
        if label == CONTROL_LABEL:
            return None
        return self.step.variants.filter(label=label).first()

    def chosen_language(self) -> str:
        self.is_valid()
        return self.cleaned_data.get("language") or ""


def may_see_journeys(user) -> bool:
    """Real baskets are shoppers' data: only staff who may view journeys preview with them;
    others get a sample basket."""
    return user.has_perm("oscar_recovery.view_cartjourney")


def latest_journey() -> CartJourney | None:
    """The newest journey that has lines: the most realistic basket to preview with."""
    # Newest by id: walks the primary key index backwards and stops at the first match.
    return CartJourney.objects.filter(num_lines__gt=0).order_by("-pk").first()


def recent_journeys(limit: int = 20) -> list[CartJourney]:
    """Journeys with lines to suggest in the preview's journey picker, newest first."""
    return list(CartJourney.objects.filter(num_lines__gt=0).order_by("-pk")[:limit])


def default_journey(user) -> CartJourney:
    """What a preview or test email shows when no journey is picked."""
    journey = latest_journey() if may_see_journeys(user) else None
    return journey or sample_journey(user.email)


def detached_journey(journey: CartJourney, *, email: str, language: str = "") -> CartJourney:
    """An unsaved copy of ``journey`` for previews and test emails.

    It has no id and carries the staff member's address, so no link in what is rendered can
    act on the shopper: the restore link restores nothing and the unsubscribe link (and
    ``List-Unsubscribe`` header) would unsubscribe the staff member, not the shopper.
    ``language`` overrides the journey's.
    """
    detached = copy.copy(journey)
    detached.pk = None
    detached._state.adding = True
    detached.email = email
    detached.language = language or journey.language
    return detached


@dataclass(frozen=True)
class PreviewResult:
    """A rendered email, or why it could not be rendered."""

    email: RenderedEmail | None
    error: str = ""


def render_preview(step: CampaignStep, journey: CartJourney, content: StepContent) -> PreviewResult:
    """Render without sending or storing. Any failure becomes an error to show the owner: a
    preview exists to try templates out, so a broken one must not break the page."""
    try:
        return PreviewResult(preview(step, journey, content=content))
    except (TemplateError, TemplateSyntaxError, ValidationError) as exc:
        return PreviewResult(None, _error_text(exc))
    except Exception as exc:
        logger.exception("Preview of step %s failed", step.pk)
        return PreviewResult(None, gettext("Rendering failed: %(error)s") % {"error": exc})


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


class CannotSendTest(Exception):
    """A test email that was not sent; the message says why, for the owner."""


def build_test_email(
    rendered: RenderedEmail, journey: CartJourney, to: str
) -> EmailMultiAlternatives:
    """The test email for a rendered preview: like a real one (text, HTML, one-click
    unsubscribe headers) but marked as a test, to ``to`` only, and tagged apart so ESP
    reports and tracking never count it."""
    email = build_email(
        rendered,
        subject=gettext("[Test] %(subject)s") % {"subject": rendered.subject},
        to=to,
        unsubscribe=unsubscribe_url(journey.email),
    )
    email.tags = ["oscar-recovery-test"]
    return email


def send_test_email(
    step: CampaignStep,
    user,
    *,
    journey: CartJourney | None = None,
    content: StepContent | None = None,
    language: str = "",
) -> str:
    """Send ``user`` (a staff member) the step as rendered for ``journey`` (default:
    :func:`default_journey`). Returns the address it went to, or
    raises :class:`CannotSendTest`. Stores nothing: no message, no voucher."""
    to = (getattr(user, "email", "") or "").strip()
    if not to:
        raise CannotSendTest(
            gettext(
                "Your account has no email address, so there is nowhere to send a test email. "
                "Add one to your user account first."
            )
        )
    journey = journey or default_journey(user)
    copy = detached_journey(journey, email=to, language=language)
    result = render_preview(step, copy, content or content_for(step, None, language_of(copy)))
    if result.email is None:
        raise CannotSendTest(
            gettext("The email could not be rendered: %(error)s") % {"error": result.error}
        )
    try:
        build_test_email(result.email, copy, to).send()
    except Exception as exc:  # an ESP's or SMTP server's error: tell the owner, keep the page
        logger.warning("Test email for step %s failed", step.pk, exc_info=True)
        raise CannotSendTest(
            gettext("Sending the test email failed: %(error)s") % {"error": exc}
        ) from exc
    return to
