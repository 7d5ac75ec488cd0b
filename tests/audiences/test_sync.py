"""The audience sync: consent gating, each cause of removal, the diff, batches, re-adds
before expiry, failures and back-off. Platforms are the fake one (``conftest.py``)."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from oscar_recovery.audiences import sync
from oscar_recovery.audiences.platforms import fake
from oscar_recovery.constants import (
    AudienceSyncState,
    AudienceSyncStatus,
    ConsentAction,
    ConsentSource,
    SuppressionReason,
)
from oscar_recovery.contacts.addresses import email_sha256, phone_sha256
from oscar_recovery.models import Audience, AudienceMember, ConsentEvent, ContactFacts
from oscar_recovery.privacy import ads_consent, data_rights, suppression
from tests.audiences.helpers import audience, contact, join, leave, segment

pytestmark = pytest.mark.django_db

HEX64 = re.compile(r"[0-9a-f]{64}")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def calls(kind: str | None = None):
    return [c for c in fake.CALLS if kind is None or c.kind == kind]


def sent_emails(kind: str) -> list[str]:
    return [m.email_sha256 for c in calls(kind) for m in c.members]


def test_only_contacts_with_ads_consent_are_members():
    seg = segment()
    aud = audience(seg, sync_meta=True)
    contact("yes@example.com", seg=seg)
    contact("no@example.com", ads=False, seg=seg)
    contact("outside@example.com")  # consent, not in the segment

    result = sync.sync_audience(aud)

    assert result.members == 1
    assert sent_emails("add") == [sha("yes@example.com")]
    assert calls("ensure") and Audience.objects.get(pk=aud.pk).meta_external_id


def test_an_unticked_box_is_no_consent():
    seg = segment()
    aud = audience(seg)
    person = contact("maybe@example.com", ads=False, seg=seg)
    decision = ads_consent.Decision(text="Ads?", language="en", given=False)
    assert ads_consent.record("maybe@example.com", decision, contact_id=person.pk) is None
    assert sync.sync_audience(aud).members == 0


def test_hashes_are_sha256_of_the_canonical_address_and_e164_number():
    seg = segment()
    aud = audience(seg, sync_google=True)
    # Contacts keep canonical addresses; the hash is of that form, whatever was typed.
    assert email_sha256("  Mixed.Case@Example.COM ") == sha("mixed.case@example.com")
    assert phone_sha256("+44 20 7946 0958") == sha("+442079460958")
    contact("mixed.case@example.com", phone="+442079460958", seg=seg)

    sync.sync_audience(aud)

    (member,) = [m for c in calls("add") for m in c.members]
    assert member.email_sha256 == sha("mixed.case@example.com")
    assert member.phone_sha256 == sha("+442079460958")
    row = AudienceMember.objects.get(destination="google")
    assert (row.email_sha256, row.phone_sha256) == (member.email_sha256, member.phone_sha256)
    # Nothing but hashes in the rows or the calls.
    for value in (member.email_sha256, member.phone_sha256, row.suppression_hash):
        assert HEX64.fullmatch(value)
    assert "example.com" not in repr(fake.CALLS)


def _synced(aud, *people):
    sync.sync_audience(aud, force=True)
    fake.reset()


@pytest.mark.parametrize("cause", ["withdrawal", "erasure", "suppression", "order", "segment"])
def test_each_cause_removes_the_person_at_the_next_sync(cause):
    seg = segment()
    aud = audience(seg, sync_meta=True, exclude_buyers_days=7)
    stays = contact("stays@example.com", seg=seg)
    goes = contact("goes@example.com", seg=seg)
    _synced(aud)

    if cause == "withdrawal":
        ads_consent.withdraw("goes@example.com", source=ConsentSource.ACCOUNT)
    elif cause == "erasure":
        data_rights.erase_email("goes@example.com")
    elif cause == "suppression":
        suppression.suppress("goes@example.com", SuppressionReason.UNSUBSCRIBED)
    elif cause == "order":
        ContactFacts.objects.create(contact=goes, order_count=1, last_order_at=timezone.now())
    elif cause == "segment":
        leave(seg, goes)
    # Until the next sync the person waits in the pending removals (the dashboard says when).
    assert sync.pending_removals(aud, "meta").count() == 1

    result = sync.sync_audience(aud, force=True)

    assert sent_emails("remove") == [sha("goes@example.com")]
    assert calls("add") == []
    assert result.members == 1
    assert result.destinations["meta"].removed == 1
    assert sync.pending_removals(aud, "meta").count() == 0
    assert AudienceMember.objects.filter(contact=stays, desired=True).count() == 2
    if cause == "erasure":
        # Once removed from the platform, nothing of the erased person is kept.
        assert not AudienceMember.objects.filter(email_sha256=sha("goes@example.com")).exists()


def test_suppression_by_hash_alone_also_removes():
    """An unsubscribe link knows the address by its keyed hash only."""
    seg = segment()
    aud = audience(seg, sync_meta=True)
    contact("linked@example.com", seg=seg)
    _synced(aud)
    from oscar_recovery.privacy.hashing import email_hash

    suppression.unsubscribe_hash(email_hash("linked@example.com"))
    sync.sync_audience(aud, force=True)
    assert sent_emails("remove") == [sha("linked@example.com")]


def test_a_second_sync_without_changes_sends_nothing_and_only_changes_are_sent():
    seg = segment()
    aud = audience(seg, sync_meta=True, sync_google=True)
    people = [contact(f"p{i}@example.com", seg=seg) for i in range(5)]
    sync.sync_audience(aud)
    assert len(sent_emails("add")) == 10  # five people, two platforms
    fake.reset()

    sync.sync_audience(aud, force=True)
    assert [c for c in fake.CALLS if c.kind != "ensure"] == []

    leave(seg, people[0])
    contact("new@example.com", seg=seg)
    sync.sync_audience(aud, force=True)
    assert sorted(sent_emails("add")) == [sha("new@example.com")] * 2
    assert sorted(sent_emails("remove")) == [sha("p0@example.com")] * 2


def test_additions_and_removals_never_share_a_call_and_batches_keep_the_size(settings):
    settings.OSCAR_RECOVERY_AUDIENCE_FAKE_BATCH_SIZE = 3
    seg = segment()
    aud = audience(seg, sync_google=True)
    old = [contact(f"old{i}@example.com", seg=seg) for i in range(7)]
    sync.sync_audience(aud)
    assert [len(c.members) for c in calls("add")] == [3, 3, 1]
    fake.reset()

    for person in old[:5]:
        leave(seg, person)
    for i in range(4):
        contact(f"new{i}@example.com", seg=seg)
    sync.sync_audience(aud, force=True)

    kinds = [(c.kind, len(c.members)) for c in fake.CALLS if c.kind != "ensure"]
    assert kinds == [("remove", 3), ("remove", 2), ("add", 3), ("add", 1)]
    for call in calls("add") + calls("remove"):
        assert len({m.key for m in call.members}) == len(call.members)


def test_members_are_added_again_before_the_membership_expires():
    seg = segment()
    aud = audience(seg, sync_google=True, ttl_days=540)
    contact("kept@example.com", seg=seg)
    contact("fresh@example.com", seg=seg)
    sync.sync_audience(aud)
    fake.reset()
    # One was last sent 511 days ago: 540 - 30 days have passed, it must be refreshed.
    AudienceMember.objects.filter(
        destination="google", email_sha256=sha("kept@example.com")
    ).update(synced_at=timezone.now() - timedelta(days=511))
    AudienceMember.objects.filter(
        destination="google", email_sha256=sha("fresh@example.com")
    ).update(synced_at=timezone.now() - timedelta(days=509))

    sync.sync_audience(aud, force=True)

    assert sent_emails("add") == [sha("kept@example.com")]
    assert calls("remove") == []


def test_a_failure_is_recorded_and_retried_with_exponential_back_off(settings):
    settings.OSCAR_RECOVERY_AUDIENCE_RETRY_BASE = timedelta(minutes=10)
    settings.OSCAR_RECOVERY_AUDIENCE_RETRY_MAX = timedelta(hours=1)
    seg = segment()
    aud = audience(seg, sync_meta=True)
    contact("a@example.com", seg=seg)
    now = timezone.now()

    fake.fail_next(1, message="rate limited")
    sync.sync_audience(aud, now=now)
    aud.refresh_from_db()
    assert aud.last_sync_status == AudienceSyncStatus.FAILED
    assert aud.last_errors == {"meta": "rate limited"}
    assert aud.failure_count == 1
    assert aud.next_attempt_at == now + timedelta(minutes=10)
    assert aud not in sync.due(now + timedelta(minutes=9))
    assert aud in sync.due(now + timedelta(minutes=10))

    # The ensure call succeeds, the add fails: the batch's rows carry the error.
    fake.fail_next(0)
    sync.sync_audience(aud, now=now + timedelta(minutes=10))
    assert sent_emails("add") == [sha("a@example.com")]
    aud.refresh_from_db()
    assert aud.last_sync_status == AudienceSyncStatus.OK and aud.failure_count == 0
    assert aud.last_errors == {} and aud.next_attempt_at is None

    # Failures in a row double the wait, up to the cap.
    assert [sync.backoff(n) for n in (1, 2, 3, 4, 5)] == [
        timedelta(minutes=10),
        timedelta(minutes=20),
        timedelta(minutes=40),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


def test_a_failed_batch_marks_its_rows_and_is_sent_again_next_time():
    seg = segment()
    aud = audience(seg, sync_meta=True)
    contact("a@example.com", seg=seg)
    sync.sync_audience(aud)  # ensure + add
    fake.reset()
    contact("b@example.com", seg=seg)
    # ensure succeeds (it is not failed), the add fails.
    fake.CALLS.clear()
    fake._FAILURES.clear()

    class Once:
        failed = False

    original = fake.FakePlatform.add

    def failing_add(self, external_id, members):
        if not Once.failed:
            Once.failed = True
            raise fake.PlatformError("HTTP 503")
        return original(self, external_id, members)

    fake.FakePlatform.add = failing_add
    try:
        sync.sync_audience(aud, force=True)
        row = AudienceMember.objects.get(destination="meta", email_sha256=sha("b@example.com"))
        assert row.synced_state == AudienceSyncState.NONE and row.last_error == "HTTP 503"
        sync.sync_audience(aud, force=True)
    finally:
        fake.FakePlatform.add = original
    row.refresh_from_db()
    assert row.synced_state == AudienceSyncState.ADDED and row.last_error == ""
    assert sent_emails("add") == [sha("b@example.com")]


def test_a_permanent_failure_holds_the_audience_until_staff_act():
    seg = segment()
    aud = audience(seg, sync_meta=True)
    contact("a@example.com", seg=seg)
    fake.fail_next(1, retryable=False, message="invalid token")
    sync.sync_audience(aud)
    aud.refresh_from_db()
    assert aud.held and aud.last_sync_status == AudienceSyncStatus.HELD
    assert aud not in sync.due(timezone.now() + timedelta(days=30))
    assert sync.sync_audience(aud).skipped == "held"
    assert calls("add") == []


def test_an_unknown_platform_is_an_audience_error_not_a_crash(settings):
    settings.OSCAR_RECOVERY_AUDIENCE_PLATFORM_MODULES = {"meta": "no_such_platform"}
    seg = segment()
    aud = audience(seg, sync_meta=True)
    contact("a@example.com", seg=seg)
    sync.sync_audience(aud)
    aud.refresh_from_db()
    assert aud.held and "cannot be loaded" in aud.last_errors["meta"]


def test_an_inactive_audience_or_a_switched_off_platform_only_removes():
    seg = segment()
    aud = audience(seg, sync_meta=True)
    contact("a@example.com", seg=seg)
    sync.sync_audience(aud)
    fake.reset()
    Audience.objects.filter(pk=aud.pk).update(sync_meta=False)
    contact("b@example.com", seg=seg)
    aud.refresh_from_db()
    sync.sync_audience(aud, force=True)
    assert calls("add") == [] and calls("remove") == []
    Audience.objects.filter(pk=aud.pk).update(is_active=False)
    aud.refresh_from_db()
    sync.sync_audience(aud, force=True)
    assert sent_emails("remove") == [sha("a@example.com")]


def test_sync_disabled_keeps_the_csv_up_to_date_without_calls(settings):
    settings.OSCAR_RECOVERY_AUDIENCE_SYNC_ENABLED = False
    seg = segment()
    aud = audience(seg, sync_meta=True)
    contact("a@example.com", seg=seg)
    assert sync.sync_audience(aud).members == 1
    assert fake.CALLS == []


def test_sync_all_runs_due_audiences_once_a_day():
    Audience.objects.all().delete()  # the built-in ones
    seg = segment()
    aud = audience(seg, sync_meta=True)
    contact("a@example.com", seg=seg)
    now = timezone.now()
    assert [r.audience_id for r in sync.sync_all(now=now)] == [aud.pk]
    assert sync.sync_all(now=now + timedelta(hours=5)) == []
    assert [r.audience_id for r in sync.sync_all(now=now + timedelta(days=1))] == [aud.pk]


LEDGER_CASES = [
    [],
    [(ConsentAction.GIVEN, ConsentSource.CHECKOUT)],
    [
        (ConsentAction.GIVEN, ConsentSource.CHECKOUT),
        (ConsentAction.WITHDRAWN, ConsentSource.ACCOUNT),
    ],
    [
        (ConsentAction.GIVEN, ConsentSource.CHECKOUT),
        (ConsentAction.WITHDRAWN, ConsentSource.ACCOUNT),
        (ConsentAction.GIVEN, ConsentSource.CHECKOUT),
    ],
    [
        (ConsentAction.WITHDRAWN, ConsentSource.ACCOUNT),
        (ConsentAction.GIVEN, ConsentSource.STAFF),
    ],
    [(ConsentAction.GIVEN, ConsentSource.STAFF), (ConsentAction.ERASED, ConsentSource.ERASURE)],
    [(ConsentAction.CONFIRMED, ConsentSource.CONFIRMED)],
    [(ConsentAction.WITHDRAWN, ConsentSource.ACCOUNT)],
]


@pytest.mark.parametrize("events", LEDGER_CASES)
def test_the_sql_consent_rule_agrees_with_the_ledger(events):
    """The set-based rule the sync uses and the ledger's fold give the same answer."""
    from oscar_recovery.constants import Channel
    from oscar_recovery.models import Contact
    from oscar_recovery.privacy import ledger

    address = "ledger@example.com"
    start = timezone.now() - timedelta(hours=len(events) + 1)
    for number, (action, source) in enumerate(events):
        ledger.record(
            Channel.ADS, address, action, source=source, at=start + timedelta(hours=number)
        )
    person = Contact.objects.create(email=address)
    in_sql = Contact.objects.filter(ads_consent.granted_for("email"), pk=person.pk).exists()
    assert in_sql == ads_consent.is_granted(address)
    assert ConsentEvent.objects.filter(channel="ads").count() == len(events)


def test_a_contact_in_two_audiences_is_synced_separately():
    seg = segment()
    first, second = audience(seg, sync_meta=True), audience(seg, sync_meta=True)
    person = contact("a@example.com", seg=seg)
    Audience.objects.exclude(pk__in=[first.pk, second.pk]).delete()
    sync.sync_all()
    assert {c.external_id for c in calls("add")} == {
        Audience.objects.get(pk=first.pk).meta_external_id,
        Audience.objects.get(pk=second.pk).meta_external_id,
    }
    join(segment(), person)


def test_a_csv_only_audience_is_refreshed_once_a_day_too():
    Audience.objects.all().delete()
    seg = segment()
    aud = audience(seg)
    contact("a@example.com", seg=seg)
    now = timezone.now()
    assert [r.members for r in sync.sync_all(now=now)] == [1]
    aud.refresh_from_db()
    assert aud.last_sync_at == now and aud.last_sync_status == AudienceSyncStatus.OK
    assert sync.sync_all(now=now + timedelta(hours=2)) == []


def test_one_audience_failing_unexpectedly_does_not_stop_the_others(monkeypatch):
    Audience.objects.all().delete()
    seg = segment()
    broken, fine = audience(seg, sync_meta=True), audience(seg, sync_meta=True)
    contact("a@example.com", seg=seg)
    original = sync.refresh_desired

    def refresh(aud, destinations, now):
        if aud.pk == broken.pk:
            raise RuntimeError("database went away")
        return original(aud, destinations, now)

    monkeypatch.setattr(sync, "refresh_desired", refresh)
    results = sync.sync_all()
    assert [(r.audience_id, r.skipped) for r in results] == [(broken.pk, "error"), (fine.pk, "")]
    assert sent_emails("add") == [sha("a@example.com")]
    # The broken one's claim is released: the next run tries it again.
    assert Audience.objects.get(pk=broken.pk).sync_claimed_at is None


def test_two_runs_never_sync_one_audience_at_once():
    seg = segment()
    aud = audience(seg, sync_meta=True)
    contact("a@example.com", seg=seg)
    Audience.objects.filter(pk=aud.pk).update(sync_claimed_at=timezone.now())
    assert sync.sync_audience(aud).skipped == "running"
    assert fake.CALLS == []
    # A claim older than the timeout is a crashed run's: taken over.
    Audience.objects.filter(pk=aud.pk).update(
        sync_claimed_at=timezone.now() - sync.CLAIM_TIMEOUT - timedelta(minutes=1)
    )
    assert sync.sync_audience(aud).skipped == ""
    assert sent_emails("add") == [sha("a@example.com")]


def test_the_command_and_the_beat_task_run_the_sync():
    from django.core.management import call_command

    from oscar_recovery import tasks
    from oscar_recovery.schedules import BEAT_SCHEDULE

    Audience.objects.all().delete()
    seg = segment()
    aud = audience(seg, sync_google=True)
    contact("a@example.com", seg=seg)
    out = io.StringIO()
    call_command("recovery_sync_audiences", stdout=out)
    assert f"Audience {aud.pk}: 1 members" in out.getvalue() and "google +1 -0" in out.getvalue()
    assert tasks.sync_audiences() == []  # synced already today
    assert any(entry["task"] == "oscar_recovery.sync_audiences" for entry in BEAT_SCHEDULE.values())


def test_the_built_in_recency_audiences_are_installed_on_their_segments():
    from oscar_recovery.audiences import builtins

    wanted = {slug: segment_slug for slug, _, segment_slug, _ in builtins.BUILTINS}
    installed = dict(Audience.objects.filter(slug__in=wanted).values_list("slug", "segment__slug"))
    assert installed == wanted
    assert builtins.install() == 0  # idempotent


def test_the_fake_platform_keeps_the_seam_contract():
    from oscar_recovery.audiences.platforms.base import (
        HashedMember,
        Platform,
        PlatformError,
        get_platform,
    )

    platform = get_platform("meta")
    assert isinstance(platform, Platform)
    with pytest.raises(PlatformError) as refused:
        get_platform("base")
    assert not refused.value.retryable
    with pytest.raises(AssertionError):
        platform.add("x", ["a@example.com"])  # an address, not a HashedMember
    with pytest.raises(AssertionError):
        platform.add("x", [HashedMember(str(n), sha(str(n))) for n in range(10_001)])


def test_entering_contacts_are_read_slice_by_slice(monkeypatch):
    """Who enters is read in contact-id slices (plain queries, bounded memory): a slice
    smaller than the gaps between ids still finds every one of them, once."""
    monkeypatch.setattr(sync, "RANGE_SPAN", 2)
    seg = segment()
    aud = audience(seg, sync_meta=True)
    people = [contact(f"p{i}@example.com", seg=seg) for i in range(7)]
    for i in range(3):
        contact(f"outside{i}@example.com")  # ids between, not in the segment
    people.append(contact("last@example.com", seg=seg))
    result = sync.sync_audience(aud)
    assert result.entered == len(people) == result.members
    assert AudienceMember.objects.filter(audience=aud, destination="meta").count() == 8
    assert len(sent_emails("add")) == 8


def test_a_leaving_row_whose_address_stays_listed_is_not_removed_from_the_platform():
    """Two contacts of one address (merged): the row that leaves must not take the address
    out of the list while the other row keeps it in."""
    seg = segment()
    aud = audience(seg, sync_meta=True)
    old = contact("same@example.com", seg=seg)
    sync.sync_audience(aud)
    from oscar_recovery.constants import ContactStatus
    from oscar_recovery.models import Contact

    new = Contact.objects.create(email="same@example.com")
    join(seg, new)
    Contact.objects.filter(pk=old.pk).update(status=ContactStatus.MERGED)
    fake.reset()
    sync.sync_audience(aud, force=True)
    # The new row is added (refreshing the membership), the old one dropped quietly.
    assert calls("remove") == [] and sent_emails("add") == [sha("same@example.com")]
    old_row = AudienceMember.objects.get(contact=old, destination="meta")
    assert old_row.synced_state == AudienceSyncState.REMOVED


def test_an_order_takes_an_abandoner_out_of_the_built_in_audience_at_the_next_sync():
    """End to end over the built-in segment: a basket left yesterday puts the person in
    "abandoned in the last 7 days"; their order makes the segment's refresh drop them, and
    the next sync removes them from the platform."""
    from oscar_recovery.segments import refresh

    now = timezone.now()
    aud = Audience.objects.get(slug="abandoned-7d")
    Audience.objects.filter(pk=aud.pk).update(sync_meta=True)
    aud.refresh_from_db()
    person = contact("leaver@example.com")
    facts = ContactFacts.objects.create(
        contact=person, last_basket_activity_at=now - timedelta(days=1), updated_at=now
    )
    contact("stayer@example.com", ads=False)  # no consent: never in it
    refresh.refresh(aud.segment_id, now)
    sync.sync_audience(aud, now=now)
    assert sent_emails("add") == [sha("leaver@example.com")]
    fake.reset()

    later = now + timedelta(hours=1)
    ContactFacts.objects.filter(pk=facts.pk).update(
        order_count=1, first_order_at=later, last_order_at=later, updated_at=later
    )
    refresh.refresh(aud.segment_id, later + timedelta(minutes=1))
    sync.sync_audience(aud, now=later + timedelta(minutes=2), force=True)
    assert sent_emails("remove") == [sha("leaver@example.com")] and calls("add") == []
