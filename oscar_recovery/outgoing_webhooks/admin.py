"""Admin for outgoing webhooks: endpoints (with a "send test" action), and the delivery
log, read-only, with every attempt. Registered from :mod:`oscar_recovery.admin`.

The worst sender here is staff with fewer permissions than the page suggests: with only
the view permission they read endpoints and the log, but never see a secret nor an
endpoint's URL beyond its host (a chat webhook's path is its credential; they cannot search
it either), never replace a secret, and never make the shop send anything (the test event
and redelivery need the change permission on endpoints)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from oscar_recovery import outgoing_webhooks
from oscar_recovery.constants import DeliveryStatus, SignatureFormat, WebhookEvent
from oscar_recovery.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from oscar_recovery.outgoing_webhooks.signing import (
    STANDARD_MIN_KEY_BYTES,
    STANDARD_SECRET_PREFIX,
    is_standard_secret,
    standard_secret,
)
from oscar_recovery.utils import redact_url

#: What staff may subscribe to (test events go to every endpoint they are sent to).
SUBSCRIBABLE_EVENTS = [choice for choice in WebhookEvent.choices if choice[0] != WebhookEvent.TEST]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=WebhookEndpoint._meta.get_field("url").help_text,
    )
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=SUBSCRIBABLE_EVENTS,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "name",
            "url",
            "is_active",
            "events",
            "include_personal_data",
            "signature_format",
            "secret",
        ]
        widgets = {"secret": forms.TextInput(attrs={"size": 60, "autocomplete": "off"})}
        help_texts = {
            "secret": _(
                "Signs every request (HMAC-SHA256); give it to the receiving side only. "
                "Standard Webhooks needs whsec_ followed by the base64 of at least 24 random "
                "bytes, as generated here."
            )
        }

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        outgoing_webhooks.check_destination(url)
        return url

    #: The field a secret typed into this form arrives in.
    secret_field = "secret"

    def clean_secret(self) -> str:
        secret = self.cleaned_data["secret"].strip()
        if len(secret) < 16:
            raise forms.ValidationError(_("Use a secret of at least 16 characters."))
        return secret

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("is_active") and not cleaned.get("events"):
            self.add_error("events", _("Choose at least one event for an active endpoint."))
        secret = cleaned.get(self.secret_field)
        if (
            secret
            and cleaned.get("signature_format") == SignatureFormat.STANDARD
            and not is_standard_secret(secret, STANDARD_MIN_KEY_BYTES)
        ):
            # A typed secret would otherwise reach receivers only in its mapped form.
            self.add_error(
                self.secret_field,
                _(
                    "A Standard Webhooks secret is whsec_ followed by the base64 of at least "
                    "%(count)d bytes. Keep the generated one, or choose the X-Recovery-Signature "
                    "format for a secret of your own."
                )
                % {"count": STANDARD_MIN_KEY_BYTES},
            )
        return cleaned


class WebhookEndpointChangeForm(WebhookEndpointForm):
    """An existing endpoint's form: the secret is never sent to the browser again; staff
    who may change the endpoint can replace it."""

    new_secret = forms.CharField(
        label=_("new signing secret"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(attrs={"size": 60, "autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the current secret."),
    )

    secret_field = "new_secret"

    class Meta(WebhookEndpointForm.Meta):
        fields = ["name", "url", "is_active", "events", "include_personal_data", "signature_format"]

    def clean_new_secret(self) -> str:
        secret = self.cleaned_data["new_secret"]
        if secret and len(secret) < 16:
            raise forms.ValidationError(_("Use a secret of at least 16 characters."))
        return secret

    def save(self, commit: bool = True) -> WebhookEndpoint:
        if self.cleaned_data.get("new_secret"):
            self.instance.secret = self.cleaned_data["new_secret"]
        return super().save(commit)


def mask_secret(secret: str) -> str:
    """Enough of a secret to tell two apart, never enough to sign with."""
    return "\u2022" * 8 + secret[-4:] if len(secret) >= 16 else "\u2022" * 8


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """The signing secret shows in full only on the add form (where it is chosen or
    generated, to be copied to the receiver); afterwards it is masked for everyone, and only
    staff with the change permission may replace it."""

    form = WebhookEndpointForm
    readonly_fields = ["masked_secret", "masked_standard_secret"]
    list_display = [
        "name",
        "url",
        "is_active",
        "event_list",
        "include_personal_data",
        "signature_format",
        "log",
    ]
    list_filter = ["is_active", "include_personal_data", "signature_format"]
    search_fields = ["name", "url"]
    actions = ["send_test_event"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            kwargs["form"] = WebhookEndpointChangeForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        fields = ["name", "url", "is_active", "events", "include_personal_data", "signature_format"]
        if obj is None:
            return [*fields, "secret"]
        fields += ["masked_secret", "masked_standard_secret"]
        if self.has_change_permission(request, obj):
            fields.append("new_secret")
        return fields

    @admin.display(description=_("signing secret"))
    def masked_secret(self, obj: WebhookEndpoint) -> str:
        return mask_secret(obj.secret)

    @admin.display(description=_("Standard Webhooks secret"))
    def masked_standard_secret(self, obj: WebhookEndpoint) -> str:
        """What a Standard Webhooks receiver is given, masked like the secret it maps."""
        whsec = standard_secret(obj.secret)
        if whsec == obj.secret:
            how = _("the signing secret itself: it is in the whsec_ form already.")
        else:
            how = _(
                "whsec_ followed by the base64 of the signing secret. Libraries that take a "
                "raw key take the signing secret's bytes."
            )
        prefix = STANDARD_SECRET_PREFIX
        return format_html("{}{} — {}", prefix, mask_secret(whsec[len(prefix) :]), how)

    # The URL of a chat or automation webhook is a credential too: staff who may only view
    # endpoints see its scheme and host, and cannot search its path letter by letter.

    @admin.display(description=_("URL"))
    def masked_url(self, obj: WebhookEndpoint) -> str:
        return redact_url(obj.url)

    def _hides_url(self, request, obj=None) -> bool:
        return not self.has_change_permission(request, obj)

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        if self._hides_url(request):
            return ["masked_url" if field == "url" else field for field in shown]
        return shown

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)
        return [field for field in fields if field != "url"] if self._hides_url(request) else fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not self._hides_url(request, obj):
            return fieldsets
        return [
            (
                name,
                {
                    **options,
                    "fields": ["masked_url" if f == "url" else f for f in options["fields"]],
                },
            )
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "masked_url"]

    @admin.display(description=_("events"))
    def event_list(self, obj: WebhookEndpoint) -> str:
        labels = dict(WebhookEvent.choices)
        return ", ".join(str(labels.get(event, event)) for event in obj.events)

    @admin.display(description=_("deliveries"))
    def log(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:oscar_recovery_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">{}</a>', url, obj.pk, _("log"))

    # Sending is acting: staff who may only view endpoints never make the shop call them.
    @admin.action(
        description=_("Send a test event to the selected endpoints"), permissions=["change"]
    )
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            delivery = outgoing_webhooks.send_test(endpoint)
            attempt = delivery.attempt_log.order_by("-number").first()
            if delivery.status == DeliveryStatus.SUCCEEDED:
                messages.success(
                    request,
                    _("%(endpoint)s answered the test event with HTTP %(code)s.")
                    % {"endpoint": endpoint, "code": delivery.last_status_code},
                )
            else:
                problem = (attempt.error if attempt else "") or (
                    f"HTTP {delivery.last_status_code}" if delivery.last_status_code else "?"
                )
                messages.error(
                    request,
                    _("The test event to %(endpoint)s failed: %(problem)s")
                    % {"endpoint": endpoint, "problem": problem},
                )


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = [
        "number",
        "started_at",
        "duration_ms",
        "status_code",
        "outcome",
        "error",
        "response_body",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    ]
    list_filter = ["status", "event", "endpoint"]
    search_fields = ["event_id"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [
        "endpoint",
        "event",
        "event_id",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "payload",
    ]
    fields = readonly_fields
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_redeliver_permission(self, request) -> bool:
        # Whoever may edit endpoints may send their events again.
        return request.user.has_perm("oscar_recovery.change_webhookendpoint")

    @admin.action(
        description=_("Deliver the selected failed deliveries again"), permissions=["redeliver"]
    )
    def redeliver(self, request, queryset):
        ids = list(queryset.filter(status=DeliveryStatus.FAILED).values_list("pk", flat=True))
        with transaction.atomic():
            WebhookDelivery.objects.filter(pk__in=ids).update(
                status=DeliveryStatus.PENDING, next_attempt_at=None
            )
            outgoing_webhooks.enqueue(ids)
        messages.success(
            request,
            ngettext(
                "%(count)d delivery queued again.", "%(count)d deliveries queued again.", len(ids)
            )
            % {"count": len(ids)},
        )
