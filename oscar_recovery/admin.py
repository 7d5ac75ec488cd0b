"""Read-only views of cart journeys for staff. Journeys are facts about shoppers: nothing
here edits them."""

from decimal import Decimal

from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .models import (
    Campaign,
    CampaignEnrolment,
    CampaignStep,
    CartJourney,
    CartJourneyEvent,
    RecoveryMessage,
    StepVariant,
    SuppressedAddress,
)
from .suppression import all_hashes


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
            {"fields": ["basket", "lines_table", "num_items", "total", "currency", "vouchers"]},
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


class CampaignStepInline(admin.StackedInline):
    model = CampaignStep
    extra = 0
    show_change_link = True
    fields = ["position", "delay", "subject", "preheader", "incentive", "incentive_value"]


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
    extra = 0


@admin.register(CampaignStep)
class CampaignStepAdmin(admin.ModelAdmin):
    list_display = ["__str__", "campaign", "position", "delay", "incentive"]
    list_filter = ["campaign"]
    inlines = [StepVariantInline]


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
