"""The Django admin of the consent ledger: append-only, so nobody (superusers included)
adds, changes or deletes an event here; staff with the view permission read it."""

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from oscar_recovery.admin.base import ReadOnlyAdmin
from oscar_recovery.contacts.profile import canonical_address
from oscar_recovery.models import ConsentEvent
from oscar_recovery.privacy.hashing import all_hashes


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "channel", "address", "action", "source", "basis", "contact"]
    list_filter = ["channel", "action", "source", "basis"]
    list_select_related = ["contact"]
    search_fields = ["address"]
    search_help_text = _("Search by full email address (also finds it by its hash) or number.")
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    fields = [
        "occurred_at",
        "channel",
        "address",
        "action",
        "source",
        "basis",
        "wording",
        "language",
        "contact",
        "journey",
        "visitor_id",
        "evidence_lines",
    ]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        address = canonical_address(term)
        return queryset.filter(address__in=[address, *all_hashes(address)]), False

    @admin.display(description=_("evidence"))
    def evidence_lines(self, obj):
        items = sorted((obj.evidence or {}).items())
        return format_html_join("", "{}: {}<br>", items) or "—"
