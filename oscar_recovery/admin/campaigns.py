"""Admin for campaigns and their steps: edited here, with template validation, a preview
page and test emails (the logic is in :mod:`oscar_recovery.admin.forms`); enrolments and
messages are read-only records."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from oscar_recovery.admin.base import ReadOnlyAdmin, reason_label
from oscar_recovery.admin.forms import (
    TEMPLATE_VARIABLES,
    CampaignStepForm,
    CannotSendTest,
    PreviewDraftForm,
    PreviewOptionsForm,
    PreviewResult,
    StepVariantForm,
    StepVariantFormSet,
    default_journey,
    detached_journey,
    may_see_journeys,
    recent_journeys,
    render_preview,
    send_test_email,
)
from oscar_recovery.campaigns.translations import TranslationsAdminMixin
from oscar_recovery.campaigns.variants import content_for
from oscar_recovery.constants import SkipReason
from oscar_recovery.dashboard.formatting import humanize_duration
from oscar_recovery.models import (
    Campaign,
    CampaignEnrolment,
    CampaignStep,
    RecoveryMessage,
    StepVariant,
)
from oscar_recovery.sending.content import display_step, language_of
from oscar_recovery.sending.templating import TemplateError, default_source

PREVIEW_URL_NAME = "admin:oscar_recovery_campaignstep_preview"
PREVIEW_HTML_URL_NAME = "admin:oscar_recovery_campaignstep_preview_html"
#: Session key of the last draft previewed (its step and rendered HTML): the preview page's
#: frames load it from :meth:`CampaignStepAdmin.preview_html_view`, a response with its own
#: CSP. A ``srcdoc`` frame would inherit the admin page's policy, which may refuse the
#: email's inline styles.
DRAFT_SESSION_KEY = "oscar_recovery_preview_draft"


class CampaignStepInline(TranslationsAdminMixin, admin.StackedInline):
    model = CampaignStep
    translations_form = CampaignStepForm
    extra = 0
    show_change_link = True
    fields = [
        "position",
        "delay",
        "subject",
        "preheader",
        "incentive",
        "incentive_value",
        "preview_link",
    ]
    readonly_fields = ["preview_link"]

    @admin.display(description=_("preview"))
    def preview_link(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse(PREVIEW_URL_NAME, args=[obj.pk]), _("Preview")
        )


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "trigger", "priority", "held_out"]
    list_filter = ["is_active", "trigger"]
    search_fields = ["name"]
    inlines = [CampaignStepInline]
    #: What the holdout means for an owner trying the app with a basket of their own.
    HOLDOUT_HELP = _(
        "Held out: no email by design. This share of matching journeys is tracked but never "
        "emailed, to measure what the emails add; your test baskets too. 0 emails every "
        "journey (and measures nothing)."
    )
    fieldsets = [
        (None, {"fields": ["name", "is_active", "trigger", "priority"]}),
        (
            _("Audience"),
            {
                "fields": [
                    "min_basket_value",
                    "max_basket_value",
                    "min_step",
                    "customer_type",
                    "value_tier",
                    "exclude_staff",
                    "holdout_percent",
                ]
            },
        ),
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["help_texts"] = {
            "holdout_percent": self.HOLDOUT_HELP,
            **kwargs.get("help_texts", {}),
        }
        return super().get_form(request, obj, change, **kwargs)

    @admin.display(description=_("held out (no email)"), ordering="holdout_percent")
    def held_out(self, obj: Campaign) -> str:
        return f"{obj.holdout_percent}%"


class StepVariantInline(TranslationsAdminMixin, admin.StackedInline):
    model = StepVariant
    translations_form = StepVariantForm
    formset = StepVariantFormSet
    extra = 0


@admin.register(CampaignStep)
class CampaignStepAdmin(TranslationsAdminMixin, admin.ModelAdmin):
    """Steps are edited here with their variants; the Preview page (an object tool) renders
    them for a real or sample basket, takes unsaved edits and sends staff test emails."""

    translations_form = CampaignStepForm
    list_display = ["step_label", "campaign", "position", "delay_label", "incentive"]
    list_filter = ["campaign"]
    inlines = [StepVariantInline]
    actions = ["send_test_emails"]
    readonly_fields = ["default_body_html", "default_body_text"]
    fieldsets = [
        (None, {"fields": ["campaign", "position", "delay"]}),
        (_("Email"), {"fields": ["subject", "preheader", "body_html", "body_text"]}),
        (
            _("Default templates"),
            {
                "classes": ["collapse"],
                "description": _(
                    "What an empty body field sends. Copy one into the field above to edit it."
                ),
                "fields": ["default_body_html", "default_body_text"],
            },
        ),
        (
            _("Incentive"),
            {"fields": ["incentive", "incentive_value", "incentive_valid_for", "new_voucher"]},
        ),
    ]

    @admin.display(description=_("step"), ordering="campaign__name")
    def step_label(self, obj):
        return display_step(obj)

    @admin.display(description=_("delay after abandonment"), ordering="delay")
    def delay_label(self, obj):
        return humanize_duration(obj.delay)

    @admin.display(description=_("default HTML body"))
    def default_body_html(self, obj):
        return self._default_source("html")

    @admin.display(description=_("default text body"))
    def default_body_text(self, obj):
        return self._default_source("text")

    def _default_source(self, kind: str):
        try:
            return format_html("<pre>{}</pre>", default_source(kind))
        except TemplateError as exc:  # a shop's template dirs may hide it: say so, keep the page
            return format_html('<p class="errornote">{}</p>', exc)

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path(
                "<int:step_id>/preview/",
                wrap(self.preview_view),
                name="oscar_recovery_campaignstep_preview",
            ),
            path(
                "<int:step_id>/preview/html/",
                wrap(self.preview_html_view),
                name="oscar_recovery_campaignstep_preview_html",
            ),
            *super().get_urls(),
        ]

    def _step_for_preview(self, request, step_id: int) -> CampaignStep:
        step = self.get_object(request, str(step_id))
        if step is None:
            raise Http404(_("There is no campaign step #%(id)s.") % {"id": step_id})
        if not self.has_view_permission(request, step):
            raise PermissionDenied
        return step

    def preview_view(self, request, step_id: int):
        """The step rendered for a journey; POST previews (action=preview) or sends staff
        (action=send) the edited templates in the form, saving nothing."""
        step = self._step_for_preview(request, step_id)
        if request.method == "POST" and not self.has_change_permission(request, step):
            # Drafts render owner-written templates and send email: that is editing.
            raise PermissionDenied
        options = PreviewOptionsForm(request.GET, step=step, user=request.user)
        journey = options.chosen_journey()
        language = options.chosen_language()
        preview_of = detached_journey(journey, email=request.user.email, language=language)
        # The draft starts from the text of the language previewed.
        saved = content_for(step, options.chosen_variant(), language_of(preview_of))
        draft = PreviewDraftForm(
            request.POST if request.method == "POST" else None,
            initial=PreviewDraftForm.initial_for(saved),
        )
        is_draft = draft.is_bound
        query = request.GET.copy()
        if not is_draft:
            result = render_preview(step, preview_of, saved)
        elif draft.is_valid():
            content = draft.content(saved.label)
            if request.POST.get("action") == "send":
                self._send_test(request, step, journey=journey, content=content, language=language)
            result = render_preview(step, preview_of, content)
            if result.email is not None:
                request.session[DRAFT_SESSION_KEY] = {"step": step.pk, "html": result.email.html}
                query["draft"] = "1"
        else:
            result = PreviewResult(None, draft.error_summary())
        html_url = f"{reverse(PREVIEW_HTML_URL_NAME, args=[step.pk])}?{query.urlencode()}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Preview: %(step)s") % {"step": step},
            "step": step,
            "options": options,
            "journey": journey,
            "recent_journeys": recent_journeys() if may_see_journeys(request.user) else [],
            "language": language or journey.language or settings.LANGUAGE_CODE,
            "draft": draft,
            "is_draft": is_draft,
            "result": result,
            "html_url": html_url,
            "template_variables": TEMPLATE_VARIABLES,
            "default_html": self.default_body_html(step),
            "default_text": self.default_body_text(step),
            "test_recipient": request.user.email,
        }
        return TemplateResponse(request, "admin/oscar_recovery/campaignstep/preview.html", context)

    def preview_html_view(self, request, step_id: int):
        """The HTML part alone, for the preview page's iframe (``?draft=1``: the draft this
        staff member previewed last, kept in their session). Sandboxed by CSP: a template
        is owner-written content and must not run script on the admin's origin."""
        step = self._step_for_preview(request, step_id)
        if request.GET.get("draft"):
            draft = request.session.get(DRAFT_SESSION_KEY) or {}
            if draft.get("step") == step.pk and isinstance(draft.get("html"), str):
                return self._sandboxed(HttpResponse(draft["html"]))
            message = _("This draft is no longer here: preview it again.")
            return self._sandboxed(HttpResponse(format_html("<p>{}</p>", message)))
        options = PreviewOptionsForm(request.GET, step=step, user=request.user)
        preview_of = detached_journey(
            options.chosen_journey(),
            email=request.user.email,
            language=options.chosen_language(),
        )
        content = content_for(step, options.chosen_variant(), language_of(preview_of))
        result = render_preview(step, preview_of, content)
        if result.email is not None:
            return self._sandboxed(HttpResponse(result.email.html))
        return self._sandboxed(HttpResponse(format_html("<p>{}</p>", result.error)))

    @staticmethod
    def _sandboxed(response: HttpResponse) -> HttpResponse:
        # No script, form or popup runs; same origin only so the preview page's script can
        # size its frames to the email's full height. The email's own inline styles apply.
        response["Content-Security-Policy"] = "sandbox allow-same-origin"
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response

    def _send_test(self, request, step, **kwargs) -> bool:
        try:
            to = send_test_email(step, request.user, **kwargs)
        except CannotSendTest as exc:
            messages.error(request, f"{step}: {exc}")
            return False
        messages.success(
            request, _("Test email for “%(step)s” sent to %(to)s.") % {"step": step, "to": to}
        )
        return True

    @admin.action(
        description=_("Send me a test email of the selected steps"), permissions=["change"]
    )
    def send_test_emails(self, request, queryset):
        if not request.user.email:
            messages.error(
                request,
                _(
                    "Your account has no email address, so there is nowhere to send test "
                    "emails. Add one to your user account first."
                ),
            )
            return
        # One basket for all of them, so the emails differ only by step.
        journey = default_journey(request.user)
        for step in queryset.order_by("campaign", "position"):
            self._send_test(request, step, journey=journey)


@admin.register(CampaignEnrolment)
class CampaignEnrolmentAdmin(ReadOnlyAdmin):
    list_display = ["journey", "campaign", "held_out", "status", "stop_reason_label"]
    list_display += ["next_send_at"]
    list_filter = ["status", "is_holdout", "campaign"]
    list_select_related = ["journey", "campaign"]
    fields = ["journey", "campaign", "is_holdout", "status", "stop_reason_label"]
    fields += ["enrolled_at", "next_step", "next_send_at"]
    readonly_fields = ["stop_reason_label"]

    @admin.display(description=_("stop reason"), ordering="stop_reason")
    def stop_reason_label(self, obj):
        return reason_label(obj.stop_reason)

    @admin.display(description=_("held out (no email)"), boolean=True, ordering="is_holdout")
    def held_out(self, obj: CampaignEnrolment) -> bool:
        return obj.is_holdout


class SkipReasonFilter(admin.SimpleListFilter):
    """Skip reasons by their words: the field stores codes and has no choices."""

    title = _("skip reason")
    parameter_name = "skip_reason"

    def lookups(self, request, model_admin):
        return [(code, reason_label(code)) for code in SkipReason.values]

    def queryset(self, request, queryset):
        return queryset.filter(skip_reason=self.value()) if self.value() else queryset


@admin.register(RecoveryMessage)
class RecoveryMessageAdmin(ReadOnlyAdmin):
    list_display = ["journey", "step_label", "variant", "status", "skip_reason_label", "sent_at"]
    list_filter = ["status", SkipReasonFilter, "step__campaign"]
    search_fields = ["to_email", "esp_message_id"]
    list_select_related = ["journey", "step__campaign", "variant"]
    exclude = ["skip_reason"]
    readonly_fields = ["skip_reason_label"]

    @admin.display(description=_("step"), ordering="step")
    def step_label(self, obj):
        return display_step(obj.step)

    @admin.display(description=_("skip reason"), ordering="skip_reason")
    def skip_reason_label(self, obj):
        return reason_label(obj.skip_reason)
