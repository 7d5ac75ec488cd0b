"""Meta Custom Audiences through Meta's official ``facebook-business`` SDK (extra ``meta``).

A customer-list Custom Audience in the configured ad account; members go in with a POST and
out with a DELETE on the audience's ``users`` edge, as SHA-256 hex digests under the
``EMAIL_SHA256`` and ``PHONE_SHA256`` schemas with ``pre_hashed`` set, so the SDK passes the
digests through untouched (it would hash clear values itself, which is why
:func:`~.guards.require_hashed` refuses anything but a digest before the SDK sees it).

Limits: at most :data:`ADD_PER_REQUEST` (10,000, Meta's documented cap) identifiers per
POST. The SDK sends a DELETE's payload in the query string, and Meta's servers drop a
request line much above a couple of hundred digests, so removals go
:data:`REMOVE_PER_REQUEST` at a time. Meta takes up to a day to apply a change.

Credentials come from ``OSCAR_RECOVERY_META`` only, and the SDK is used through an API
object of this platform's own (never ``FacebookAdsApi.init``, which would install a process
default and Meta's crash reporter). Errors are mapped to :class:`~.base.PlatformError`
without the SDK's message, which quotes the request (the access token's proof and the
digests): HTTP 5xx, 429 and Meta's throttling and transient codes are retryable; an
invalid token, a missing permission or a refused parameter are not.

An ``add`` or ``remove`` of more members than one request carries makes several requests;
when one fails, those before it stay applied, and the retry sends them again, which changes
nothing (adding a present member or removing an absent one is no error).

The module imports without the SDK; building the platform then raises a non-retryable
:class:`~.base.PlatformError` that says which extra to install.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from oscar_recovery import app_settings
from oscar_recovery.utils import get_logger

from . import config as settings_shape
from .base import HashedMember, PlatformError, RemoteAudience
from .guards import chunks, missing_sdk, redacted, require_hashed

try:
    import requests
    from facebook_business.adobjects.customaudience import CustomAudience
    from facebook_business.api import FacebookAdsApi
    from facebook_business.exceptions import FacebookError, FacebookRequestError
    from facebook_business.session import FacebookSession
except ImportError:  # the optional extra is not installed
    FacebookAdsApi = None

logger = get_logger(__name__)

T = TypeVar("T")

#: Meta's cap on identifiers in one ``users`` request.
ADD_PER_REQUEST = 10_000
#: Digests per DELETE: the SDK puts them in the URL (see the module docstring).
REMOVE_PER_REQUEST = 200
#: Schema names of the ``users`` edge for pre-hashed values.
EMAIL_SCHEMA = "EMAIL_SHA256"
PHONE_SCHEMA = "PHONE_SHA256"

# Meta error codes a retry can fix: unknown/temporary errors, application, user, page and
# ad-account throttling, and the Custom Audience rate limit.
_RETRYABLE_CODES = frozenset({1, 2, 4, 17, 32, 341, 368, 613, 80003, 80004})
# Longest name Meta accepts for an audience.
_NAME_LIMIT = 200


class MetaPlatform:
    """One ad account's customer-list Custom Audiences.

    ``graph_url`` replaces ``https://graph.facebook.com`` (the tests point it at a local
    server; a project never needs it). Secrets never show in the repr.
    """

    name = "meta"
    batch_size = ADD_PER_REQUEST

    def __init__(
        self,
        *,
        access_token: str,
        ad_account_id: str,
        app_secret: str = "",
        app_id: str = "",
        api_version: str = "",
        timeout: float = 60.0,
        graph_url: str = "",
    ) -> None:
        if FacebookAdsApi is None:
            raise missing_sdk("meta", "facebook-business", "meta")
        self.ad_account_id = settings_shape.digits(ad_account_id)
        self.api_version = api_version or FacebookAdsApi.API_VERSION
        self.timeout = timeout
        self.graph_url = graph_url.rstrip("/")
        self._access_token = str(access_token)
        self._app_secret = str(app_secret or "")
        self._app_id = str(app_id or "")
        self._api: Any = None

    def __repr__(self) -> str:
        return (
            f"MetaPlatform(ad_account_id={self.ad_account_id!r}, "
            f"access_token={redacted(self._access_token)}, "
            f"app_secret={redacted(self._app_secret)}, api_version={self.api_version!r})"
        )

    @property
    def api(self) -> Any:
        """This platform's own ``FacebookAdsApi``: its session carries the token and, with an
        app secret, the ``appsecret_proof`` Meta checks on every call."""
        if self._api is None:
            session = FacebookSession(
                app_id=self._app_id or None,
                app_secret=self._app_secret or None,
                access_token=self._access_token,
                timeout=self.timeout,
            )
            if self.graph_url:
                session.GRAPH = self.graph_url
            self._api = FacebookAdsApi(session, api_version=self.api_version)
        return self._api

    def ensure_audience(self, audience: RemoteAudience) -> str:
        """The audience's Custom Audience id, creating a customer-list audience (customer
        file source: the shop's own customers) when ``audience.external_id`` is empty."""
        if audience.external_id:
            return audience.external_id
        params = {
            "name": audience.name[:_NAME_LIMIT],
            "description": audience.description,
            "subtype": CustomAudience.Subtype.custom,
            "customer_file_source": CustomAudience.CustomerFileSource.user_provided_only,
        }
        # The API's plain call rather than AdAccount.create_custom_audience: that one parses
        # the answer itself and fails with a TypeError on a page that is not JSON.
        path = (f"act_{self.ad_account_id}", "customaudiences")
        body = _checked(self._call(lambda: self.api.call("POST", path, params=params)))
        external_id = str(body.get("id") or "")
        if not external_id:
            raise PlatformError("Meta created an audience but returned no id.", retryable=True)
        return external_id

    def add(self, external_id: str, members: Sequence[HashedMember]) -> None:
        """POST the members' digests to the audience, each schema in requests of at most
        :data:`ADD_PER_REQUEST`."""
        self._send(external_id, members, remove=False)

    def remove(self, external_id: str, members: Sequence[HashedMember]) -> None:
        """DELETE the members' digests from the audience, each schema in requests of at most
        :data:`REMOVE_PER_REQUEST`."""
        self._send(external_id, members, remove=True)

    def _send(self, external_id: str, members: Sequence[HashedMember], *, remove: bool) -> None:
        require_hashed(members)
        audience = CustomAudience(str(external_id), api=self.api)
        method = audience.remove_users if remove else audience.add_users
        size = REMOVE_PER_REQUEST if remove else ADD_PER_REQUEST
        for schema, field in ((EMAIL_SCHEMA, "email_sha256"), (PHONE_SCHEMA, "phone_sha256")):
            digests = [getattr(m, field) for m in members if getattr(m, field)]
            for chunk in chunks(digests, size):
                response = self._call(
                    lambda s=schema, c=chunk: method(s, list(c), is_raw=False, pre_hashed=True)
                )
                body = _checked(response)
                if "num_received" not in body:
                    raise PlatformError("Meta answered without a result.", retryable=True)
                # A digest Meta could not read is no error of the request: a line in the
                # log, with counts only.
                if body.get("num_invalid_entries"):
                    logger.warning(
                        "Meta rejected %s of %s %s entries",
                        body["num_invalid_entries"],
                        len(chunk),
                        schema,
                    )

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except FacebookRequestError as exc:
            raise meta_error(exc) from None
        except requests.RequestException as exc:
            # The exception's text quotes the URL, and with it the token and the digests.
            raise PlatformError(
                f"Meta could not be reached ({type(exc).__name__}).", retryable=True
            ) from None
        except FacebookError as exc:
            raise PlatformError(
                f"The Meta SDK refused the request ({type(exc).__name__}).", retryable=False
            ) from None


def _checked(response: Any) -> dict:
    """The JSON object of a response the SDK let through. The SDK takes any answer whose
    body is not JSON for a success (a 414 page from a front end, a maintenance page), so
    the status and the body are read here."""
    status = response.status()
    if isinstance(status, int) and status >= 300:
        raise PlatformError(
            f"Meta refused the request (HTTP {status}).",
            retryable=status >= 500 or status in (408, 429),
        )
    body = response.json()
    if not isinstance(body, dict):
        raise PlatformError("Meta answered without a result.", retryable=True)
    return body


def meta_error(exc: Any) -> PlatformError:
    """A :class:`PlatformError` for a ``FacebookRequestError``: retryable for HTTP 5xx and
    429, for Meta's throttling and transient codes and whatever Meta calls transient; not
    for anything else (an expired token, a missing permission, a refused parameter). The
    message carries the status, codes, type and trace id: never Meta's text or the request."""
    status = exc.http_status()
    code = exc.api_error_code()
    subcode = exc.api_error_subcode()
    retryable = bool(
        (isinstance(status, int) and (status >= 500 or status == 429))
        or code in _RETRYABLE_CODES
        or exc.api_transient_error()
    )
    body = exc.body()
    error = body.get("error") if isinstance(body, dict) else None
    trace = error.get("fbtrace_id") if isinstance(error, dict) else None
    parts = [f"HTTP {status}"]
    if code is not None:
        parts.append(f"error {code}" + (f"/{subcode}" if subcode is not None else ""))
    if exc.api_error_type():
        parts.append(str(exc.api_error_type()))
    if trace:
        parts.append(f"fbtrace_id {trace}")
    return PlatformError(f"Meta refused the request ({', '.join(parts)}).", retryable=retryable)


def platform_from_settings() -> MetaPlatform:
    """The platform ``OSCAR_RECOVERY_META`` describes; a non-retryable
    :class:`PlatformError` when it is missing or malformed or the SDK is not installed."""
    config = app_settings.META
    if not config:
        raise PlatformError("OSCAR_RECOVERY_META is not set.", retryable=False)
    problems = settings_shape.meta_problems(config)
    if problems:
        raise PlatformError(" ".join(problems), retryable=False)
    return MetaPlatform(
        access_token=str(config["access_token"]),
        ad_account_id=str(config["ad_account_id"]),
        app_secret=str(config.get("app_secret") or ""),
        app_id=str(config.get("app_id") or ""),
        api_version=str(config.get("api_version") or ""),
        timeout=float(config.get("timeout", 60)),
    )
