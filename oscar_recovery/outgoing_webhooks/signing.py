"""Signing and verifying: the ``X-Recovery-Signature`` header every delivery carries, and
:func:`verify_signature` for receivers (README "Outgoing webhooks"). Standalone: nothing
here touches the database."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

from django.core.serializers.json import DjangoJSONEncoder

SIGNATURE_HEADER = "X-Recovery-Signature"
#: How old a signature's timestamp may be before :func:`verify_signature` refuses it.
DEFAULT_TOLERANCE = timedelta(minutes=5)


class InvalidSignature(Exception):
    pass


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body`` keyed with the endpoint's secret."""
    signed = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Recovery-Signature`` value: ``t=<unix seconds>,v1=<hex signature>``."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={timestamp},v1={compute_signature(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a received request: ``body`` is the raw request body (bytes, exactly as
    received), ``header`` the ``X-Recovery-Signature`` value. Returns the signed timestamp,
    or raises :class:`InvalidSignature` when the header is malformed, the signature does not
    match, or the timestamp is further than ``tolerance`` from now (a replayed request).
    Standalone on purpose: receivers can copy this function without installing the app."""
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise InvalidSignature("no timestamp in the signature header") from exc
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance.total_seconds():
        raise InvalidSignature("the signature's timestamp is outside the tolerance")
    expected = compute_signature(secret, timestamp, body)
    # Several v1 values may be present while a secret is being rotated.
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise InvalidSignature("the signature does not match")
    return timestamp


def encode_body(payload: dict) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
