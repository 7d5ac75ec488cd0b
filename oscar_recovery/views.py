"""Shopper-facing views. Thin: validation and business rules live in tokens/suppression."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from .constants import SuppressionReason
from .suppression import suppress_hash
from .tokens import InvalidLink, check_unsubscribe_token


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class UnsubscribeView(View):
    """RFC 8058 one-click unsubscribe.

    GET (what a person, or a link scanner, opens) only shows a confirmation form. POST (the
    form, or a mail client's one-click request, which carries no cookies and no CSRF token)
    suppresses the address at once; repeating it changes nothing. Never redirects.
    """

    template_name = "oscar_recovery/unsubscribe.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            check_unsubscribe_token(token)
        except InvalidLink as exc:
            return self.render(request, token, error=exc, status=400)
        return self.render(request, token)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            hashed = check_unsubscribe_token(token)
        except InvalidLink as exc:
            return self.render(request, token, error=exc, status=400)
        suppress_hash(hashed, SuppressionReason.UNSUBSCRIBED)
        return self.render(request, token, done=True)

    def render(self, request, token, *, error=None, done=False, status=200) -> HttpResponse:
        response = render(
            request,
            self.template_name,
            {"token": token, "error": error, "done": done},
            status=status,
        )
        response["Referrer-Policy"] = "no-referrer"
        return response
