"""Admin for segments: the list with member counts, the numbers of built-ins, the
definition of custom ones (validated), and a live count on the change page.

Worst sender: staff with only the change permission on segments. They edit a custom
segment's definition as JSON; it is validated against the known fields and operators and
compiled to an ORM predicate whose values are parameters, so nothing typed reaches SQL as
text. A built-in's rule, kind and slug are read-only, and built-ins cannot be deleted.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import SegmentKind, SegmentRule
from oscar_recovery.models import Segment
from oscar_recovery.segments import definition, refresh


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "slug", "definition", "days", "amount", "amount_basis", "is_active"]

    def clean_definition(self):
        value = self.cleaned_data.get("definition")
        if self.instance.kind == SegmentKind.BUILTIN:
            return self.instance.definition
        return definition.validate(value)

    def save(self, commit=True):
        if not self.instance.pk:
            self.instance.kind = SegmentKind.CUSTOM
            self.instance.rule = SegmentRule.CUSTOM
        return super().save(commit)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ["name", "kind", "member_count", "is_active", "last_run_at", "last_duration_ms"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    #: What the change page shows and nobody edits: the conditions in words, the live
    #: count, and what the last refresh recorded.
    STATS = [
        "conditions",
        "live_count",
        "member_count",
        "version",
        "last_run_at",
        "last_duration_ms",
    ]
    BUILTIN_FIELDS = ["name", "slug", "rule", "days", "amount", "amount_basis", "is_active"]
    CUSTOM_FIELDS = ["name", "slug", "definition", "is_active"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.CUSTOM_FIELDS
        if obj.kind == SegmentKind.BUILTIN:
            return [*self.BUILTIN_FIELDS, *self.STATS]
        return [*self.CUSTOM_FIELDS, *self.STATS]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.kind == SegmentKind.BUILTIN:
            return ["slug", "rule", *self.STATS]
        return self.STATS

    def get_prepopulated_fields(self, request, obj=None):
        return (
            {}
            if obj is not None and obj.kind == SegmentKind.BUILTIN
            else super().get_prepopulated_fields(request, obj)
        )

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.kind == SegmentKind.BUILTIN:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description=_("conditions (all must hold)"))
    def conditions(self, obj: Segment) -> str:
        try:
            conditions = refresh.conditions_of(obj)
        except ValidationError:
            return "-"
        return definition.describe(conditions) if conditions else _("nobody")

    @admin.display(description=_("matching contacts now"))
    def live_count(self, obj: Segment) -> int | str:
        """Counted with the very predicate the refresh uses, at this moment."""
        try:
            return refresh.matching(obj, timezone.now()).count()
        except ValidationError:
            return "-"
