"""What a visitor's browser carries for prompts, in cookies rather than the database, so
deciding on prompts costs no query per page.

- The *visit* cookie (a browser-session cookie) names the current visit.
- The *caps* cookie (signed, long-lived) remembers the visit in which a prompt was last
  shown, the prompts dismissed and until when they stay quiet, whether the visitor has
  placed an order and whether they gave their email through a prompt.
- The visitor cookie of :mod:`oscar_recovery.visitor` says when the visitor was first seen:
  Django's cookie signer is timestamped, so its signature carries the date.

The cookies only ever hold back prompts from the visitor who carries them; a visitor who
clears them sees prompts again, which is acceptable for a marketing cap.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core import signing
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from oscar_recovery import app_settings
from oscar_recovery.capture.visitor import VISITOR_SALT
from oscar_recovery.segments import shared

VISIT_COOKIE = "oscar_recovery_visit"
CAPS_COOKIE = "oscar_recovery_prompts"
_VISIT_SALT = "oscar_recovery.visit"
_CAPS_SALT = "oscar_recovery.prompt-caps"
_ID = re.compile(r"^[0-9a-f]{32}$")
#: Dismissals remembered per browser: enough for any shop's prompts, and the cookie stays small.
_MAX_DISMISSALS = 20


def new_visit_id() -> str:
    return uuid.uuid4().hex


def is_visit_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))


def read_visit_id(cookies: dict[str, str]) -> str | None:
    raw = cookies.get(VISIT_COOKIE)
    if not raw:
        return None
    try:
        value = signing.get_cookie_signer(salt=_VISIT_SALT).unsign(raw)
    except signing.BadSignature:
        return None
    return value if is_visit_id(value) else None


def _signed_at(raw: str | None, salt: str) -> datetime | None:
    """When a cookie value was signed: Django's cookie signer is timestamped by default."""
    if not raw:
        return None
    signer = signing.get_cookie_signer(salt=salt)
    if not isinstance(signer, signing.TimestampSigner):
        return None
    try:
        signer.unsign(raw)
        __, stamp, __ = raw.rsplit(signer.sep, 2)
        seconds = signing.b62_decode(stamp)
    except (signing.BadSignature, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def visitor_first_seen(cookies: dict[str, str]) -> datetime | None:
    """When the visitor cookie was first set; None without a valid one."""
    return _signed_at(cookies.get(app_settings.VISITOR_COOKIE_NAME), VISITOR_SALT)


@dataclass
class Caps:
    """The frequency caps one browser carries."""

    #: The visit in which an interrupting prompt was last shown.
    shown_visit: str = ""
    #: Prompt id (as a string: JSON keys) -> epoch seconds until which it stays quiet.
    dismissed: dict[str, int] = field(default_factory=dict)
    #: The visitor has placed an order.
    ordered: bool = False
    #: The visitor gave their email through a prompt.
    captured: bool = False

    def is_quiet(self, prompt_id: int, now: datetime) -> bool:
        until = self.dismissed.get(str(prompt_id))
        return until is not None and until > now.timestamp()

    def dismiss(self, prompt_id: int, days: int, now: datetime) -> None:
        # Always at least the rest of this visit, even with zero quiet days.
        until = now + max(timedelta(days=days), timedelta(hours=1))
        self.dismissed[str(prompt_id)] = int(until.timestamp())
        live = {k: v for k, v in self.dismissed.items() if v > now.timestamp()}
        newest = sorted(live.items(), key=lambda item: item[1])[-_MAX_DISMISSALS:]
        self.dismissed = dict(newest)

    def as_json(self) -> str:
        return json.dumps(
            {
                "v": self.shown_visit,
                "d": self.dismissed,
                "o": int(self.ordered),
                "e": int(self.captured),
            },
            separators=(",", ":"),
        )


def read_caps(cookies: dict[str, str]) -> Caps:
    raw = cookies.get(CAPS_COOKIE)
    if not raw:
        return Caps()
    try:
        data = json.loads(signing.get_cookie_signer(salt=_CAPS_SALT).unsign(raw))
        dismissed = {str(k): int(v) for k, v in dict(data.get("d", {})).items()}
        return Caps(
            shown_visit=str(data.get("v", "")),
            dismissed=dismissed,
            ordered=bool(data.get("o")),
            captured=bool(data.get("e")),
        )
    except (signing.BadSignature, ValueError, TypeError, AttributeError):
        return Caps()


def write_caps(request: HttpRequest, response: HttpResponseBase, caps: Caps) -> None:
    response.set_cookie(
        CAPS_COOKIE,
        signing.get_cookie_signer(salt=_CAPS_SALT).sign(caps.as_json()),
        max_age=int(app_settings.VISITOR_COOKIE_AGE.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


def write_visit(request: HttpRequest, response: HttpResponseBase, visit_id: str) -> None:
    """Name the visit in a browser-session cookie (no max-age: it ends with the browser)."""
    if read_visit_id(request.COOKIES) == visit_id:
        return
    response.set_cookie(
        VISIT_COOKIE,
        signing.get_cookie_signer(salt=_VISIT_SALT).sign(visit_id),
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


def is_returning(cookies: dict[str, str], now: datetime | None = None) -> bool:
    """Whether the visitor was first seen more than ``OSCAR_RECOVERY_PROMPTS_VISIT_GAP``
    before this visit began (the visit cookie's date, or now on a visit's first page)."""
    first_seen = visitor_first_seen(cookies)
    if first_seen is None:
        return False
    visit_started = _signed_at(cookies.get(VISIT_COOKIE), _VISIT_SALT)
    return shared.is_returning_visitor(first_seen, visit_started or now or timezone.now())


def mark_ordered(request: HttpRequest, response: HttpResponseBase) -> None:
    """The visitor placed an order: marketing prompts stop for good in this browser."""
    caps = read_caps(request.COOKIES)
    caps.ordered = True
    write_caps(request, response, caps)
