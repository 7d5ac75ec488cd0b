"""The Django admin of contacts: read-only, like every record of what happened to shoppers.
Searched by address (in canonical form, also an address only an identifier holds) or uuid;
identifiers, facts and merges shown inline."""

from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from oscar_recovery.admin.base import ReadOnlyAdmin, ReadOnlyInline
from oscar_recovery.contacts import identity, profile
from oscar_recovery.models import Contact, ContactFacts, ContactIdentifier, ContactMerge


class YesNoFilter(admin.SimpleListFilter):
    """A yes/no list filter: ``condition`` is what "yes" means."""

    condition: Q

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.condition)
        if self.value() == "no":
            return queryset.exclude(self.condition)
        return queryset


class HasAccountFilter(YesNoFilter):
    title = _("has an account")
    parameter_name = "has_account"
    condition = Q(user__isnull=False)


class HasOrdersFilter(YesNoFilter):
    title = _("has ordered")
    parameter_name = "has_orders"
    condition = Q(facts__order_count__gt=0)


class IdentifierInline(ReadOnlyInline):
    model = ContactIdentifier
    fields = ["kind", "value", "first_seen_at", "last_seen_at"]
    readonly_fields = fields


class FactsInline(ReadOnlyInline):
    model = ContactFacts
    fields = [f.name for f in ContactFacts._meta.fields if f.name != "contact"]
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
