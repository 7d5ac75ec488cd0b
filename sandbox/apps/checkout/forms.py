import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Always declined, so people can try a failed payment (and the basket it leaves behind).
DECLINED_TEST_CARD = "4000000000000002"


class SandboxCardForm(forms.Form):
    """A pretend card: any well-formed number is accepted and no gateway is called."""

    number = forms.CharField(
        label=_("Card number"),
        max_length=23,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-number", "inputmode": "numeric", "size": 23}
        ),
        help_text=_("Any number works in the sandbox; 4000 0000 0000 0002 is declined."),
    )
    expiry = forms.CharField(
        label=_("Expiry date (MM/YY)"),
        max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "placeholder": "MM/YY"}),
    )
    cvc = forms.RegexField(
        label=_("Security code"),
        regex=r"^\d{3,4}$",
        max_length=4,
        widget=forms.TextInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
        error_messages={"invalid": _("Enter the 3 or 4 digits on the back of the card.")},
    )

    def clean_number(self) -> str:
        digits = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not re.fullmatch(r"\d{12,19}", digits):
            raise forms.ValidationError(_("Enter the 12 to 19 digits of the card number."))
        return digits

    def clean_expiry(self) -> str:
        match = re.fullmatch(r"(\d{1,2})\s*/\s*(\d{2})", self.cleaned_data["expiry"].strip())
        if not match or not 1 <= int(match[1]) <= 12:
            raise forms.ValidationError(_("Enter the expiry date as MM/YY."))
        month, year = int(match[1]), 2000 + int(match[2])
        today = timezone.localdate()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError(_("This card has expired."))
        return f"{month:02d}/{year % 100:02d}"

    @property
    def last4(self) -> str:
        """The only part of the card that is kept (on the order's payment source)."""
        return getattr(self, "cleaned_data", {}).get("number", "")[-4:]
