"""The owner's view of audiences: who may open the page and download the hashed CSVs, what
the page says (size, consented share, minimum, who leaves and when, errors), the CSV
formats (hashes only), the health report and the admin."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from oscar.test import factories

from oscar_recovery.audiences import sync
from oscar_recovery.audiences.platforms import fake
from oscar_recovery.constants import AudienceSyncStatus, ConsentSource
from oscar_recovery.dashboard.formatting import format_datetime
from oscar_recovery.models import Audience
from oscar_recovery.operations import health
from oscar_recovery.privacy import ads_consent
from tests.audiences.helpers import audience, contact, segment
from tests.support import dashboard_scenario as sc

pytestmark = pytest.mark.django_db

HEX64 = re.compile(r"[0-9a-f]{64}")


def url(name, *args, **kwargs):
    return reverse(f"recovery_dashboard:{name}", args=args, kwargs=kwargs)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def synced():
    Audience.objects.all().delete()  # the built-in ones
    seg = segment()
    aud = audience(seg, sync_meta=True)
    contact("ada@example.com", phone="+442079460958", seg=seg)
    contact("bob@example.com", seg=seg)
    contact("cy@example.com", ads=False, seg=seg)
    sync.sync_audience(aud)
    return aud


def client_for(*permissions: str) -> Client:
    client = Client()
    client.force_login(sc.recovery_staff(*permissions))
    return client


def csv_url(aud, platform="google"):
    return url("recovery-audience-csv", pk=aud.pk, platform=platform)


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_who_may_see_the_page_and_download_the_lists(synced, client):
    page = url("recovery-audience-list")
    assert client.get(page).status_code == 302  # to the dashboard login
    customer = Client()
    customer.force_login(factories.UserFactory(is_staff=False))
    assert customer.get(page).status_code in (302, 403)
    assert customer.get(csv_url(synced)).status_code in (302, 403)
    # Staff with other permissions see neither; the page alone does not give the lists.
    assert client_for("view_contact", "view_cartjourney").get(page).status_code == 403
    viewer = client_for("view_audience")
    assert viewer.get(page).status_code == 200
    assert csv_url(synced) not in viewer.get(page).content.decode()
    assert viewer.get(csv_url(synced)).status_code == 403
    downloader = client_for("view_audience", "view_audiencemember")
    assert csv_url(synced) in downloader.get(page).content.decode()
    assert downloader.get(csv_url(synced)).status_code == 200


def test_the_csv_files_hold_hashes_only_in_each_platforms_format(synced):
    client = client_for("view_audience", "view_audiencemember")
    google = client.get(csv_url(synced, "google"))
    assert google["Content-Type"].startswith("text/csv")
    assert google["Content-Disposition"].endswith('.csv"')
    text = body(google)
    assert not text.startswith("\ufeff")  # a BOM would corrupt the first header
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Email", "Phone"]
    assert sorted(rows[1:]) == sorted(
        [[sha("ada@example.com"), sha("+442079460958")], [sha("bob@example.com"), ""]]
    )
    meta = list(csv.reader(io.StringIO(body(client.get(csv_url(synced, "meta"))))))
    assert meta[0] == ["email", "phone"] and sorted(meta[1:]) == sorted(rows[1:])
    for row in rows[1:] + meta[1:]:
        assert all(HEX64.fullmatch(value) for value in row if value)
    assert "example.com" not in text
    assert client.get(csv_url(synced, "tiktok")).status_code == 404
    assert client.get(url("recovery-audience-csv", pk=99999, platform="meta")).status_code == 404


def test_the_page_shows_size_share_minimum_and_who_leaves_at_the_next_sync(synced):
    ads_consent.withdraw("bob@example.com", source=ConsentSource.ACCOUNT)
    client = client_for("view_audience")
    html = client.get(url("recovery-audience-list")).content.decode()
    assert 'data-members="2"' in html
    assert "66.7 %" in html  # two of the segment's three gave consent
    assert "data-below-minimum" in html
    assert 'data-leaving="1"' in html
    assert 'data-destination="meta"' in html and 'data-to-remove="1"' in html
    (overview,) = client.get(url("recovery-audience-list")).context["overviews"]
    last = Audience.objects.get(pk=synced.pk).last_sync_at
    assert overview.next_sync_at == last + timedelta(days=1)
    assert format_datetime(overview.next_sync_at) in html


def test_failures_show_on_the_page_and_in_the_health_report(synced):
    fake.fail_next(1, message="Meta says: invalid audience")
    contact("dee@example.com", seg=synced.segment)
    sync.sync_audience(synced, force=True)
    html = client_for("view_audience").get(url("recovery-audience-list")).content.decode()
    assert "data-failing" in html and "Meta says: invalid audience" in html
    report = health.check()
    assert "audience_sync_failing" in {problem.code for problem in report.problems}
    assert report.as_dict()["audiences_failing"] == [
        {"name": synced.name, "status": AudienceSyncStatus.FAILED, "destinations": ["meta"]}
    ]


def test_saving_a_held_audience_in_the_admin_releases_it(synced, admin_client):
    Audience.objects.filter(pk=synced.pk).update(
        held=True, last_sync_status=AudienceSyncStatus.HELD
    )
    change = reverse("admin:oscar_recovery_audience_change", args=[synced.pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {key: ("" if value is None else value) for key, value in data.items()}
    data = {key: value for key, value in data.items() if value is not False}
    response = admin_client.post(change, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    synced.refresh_from_db()
    assert not synced.held


def test_staff_withdraw_consent_from_the_members_admin(synced, admin_client):
    from oscar_recovery.models import AudienceMember

    member = AudienceMember.objects.get(destination="meta", email_sha256=sha("ada@example.com"))
    response = admin_client.post(
        reverse("admin:oscar_recovery_audiencemember_changelist"),
        {"action": "withdraw_ads_consent", "_selected_action": [member.pk]},
    )
    assert response.status_code == 302
    assert not ads_consent.is_granted("ada@example.com")
    fake.reset()
    sync.sync_audience(synced, force=True)
    assert [m.email_sha256 for c in fake.CALLS if c.kind == "remove" for m in c.members] == [
        sha("ada@example.com")
    ]


def test_the_customers_page_and_the_menu_lead_to_the_audiences():
    page = url("recovery-audience-list")
    allowed = client_for("view_contact", "view_cartjourney", "view_audience")
    customers = allowed.get(url("recovery-contact-list")).content.decode()
    assert "data-audiences-link" in customers and page in customers
    others = client_for("view_contact", "view_cartjourney")
    assert "data-audiences-link" not in others.get(url("recovery-contact-list")).content.decode()
    # Oscar's menu shows the entry only to staff who may open it.
    assert page in allowed.get(url("recovery-basket-list")).content.decode()
