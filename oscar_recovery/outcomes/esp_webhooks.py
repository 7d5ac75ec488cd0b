"""django-anymail's webhook URLs, answering malformed payloads with 400.

anymail parses a whole webhook batch before it sends any ``tracking`` signal, so a payload
it cannot parse changes nothing; but the parse error surfaces as a 500, which ESPs take as
"try again later" and retry for days. Here the same views answer such payloads with 400
(the ESP stops, the request is logged) while errors after parsing keep anymail's behaviour.
Mount them instead of ``anymail.urls``::

    path("anymail/", include("oscar_recovery.webhooks"))
"""

from __future__ import annotations

from anymail import urls as anymail_urls
from django.http import HttpResponseBadRequest
from django.urls import URLPattern

from oscar_recovery.utils import get_logger

logger = get_logger(__name__)

#: What a parser raises on a payload that is not what the ESP documents.
PARSE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError)


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


def _guarded(pattern: URLPattern) -> URLPattern:
    view_class = getattr(pattern.callback, "view_class", None)
    if view_class is None:
        return pattern
    guarded = type(view_class.__name__, (MalformedPayloadMixin, view_class), {})
    callback = guarded.as_view(**(pattern.callback.view_initkwargs or {}))
    return URLPattern(pattern.pattern, callback, pattern.default_args, pattern.name)


app_name = anymail_urls.app_name
urlpatterns = [_guarded(pattern) for pattern in anymail_urls.urlpatterns]
