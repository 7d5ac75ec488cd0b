"""The seam between the audience sync and an advertising platform.

The sync (:mod:`oscar_recovery.audiences.sync`) decides *who* goes in or out; a platform
module only says *how* to tell one platform. Each platform lives in
``oscar_recovery.audiences.platforms.<name>`` and exposes ``platform_from_settings()``, which
returns an object satisfying :class:`Platform` (credentials read from Django settings, never
from the database or the admin).

Contract every platform keeps:

* Only :class:`HashedMember` values are passed in: SHA-256 hex digests of canonical addresses,
  never an address. A platform must not try to recover or log anything else.
* :meth:`Platform.add` and :meth:`Platform.remove` are each **one job of one kind**: the sync
  never mixes additions and removals in a call (Google's ``OfflineUserDataJob`` refuses mixed
  jobs), and never passes more than :attr:`Platform.batch_size` members to one call.
* A call either succeeds as a whole or raises :class:`PlatformError`; ``retryable=False``
  means retrying the same request cannot help (bad credentials, a deleted list), and the
  audience is then held until staff fix it rather than retried with back-off.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from oscar_recovery import app_settings

#: The platforms an audience may sync to, by module name.
PLATFORM_NAMES = ("meta", "google")


@dataclass(frozen=True)
class HashedMember:
    """What leaves the shop: hashes only, never an address.

    ``key`` is the stable id of the member in our table (``str`` of the ``AudienceMember``
    primary key), for platforms that report per-member results. Either hash may be empty,
    never both.
    """

    key: str
    #: SHA-256 hex of the canonical address (trimmed, lower-cased; see ``contacts.addresses``).
    email_sha256: str = ""
    #: SHA-256 hex of the E.164 phone number.
    phone_sha256: str = ""


class PlatformError(Exception):
    """A platform refused or failed a request.

    ``retryable`` is true for transient failures (network, rate limit, 5xx): the sync retries
    the audience later with exponential back-off. False for failures a retry cannot fix.
    """

    retryable: bool = True

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class RemoteAudience:
    """What a platform is told about an audience: one destination's view of it.

    ``external_id`` is this destination's id for the list, empty until
    :meth:`Platform.ensure_audience` has created it; ``ttl_days`` is how long a member stays
    in the list after its last upload (at most 540, Google's cap).
    """

    pk: int
    name: str
    destination: str
    external_id: str = ""
    ttl_days: int = 540
    description: str = ""


@runtime_checkable
class Platform(Protocol):
    """One advertising platform's list API, as the sync uses it."""

    #: ``"meta"`` or ``"google"`` (``"fake"`` in tests).
    name: str
    #: The most members one :meth:`add` or :meth:`remove` call may carry.
    batch_size: int

    def ensure_audience(self, audience: RemoteAudience) -> str:
        """The platform's id for ``audience``'s list, creating the list when
        ``audience.external_id`` is empty; returns ``audience.external_id`` unchanged when
        it is set. The sync stores the returned id on the audience."""

    def add(self, external_id: str, members: Sequence[HashedMember]) -> None:
        """Add ``members`` to the list (one job of additions only). Adding a member already
        in the list refreshes it (this is how membership expiry is pushed back)."""

    def remove(self, external_id: str, members: Sequence[HashedMember]) -> None:
        """Remove ``members`` from the list (one job of removals only). Removing someone not
        in the list is not an error."""


def get_platform(name: str) -> Platform:
    """The configured platform for destination ``name``: imports
    ``oscar_recovery.audiences.platforms.<module>`` and calls its ``platform_from_settings()``,
    where ``<module>`` is ``name`` unless ``OSCAR_RECOVERY_AUDIENCE_PLATFORM_MODULES`` maps it
    to another module (``{"meta": "fake", "google": "fake"}`` in tests and dry runs).

    Raises :class:`PlatformError` (not retryable) for an unknown name or a missing SDK, so a
    misconfigured destination shows as an audience error instead of crashing the sync.
    """
    module_name = app_settings.AUDIENCE_PLATFORM_MODULES.get(name, name)
    if not module_name.isidentifier() or module_name == "base":
        raise PlatformError(f"Unknown audience platform {name!r}.", retryable=False)
    try:
        module = importlib.import_module(f"{__name__.rsplit('.', 1)[0]}.{module_name}")
    except ImportError as exc:
        raise PlatformError(
            f"Audience platform {name!r} cannot be loaded: {exc}", retryable=False
        ) from exc
    factory = getattr(module, "platform_from_settings", None)
    if factory is None:
        raise PlatformError(
            f"Audience platform {name!r} has no platform_from_settings().", retryable=False
        )
    return factory()
