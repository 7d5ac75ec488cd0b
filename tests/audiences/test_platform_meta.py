"""The Meta platform drives the real ``facebook-business`` SDK against a local fake Graph API
(``tests/support/fake_graph.py``) that checks each request as Meta would: digests only, the two
schemas, at most 10,000 per request, additions POST and removals DELETE, the token and the
app secret proof. The SDK is pointed at the fake through ``MetaPlatform(graph_url=...)``,
which sets the ``GRAPH`` of the platform's own ``FacebookSession``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import pytest
from django.test import override_settings

from oscar_recovery.audiences.platforms import meta
from oscar_recovery.audiences.platforms.base import (
    HashedMember,
    PlatformError,
    RemoteAudience,
    get_platform,
)
from tests.support.fake_graph import MAX_TARGET, Failure, FakeGraph
from tests.support.sdk import require

require("facebook_business", "meta")

TOKEN = "EAAB-secret-token-value"
SECRET = "app-secret-value"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def members(count: int, *, start: int = 0, phones_every: int = 3) -> list[HashedMember]:
    """``count`` members with an email digest; every ``phones_every``-th also has a phone
    digest, and every fifth has only a phone."""
    out = []
    for i in range(start, start + count):
        email = "" if i % 5 == 4 else sha(f"shopper{i}@example.com")
        phone = sha(f"+4477009{i:05d}") if i % phones_every == 0 or not email else ""
        out.append(HashedMember(key=str(i), email_sha256=email, phone_sha256=phone))
    return out


@pytest.fixture
def graph():
    server = FakeGraph(access_token=TOKEN, app_secret=SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def platform(graph):
    return meta.MetaPlatform(
        access_token=TOKEN, ad_account_id="act_1234", app_secret=SECRET, graph_url=graph.url
    )


def audience(external_id: str = "") -> RemoteAudience:
    return RemoteAudience(
        pk=7,
        name="Abandoned in the last 7 days",
        destination="meta",
        external_id=external_id,
        description="oscar-recovery audience 7",
    )


def test_ensure_audience_creates_a_customer_list_audience_once(graph, platform):
    external_id = platform.ensure_audience(audience())
    assert external_id in graph.audiences
    [created] = graph.created
    assert created["name"] == "Abandoned in the last 7 days"
    assert created["subtype"] == "CUSTOM"
    assert created["customer_file_source"] == "USER_PROVIDED_ONLY"
    assert graph.violations == []

    # An audience that has its id already is not created again.
    assert platform.ensure_audience(audience(external_id)) == external_id
    assert len(graph.requests) == 1


def test_additions_are_posted_digests_in_batches_of_at_most_ten_thousand(graph, platform):
    external_id = platform.ensure_audience(audience())
    batch = members(25_000)
    platform.add(external_id, batch)

    assert graph.violations == []
    users = graph.users_requests()
    assert {r.method for r in users} == {"POST"}
    assert max(len(r.payload["data"]) for r in users) == 10_000
    emails = {m.email_sha256 for m in batch if m.email_sha256}
    phones = {m.phone_sha256 for m in batch if m.phone_sha256}
    # The SDK passed the digests through: had it hashed them again, none would match.
    assert graph.audiences[external_id] == {"EMAIL_SHA256": emails, "PHONE_SHA256": phones}
    assert sum(len(r.payload["data"]) for r in users) == len(emails) + len(phones)
    assert [r.payload["schema"] for r in users] == ["EMAIL_SHA256"] * 2 + ["PHONE_SHA256"] * 2
    # Every request carried the token and the app secret proof (the fake checks them).
    assert all(r.params["appsecret_proof"] for r in users)


def test_removals_are_deletes_small_enough_for_the_url(graph, platform):
    external_id = platform.ensure_audience(audience())
    batch = members(1_000)
    platform.add(external_id, batch)
    posts = len(graph.users_requests())

    platform.remove(external_id, batch[:600])

    assert graph.violations == []
    deletes = graph.users_requests()[posts:]
    assert {r.method for r in deletes} == {"DELETE"}
    assert max(len(r.payload["data"]) for r in deletes) <= meta.REMOVE_PER_REQUEST
    assert max(r.target_length for r in deletes) <= MAX_TARGET
    kept = batch[600:]
    assert graph.audiences[external_id]["EMAIL_SHA256"] == {
        m.email_sha256 for m in kept if m.email_sha256
    }
    assert graph.audiences[external_id]["PHONE_SHA256"] == {
        m.phone_sha256 for m in kept if m.phone_sha256
    }


def test_a_full_sized_delete_would_not_fit_in_a_url(graph, platform):
    # Why removals go in small requests: the SDK puts a DELETE's payload in the query
    # string, and 300 digests (of the 10,000 a POST may carry) already make too long a URL.
    external_id = platform.ensure_audience(audience())
    platform.add(external_id, members(10))
    audience_object = meta.CustomAudience(external_id, api=platform.api)
    response = audience_object.remove_users(
        "EMAIL_SHA256", [sha(str(i)) for i in range(300)], pre_hashed=True
    )
    # The SDK takes the 414 page for a success (its body is not JSON): the platform reads
    # the status itself (next test).
    assert response.status() == 414
    assert graph.violations and "request target" in graph.violations[0]


def test_a_refusal_the_sdk_takes_for_success_is_an_error(graph, platform):
    graph.add_audience("23850000000001")
    graph.failures.append(Failure(414, body="<html>URI Too Long</html>"))
    with pytest.raises(PlatformError) as caught:
        platform.remove("23850000000001", members(3))
    assert caught.value.retryable is False
    assert str(caught.value) == "Meta refused the request (HTTP 414)."
    graph.failures.append(Failure(200, body="<html>maintenance</html>"))
    with pytest.raises(PlatformError) as caught:
        platform.add("23850000000001", members(3))
    assert caught.value.retryable is True
    # Creating an audience too (the SDK's own AdAccount.create_custom_audience would fail
    # with a TypeError here).
    graph.failures.append(Failure(200, body="<html>maintenance</html>"))
    with pytest.raises(PlatformError) as caught:
        platform.ensure_audience(audience())
    assert caught.value.retryable is True
    graph.failures.append(Failure(414, body="<html>URI Too Long</html>"))
    with pytest.raises(PlatformError) as caught:
        platform.ensure_audience(audience())
    assert caught.value.retryable is False
    assert graph.created == []


def test_an_add_call_never_deletes_and_a_remove_call_never_posts(graph, platform):
    external_id = platform.ensure_audience(audience())
    platform.add(external_id, members(300))
    after_add = len(graph.requests)
    platform.remove(external_id, members(300))
    methods_of_add = {r.method for r in graph.requests[1:after_add]}
    methods_of_remove = {r.method for r in graph.requests[after_add:]}
    assert methods_of_add == {"POST"}
    assert methods_of_remove == {"DELETE"}
    assert graph.audiences[external_id] == {"EMAIL_SHA256": set(), "PHONE_SHA256": set()}


@pytest.mark.parametrize(
    "member",
    [
        HashedMember(key="1", email_sha256="shopper@example.com"),
        HashedMember(key="2", phone_sha256="+447700900123"),
        HashedMember(key="3", email_sha256=sha("a@example.com").upper()),
        HashedMember(key="4", email_sha256=sha("a@example.com")[:63]),
        HashedMember(key="5"),
    ],
)
def test_anything_but_a_digest_is_refused_before_a_request(graph, platform, member):
    batch = [*members(5), member]
    with pytest.raises(PlatformError) as caught:
        platform.add("23850000000001", batch)
    assert caught.value.retryable is False
    assert graph.requests == []
    assert "example.com" not in str(caught.value) and "+44" not in str(caught.value)


def test_without_an_app_secret_no_proof_is_sent(graph):
    graph.app_secret = ""
    platform = meta.MetaPlatform(access_token=TOKEN, ad_account_id="1234", graph_url=graph.url)
    external_id = platform.ensure_audience(audience())
    platform.add(external_id, members(3))
    assert graph.violations == []
    assert all("appsecret_proof" not in r.params for r in graph.requests)


@pytest.mark.parametrize(
    ("failure", "retryable"),
    [
        (Failure(500, code=1), True),
        (Failure(503, body="Service Unavailable"), True),
        (Failure(429, code=None), True),
        (Failure(400, code=17), True),  # user request limit reached
        (Failure(400, code=80003), True),  # custom audience rate limit
        (Failure(400, code=2, transient=True), True),
        (Failure(400, code=190), False),  # invalid or expired token
        (Failure(403, code=200), False),  # permission missing
        (Failure(400, code=100), False),  # invalid parameter
    ],
)
def test_errors_map_to_retryable_or_not(graph, platform, failure, retryable):
    graph.add_audience("23850000000001")
    graph.failures.append(failure)
    batch = members(10)
    with pytest.raises(PlatformError) as caught:
        platform.add("23850000000001", batch)
    assert caught.value.retryable is retryable
    message = str(caught.value)
    assert message.startswith("Meta refused the request (HTTP ")
    assert TOKEN not in message and SECRET not in message
    assert not any(m.email_sha256 and m.email_sha256 in message for m in batch)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_unreachable_graph_is_retryable_and_the_url_is_not_quoted(graph):
    graph.stop()
    platform = meta.MetaPlatform(
        access_token=TOKEN, ad_account_id="1234", graph_url=graph.url, timeout=2
    )
    with pytest.raises(PlatformError) as caught:
        platform.add("23850000000001", members(3))
    assert caught.value.retryable is True
    assert TOKEN not in str(caught.value) and "127.0.0.1" not in str(caught.value)


def test_the_repr_shows_no_secret(platform):
    text = repr(platform)
    assert TOKEN not in text and SECRET not in text
    assert "access_token='***'" in text and "1234" in text


META = {"access_token": TOKEN, "ad_account_id": "act_1234", "app_secret": SECRET}


@override_settings(OSCAR_RECOVERY_META=META)
def test_get_platform_builds_the_platform_from_settings(settings):
    settings.OSCAR_RECOVERY_AUDIENCE_PLATFORM_MODULES = {}  # each destination its own
    platform = get_platform("meta")
    assert isinstance(platform, meta.MetaPlatform)
    assert (platform.name, platform.batch_size, platform.ad_account_id) == ("meta", 10_000, "1234")
    assert platform.api._session.access_token == TOKEN
    assert platform.api._session.app_secret == SECRET
    assert platform.api._session.GRAPH == "https://graph.facebook.com"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({}, "is not set"),
        ({"ad_account_id": "1234"}, "lacks 'access_token'"),
        ({**META, "ad_account_id": "acct-12"}, "must be digits"),
        ({**META, "acces_token": "x"}, "unknown keys"),
        ({**META, "api_version": "26"}, "'api_version'"),
    ],
)
def test_missing_or_malformed_settings_are_a_permanent_error(value, fragment):
    with override_settings(OSCAR_RECOVERY_META=value), pytest.raises(PlatformError) as caught:
        meta.platform_from_settings()
    assert caught.value.retryable is False
    assert fragment in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_without_the_sdk_the_module_imports_and_use_says_which_extra(monkeypatch):
    # The module itself, in a fresh interpreter where the SDK cannot be imported.
    script = textwrap.dedent(
        """
        import sys
        sys.modules["facebook_business"] = None  # import fails as if not installed
        import django
        from django.conf import settings
        settings.configure(OSCAR_RECOVERY_META={"access_token": "t", "ad_account_id": "1"})
        from oscar_recovery.audiences.platforms import meta
        try:
            meta.platform_from_settings()
        except meta.PlatformError as exc:
            print(exc.retryable, exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == (
        "False The meta audience destination needs the facebook-business package: "
        "pip install 'oscar-recovery[meta]'."
    )
