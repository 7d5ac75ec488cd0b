from __future__ import annotations

from datetime import timedelta

from django import forms
from django.apps import apps
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oscar_recovery.constants import CheckoutStep, ContactStatus, JourneyStatus
from oscar_recovery.contacts import profile
from oscar_recovery.models import Campaign, email_matches
from oscar_recovery.reporting.reports import Period

DEFAULT_DAYS = 30
MAX_DAYS = 731


def default_period() -> Period:
    today = timezone.localdate()
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)


class PeriodForm(forms.Form):
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        default = default_period()
        end = data.get("end") or default.end
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError(_("The period must start before it ends."))
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(
                _("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS}
            )
        data["period"] = Period(start, end)
        return data

    @property
    def period(self) -> Period:
        """The chosen period, or the default one when the input is invalid."""
        if self.is_valid():
            return self.cleaned_data["period"]
        return default_period()


class BasketFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        help_text=_("Email, basket journey #id or order number"),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *JourneyStatus.choices]
    )
    step = forms.TypedChoiceField(
        label=_("Furthest step"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("Any")), *CheckoutStep.choices],
    )
    min_value = forms.DecimalField(label=_("Value from"), required=False, min_value=0)
    max_value = forms.DecimalField(label=_("Value to"), required=False, min_value=0)
    campaign = forms.ModelChoiceField(
        label=_("Campaign"), required=False, queryset=Campaign.objects.all()
    )
    date_from = forms.DateField(
        label=_("Abandoned from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("Abandoned to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    bots = forms.BooleanField(
        label=_("Include bots"),
        required=False,
        help_text=_("Journeys whose User-Agent looks like a bot (HeadlessChrome too)."),
    )

    def clean(self):
        data = super().clean()
        low, high = data.get("min_value"), data.get("max_value")
        if low is not None and high is not None and low > high:
            self.add_error("max_value", _("The upper value is below the lower one."))
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("This date is before the start date."))
        return data

    def filter(self, queryset):
        """The journeys matching valid filters (all of them when the form is invalid); bots
        only with ``bots`` ticked."""
        if not (self.is_valid() and self.cleaned_data["bots"]):
            queryset = queryset.exclude(is_bot=True)
        if not self.is_valid():
            return queryset
        data = self.cleaned_data
        if data["q"]:
            queryset = queryset.filter(_search(data["q"].strip()))
        if data["status"]:
            queryset = queryset.filter(status=data["status"])
        if data["step"] is not None:
            queryset = queryset.filter(furthest_step=data["step"])
        if data["min_value"] is not None:
            queryset = queryset.filter(total__gte=data["min_value"])
        if data["max_value"] is not None:
            queryset = queryset.filter(total__lte=data["max_value"])
        if data["campaign"]:
            queryset = queryset.filter(enrolment__campaign=data["campaign"])
        tz = timezone.get_current_timezone()
        if data["date_from"]:
            queryset = queryset.filter(abandoned_at__gte=_start_of(data["date_from"], tz))
        if data["date_to"]:
            queryset = queryset.filter(
                abandoned_at__lt=_start_of(data["date_to"] + timedelta(days=1), tz)
            )
        return queryset


def _start_of(day, tz):
    from datetime import datetime, time

    return datetime.combine(day, time.min, tzinfo=tz)


def _search(term: str) -> Q:
    """Part of an address as stored, a whole address in any spelling (``Anna@Bücher.de``
    finds ``anna@xn--bcher-kva.de``), an order number or a journey id."""
    condition = Q(email__icontains=term) | Q(order__number=term) | email_matches(term)
    if term.lstrip("#").isdigit():
        condition |= Q(pk=int(term.lstrip("#")))
    return condition


#: Yes/no filters: "" leaves the filter out.
_YES_NO = [("", _("Any")), ("yes", _("Yes")), ("no", _("No"))]
#: The list shows live contacts unless asked for merged or erased ones too.
_CONTACT_STATUSES = [
    ("", ContactStatus.ACTIVE.label),
    (ContactStatus.MERGED, ContactStatus.MERGED.label),
    (ContactStatus.ERASED, ContactStatus.ERASED.label),
    ("any", _("Any")),
]


def segment_model():
    """The segments' model once the shop has it, else None (the filter is then hidden)."""
    try:
        return apps.get_model("oscar_recovery", "Segment")
    except LookupError:
        return None


def segment_members(segment):
    """The contacts of ``segment``: :func:`oscar_recovery.segments.members`."""
    # function-level: the segments package is optional here (the field exists only with it).
    from oscar_recovery import segments

    return segments.members(segment)


class ContactFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=254,
        help_text=_("Email address (or part of it) or customer uuid"),
    )
    status = forms.ChoiceField(label=_("Status"), required=False, choices=_CONTACT_STATUSES)
    account = forms.ChoiceField(label=_("Has an account"), required=False, choices=_YES_NO)
    orders = forms.ChoiceField(label=_("Has ordered"), required=False, choices=_YES_NO)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model = segment_model()
        if model is not None:
            self.fields["segment"] = forms.ModelChoiceField(
                label=_("Segment"), required=False, queryset=model.objects.all()
            )

    def filter(self):
        """The contacts matching valid filters (live ones, newest seen first, when the form
        is unbound or invalid)."""
        if not self.is_valid():
            return profile.listing()
        data = self.cleaned_data
        status = {"": ContactStatus.ACTIVE, "any": ""}.get(data["status"], data["status"])
        yes_no = {"yes": True, "no": False}
        queryset = profile.listing(
            term=data["q"],
            status=status,
            has_account=yes_no.get(data["account"]),
            has_orders=yes_no.get(data["orders"]),
        )
        if data.get("segment"):
            members = segment_members(data["segment"])
            queryset = queryset.filter(pk__in=members.values("pk"))
        return queryset
