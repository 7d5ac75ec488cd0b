"""Signing and verifying (README "Outgoing webhooks"). Two formats, chosen per endpoint:

- Standard Webhooks (standardwebhooks.com): ``webhook-id``, ``webhook-timestamp`` and
  ``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed with the
  base64-decoded part of a ``whsec_...`` secret (:func:`standard_headers`). Receivers verify
  with the ``standardwebhooks`` package or any other implementation of the spec.
- This app's earlier ``X-Recovery-Signature: t=<unix seconds>,v1=<hex>`` header, keyed with
  the secret's characters (:func:`signature_header`), and :func:`verify_signature` for its
  receivers.

Standalone: nothing here touches the database."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from datetime import timedelta

from django.core.serializers.json import DjangoJSONEncoder

SIGNATURE_HEADER = "X-Recovery-Signature"
#: How old a signature's timestamp may be before :func:`verify_signature` refuses it.
DEFAULT_TOLERANCE = timedelta(minutes=5)


#: Standard Webhooks headers.
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
STANDARD_SECRET_PREFIX = "whsec_"
#: The smallest key the Standard Webhooks spec allows (24 bytes, 192 bits).
STANDARD_MIN_KEY_BYTES = 24


class InvalidSignature(Exception):
    pass


def _standard_key_of(secret: str) -> bytes | None:
    """The key a ``whsec_<base64>`` secret carries, or None when ``secret`` is not one
    (no prefix, or characters outside the base64 alphabet after it)."""
    if not secret.startswith(STANDARD_SECRET_PREFIX):
        return None
    encoded = secret[len(STANDARD_SECRET_PREFIX) :]
    try:
        # Unpadded base64 is accepted, as the standardwebhooks libraries accept it.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def is_standard_secret(secret: str, min_key_bytes: int = 1) -> bool:
    """Whether ``secret`` is a Standard Webhooks secret as it is (``whsec_`` + base64 of a
    key of at least ``min_key_bytes``)."""
    key = _standard_key_of(secret)
    return key is not None and len(key) >= min_key_bytes


def standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks signature: what a ``whsec_<base64>`` secret
    decodes to; any other secret (one typed in for the earlier scheme) is its own key, as
    UTF-8 bytes."""
    return _standard_key_of(secret) or secret.encode()


def standard_secret(secret: str) -> str:
    """The secret a Standard Webhooks receiver is given for an endpoint's ``secret``: the
    secret itself when it is ``whsec_`` + base64 already (every generated one is), otherwise
    ``whsec_`` followed by the base64 of the secret (the same key, :func:`standard_key`)."""
    if _standard_key_of(secret) is not None:
        return secret
    return STANDARD_SECRET_PREFIX + base64.b64encode(secret.encode()).decode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{message_id}.{timestamp}.{body}">``."""
    signed = f"{message_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def standard_headers(
    secret: str, message_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers of one request. ``message_id`` stays the same
    for every retry of one message, so receivers deduplicate on it."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        STANDARD_ID_HEADER: message_id,
        STANDARD_TIMESTAMP_HEADER: str(timestamp),
        STANDARD_SIGNATURE_HEADER: standard_signature(secret, message_id, timestamp, body),
    }


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
