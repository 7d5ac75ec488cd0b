"""Google Customer Match through Google's official ``google-ads`` library (extra ``google``).

:meth:`GooglePlatform.ensure_audience` creates a CRM-based user list (contact information,
first-party data) whose membership lasts the audience's ``ttl_days``, at most
:data:`MAX_LIFE_SPAN` (540 days, Google's cap since 2025: the sync re-adds members before
then). Each :meth:`~GooglePlatform.add` or :meth:`~GooglePlatform.remove` call is one
``OfflineUserDataJob`` of one kind (Google refuses a job that mixes create and remove
operations): the job is created for the list with ``ad_user_data`` and
``ad_personalization`` consent GRANTED (the sync only sends people who gave their ads
consent), its operations are added in requests of at most :data:`REQUEST_MEMBERS` members
(Google's recommended size; at most two identifiers each, far below its cap of
:data:`MAX_IDENTIFIERS` identifiers per request) and the job is run. Google applies a job
within hours; a call that fails before the run leaves a job that is never run, so a retry
starts a new one and nothing is applied twice or half.

Credentials come from ``OSCAR_RECOVERY_GOOGLE_ADS`` only; errors are mapped to
:class:`~.base.PlatformError` with status and error code names only (Google's messages can
quote the offending value): quota, internal, unavailable and deadline errors and concurrent
modifications are retryable, authentication, authorization and invalid requests are not.

The module imports without the library; building the platform then raises a non-retryable
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
    import grpc
    from google.ads.googleads.client import GoogleAdsClient
    from google.ads.googleads.errors import GoogleAdsException
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions
except ImportError:  # the optional extra is not installed
    GoogleAdsClient = None

logger = get_logger(__name__)

T = TypeVar("T")

#: Longest membership Google accepts for a Customer Match list, in days.
MAX_LIFE_SPAN = 540
#: Members in one ``AddOfflineUserDataJobOperations`` request.
REQUEST_MEMBERS = 10_000
#: Google's cap on user identifiers in one ``AddOfflineUserDataJobOperations`` request.
MAX_IDENTIFIERS = 100_000
#: Members in one job (one ``add`` or ``remove`` call): fewer, larger jobs, since Google
#: processes a list's jobs one after another.
JOB_MEMBERS = 100_000

# Status codes a retry can fix.
_RETRYABLE_STATUS = frozenset(
    {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "INTERNAL", "ABORTED", "UNKNOWN"}
)
# Google Ads error codes a retry can fix, whatever the status.
_RETRYABLE_ERRORS = frozenset(
    {
        "quota_error",
        "internal_error",
        "database_error.CONCURRENT_MODIFICATION",
        "offline_user_data_job_error.CONCURRENT_MODIFICATION",
    }
)
# Longest name Google accepts for a user list.
_NAME_LIMIT = 255


class GooglePlatform:
    """Customer Match lists of one Google Ads customer (``customer_id``), through a
    ``GoogleAdsClient``. Secrets never show in the repr."""

    name = "google"
    batch_size = JOB_MEMBERS

    def __init__(self, *, client: Any, customer_id: str, timeout: float = 60.0) -> None:
        if GoogleAdsClient is None:
            raise missing_sdk("google", "google-ads", "google")
        self.client = client
        self.customer_id = settings_shape.digits(customer_id)
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GooglePlatform:
        """A platform for an ``OSCAR_RECOVERY_GOOGLE_ADS``-shaped dict: the keys of the
        google-ads configuration go to ``GoogleAdsClient.load_from_dict``, which refreshes
        the OAuth credentials (one call to Google's OAuth server)."""
        if GoogleAdsClient is None:
            raise missing_sdk("google", "google-ads", "google")
        client_config = {k: v for k, v in config.items() if k not in settings_shape.GOOGLE_OWN_KEYS}
        # This module reads responses as proto-plus messages.
        client_config["use_proto_plus"] = True
        # The library wants manager ids without the dashes Google's interface shows.
        for key in ("login_customer_id", "linked_customer_id"):
            if client_config.get(key):
                client_config[key] = settings_shape.digits(client_config[key])
        try:
            # Refreshes the OAuth credentials at once: a refused grant or an unreachable
            # OAuth server shows here.
            client = GoogleAdsClient.load_from_dict(
                client_config, version=config.get("api_version") or None
            )
        except auth_exceptions.GoogleAuthError as exc:
            mapped = google_error(exc)
            if mapped is None:
                mapped = PlatformError(
                    f"Google refused the credentials ({type(exc).__name__}).", retryable=False
                )
            raise mapped from None
        except (ValueError, TypeError, KeyError) as exc:
            # The library's messages may quote configuration values: the type only.
            raise PlatformError(
                f"OSCAR_RECOVERY_GOOGLE_ADS cannot configure the Google Ads client "
                f"({type(exc).__name__}).",
                retryable=False,
            ) from None
        return cls(
            client=client,
            customer_id=str(config["customer_id"]),
            timeout=float(config.get("timeout", 60)),
        )

    def __repr__(self) -> str:
        return (
            f"GooglePlatform(customer_id={self.customer_id!r}, "
            f"developer_token={redacted(getattr(self.client, 'developer_token', ''))})"
        )

    def ensure_audience(self, audience: RemoteAudience) -> str:
        """The user list's resource name (``customers/<id>/userLists/<id>``), creating a
        CRM-based list of contact information when ``audience.external_id`` is empty."""
        if audience.external_id:
            return audience.external_id
        client = self.client
        operation = client.get_type("UserListOperation")
        user_list = operation.create
        user_list.name = audience.name[:_NAME_LIMIT]
        user_list.description = audience.description
        user_list.membership_status = client.enums.UserListMembershipStatusEnum.OPEN
        user_list.membership_life_span = max(1, min(int(audience.ttl_days), MAX_LIFE_SPAN))
        crm = user_list.crm_based_user_list
        crm.upload_key_type = client.enums.CustomerMatchUploadKeyTypeEnum.CONTACT_INFO
        crm.data_source_type = client.enums.UserListCrmDataSourceTypeEnum.FIRST_PARTY
        service = client.get_service("UserListService")
        try:
            response = service.mutate_user_lists(
                customer_id=self.customer_id, operations=[operation], timeout=self.timeout
            )
        except GoogleAdsException as exc:
            # Names are unique in an account: the list exists when an earlier call created
            # it and its answer was lost (or the id was never stored). Take that list
            # rather than fail for good, so a retry never needs a person.
            if "user_list_error.NAME_ALREADY_USED" in _error_codes(exc.failure):
                existing = self._find_list(user_list.name)
                if existing:
                    return existing
            raise google_error(exc) from None
        except Exception as exc:
            mapped = google_error(exc)
            if mapped is None:
                raise
            raise mapped from None
        if not response.results or not response.results[0].resource_name:
            raise PlatformError("Google created a user list but returned no name.")
        return response.results[0].resource_name

    def _find_list(self, name: str) -> str:
        """The resource name of this account's CRM-based user list called ``name``, or
        empty."""
        literal = name.replace("\\", "\\\\").replace("'", "\\'")
        query = (
            "SELECT user_list.resource_name FROM user_list "
            f"WHERE user_list.name = '{literal}' AND user_list.type = 'CRM_BASED'"
        )
        service = self.client.get_service("GoogleAdsService")
        rows = self._call(
            lambda: list(
                service.search(customer_id=self.customer_id, query=query, timeout=self.timeout)
            )
        )
        return rows[0].user_list.resource_name if rows else ""

    def add(self, external_id: str, members: Sequence[HashedMember]) -> None:
        """One job of create operations for the members, run."""
        self._run_job(external_id, members, remove=False)

    def remove(self, external_id: str, members: Sequence[HashedMember]) -> None:
        """One job of remove operations for the members, run."""
        self._run_job(external_id, members, remove=True)

    def _run_job(self, user_list: str, members: Sequence[HashedMember], *, remove: bool) -> None:
        require_hashed(members)
        if not members:
            return
        client = self.client
        service = client.get_service("OfflineUserDataJobService")
        job = client.get_type("OfflineUserDataJob")
        job.type_ = client.enums.OfflineUserDataJobTypeEnum.CUSTOMER_MATCH_USER_LIST
        metadata = job.customer_match_user_list_metadata
        metadata.user_list = user_list
        granted = client.enums.ConsentStatusEnum.GRANTED
        metadata.consent.ad_user_data = granted
        metadata.consent.ad_personalization = granted
        created = self._call(
            lambda: service.create_offline_user_data_job(
                customer_id=self.customer_id, job=job, timeout=self.timeout
            )
        )
        job_name = created.resource_name
        for chunk in chunks(members, REQUEST_MEMBERS):
            operations = [self._operation(member, remove) for member in chunk]
            self._call(
                lambda ops=operations: service.add_offline_user_data_job_operations(
                    request={
                        "resource_name": job_name,
                        "operations": ops,
                        "enable_partial_failure": False,
                    },
                    timeout=self.timeout,
                )
            )
        self._call(
            lambda: service.run_offline_user_data_job(resource_name=job_name, timeout=self.timeout)
        )
        logger.info(
            "Google Customer Match job %s: %s %s members",
            job_name,
            "removing" if remove else "adding",
            len(members),
        )

    def _operation(self, member: HashedMember, remove: bool) -> Any:
        user_data = self.client.get_type("UserData")
        for field, value in (
            ("hashed_email", member.email_sha256),
            ("hashed_phone_number", member.phone_sha256),
        ):
            if value:
                identifier = self.client.get_type("UserIdentifier")
                setattr(identifier, field, value)
                user_data.user_identifiers.append(identifier)
        operation = self.client.get_type("OfflineUserDataJobOperation")
        if remove:
            operation.remove = user_data
        else:
            operation.create = user_data
        return operation

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as exc:
            mapped = google_error(exc)
            if mapped is None:
                raise
            raise mapped from None


def _status_name(exc: BaseException) -> str:
    if isinstance(exc, GoogleAdsException):
        code = exc.error.code()
    elif isinstance(exc, api_exceptions.GoogleAPICallError):
        code = exc.grpc_status_code
    else:
        code = exc.code()
    return getattr(code, "name", "UNKNOWN")


def _error_codes(failure: Any) -> list[str]:
    """``category.NAME`` of each error in a ``GoogleAdsFailure`` (no message, no trigger)."""
    names = []
    for error in getattr(failure, "errors", ()):
        error_code = error.error_code
        message = getattr(type(error_code), "pb", None)
        message = message(error_code) if message else error_code
        for field, value in message.ListFields():
            enum = field.enum_type
            value_name = enum.values_by_number[value].name if enum else str(value)
            names.append(f"{field.name}.{value_name}")
    return names


def google_error(exc: BaseException) -> PlatformError | None:
    """A :class:`PlatformError` for an exception of the Google Ads library, gRPC or Google
    auth; None for anything else (a bug here, raised as it is)."""
    if GoogleAdsClient is None:
        return None
    if isinstance(exc, auth_exceptions.RefreshError):
        # A revoked or mistyped refresh token, a service account without access.
        return PlatformError("Google refused the OAuth credentials.", retryable=False)
    if isinstance(exc, auth_exceptions.TransportError):
        return PlatformError("Google's OAuth server could not be reached.", retryable=True)
    if not isinstance(exc, GoogleAdsException | api_exceptions.GoogleAPICallError | grpc.RpcError):
        return None
    status = _status_name(exc)
    codes = _error_codes(exc.failure) if isinstance(exc, GoogleAdsException) else []
    retryable = status in _RETRYABLE_STATUS or any(
        code.split(".")[0] in _RETRYABLE_ERRORS or code in _RETRYABLE_ERRORS for code in codes
    )
    details = ""
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "details"):
        details = str(exc.details() or "")
    elif isinstance(exc, api_exceptions.GoogleAPICallError):
        details = str(exc.message or "")
    if status == "UNAVAILABLE" and "invalid_grant" in details:
        # gRPC reports a failed token refresh as UNAVAILABLE; a refused grant stays refused.
        retryable = False
        codes.append("oauth.invalid_grant")
    parts = [status, *codes]
    request_id = getattr(exc, "request_id", None)
    if request_id:
        parts.append(f"request id {request_id}")
    return PlatformError(
        f"Google Ads refused the request ({'; '.join(parts)}).", retryable=retryable
    )


def platform_from_settings() -> GooglePlatform:
    """The platform ``OSCAR_RECOVERY_GOOGLE_ADS`` describes; a non-retryable
    :class:`PlatformError` when it is missing or malformed or the library is not installed."""
    config = app_settings.GOOGLE_ADS
    if not config:
        raise PlatformError("OSCAR_RECOVERY_GOOGLE_ADS is not set.", retryable=False)
    problems = settings_shape.google_problems(config)
    if problems:
        raise PlatformError(" ".join(problems), retryable=False)
    return GooglePlatform.from_config(config)
