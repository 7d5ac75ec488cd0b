"""What the Meta and Google platforms share: the last check that only hashes leave the shop,
batching, and keeping credentials out of reprs and messages.

Nothing here talks to a platform or imports an SDK.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TypeVar

from .base import HashedMember, PlatformError

T = TypeVar("T")

#: A SHA-256 digest as the platforms want it: 64 lower-case hex digits.
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def require_hashed(members: Sequence[HashedMember]) -> None:
    """Raise :class:`PlatformError` (not retryable) unless every member is a
    :class:`HashedMember` whose non-empty values are SHA-256 hex digests and which has at
    least one of them.

    The last gate before a request is built: whatever a caller got wrong, an address, a
    phone number or an unhashed value never reaches an SDK (the Meta SDK would otherwise
    hash a clear value itself, and the request would carry it to Meta's servers). The
    message names the member by its key only.
    """
    for member in members:
        if not isinstance(member, HashedMember):
            raise PlatformError(
                f"Not a hashed member: {type(member).__name__}; nothing was sent.",
                retryable=False,
            )
        values = [v for v in (member.email_sha256, member.phone_sha256) if v]
        if not values:
            raise PlatformError(
                f"Member {member.key} has neither hash; nothing was sent.", retryable=False
            )
        if not all(isinstance(v, str) and SHA256_HEX.fullmatch(v) for v in values):
            raise PlatformError(
                f"Member {member.key} carries a value that is not a SHA-256 hex digest; "
                "nothing was sent.",
                retryable=False,
            )


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def redacted(value: object) -> str:
    """How a secret shows in a repr: whether it is set, never any of it."""
    return "'***'" if value else "''"


def missing_sdk(destination: str, package: str, extra: str) -> PlatformError:
    """The error a platform raises when its optional SDK is not installed."""
    return PlatformError(
        f"The {destination} audience destination needs the {package} package: "
        f"pip install 'oscar-recovery[{extra}]'.",
        retryable=False,
    )
