"""Small helpers shared across the app."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.core.exceptions import EmptyResultSet
from django.db import connection, connections

F = TypeVar("F", bound=Callable[..., Any])

#: Characters that show as nothing (soft hyphen, zero-width and bidi controls, variation
#: selectors): an address spelled with them still reaches its mailbox, so it is still one.
_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff"
)
#: What an email address looks like inside free text (an ESP's error, a traceback), in any
#: spelling: full-width at signs and dots included (full-width letters are ``\w``).
_EMAIL_IN_TEXT = re.compile(
    rf"[\w.!#$%&'*+/=?^`{{|}}~{_INVISIBLE}-]+[@\uff20\ufe6b]"
    rf"[\w{_INVISIBLE}-]+(?:[.\uff0e\u3002\uff61][\w{_INVISIBLE}-]+)+"
)
REDACTED_EMAIL = "<email>"


def mask_email(email: str) -> str:
    """An address as a page may show it to whoever holds a link: the first character of the
    local part, then ``***``, then the domain (``j***@example.com``); ``""`` for no address."""
    local, at, domain = (email or "").strip().rpartition("@")
    if not at or not local:
        return ""
    return f"{local[0]}***@{domain}"


def redact(text: str) -> str:
    """``text`` with every email address replaced by ``<email>``."""
    return _EMAIL_IN_TEXT.sub(REDACTED_EMAIL, text)


def redact_url(url: str) -> str:
    """A URL as logs may show it: scheme, host and port, with ``/…`` for whatever path,
    query or fragment followed (``https://hooks.example.com/…``). Chat and automation
    webhooks carry their credential in the path; the host is what tells endpoints apart."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # what a log line shows must never raise
        port = None
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    more = parts.path.strip("/") or parts.query or parts.fragment
    return origin + "/…" if more else origin


#: A URL inside free text (an error message), up to a space or quote.
_URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


def redact_urls(text: str) -> str:
    """``text`` with every URL in it in :func:`redact_url`'s form (credentials, path and
    query gone)."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group()), text)


def redact_url_in(text: str, url: str) -> str:
    """``text`` (an HTTP client's error) without ``url``'s path and query: the full URL
    becomes :func:`redact_url`'s form, and the path with its query (as connection errors
    quote it, ``... with url: /path?query``) becomes ``/…``."""
    text = text.replace(url, redact_url(url))
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if target.strip("/"):
        text = text.replace(target, "/…")
    return text


class PersonalDataFilter(logging.Filter):
    """Keeps email addresses out of our log records: ESP errors, SMTP refusals and
    tracebacks quote the recipient, and logs are kept and shipped far longer and further
    than the retention window allows. Redacts the message and the formatted traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _EMAIL_IN_TEXT.search(message):
            record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if _EMAIL_IN_TEXT.search(text):
                # Handlers that read exc_info themselves must not see the original.
                record.exc_info, record.exc_text = None, redact(text)
        return True


_FILTER = PersonalDataFilter()


def get_logger(name: str) -> logging.Logger:
    """A logger of this app, with personal data filtered out of what it records."""
    log = logging.getLogger(name)
    if _FILTER not in log.filters:
        log.addFilter(_FILTER)
    return log


logger = get_logger("oscar_recovery")


def never_raises(func: F) -> F:
    """Failures are logged, never raised into the shop's request or an ESP's webhook."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception:
            logger.exception("oscar_recovery: %s failed", func.__name__)
            return None

    return wrapper  # type: ignore[return-value]


def try_advisory_lock(key: int) -> bool:
    """Take PostgreSQL's transaction-level advisory lock ``key`` if no other session holds
    it (released at the end of the transaction): for work that two sweeps must not do at
    once and that the next sweep can simply pick up. True elsewhere (SQLite serialises
    writing transactions itself)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
        return bool(cursor.fetchone()[0])


def skip_locked(queryset, **kwargs):
    """Lock the rows a worker claims, skipping those another worker holds (PostgreSQL).
    SQLite has no row locks; there the database serialises writing transactions."""
    from django.db import connections

    if connections[queryset.db].features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, **kwargs)
    return queryset


def insert_head(model, fields: Sequence[str]) -> str:
    """``INSERT INTO <model's table> (<the fields' columns>)``, quoted for the backend."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    return f"INSERT INTO {quote(model._meta.db_table)} ({names})"


def returning_columns(model, returning: Sequence[str]) -> str:
    """The columns of the fields ``returning``, quoted, for a ``RETURNING`` clause."""
    quote = connection.ops.quote_name
    return ", ".join(quote(model._meta.get_field(name).column) for name in returning)


def insert_select(
    model, fields: Sequence[str], rows, returning: Sequence[str] = ("id",)
) -> list[tuple]:
    """``INSERT INTO <model's table> (fields) SELECT .. ON CONFLICT DO NOTHING RETURNING ..``
    with the SELECT of the queryset ``rows`` (a ``values_list`` giving ``fields`` in order):
    set-based, one statement, on PostgreSQL and SQLite alike. A row that would break a
    unique constraint is left out, which makes the statement safe to race. Returns the
    ``returning`` columns of the rows inserted."""
    head = insert_head(model, fields)
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (``pk__in=[]``)
        return []
    # SQLite reads "ON" after a bare SELECT as a join's: the outer WHERE settles it.
    statement = (
        f"{head} SELECT * FROM ({sql}) AS rows WHERE 1 = 1 "
        f"ON CONFLICT DO NOTHING RETURNING {returning_columns(model, returning)}"
    )
    with connections[rows.db].cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def percentile(*parts: object) -> int:
    """A stable number in 0..99 for the given key: the same journey always lands in the same
    holdout group and A/B variant, across processes and restarts (unlike ``hash()``)."""
    key = ":".join(str(part) for part in parts)
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100


class BatchMemo:
    """Answers worked out once per block of work, such as one send batch: its emails ask
    the same questions about the same products again and again. Outside a block nothing is
    kept (:meth:`get` computes each time); inside, nothing is refreshed, so a block must be
    over in seconds. Per thread and task (a context variable), so concurrent batches never
    share answers."""

    def __init__(self, name: str) -> None:
        self._memo: ContextVar[dict | None] = ContextVar(name, default=None)

    @contextmanager
    def active(self, **initial: Any) -> Iterator[dict]:
        """Keep answers within the block; ``initial`` entries are there from the start."""
        token = self._memo.set(dict(initial))
        try:
            yield self._memo.get()
        finally:
            self._memo.reset(token)

    def current(self) -> dict | None:
        """The block's memo, or None outside one."""
        return self._memo.get()

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()``'s answer for ``key``, computed once per block."""
        memo = self._memo.get()
        if memo is None:
            return compute()
        if key not in memo:
            memo[key] = compute()
        return memo[key]
