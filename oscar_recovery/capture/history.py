"""Oscar's recently-viewed cookie, read in one place.

Oscar appends a product id to a JSON list each time a product page is viewed (newest last)
under ``OSCAR_RECENTLY_VIEWED_COOKIE_NAME``. The cookie comes from the browser, so anyone
can send anything in it: :func:`viewed_from_cookie` keeps only positive integer ids, once
each, and at most ``limit`` of them; whatever ids survive still name products the caller
must look up as public before showing them.
"""

from __future__ import annotations

import json

from django.conf import settings

from oscar_recovery import app_settings


def history_cookie_name() -> str:
    """The cookie Oscar keeps the recently viewed products in (read when asked, so settings
    overridden in tests apply)."""
    return getattr(settings, "OSCAR_RECENTLY_VIEWED_COOKIE_NAME", "oscar_history")


def viewed_from_cookie(cookies: dict[str, str], limit: int | None = None) -> list[int] | None:
    """Product ids in Oscar's recently-viewed cookie, most recent first, each once, at most
    ``limit`` (default ``BROWSE_VIEWED_LIMIT``); None without a usable cookie (so a
    journey's earlier copy is kept)."""
    raw = cookies.get(history_cookie_name())
    if not raw:
        return None
    try:
        ids = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(ids, list):  # crawlers send garbage; Oscar ignores it too
        return None
    clean = [pk for pk in ids if isinstance(pk, int) and not isinstance(pk, bool) and pk > 0]
    limit = app_settings.BROWSE_VIEWED_LIMIT if limit is None else limit
    # Oscar appends each view: the newest is last.
    return list(dict.fromkeys(reversed(clean)))[:limit]
