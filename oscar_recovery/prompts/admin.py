"""Admin for on-site prompts: prompts with their A/B variants and results, and the
read-only event log. Registered from :mod:`oscar_recovery.admin`."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from oscar_recovery.admin.base import ReadOnlyAdmin
from oscar_recovery.campaigns.translations import TranslationsAdminMixin
from oscar_recovery.models import Prompt, PromptEvent, PromptVariant
from oscar_recovery.prompts.figures import prompt_statistics, with_event_counts
from oscar_recovery.prompts.forms import PromptForm, PromptVariantForm, PromptVariantFormSet
from oscar_recovery.prompts.render import render_prompt_preview

#: The live preview's own page: prompts.css from this origin and the prompt's image; nothing
#: runs (the frame is sandboxed too), no form goes anywhere.
PREVIEW_POLICY = (
    "sandbox allow-same-origin; default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)


class PromptVariantInline(TranslationsAdminMixin, admin.StackedInline):
    model = PromptVariant
    translations_form = PromptVariantForm
    formset = PromptVariantFormSet
    extra = 0


def _percent(rate):
    return "—" if rate is None else f"{rate:.1%}"


@admin.register(Prompt)
class PromptAdmin(TranslationsAdminMixin, admin.ModelAdmin):
    """Prompts, their A/B variants and their results (the statistics block); texts are
    edited side by side in the shop's languages."""

    translations_form = PromptForm
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
        return with_event_counts(super().get_queryset(request))

    @admin.display(description=_("shown"), ordering="shown_count")
    def times_shown(self, obj):
        return obj.shown_count

    @admin.display(description=_("emails given"), ordering="submitted_count")
    def emails_given(self, obj):
        return obj.submitted_count

    @admin.display(description=_("orders"), ordering="converted_count")
    def orders(self, obj):
        return obj.converted_count

    readonly_fields = ["live_preview", "statistics"]
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
                    "live_preview",
                ]
            },
        ),
        (
            _("Offer"),
            {"fields": ["incentive", "incentive_value", "incentive_valid_for", "incentive_name"]},
        ),
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

    class Media:
        css = {"all": ["oscar_recovery/admin/previews.css"]}
        js = ["oscar_recovery/admin/previews.js"]

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("preview/", wrap(self.preview_view), name="oscar_recovery_prompt_preview"),
            path(
                "<int:object_id>/preview/",
                wrap(self.preview_view),
                name="oscar_recovery_prompt_preview",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("live preview"))
    def live_preview(self, obj):
        """The frame ``previews.js`` fills with :meth:`preview_view`'s page as staff type."""
        args = [obj.pk] if obj is not None and obj.pk else []
        return format_html(
            '<iframe class="recovery-frame recovery-prompt-preview" title="{}" '
            'sandbox="allow-same-origin" data-fit-height data-preview-url="{}"></iframe>',
            _("Live preview of the prompt"),
            reverse("admin:oscar_recovery_prompt_preview", args=args),
        )

    def preview_view(self, request: HttpRequest, object_id: int | None = None) -> HttpResponse:
        """POST the change form as it stands: the prompt as a shopper would see it, saving
        nothing. Needs change permission on the prompt (add permission for a new one): the
        form is owner-written content. Fields that do not validate keep their saved value."""
        return require_POST(self._preview)(request, object_id)

    def _preview(self, request: HttpRequest, object_id: int | None) -> HttpResponse:
        obj = self.get_object(request, str(object_id)) if object_id else None
        if object_id and obj is None:
            raise PermissionDenied
        allowed = (
            self.has_change_permission(request, obj)
            if obj is not None
            else self.has_add_permission(request)
        )
        if not allowed:
            raise PermissionDenied
        form = self.get_form(request, obj, change=obj is not None)(
            request.POST, instance=obj or Prompt()
        )
        form.is_valid()  # puts every clean field on form.instance; errors show on save
        html = render_prompt_preview(form.instance, language=translation.get_language())
        response = HttpResponse(html)
        response["Content-Security-Policy"] = PREVIEW_POLICY
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response

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
