"""A local gRPC stand-in for the Google Ads API, enough of it for Customer Match: the
``UserListService`` (MutateUserLists) and the ``OfflineUserDataJobService`` (Create, Add
operations, Run), served on an insecure localhost port with the request and response
messages of the installed ``google-ads`` library (it ships no servicers, so the methods are
registered by hand with the messages' own (de)serialisers).

It checks each request as Google would, and more strictly where our contract says so: the
developer token, a CRM list of contact information living at most 540 days, a Customer Match
job with both consents GRANTED, no job mixing create and remove operations, at most 100,000
identifiers per request and 20 per member, identifiers that are SHA-256 hex digests of an
email or a phone only, operations never added to a job that ran. A refused request is
answered INVALID_ARGUMENT and recorded in ``violations``; scripted ``failures`` answer the
next calls instead (with a ``GoogleAdsFailure`` in the trailing metadata when given error
codes, as the real API does).

``point_client_at(monkeypatch, address)`` makes every ``GoogleAdsClient.get_service`` of the
version open an insecure channel to the fake instead of googleads.googleapis.com: the
client's own interceptors (developer token metadata, logging, error conversion) still run.
"""

from __future__ import annotations

import re
import threading
from concurrent import futures
from dataclasses import dataclass, field
from importlib import import_module

import grpc
from google.longrunning import operations_pb2

HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_IDENTIFIERS = 100_000
MAX_PER_MEMBER = 20
MAX_LIFE_SPAN = 540


def _module(version: str, path: str):
    return import_module(f"google.ads.googleads.{version}.{path}")


@dataclass
class Job:
    user_list: str
    consent: tuple[str, str]
    kinds: set[str] = field(default_factory=set)
    requests: list[int] = field(default_factory=list)  # members per Add request
    operations: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)
    ran: bool = False


@dataclass
class Failure:
    code: grpc.StatusCode
    #: ``{"quota_error": "RESOURCE_EXHAUSTED"}``: a GoogleAdsFailure with these errors.
    errors: dict[str, str] = field(default_factory=dict)
    details: str = "refused by the fake"
    #: Only a call of this method fails (empty: the next call, whichever).
    method: str = ""


@dataclass
class FakeGoogleAds:
    customer_id: str
    developer_token: str
    version: str = "v26"
    violations: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    #: user list resource name -> {"emails": set, "phones": set} after the jobs that ran.
    lists: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    created_lists: list = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    #: The metadata of each call, as the server read it.
    metadata: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = iter(range(1000, 10**9))
        jobs = _module(self.version, "services.types.offline_user_data_job_service")
        lists = _module(self.version, "services.types.user_list_service")
        search = _module(self.version, "services.types.google_ads_service")
        self._errors = _module(self.version, "errors.types.errors")
        self._enums = {
            _enum_name(category): _module(self.version, f"errors.types.{category}")
            for category in (
                "quota_error",
                "internal_error",
                "authentication_error",
                "authorization_error",
                "database_error",
                "offline_user_data_job_error",
                "user_list_error",
            )
        }

        def unary(handler, request_type, response_serializer):
            return grpc.unary_unary_rpc_method_handler(
                handler,
                request_deserializer=request_type.deserialize,
                response_serializer=response_serializer,
            )

        prefix = f"google.ads.googleads.{self.version}.services"
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    f"{prefix}.OfflineUserDataJobService",
                    {
                        "CreateOfflineUserDataJob": unary(
                            self._create_job,
                            jobs.CreateOfflineUserDataJobRequest,
                            jobs.CreateOfflineUserDataJobResponse.serialize,
                        ),
                        "AddOfflineUserDataJobOperations": unary(
                            self._add_operations,
                            jobs.AddOfflineUserDataJobOperationsRequest,
                            jobs.AddOfflineUserDataJobOperationsResponse.serialize,
                        ),
                        "RunOfflineUserDataJob": unary(
                            self._run_job,
                            jobs.RunOfflineUserDataJobRequest,
                            operations_pb2.Operation.SerializeToString,
                        ),
                    },
                ),
                grpc.method_handlers_generic_handler(
                    f"{prefix}.GoogleAdsService",
                    {
                        "Search": unary(
                            self._search,
                            search.SearchGoogleAdsRequest,
                            search.SearchGoogleAdsResponse.serialize,
                        )
                    },
                ),
                grpc.method_handlers_generic_handler(
                    f"{prefix}.UserListService",
                    {
                        "MutateUserLists": unary(
                            self._mutate_user_lists,
                            lists.MutateUserListsRequest,
                            lists.MutateUserListsResponse.serialize,
                        )
                    },
                ),
            )
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self._jobs_types = jobs
        self._lists_types = lists
        self._search_types = search
        #: user list name -> resource name, for the names Google keeps unique per account.
        self.list_names: dict[str, str] = {}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> FakeGoogleAds:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(grace=None)

    def add_list(self, resource_name: str) -> None:
        self.lists[resource_name] = {"emails": set(), "phones": set()}

    # -- what every call goes through --

    def _begin(self, context, name: str) -> None:
        self.calls.append(name)
        metadata = dict(context.invocation_metadata())
        self.metadata.append(metadata)
        if metadata.get("developer-token") != self.developer_token:
            self._refuse(context, "missing or wrong developer token")
        failure = next((f for f in self.failures if f.method in ("", name)), None)
        if failure is not None:
            self.failures.remove(failure)
            if failure.errors:
                self._abort_with_failure(context, failure)
            context.abort(failure.code, failure.details)

    def _refuse(self, context, problem: str) -> None:
        self.violations.append(problem)
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)

    def _abort_with_failure(self, context, failure: Failure) -> None:
        errors = []
        for category, name in failure.errors.items():
            enum_module = self._enums[_enum_name(category)]
            enum = getattr(getattr(enum_module, _enum_name(category)), _inner(category))
            code = self._errors.ErrorCode(**{category: getattr(enum, name)})
            # A trigger quoting a value, as Google's errors do: the platform must not repeat it.
            errors.append(
                self._errors.GoogleAdsError(
                    error_code=code,
                    message=f"{name} for a value of the request",
                    trigger={"string_value": "f" * 64},
                )
            )
        payload = self._errors.GoogleAdsFailure(errors=errors, request_id="fake-request-1")
        context.set_trailing_metadata(
            (
                (
                    f"google.ads.googleads.{self.version}.errors.googleadsfailure-bin",
                    type(payload).serialize(payload),
                ),
                ("request-id", "fake-request-1"),
            )
        )
        context.abort(failure.code, failure.details)

    # -- UserListService --

    def _mutate_user_lists(self, request, context):
        with self._lock:
            self._begin(context, "MutateUserLists")
            if request.customer_id != self.customer_id:
                self._refuse(context, "another customer id")
            if len(request.operations) != 1 or "create" not in request.operations[0]:
                self._refuse(context, "not one create operation")
            user_list = request.operations[0].create
            crm = user_list.crm_based_user_list
            if crm.upload_key_type.name != "CONTACT_INFO":
                self._refuse(context, "not a contact-information list")
            if not 1 <= user_list.membership_life_span <= MAX_LIFE_SPAN:
                self._refuse(context, f"membership_life_span {user_list.membership_life_span}")
            if not user_list.name:
                self._refuse(context, "no name")
            if user_list.name in self.list_names:
                self._abort_with_failure(
                    context,
                    Failure(
                        grpc.StatusCode.INVALID_ARGUMENT, {"user_list_error": "NAME_ALREADY_USED"}
                    ),
                )
            self.created_lists.append(user_list)
            name = f"customers/{self.customer_id}/userLists/{next(self._ids)}"
            self.add_list(name)
            self.list_names[user_list.name] = name
            response = self._lists_types.MutateUserListsResponse()
            response.results.append(self._lists_types.MutateUserListResult(resource_name=name))
            return response

    # -- GoogleAdsService: only the query for a user list by name --

    def _search(self, request, context):
        with self._lock:
            self._begin(context, "Search")
            match = re.fullmatch(
                r"SELECT user_list\.resource_name FROM user_list "
                r"WHERE user_list\.name = '((?:[^'\\]|\\.)*)' AND user_list\.type = 'CRM_BASED'",
                request.query,
            )
            if request.customer_id != self.customer_id or match is None:
                self._refuse(context, f"query {request.query!r}")
            name = re.sub(r"\\(.)", r"\1", match.group(1))
            response = self._search_types.SearchGoogleAdsResponse()
            if name in self.list_names:
                row = self._search_types.GoogleAdsRow()
                row.user_list.resource_name = self.list_names[name]
                response.results.append(row)
            return response

    # -- OfflineUserDataJobService --

    def _create_job(self, request, context):
        with self._lock:
            self._begin(context, "CreateOfflineUserDataJob")
            if request.customer_id != self.customer_id:
                self._refuse(context, "another customer id")
            job = request.job
            if job.type_.name != "CUSTOMER_MATCH_USER_LIST":
                self._refuse(context, f"job type {job.type_.name}")
            metadata = job.customer_match_user_list_metadata
            if metadata.user_list not in self.lists:
                self._refuse(context, "job for an unknown user list")
            consent = (metadata.consent.ad_user_data.name, metadata.consent.ad_personalization.name)
            if consent != ("GRANTED", "GRANTED"):
                self._refuse(context, f"consent {consent}")
            name = f"customers/{self.customer_id}/offlineUserDataJobs/{next(self._ids)}"
            self.jobs[name] = Job(metadata.user_list, consent)
            return self._jobs_types.CreateOfflineUserDataJobResponse(resource_name=name)

    def _add_operations(self, request, context):
        with self._lock:
            self._begin(context, "AddOfflineUserDataJobOperations")
            job = self.jobs.get(request.resource_name)
            if job is None:
                self._refuse(context, "operations for an unknown job")
            if job.ran:
                self._refuse(context, "operations added to a job that ran")
            if not request.operations:
                self._refuse(context, "no operations")
            identifiers = 0
            pending = []
            for operation in request.operations:
                kind = type(operation).pb(operation).WhichOneof("operation")
                job.kinds.add(kind)
                if kind == "remove_all":
                    self._refuse(context, "remove_all")
                user_data = getattr(operation, kind)
                if len(user_data.user_identifiers) > MAX_PER_MEMBER:
                    self._refuse(context, "more than 20 identifiers for a member")
                emails, phones = [], []
                for identifier in user_data.user_identifiers:
                    which = type(identifier).pb(identifier).WhichOneof("identifier")
                    value = getattr(identifier, which) if which else ""
                    if which not in ("hashed_email", "hashed_phone_number"):
                        self._refuse(context, f"identifier {which}")
                    if not HEX64.fullmatch(value):
                        self._refuse(context, "a value that is not a SHA-256 hex digest")
                    (emails if which == "hashed_email" else phones).append(value)
                identifiers += len(user_data.user_identifiers)
                pending.append((kind, tuple(emails), tuple(phones)))
            if len(job.kinds) > 1:
                self._refuse(context, f"a job mixing {sorted(job.kinds)}")
            if identifiers > MAX_IDENTIFIERS:
                self._refuse(context, f"{identifiers} identifiers in one request")
            job.requests.append(len(request.operations))
            job.operations.extend(pending)
            return self._jobs_types.AddOfflineUserDataJobOperationsResponse()

    def _run_job(self, request, context):
        with self._lock:
            self._begin(context, "RunOfflineUserDataJob")
            job = self.jobs.get(request.resource_name)
            if job is None or job.ran or not job.operations:
                self._refuse(context, "run of an unknown, empty or finished job")
            job.ran = True
            members = self.lists[job.user_list]
            for kind, emails, phones in job.operations:
                for key, values in (("emails", emails), ("phones", phones)):
                    if kind == "create":
                        members[key].update(values)
                    else:
                        members[key].difference_update(values)
            return operations_pb2.Operation(name=f"{request.resource_name}/operations/1")


def _inner(category: str) -> str:
    """``quota_error`` -> ``QuotaError``; the enum is ``QuotaErrorEnum.QuotaError``."""
    return "".join(part.title() for part in category.split("_"))


def _enum_name(category: str) -> str:
    return _inner(category) + "Enum"


def point_client_at(monkeypatch, address: str, version: str = "v26") -> list[grpc.Channel]:
    """Make the google-ads services of ``version`` talk to ``address`` over an insecure
    channel; returns the channels opened, for closing."""
    opened: list[grpc.Channel] = []

    def create_channel(*args, **kwargs):
        channel = grpc.insecure_channel(address)
        opened.append(channel)
        return channel

    for service, transport in (
        ("offline_user_data_job_service", "OfflineUserDataJobServiceGrpcTransport"),
        ("user_list_service", "UserListServiceGrpcTransport"),
        ("google_ads_service", "GoogleAdsServiceGrpcTransport"),
    ):
        module = _module(version, f"services.services.{service}.transports.grpc")
        monkeypatch.setattr(getattr(module, transport), "create_channel", create_channel)
    return opened
