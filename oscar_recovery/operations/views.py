"""The health endpoint for uptime monitors: thin, over :func:`health.check`.

Who may read it: the session of staff who may read recovery's figures in the dashboard
(``is_staff`` and the view permission on campaigns,
:data:`~oscar_recovery.dashboard.apps.FIGURES`), or a request with
``Authorization: Bearer <OSCAR_RECOVERY_HEALTH_TOKEN>``. Other staff (Oscar gives
``is_staff`` to clerks who only handle orders) get 403, as the dashboard refuses them. The
worst sender, anyone on the internet, gets a bare 403 before any query runs: no figure, no
hint whether a token is configured, and the comparison takes the same time whatever the
guess (``hmac.compare_digest``). The figures hold no personal data. Answers 503 when
unhealthy so a monitor needs no JSON parsing; never cached.
"""

from __future__ import annotations

import hmac

from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from oscar.views.decorators import check_permissions

from oscar_recovery import app_settings
from oscar_recovery.dashboard.permissions import FIGURES
from oscar_recovery.operations import health


def may_read_health(request: HttpRequest) -> bool:
    """Staff who may read the dashboard's figures, or the configured token as a bearer
    token. An empty setting admits no token."""
    user = getattr(request, "user", None)
    if user is not None and user.is_active and check_permissions(user, FIGURES):
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
