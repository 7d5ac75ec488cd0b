"""Admin for retargeting audiences: the owner picks the segment, the destinations and the
membership duration; the sync's state is shown read-only. Credentials are never here (they
come from settings). Members are read-only hashes; staff can withdraw the advertising
consent of the people behind selected members.

Saving an audience held after a permanent error (bad credentials, a deleted list) releases
it: the next sync tries again.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from oscar_recovery.constants import AudienceSyncStatus, ConsentSource
from oscar_recovery.models import Audience, AudienceMember
from oscar_recovery.privacy import ads_consent


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "segment",
        "member_count",
        "sync_meta",
        "sync_google",
        "last_sync_at",
        "last_sync_status",
        "is_active",
    ]
    list_filter = ["is_active", "sync_meta", "sync_google", "last_sync_status"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        "name",
        "slug",
        "segment",
        "exclude_buyers_days",
        "is_active",
        "sync_meta",
        "sync_google",
        "ttl_days",
        "meta_external_id",
        "google_external_id",
        "member_count",
        "last_sync_at",
        "last_sync_status",
        "last_errors",
        "failure_count",
        "next_attempt_at",
    ]
    readonly_fields = [
        "meta_external_id",
        "google_external_id",
        "member_count",
        "last_sync_at",
        "last_sync_status",
        "last_errors",
        "failure_count",
        "next_attempt_at",
    ]

    def save_model(self, request, obj, form, change):
        if change and obj.held:
            # Staff acted on a permanent error: try again at the next sync.
            obj.held = False
            obj.next_attempt_at = None
            obj.failure_count = 0
            obj.last_sync_status = AudienceSyncStatus.FAILED
        super().save_model(request, obj, form, change)


@admin.register(AudienceMember)
class AudienceMemberAdmin(admin.ModelAdmin):
    list_display = ["pk", "audience", "destination", "desired", "synced_state", "synced_at"]
    list_filter = ["destination", "desired", "synced_state", "audience"]
    list_select_related = ["audience"]
    search_fields = ["email_sha256", "phone_sha256"]
    fields = [
        "audience",
        "destination",
        "contact",
        "email_sha256",
        "phone_sha256",
        "desired",
        "synced_state",
        "synced_at",
        "changed_at",
        "last_error",
    ]
    readonly_fields = fields
    actions = ["withdraw_ads_consent"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(
        description=_("Withdraw the advertising consent of the selected members' customers"),
        permissions=["view"],
    )
    def withdraw_ads_consent(self, request, queryset):
        done = 0
        for email, contact_id in (
            queryset.filter(contact__isnull=False)
            .values_list("contact__email", "contact_id")
            .distinct()
        ):
            if ads_consent.withdraw(
                email,
                source=ConsentSource.STAFF,
                contact_id=contact_id,
                evidence={"staff_user_id": request.user.pk},
            ):
                done += 1
        self.message_user(
            request,
            ngettext(
                "Advertising consent withdrawn for %(count)d customer; removed at the next sync.",
                "Advertising consent withdrawn for %(count)d customers; removed at the next sync.",
                done,
            )
            % {"count": done},
            messages.SUCCESS,
        )
