"""The Django admin. Journeys, suppressions and messages are facts about shoppers: staff see
them read-only. Campaigns and their steps are edited here, with template validation, a
preview page and test emails (the logic is in :mod:`oscar_recovery.admin_forms`)."""

from decimal import Decimal

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

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
from oscar_recovery.campaigns.variants import content_for
from oscar_recovery.models import (
    Campaign,
    CampaignEnrolment,
    CampaignStep,
    CartJourney,
    CartJourneyEvent,
    RecoveryMessage,
    StepVariant,
    SuppressedAddress,
)
from oscar_recovery.privacy.suppression import all_hashes
from oscar_recovery.sending.templating import TemplateError, default_source


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: staff look, nobody edits."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HasEmailFilter(admin.SimpleListFilter):
    title = _("has email")
    parameter_name = "has_email"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(email="")
        if self.value() == "no":
            return queryset.filter(email="")
        return queryset


class ValueFilter(admin.SimpleListFilter):
    title = _("basket value")
    parameter_name = "value"
    BANDS = [("0-25", 0, 25), ("25-50", 25, 50), ("50-100", 50, 100), ("100-250", 100, 250)]

    def lookups(self, request, model_admin):
        return [(key, f"{low}-{high}") for key, low, high in self.BANDS] + [
            ("250+", _("250 and more"))
        ]

    def queryset(self, request, queryset):
        if self.value() == "250+":
            return queryset.filter(total__gte=Decimal(250))
        for key, low, high in self.BANDS:
            if self.value() == key:
                return queryset.filter(Q(total__gte=low) & Q(total__lt=high))
        return queryset


class CartJourneyEventInline(admin.TabularInline):
    model = CartJourneyEvent
    fields = ["created_at", "kind", "data"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CartJourney)
class CartJourneyAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "email",
        "user",
        "status",
        "furthest_step",
        "num_items",
        "total",
        "currency",
        "last_activity_at",
        "is_bot",
    ]
    list_filter = [
        "status",
        "furthest_step",
        HasEmailFilter,
        ValueFilter,
        "is_staff",
        "is_bot",
        "email_source",
    ]
    search_fields = ["email", "user__email", "order__number"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    show_full_result_count = False  # counting a million rows on every page view is slow
    inlines = [CartJourneyEventInline]
    fieldsets = [
        (
            _("Who"),
            {
                "fields": [
                    "user",
                    "email",
                    "email_source",
                    "email_captured_at",
                    "visitor_id",
                    "language",
                    "is_staff",
                    "is_bot",
                ]
            },
        ),
        (
            _("What"),
            {
                "fields": [
                    "basket",
                    "lines_table",
                    "num_items",
                    "total",
                    "currency",
                    "vouchers",
                    "viewed",
                ]
            },
        ),
        (_("How far"), {"fields": ["furthest_step", "funnel_table", "basket_frozen"]}),
        (
            _("When"),
            {
                "fields": [
                    "status",
                    "created_at",
                    "last_activity_at",
                    "abandoned_at",
                    "expired_at",
                    "ended_at",
                    "merged_into",
                    "order",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["lines_table", "funnel_table"]

    @admin.display(description=_("lines"))
    def lines_table(self, obj):
        if not obj.lines:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (line["title"], line["quantity"], line["unit_price"], line["line_total"])
                for line in obj.lines
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("Product"),
            _("Quantity"),
            _("Unit price"),
            _("Line total"),
            rows,
        )

    @admin.display(description=_("funnel"))
    def funnel_table(self, obj):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td></tr>",
            ((step.label, reached or "—") for step, reached in obj.funnel()),
        )
        return format_html("<table><tbody>{}</tbody></table>", rows)


@admin.register(SuppressedAddress)
class SuppressedAddressAdmin(ReadOnlyAdmin):
    """Staff can check whether an address is suppressed by searching for it; the list
    itself holds only hashes."""

    list_display = ["email_hash", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["email_hash"]
    search_help_text = _("Search by full email address.")

    def get_search_results(self, request, queryset, search_term):
        if "@" in search_term:
            return queryset.filter(email_hash__in=all_hashes(search_term)), False
        return super().get_search_results(request, queryset, search_term)


PREVIEW_URL_NAME = "admin:oscar_recovery_campaignstep_preview"
PREVIEW_HTML_URL_NAME = "admin:oscar_recovery_campaignstep_preview_html"


class CampaignStepInline(admin.StackedInline):
    model = CampaignStep
    form = CampaignStepForm
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
    list_display = ["name", "is_active", "trigger", "priority", "holdout_percent"]
    list_filter = ["is_active", "trigger"]
    search_fields = ["name"]
    inlines = [CampaignStepInline]
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


class StepVariantInline(admin.StackedInline):
    model = StepVariant
    form = StepVariantForm
    formset = StepVariantFormSet
    extra = 0


@admin.register(CampaignStep)
class CampaignStepAdmin(admin.ModelAdmin):
    """Steps are edited here with their variants; the Preview page (an object tool) renders
    them for a real or sample basket, takes unsaved edits and sends staff test emails."""

    form = CampaignStepForm
    list_display = ["__str__", "campaign", "position", "delay", "incentive"]
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
        (_("Incentive"), {"fields": ["incentive", "incentive_value", "incentive_valid_for"]}),
    ]

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
        saved = content_for(step, options.chosen_variant())
        journey = options.chosen_journey()
        language = options.chosen_language()
        preview_of = detached_journey(journey, email=request.user.email, language=language)
        draft = PreviewDraftForm(
            request.POST if request.method == "POST" else None,
            initial=PreviewDraftForm.initial_for(saved),
        )
        is_draft = draft.is_bound
        html_srcdoc = html_url = None
        if not is_draft:
            result = render_preview(step, preview_of, saved)
            html_url = f"{reverse(PREVIEW_HTML_URL_NAME, args=[step.pk])}?{request.GET.urlencode()}"
        elif draft.is_valid():
            content = draft.content(saved.label)
            if request.POST.get("action") == "send":
                self._send_test(request, step, journey=journey, content=content, language=language)
            result = render_preview(step, preview_of, content)
            html_srcdoc = result.email.html if result.email else None
        else:
            result = PreviewResult(None, draft.error_summary())
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
            "html_srcdoc": html_srcdoc,
            "template_variables": TEMPLATE_VARIABLES,
            "test_recipient": request.user.email,
        }
        return TemplateResponse(request, "admin/oscar_recovery/campaignstep/preview.html", context)

    def preview_html_view(self, request, step_id: int):
        """The HTML part alone, for the preview page's iframe. Sandboxed by CSP: a template
        is owner-written content and must not run script on the admin's origin."""
        step = self._step_for_preview(request, step_id)
        options = PreviewOptionsForm(request.GET, step=step, user=request.user)
        preview_of = detached_journey(
            options.chosen_journey(),
            email=request.user.email,
            language=options.chosen_language(),
        )
        result = render_preview(step, preview_of, content_for(step, options.chosen_variant()))
        if result.email is not None:
            response = HttpResponse(result.email.html)
        else:
            response = HttpResponse(format_html("<p>{}</p>", result.error))
        response["Content-Security-Policy"] = "sandbox"
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
    list_display = ["journey", "campaign", "is_holdout", "status", "next_send_at"]
    list_filter = ["status", "is_holdout", "campaign"]
    list_select_related = ["journey", "campaign"]


@admin.register(RecoveryMessage)
class RecoveryMessageAdmin(ReadOnlyAdmin):
    list_display = ["journey", "step", "variant", "status", "skip_reason", "sent_at"]
    list_filter = ["status", "skip_reason", "step__campaign"]
    search_fields = ["to_email", "esp_message_id"]
    list_select_related = ["journey", "step__campaign", "variant"]


# -- Data rights: export and erase by email address (issue 7) -----------------------------


def _addresses(queryset) -> list[str]:
    """The distinct addresses of the selected journeys (their own or their account's)."""
    found: dict[str, str] = {}
    for email, account in queryset.values_list("email", "user__email"):
        for address in (email, account):
            if address:
                found.setdefault(address.strip().lower(), address.strip())
    return sorted(found.values(), key=str.lower)


@admin.action(description=_("Export all recovery data of the selected addresses"))
def export_personal_data(modeladmin, request, queryset):
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    from oscar_recovery.privacy.data_rights import export_email

    data = [export_email(address) for address in _addresses(queryset)]
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="recovery-data-export.json"'
    return response


@admin.action(
    description=_("Erase all recovery data of the selected addresses"), permissions=["erase"]
)
def erase_personal_data(modeladmin, request, queryset):
    from oscar_recovery.privacy.data_rights import erase_email

    addresses = _addresses(queryset)
    if request.POST.get("confirm") != "yes":
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": _("Erase recovery data"),
            "opts": modeladmin.model._meta,
            "addresses": addresses,
            "queryset": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/oscar_recovery/cartjourney/erase_confirmation.html", context
        )
    for address in addresses:
        erase_email(address)
    messages.success(
        request,
        ngettext(
            "Erased the recovery data of %(count)d address; it will not be emailed again.",
            "Erased the recovery data of %(count)d addresses; they will not be emailed again.",
            len(addresses),
        )
        % {"count": len(addresses)},
    )
    return None


def _has_erase_permission(self, request) -> bool:
    # Erasing is deleting: it needs the delete permission a read-only admin never grants.
    return request.user.has_perm("oscar_recovery.delete_cartjourney")


CartJourneyAdmin.actions = [*CartJourneyAdmin.actions, export_personal_data, erase_personal_data]
CartJourneyAdmin.has_erase_permission = _has_erase_permission
CartJourneyAdmin.export_personal_data = export_personal_data
CartJourneyAdmin.erase_personal_data = erase_personal_data


# Outgoing webhooks: endpoints and the delivery log.
# -- on-site prompts ----------------------------------------------------------------------
from django.db.models import Count  # noqa: E402

from oscar_recovery.constants import PromptEventKind  # noqa: E402
from oscar_recovery.models import Prompt, PromptEvent, PromptVariant  # noqa: E402
from oscar_recovery.outgoing_webhooks import admin as webhook_admin  # noqa: E402, F401
from oscar_recovery.prompts.figures import prompt_statistics  # noqa: E402
from oscar_recovery.prompts.forms import PromptForm, PromptVariantForm, PromptVariantFormSet  # noqa: E402


class PromptVariantInline(admin.StackedInline):
    model = PromptVariant
    form = PromptVariantForm
    formset = PromptVariantFormSet
    extra = 0


def _percent(rate):
    return "—" if rate is None else f"{rate:.1%}"


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    """Prompts, their A/B variants and their results (the statistics block)."""

    form = PromptForm
    list_display = [
        "name",
        "kind",
        "is_active",
        "priority",
        "starts_at",
        "ends_at",
        "incentive",
        "times_shown",
        "emails_given",
        "orders",
    ]
    list_filter = ["is_active", "kind"]
    search_fields = ["name", "headline"]
    inlines = [PromptVariantInline]

    def get_queryset(self, request):
        # The list's result columns in the same query as the prompts.
        def count(kind):
            return Count("events", filter=Q(events__kind=kind))

        return (
            super()
            .get_queryset(request)
            .annotate(
                shown_count=count(PromptEventKind.SHOWN),
                submitted_count=count(PromptEventKind.SUBMITTED),
                converted_count=count(PromptEventKind.CONVERTED),
            )
        )

    @admin.display(description=_("shown"), ordering="shown_count")
    def times_shown(self, obj):
        return obj.shown_count

    @admin.display(description=_("emails given"), ordering="submitted_count")
    def emails_given(self, obj):
        return obj.submitted_count

    @admin.display(description=_("orders"), ordering="converted_count")
    def orders(self, obj):
        return obj.converted_count

    readonly_fields = ["statistics"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "is_active", "priority", "starts_at", "ends_at"]}),
        (
            _("Content"),
            {
                "fields": [
                    "headline",
                    "body",
                    "cta_label",
                    "cta_url",
                    "image",
                    "asks_email",
                    "consent_text",
                    "consent_required",
                    "thank_you",
                ]
            },
        ),
        (_("Offer"), {"fields": ["incentive", "incentive_value", "incentive_valid_for"]}),
        (
            _("Audience"),
            {
                "fields": [
                    "visitor_type",
                    "login_state",
                    "requires_basket",
                    "min_basket_value",
                    "max_basket_value",
                    "value_tier",
                    "device",
                    "include_pages",
                    "exclude_pages",
                ]
            },
        ),
        (
            _("Caps and triggers"),
            {
                "fields": [
                    "quiet_days_after_dismissal",
                    "arm_after",
                    "grace",
                    "mobile_scroll",
                    "delay_seconds",
                    "scroll_percent",
                ]
            },
        ),
        (_("Results"), {"fields": ["statistics"]}),
    ]

    @admin.display(description=_("statistics"))
    def statistics(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        header = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("variant"),
            _("shown"),
            _("dismissed"),
            _("email given"),
            _("clicked"),
            _("offer used"),
            _("orders"),
            _("email rate"),
            _("order rate"),
            _("p-value vs A"),
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    stats.label,
                    stats.shown,
                    stats.count("dismissed"),
                    stats.count("submitted"),
                    stats.count("cta"),
                    stats.count("offer_used"),
                    stats.count("converted"),
                    _percent(stats.submit_rate),
                    _percent(stats.conversion_rate),
                    "—" if stats.p_value is None else f"{stats.p_value:.3f}",
                )
                for stats in prompt_statistics(obj)
            ),
        )
        return format_html("<table>{}{}</table>", header, rows)


@admin.register(PromptEvent)
class PromptEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "prompt", "variant", "kind", "journey", "voucher_code"]
    list_filter = ["kind", "prompt"]
    list_select_related = ["prompt"]
    date_hierarchy = "created_at"
