"""The Google platform drives the real ``google-ads`` client against a local fake gRPC server
(tests/support/fake_google_ads.py) that checks each request as Google would: one kind of
operation per job, identifiers per request within the cap, consent GRANTED on the job,
digests only. The client is pointed at the fake by replacing its transports'
``create_channel`` with an insecure channel to the fake (``point_client_at``); the client's
own interceptors still add the developer token and convert errors."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import pytest
from django.test import override_settings

from oscar_recovery.audiences.platforms import google
from oscar_recovery.audiences.platforms.base import (
    HashedMember,
    PlatformError,
    RemoteAudience,
    get_platform,
)
from tests.support.sdk import require

require("google.ads.googleads", "google")

import grpc  # noqa: E402 (after the SDK check)

from tests.support.fake_google_ads import Failure, FakeGoogleAds, point_client_at  # noqa: E402

DEVELOPER_TOKEN = "dev-token-secret"
CONFIG = {
    "developer_token": DEVELOPER_TOKEN,
    "client_id": "1234.apps.googleusercontent.com",
    "client_secret": "client-secret-value",
    "refresh_token": "refresh-token-value",
    "login_customer_id": "111-222-3333",
    "customer_id": "123-456-7890",
}
SECRETS = (DEVELOPER_TOKEN, "client-secret-value", "refresh-token-value")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def members(count: int, *, start: int = 0) -> list[HashedMember]:
    """Members with an email digest; every third also a phone digest, every fifth only one."""
    out = []
    for i in range(start, start + count):
        email = "" if i % 5 == 4 else sha(f"shopper{i}@example.com")
        phone = sha(f"+4477009{i:05d}") if i % 3 == 0 or not email else ""
        out.append(HashedMember(key=str(i), email_sha256=email, phone_sha256=phone))
    return out


@pytest.fixture(autouse=True)
def oauth(monkeypatch):
    """Google's OAuth server, offline: the client refreshes its credentials when it is
    built; here the refresh hands out a fixed access token (or raises ``oauth.error``)."""
    from google.oauth2 import credentials

    class OAuth:
        error: Exception | None = None
        refreshed = 0

    def refresh(self, request):
        OAuth.refreshed += 1
        if OAuth.error is not None:
            raise OAuth.error
        self.token = "fake-access-token"

    monkeypatch.setattr(credentials.Credentials, "refresh", refresh)
    return OAuth


@pytest.fixture
def fake(monkeypatch):
    server = FakeGoogleAds(customer_id="1234567890", developer_token=DEVELOPER_TOKEN).start()
    channels = point_client_at(monkeypatch, server.address, server.version)
    yield server
    for channel in channels:
        channel.close()
    server.stop()


@pytest.fixture
def platform(fake):
    return google.GooglePlatform.from_config(CONFIG)


def audience(external_id: str = "", ttl_days: int = 540) -> RemoteAudience:
    return RemoteAudience(
        pk=7,
        name="Abandoned in the last 7 days",
        destination="google",
        external_id=external_id,
        ttl_days=ttl_days,
        description="oscar-recovery audience 7",
    )


@pytest.mark.parametrize(("ttl_days", "life_span"), [(540, 540), (30, 30), (10_000, 540)])
def test_ensure_audience_creates_a_crm_list_living_at_most_540_days(
    fake, platform, ttl_days, life_span
):
    name = platform.ensure_audience(audience(ttl_days=ttl_days))
    assert name.startswith("customers/1234567890/userLists/")
    [created] = fake.created_lists
    assert created.membership_life_span == life_span
    assert created.name == "Abandoned in the last 7 days"
    assert created.crm_based_user_list.data_source_type.name == "FIRST_PARTY"
    assert fake.violations == []
    # The client's interceptors sent the developer token and the manager account.
    assert fake.metadata[0]["login-customer-id"] == "1112223333"

    assert platform.ensure_audience(audience(name)) == name
    assert fake.calls == ["MutateUserLists"]


@pytest.mark.parametrize("name", ["Abandoned in the last 7 days", "Shoppers' \\ picks"])
def test_a_list_whose_creation_answer_was_lost_is_found_by_name_not_made_twice(
    fake, platform, name
):
    first = platform.ensure_audience(
        RemoteAudience(pk=7, name=name, destination="google", ttl_days=30)
    )
    # The id never reached our table: the next sync asks again and gets the same list.
    again = platform.ensure_audience(
        RemoteAudience(pk=7, name=name, destination="google", ttl_days=30)
    )
    assert again == first
    assert len(fake.created_lists) == 1
    assert fake.calls == ["MutateUserLists", "MutateUserLists", "Search"]
    assert fake.violations == []


def test_a_name_taken_by_no_list_we_can_find_stays_an_error(fake, platform):
    # Taken by a list the query does not find (not a CRM list, say): nothing to adopt.
    fake.failures.append(
        Failure(
            grpc.StatusCode.INVALID_ARGUMENT,
            {"user_list_error": "NAME_ALREADY_USED"},
            method="MutateUserLists",
        )
    )
    with pytest.raises(PlatformError) as caught:
        platform.ensure_audience(audience())
    assert caught.value.retryable is False
    assert "user_list_error.NAME_ALREADY_USED" in str(caught.value)
    assert fake.calls == ["MutateUserLists", "Search"]


def test_additions_are_one_create_job_in_requests_within_the_cap(fake, platform):
    user_list = platform.ensure_audience(audience())
    batch = members(25_000)
    platform.add(user_list, batch)

    assert fake.violations == []
    [job] = fake.jobs.values()
    assert job.kinds == {"create"}
    assert job.consent == ("GRANTED", "GRANTED")
    assert job.requests == [10_000, 10_000, 5_000]
    assert job.ran
    assert fake.lists[user_list] == {
        "emails": {m.email_sha256 for m in batch if m.email_sha256},
        "phones": {m.phone_sha256 for m in batch if m.phone_sha256},
    }
    assert fake.calls[1:] == [
        "CreateOfflineUserDataJob",
        *["AddOfflineUserDataJobOperations"] * 3,
        "RunOfflineUserDataJob",
    ]


def test_removals_are_a_job_of_their_own(fake, platform):
    user_list = platform.ensure_audience(audience())
    batch = members(1_000)
    platform.add(user_list, batch)
    platform.remove(user_list, batch[:400])

    assert fake.violations == []
    adding, removing = fake.jobs.values()
    assert (adding.kinds, removing.kinds) == ({"create"}, {"remove"})
    assert removing.consent == ("GRANTED", "GRANTED") and removing.ran
    kept = batch[400:]
    assert fake.lists[user_list] == {
        "emails": {m.email_sha256 for m in kept if m.email_sha256},
        "phones": {m.phone_sha256 for m in kept if m.phone_sha256},
    }


def test_the_fake_refuses_a_mixed_job(fake, platform):
    # The fake's own check, so the tests above would notice a platform that mixed.
    user_list = platform.ensure_audience(audience())
    client = platform.client
    service = client.get_service("OfflineUserDataJobService")
    job = client.get_type("OfflineUserDataJob")
    job.type_ = client.enums.OfflineUserDataJobTypeEnum.CUSTOMER_MATCH_USER_LIST
    job.customer_match_user_list_metadata.user_list = user_list
    job.customer_match_user_list_metadata.consent.ad_user_data = 2  # GRANTED
    job.customer_match_user_list_metadata.consent.ad_personalization = 2
    name = service.create_offline_user_data_job(customer_id="1234567890", job=job).resource_name
    adding = platform._operation(members(1)[0], remove=False)
    removing = platform._operation(members(1)[0], remove=True)
    with pytest.raises(Exception):  # noqa: B017 - whichever form the client raises it in
        service.add_offline_user_data_job_operations(
            request={"resource_name": name, "operations": [adding, removing]}
        )
    assert fake.violations == ["a job mixing ['create', 'remove']"]


def test_nothing_is_sent_without_consent_on_the_job(fake, platform):
    # The fake refuses a job without both consents; the platform always sets them.
    user_list = platform.ensure_audience(audience())
    client = platform.client
    service = client.get_service("OfflineUserDataJobService")
    job = client.get_type("OfflineUserDataJob")
    job.type_ = client.enums.OfflineUserDataJobTypeEnum.CUSTOMER_MATCH_USER_LIST
    job.customer_match_user_list_metadata.user_list = user_list
    with pytest.raises(Exception):  # noqa: B017
        service.create_offline_user_data_job(customer_id="1234567890", job=job)
    assert fake.violations == ["consent ('UNSPECIFIED', 'UNSPECIFIED')"]


@pytest.mark.parametrize(
    "member",
    [
        HashedMember(key="1", email_sha256="shopper@example.com"),
        HashedMember(key="2", phone_sha256="+447700900123"),
        HashedMember(key="3", email_sha256=sha("a@example.com").upper()),
        HashedMember(key="5"),
    ],
)
def test_anything_but_a_digest_is_refused_before_a_call(fake, platform, member):
    with pytest.raises(PlatformError) as caught:
        platform.add("customers/1234567890/userLists/1", [*members(3), member])
    assert caught.value.retryable is False
    assert fake.calls == []


@pytest.mark.parametrize(
    ("failure", "retryable", "names"),
    [
        (Failure(grpc.StatusCode.UNAVAILABLE), True, "UNAVAILABLE"),
        (Failure(grpc.StatusCode.DEADLINE_EXCEEDED), True, "DEADLINE_EXCEEDED"),
        (Failure(grpc.StatusCode.INTERNAL), True, "INTERNAL"),
        (
            Failure(grpc.StatusCode.RESOURCE_EXHAUSTED, {"quota_error": "RESOURCE_EXHAUSTED"}),
            True,
            "RESOURCE_EXHAUSTED",
        ),
        (
            Failure(
                grpc.StatusCode.INVALID_ARGUMENT, {"database_error": "CONCURRENT_MODIFICATION"}
            ),
            True,
            "INVALID_ARGUMENT; database_error.CONCURRENT_MODIFICATION; request id fake-request-1",
        ),
        (
            Failure(grpc.StatusCode.UNAUTHENTICATED, {"authentication_error": "NOT_ADS_USER"}),
            False,
            "UNAUTHENTICATED; authentication_error.NOT_ADS_USER; request id fake-request-1",
        ),
        (
            Failure(
                grpc.StatusCode.PERMISSION_DENIED,
                {"authorization_error": "USER_PERMISSION_DENIED"},
            ),
            False,
            "PERMISSION_DENIED; authorization_error.USER_PERMISSION_DENIED",
        ),
        (
            Failure(
                grpc.StatusCode.INVALID_ARGUMENT,
                {"offline_user_data_job_error": "INVALID_USER_LIST_ID"},
            ),
            False,
            "offline_user_data_job_error.INVALID_USER_LIST_ID",
        ),
    ],
)
def test_errors_map_to_retryable_or_not(fake, platform, failure, retryable, names):
    fake.add_list("customers/1234567890/userLists/1")
    fake.failures.append(failure)
    with pytest.raises(PlatformError) as caught:
        platform.add("customers/1234567890/userLists/1", members(3))
    assert caught.value.retryable is retryable
    message = str(caught.value)
    assert message.startswith("Google Ads refused the request (")
    assert names in message
    # Neither the trigger (a value of the request) nor Google's text nor a secret.
    assert "f" * 64 not in message and "for a value" not in message
    assert not any(secret in message for secret in SECRETS)


def test_a_failure_after_the_job_was_created_leaves_it_unrun(fake, platform):
    user_list = platform.ensure_audience(audience())
    fake.failures.append(
        Failure(grpc.StatusCode.UNAVAILABLE, method="AddOfflineUserDataJobOperations")
    )
    with pytest.raises(PlatformError):
        platform.add(user_list, members(20_000))
    [job] = fake.jobs.values()
    assert not job.ran
    assert fake.lists[user_list] == {"emails": set(), "phones": set()}
    # The retry is a new job that runs; nothing was applied twice or half.
    platform.add(user_list, members(20_000))
    assert [j.ran for j in fake.jobs.values()] == [False, True]


class _PluginFailure(grpc.RpcError):
    def __init__(self, details):
        self._details = details

    def code(self):
        return grpc.StatusCode.UNAVAILABLE

    def details(self):
        return self._details


def test_a_refused_oauth_grant_is_permanent_and_a_network_blip_is_not():
    refused = google.google_error(
        _PluginFailure("Getting metadata from plugin failed with error: ('invalid_grant: x')")
    )
    assert refused.retryable is False and "invalid_grant" in str(refused)
    assert google.google_error(_PluginFailure("Connection reset")).retryable is True

    from google.auth import exceptions as auth_exceptions

    assert google.google_error(auth_exceptions.RefreshError("bad")).retryable is False
    assert google.google_error(auth_exceptions.TransportError("down")).retryable is True
    assert google.google_error(ValueError("a bug")) is None


def test_refused_or_unreachable_oauth_when_the_client_is_built(oauth):
    from google.auth import exceptions as auth_exceptions

    oauth.error = auth_exceptions.RefreshError("invalid_grant: refresh-token-value")
    with pytest.raises(PlatformError) as caught:
        google.GooglePlatform.from_config(CONFIG)
    assert caught.value.retryable is False
    assert str(caught.value) == "Google refused the OAuth credentials."
    oauth.error = auth_exceptions.TransportError("oauth2.googleapis.com unreachable")
    with pytest.raises(PlatformError) as caught:
        google.GooglePlatform.from_config(CONFIG)
    assert caught.value.retryable is True


def test_the_repr_shows_no_secret(platform):
    text = repr(platform)
    assert not any(secret in text for secret in SECRETS)
    assert "developer_token='***'" in text and "1234567890" in text


@override_settings(OSCAR_RECOVERY_GOOGLE_ADS=CONFIG)
def test_get_platform_builds_the_platform_from_settings(settings):
    settings.OSCAR_RECOVERY_AUDIENCE_PLATFORM_MODULES = {}  # each destination its own
    platform = get_platform("google")
    assert isinstance(platform, google.GooglePlatform)
    assert (platform.name, platform.customer_id) == ("google", "1234567890")
    assert platform.batch_size == google.JOB_MEMBERS
    assert platform.client.developer_token == DEVELOPER_TOKEN
    assert platform.client.login_customer_id == "1112223333"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({}, "is not set"),
        ({k: v for k, v in CONFIG.items() if k != "customer_id"}, "lacks 'customer_id'"),
        ({**CONFIG, "customer_id": "12345"}, "ten-digit customer id"),
        ({k: v for k, v in CONFIG.items() if k != "refresh_token"}, "OAuth credentials"),
        ({**CONFIG, "developer_tokn": "x"}, "unknown keys"),
    ],
)
def test_missing_or_malformed_settings_are_a_permanent_error(value, fragment):
    with (
        override_settings(OSCAR_RECOVERY_GOOGLE_ADS=value),
        pytest.raises(PlatformError) as caught,
    ):
        google.platform_from_settings()
    assert caught.value.retryable is False
    assert fragment in str(caught.value)
    assert not any(secret in str(caught.value) for secret in SECRETS)


def test_without_the_library_the_module_imports_and_use_says_which_extra():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["google.ads"] = None  # import fails as if not installed
        from django.conf import settings
        settings.configure(OSCAR_RECOVERY_GOOGLE_ADS={"customer_id": "1234567890",
            "developer_token": "t", "json_key_file_path": "/k.json"})
        from oscar_recovery.audiences.platforms import google
        try:
            google.platform_from_settings()
        except google.PlatformError as exc:
            print(exc.retryable, exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == (
        "False The google audience destination needs the google-ads package: "
        "pip install 'oscar-recovery[google]'."
    )
