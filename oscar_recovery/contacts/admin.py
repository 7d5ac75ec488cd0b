"""The Django admin of contacts: read-only, like every record of what happened to shoppers.
Searched by address (in canonical form, also an address only an identifier holds) or uuid;
identifiers, facts and merges shown inline."""

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from oscar_recovery.admin.base import ReadOnlyAdmin, ReadOnlyInline
from oscar_recovery.contacts import identity, profile
from oscar_recovery.models import Contact, ContactFacts, ContactIdentifier, ContactMerge


class HasAccountFilter(admin.SimpleListFilter):
    title = _("has an account")
    parameter_name = "has_account"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(user__isnull=self.value() == "no")
        return queryset


class HasOrdersFilter(admin.SimpleListFilter):
    title = _("has ordered")
    parameter_name = "has_orders"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(facts__order_count__gt=0)
        if self.value() == "no":
            return queryset.exclude(facts__order_count__gt=0)
        return queryset


class IdentifierInline(ReadOnlyInline):
    model = ContactIdentifier
    fields = ["kind", "value", "first_seen_at", "last_seen_at"]
    readonly_fields = fields


class FactsInline(ReadOnlyInline):
    model = ContactFacts
    fields = [
        "order_count",
        "first_order_at",
        "last_order_at",
        "last_order_total",
        "lifetime_value",
        "currency",
        "last_basket_activity_at",
        "last_email_at",
        "updated_at",
    ]
    readonly_fields = fields


class MergeInline(ReadOnlyInline):
    model = ContactMerge
    fk_name = "winner"
    verbose_name_plural = _("contacts merged into this one")
    fields = ["merged_at", "loser_uuid", "reason", "consent_withdrawn"]
    readonly_fields = fields

    @admin.display(description=_("consent withdrawn for"))
    def consent_withdrawn(self, obj):
        withdrawn = (obj.details or {}).get("withdrawn") or []
        return ", ".join(str(address) for address in withdrawn) or "—"


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "user", "status", "first_seen_at", "last_seen_at"]
    list_filter = ["status", HasAccountFilter, HasOrdersFilter]
    list_select_related = ["user"]
    search_fields = ["email"]
    search_help_text = _("Search by email address (or part of it) or customer uuid.")
    show_full_result_count = False
    inlines = [IdentifierInline, FactsInline, MergeInline]
    fields = [
        "uuid",
        "status",
        "merged_into",
        "user",
        "email",
        "addresses",
        "phone",
        "first_name",
        "language",
        "first_seen_at",
        "last_seen_at",
        "identified_at",
    ]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        return profile.search(queryset, search_term), False

    @admin.display(description=_("all addresses"))
    def addresses(self, obj):
        return format_html_join("", "{}<br>", ((a,) for a in identity.addresses_of(obj))) or "—"
