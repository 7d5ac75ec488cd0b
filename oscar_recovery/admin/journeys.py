"""Admin for what happened to shoppers: journeys (with their events, export and erase by
address) and suppressed addresses. Facts about shoppers: staff see them read-only."""

import json
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import admin, messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language_info, ngettext
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_model
from oscar.templatetags.currency_filters import currency as currency_format

from oscar_recovery.admin.base import ReadOnlyAdmin
from oscar_recovery.campaigns.enrolment import holdout_note
from oscar_recovery.contacts.addresses import display_email, safe_canonical_email
from oscar_recovery.dashboard.formatting import format_datetime
from oscar_recovery.dashboard.timeline import describe_event
from oscar_recovery.models import (
    CampaignEnrolment,
    CartJourney,
    CartJourneyEvent,
    SuppressedAddress,
    email_matches,
)
from oscar_recovery.privacy.data_rights import erase_email, export_email
from oscar_recovery.privacy.suppression import all_hashes

Product = get_model("catalogue", "Product")


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
    """The journey's events as the dashboard's timeline words them, never as codes and
    JSON."""

    model = CartJourneyEvent
    fields = ["when", "what"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("when"), ordering="created_at")
    def when(self, obj):
        return format_datetime(obj.created_at)

    @admin.display(description=_("what happened"))
    def what(self, obj):
        title, detail = describe_event(obj)
        return f"{title} ({detail})" if detail else title


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

    def get_search_results(self, request, queryset, search_term):
        """Besides the fields' text: a whole address in any spelling finds its journeys."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term and safe_canonical_email(search_term):
            found |= queryset.filter(email_matches(search_term))
        return found, may_have_duplicates

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
                    "language_name",
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
                    "total_amount",
                    "voucher_codes",
                    "viewed_products",
                    "restored_from",
                ]
            },
        ),
        (
            _("How far"),
            {"fields": ["furthest_step", "funnel_table", "basket_frozen", "recovery_emails"]},
        ),
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
        return [f.name for f in self.model._meta.fields] + [
            "lines_table",
            "funnel_table",
            "recovery_emails",
            "language_name",
            "total_amount",
            "voucher_codes",
            "viewed_products",
        ]

    @admin.display(description=_("recovery emails"))
    def recovery_emails(self, obj: CartJourney) -> str:
        """The journey's campaign and where it stands; a held-out journey says why it got
        no email."""
        enrolment = CampaignEnrolment.objects.filter(journey=obj).select_related("campaign").first()
        if enrolment is None:
            return _("In no campaign.")
        if enrolment.is_holdout:
            state = holdout_note(enrolment.campaign.holdout_percent)
        else:
            state = enrolment.get_status_display()
        return format_html("“{}”: {}", enrolment.campaign, state)

    @admin.display(description=_("language"))
    def language_name(self, obj):
        if not obj.language:
            return None
        try:  # in the admin's language: "Arabic (ar)"
            name = get_language_info(obj.language)["name_translated"]
        except KeyError:
            name = dict(settings.LANGUAGES).get(obj.language)
        return f"{name} ({obj.language})" if name else obj.language

    @admin.display(description=_("total"), ordering="total")
    def total_amount(self, obj):
        return _money(obj.total, obj.currency)

    @admin.display(description=_("voucher codes"))
    def voucher_codes(self, obj):
        return ", ".join(str(code) for code in obj.vouchers or ()) or None

    @admin.display(description=_("viewed products"))
    def viewed_products(self, obj):
        """Titles, most recent first, linked to the product in the dashboard (ids only
        for products since deleted)."""
        ids = [pk for pk in obj.viewed or () if isinstance(pk, int)]
        if not ids:
            return None
        titles = dict(Product.objects.filter(pk__in=ids).values_list("pk", "title"))
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("dashboard:catalogue-product", kwargs={"pk": pk}), titles[pk])
                for pk in ids
                if pk in titles
            ),
        ) or ", ".join(f"#{pk}" for pk in ids)

    @admin.display(description=_("lines"))
    def lines_table(self, obj):
        if not obj.lines:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    line.get("title"),
                    line.get("quantity"),
                    _money(line.get("unit_price"), obj.currency),
                    _money(line.get("line_total"), obj.currency),
                )
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
            ((step.label, format_datetime(reached) or "—") for step, reached in obj.funnel()),
        )
        return format_html("<table><tbody>{}</tbody></table>", rows)


def _money(amount, currency: str) -> str:
    """A snapshot's amount (a string) in the shop's money format, as it is as a fallback."""
    try:
        return currency_format(Decimal(str(amount)), currency or None)
    except (InvalidOperation, TypeError, ValueError):
        return str(amount or "")


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


# -- Data rights: export and erase by email address ---------------------------------------


def _addresses(queryset) -> list[str]:
    """The distinct addresses of the selected journeys (their own or their account's), as
    people read them (one per mailbox, whatever its spellings)."""
    found: dict[str, str] = {}
    for email, account in queryset.values_list("email", "user__email"):
        for address in (email, account):
            if address:
                canonical = safe_canonical_email(address)
                key = canonical or address.strip().lower()
                found.setdefault(key, display_email(canonical) or address.strip())
    return sorted(found.values(), key=str.lower)


@admin.action(description=_("Export all recovery data of the selected addresses"))
def export_personal_data(modeladmin, request, queryset):
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
