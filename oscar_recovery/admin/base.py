"""What every read-only admin shares."""

from django.contrib import admin
from django.utils.text import capfirst

from oscar_recovery.dashboard.timeline import stop_reason_text


def reason_label(code: str) -> str | None:
    """A stop or skip reason as words ("No email address"), never its code ("no_email");
    None (the admin's empty value) for none."""
    return capfirst(stop_reason_text(code)) if code else None


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: staff look, nobody edits."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """An inline of records nobody edits."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
