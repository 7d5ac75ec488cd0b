"""The health endpoint for uptime monitors: thin, over :func:`health.check`.

Who may read it: a staff user's session, or a request with
``Authorization: Bearer <OSCAR_RECOVERY_HEALTH_TOKEN>``. The worst sender, anyone on the
internet, gets a bare 403 before any query runs: no figure, no hint whether a token is
configured, and the comparison takes the same time whatever the guess
(``hmac.compare_digest``). The figures hold no personal data. Answers 503 when unhealthy so
a monitor needs no JSON parsing; never cached.
"""

from __future__ import annotations

import hmac

from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from oscar_recovery import app_settings
from oscar_recovery.operations import health


def may_read_health(request: HttpRequest) -> bool:
    """Staff, or the configured token as a bearer token. An empty setting admits no token."""
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    expected = app_settings.HEALTH_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


@method_decorator(never_cache, name="dispatch")
class HealthView(View):
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest) -> JsonResponse:
        if not may_read_health(request):
            return JsonResponse({"detail": "forbidden"}, status=403)
        report = health.check()
        return JsonResponse(report.as_dict(), status=200 if report.healthy else 503)
