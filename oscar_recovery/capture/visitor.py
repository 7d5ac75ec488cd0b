"""The visitor id: a first-party, signed cookie that survives login and logout.

Capture reads it (never writes it: capture has no response to write to); responses the app
or Oscar hand us set it (product pages through ``product_viewed``, our own views).
"""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponseBase

from oscar_recovery import app_settings
from oscar_recovery.adapter import get_adapter

#: The signing salt of the visitor cookie (prompts read the cookie's signing time with it).
VISITOR_SALT = "oscar_recovery.visitor"


def read_visitor_id(cookies: dict[str, str]) -> str | None:
    """The visitor id from a cookie mapping, or None when absent or tampered with."""
    raw = cookies.get(app_settings.VISITOR_COOKIE_NAME)
    if not raw:
        return None
    try:
        return signing.get_cookie_signer(salt=VISITOR_SALT).unsign(raw)
    except signing.BadSignature:
        return None


def ensure_visitor_cookie(request: HttpRequest, response: HttpResponseBase) -> str:
    """Set the visitor cookie on ``response`` unless the request already carries one."""
    visitor_id = read_visitor_id(request.COOKIES)
    if visitor_id is None:
        visitor_id = get_adapter().new_visitor_id()
        response.set_cookie(
            app_settings.VISITOR_COOKIE_NAME,
            signing.get_cookie_signer(salt=VISITOR_SALT).sign(visitor_id),
            max_age=int(app_settings.VISITOR_COOKIE_AGE.total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return visitor_id
