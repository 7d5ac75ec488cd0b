"""A platform that records every call instead of sending it: tests and dry runs.

Select it per destination with ``OSCAR_RECOVERY_AUDIENCE_PLATFORM_MODULES = {"meta": "fake",
"google": "fake"}``. Every instance shares :data:`CALLS` (cleared with :func:`reset`), and
:func:`fail_next` makes the next calls raise :class:`PlatformError`, so the sync's retries and
back-off can be tested without a network.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings

from .base import HashedMember, PlatformError, RemoteAudience

#: Every call made to a fake platform, in order.
CALLS: list[Call] = []
#: Errors the next calls raise, first in first out.
_FAILURES: list[PlatformError] = []
_ids = itertools.count(1)


@dataclass(frozen=True)
class Call:
    #: ``"ensure"``, ``"add"`` or ``"remove"``.
    kind: str
    external_id: str
    members: tuple[HashedMember, ...] = field(default=())


def reset() -> None:
    """Forget every recorded call and pending failure."""
    CALLS.clear()
    _FAILURES.clear()


def fail_next(count: int = 1, *, retryable: bool = True, message: str = "fake failure") -> None:
    """Make the next ``count`` calls (of any kind) raise :class:`PlatformError`."""
    _FAILURES.extend(PlatformError(message, retryable=retryable) for _ in range(count))


class FakePlatform:
    """Records calls in :data:`CALLS`; ``batch_size`` from
    ``OSCAR_RECOVERY_AUDIENCE_FAKE_BATCH_SIZE`` (default 10,000, Meta's limit)."""

    name = "fake"

    def __init__(self, batch_size: int = 10_000) -> None:
        self.batch_size = batch_size

    def _maybe_fail(self) -> None:
        if _FAILURES:
            raise _FAILURES.pop(0)

    def ensure_audience(self, audience: RemoteAudience) -> str:
        self._maybe_fail()
        external_id = (
            audience.external_id or f"fake-{audience.destination}-{audience.pk}-{next(_ids)}"
        )
        CALLS.append(Call("ensure", external_id))
        return external_id

    def add(self, external_id: str, members: Sequence[HashedMember]) -> None:
        self._check(members)
        self._maybe_fail()
        CALLS.append(Call("add", external_id, tuple(members)))

    def remove(self, external_id: str, members: Sequence[HashedMember]) -> None:
        self._check(members)
        self._maybe_fail()
        CALLS.append(Call("remove", external_id, tuple(members)))

    def _check(self, members: Sequence[HashedMember]) -> None:
        # The fake enforces the seam's contract so a sync bug fails the tests loudly.
        if len(members) > self.batch_size:
            raise AssertionError(
                f"{len(members)} members in one call, batch size {self.batch_size}"
            )
        for member in members:
            if not isinstance(member, HashedMember):
                raise AssertionError(f"not a HashedMember: {type(member).__name__}")


def platform_from_settings() -> FakePlatform:
    """A fake platform with the configured batch size."""
    return FakePlatform(int(getattr(settings, "OSCAR_RECOVERY_AUDIENCE_FAKE_BATCH_SIZE", 10_000)))
