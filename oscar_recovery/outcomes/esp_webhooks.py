"""django-anymail's tracking webhook URLs, each answering only when the ESP must prove
itself, and answering malformed payloads with 400. Mount them instead of ``anymail.urls``::

    path("anymail/", include("oscar_recovery.webhooks"))

Only the tracking URLs (and Mandrill's one URL for both) are here: recovery reads no inbound
email, and an inbound URL is one more door (some fetch from the ESP's API or S3 on a call). A
shop that receives email through anymail mounts those URLs itself.

**Who may call.** anymail checks a webhook call with HTTP basic auth
(``ANYMAIL["WEBHOOK_SECRET"]``, shared by every ESP), or with the ESP's own signature when
its key is set (``MAILGUN_WEBHOOK_SIGNING_KEY``, ``POSTAL_WEBHOOK_KEY``, ...); an ESP with
neither configured gets its calls unchecked. Here an ESP's URL answers 404, as if it were
not mounted, until the check it needs is configured (:func:`webhook_authenticated`):

- basic auth, or the ESP's signing key where anymail can check one: Amazon SES, Brevo
  (and SendinBlue), Mailjet, Postmark and SparkPost have basic auth only; Mailtrap, Resend
  and SendGrid take either;
- the ESP's signing key, whatever else: MailerSend, Mailgun, Mandrill, Postal and Unisender
  Go cannot work without it (anymail would answer every call with a server error).

The worst sender, and what it gets:

- anyone on the internet, posting an ESP's "HardBounce" or "spam complaint" for any
  address to suppress it (a competitor silencing a shop's customers), or forged opens and
  clicks to skew the figures: 404 for an ESP whose check is not configured, 400 from
  anymail for a wrong password or signature, whichever ESP the shop's key is for (a
  Mailgun signing key never opens the Postmark URL);
- a caller with the wrong password or signature: its refusal is logged without the URL's
  credentials, path or query (anymail quotes the URL Mandrill signed, basic auth inlined);
- a caller with a payload anymail cannot parse: 400, logged, nothing changed (a parse
  error would otherwise be a 500, which ESPs retry for days); anymail parses the whole
  batch before it sends any ``tracking`` signal, so nothing is half applied;
- the genuine ESP, retrying: each event is applied once (:mod:`.tracking`).

Mounting ``anymail.urls`` directly leaves every ESP without its check open to anyone:
system check ``oscar_recovery.E030`` names them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import inbound
from anymail.utils import get_anymail_setting
from anymail.webhooks.base import AnymailCoreWebhookView
from anymail.webhooks.mailersend import (
    MailerSendInboundWebhookView,
    MailerSendTrackingWebhookView,
)
from anymail.webhooks.mailgun import MailgunInboundWebhookView, MailgunTrackingWebhookView
from anymail.webhooks.mailtrap import MailtrapInboundWebhookView, MailtrapTrackingWebhookView
from anymail.webhooks.mandrill import MandrillCombinedWebhookView
from anymail.webhooks.postal import PostalInboundWebhookView, PostalTrackingWebhookView
from anymail.webhooks.resend import ResendInboundWebhookView, ResendTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from anymail.webhooks.unisender_go import UnisenderGoTrackingWebhookView
from django.http import Http404, HttpResponseBadRequest
from django.urls import URLPattern, URLResolver

from oscar_recovery.utils import get_logger, redact_urls

logger = get_logger(__name__)

#: What a parser raises on a payload that is not what the ESP documents.
PARSE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError)


@dataclass(frozen=True)
class Signature:
    """How a webhook view checks the ESP's signature: the anymail settings that hold its
    key (any one is enough; ``(name, allow_bare)`` as anymail reads them under the ESP's
    name), and whether the view needs the key even with basic auth."""

    settings: tuple[tuple[str, bool], ...]
    required: bool


_MAILGUN = Signature((("webhook_signing_key", False), ("api_key", True)), required=True)
_POSTAL = Signature((("webhook_key", True),), required=True)

#: The views whose ESP signs its calls, as django-anymail checks them. A view missing here
#: has basic auth only, an ESP a later anymail adds included: its URL answers once basic auth
#: is set, and anymail checks it (at worst the ESP's signature goes unchecked, never the call).
SIGNATURES: dict[type, Signature] = {
    MailerSendTrackingWebhookView: Signature((("signing_secret", False),), required=True),
    MailerSendInboundWebhookView: Signature((("inbound_secret", False),), required=True),
    MailgunTrackingWebhookView: _MAILGUN,
    MailgunInboundWebhookView: _MAILGUN,
    MailtrapTrackingWebhookView: Signature((("tracking_secret", False),), required=False),
    MailtrapInboundWebhookView: Signature((("inbound_secret", False),), required=False),
    MandrillCombinedWebhookView: Signature((("webhook_key", True),), required=True),
    PostalTrackingWebhookView: _POSTAL,
    PostalInboundWebhookView: _POSTAL,
    ResendTrackingWebhookView: Signature((("signing_secret", False),), required=False),
    ResendInboundWebhookView: Signature((("inbound_secret", False),), required=False),
    SendGridTrackingWebhookView: Signature(
        (("tracking_webhook_verification_key", True),), required=False
    ),
    UnisenderGoTrackingWebhookView: Signature((("api_key", True),), required=True),
}


def basic_auth_configured() -> bool:
    """Whether ``ANYMAIL["WEBHOOK_SECRET"]`` (or ``ANYMAIL_WEBHOOK_SECRET``) is set: a
    ``"user:password"``, or a list of them (while rotating) none of which is empty."""
    secret = get_anymail_setting("webhook_secret", default=None)
    secrets = [secret] if isinstance(secret, str) else list(secret or [])
    return bool(secrets) and all(isinstance(value, str) and value for value in secrets)


def _signature(view_class: type) -> Signature | None:
    return next((SIGNATURES[cls] for cls in view_class.__mro__ if cls in SIGNATURES), None)


def _signing_key_set(view_class: type, signature: Signature) -> bool:
    return any(
        get_anymail_setting(name, esp_name=view_class.esp_name, default=None, allow_bare=bare)
        for name, bare in signature.settings
    )


def webhook_authenticated(view_class: type) -> bool:
    """Whether ``view_class`` (an anymail webhook view or a subclass) works and refuses a
    call that does not come from the ESP: its signing key is set, or, unless the view needs
    its key, basic auth is. Read from the settings on every call, as anymail reads them
    for every request."""
    signature = _signature(view_class)
    if signature is not None and _signing_key_set(view_class, signature):
        return True
    return (signature is None or not signature.required) and basic_auth_configured()


def accepts_anyone(view_class: type) -> bool:
    """Whether anymail's own ``view_class`` takes calls from anyone: no basic auth and no
    signing key. (A view that needs its key fails every call without it: broken, not
    open.)"""
    signature = _signature(view_class)
    if signature is not None and (signature.required or _signing_key_set(view_class, signature)):
        return False
    return not basic_auth_configured()


def _is_esp_webhook(callback: Callable) -> bool:
    view_class = getattr(callback, "view_class", None)
    return isinstance(view_class, type) and issubclass(view_class, AnymailCoreWebhookView)


def open_webhooks(patterns: Iterable) -> list[type]:
    """The anymail webhook views in ``patterns`` (a URLconf, walked through its includes)
    that anyone may call: not guarded as here, and :func:`accepts_anyone`."""
    found: list[type] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += [view for view in open_webhooks(pattern.url_patterns) if view not in found]
        elif (
            isinstance(pattern, URLPattern)
            and _is_esp_webhook(pattern.callback)
            and not getattr(pattern.callback, "recovery_guarded", False)
        ):
            view_class = pattern.callback.view_class
            if accepts_anyone(view_class) and view_class not in found:
                found.append(view_class)
    return found


class MalformedPayload(Exception):
    pass


class MalformedPayloadMixin:
    def parse_events(self, request):
        try:
            return super().parse_events(request)
        except PARSE_ERRORS as exc:
            raise MalformedPayload(f"{type(exc).__name__}: {exc}") from exc

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except MalformedPayload as exc:
            logger.warning("Malformed %s webhook payload: %s", self.esp_name, exc)
            return HttpResponseBadRequest("Malformed webhook payload.")
        except AnymailWebhookValidationFailure as exc:
            # Still a 400, logged by Django; but anymail's message quotes the URL it checked
            # with the basic auth inlined (Mandrill): the log gets its scheme and host only.
            raise AnymailWebhookValidationFailure(redact_urls(str(exc))) from None


def _guarded(pattern: URLPattern) -> URLPattern:
    view_class = getattr(pattern.callback, "view_class", None)
    if view_class is None:
        return pattern
    guarded = type(view_class.__name__, (MalformedPayloadMixin, view_class), {})
    inner = guarded.as_view(**(pattern.callback.view_initkwargs or {}))

    # Before the view is built: anymail reads its settings there, and raises for a
    # missing signing key.
    @functools.wraps(inner)
    def view(request, *args, **kwargs):
        if not webhook_authenticated(view_class):
            raise Http404("No ESP webhook here.")
        return inner(request, *args, **kwargs)

    view.recovery_guarded = True
    return URLPattern(pattern.pattern, view, pattern.default_args, pattern.name)


def _is_tracking(pattern: URLPattern) -> bool:
    view_class = getattr(pattern.callback, "view_class", None)
    return view_class is not None and getattr(view_class, "signal", None) is not inbound


app_name = anymail_urls.app_name
urlpatterns = [_guarded(pattern) for pattern in anymail_urls.urlpatterns if _is_tracking(pattern)]
