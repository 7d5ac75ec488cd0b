"""The dashboard's customer pages: who may open them, the list's search and filters, and a
customer's page with every section filled from rows the sweep linked and counted."""

import pytest
from django.test import Client
from django.urls import reverse
from oscar.test import factories

from oscar_recovery.constants import ContactStatus
from oscar_recovery.dashboard import forms
from oscar_recovery.models import ConsentEvent, Contact
from tests.support import contacts_scenario
from tests.support import dashboard_scenario as sc

pytestmark = pytest.mark.django_db

CONTACT_PERMISSIONS = ("view_cartjourney", "view_contact")


def url(name, *args):
    return reverse(f"recovery_dashboard:{name}", args=args)


@pytest.fixture
def people():
    return contacts_scenario.build()


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(sc.recovery_staff(*CONTACT_PERMISSIONS, email="staff@example.com"))
    return client


def pages(people) -> list[str]:
    return [url("recovery-contact-list"), url("recovery-contact-detail", people.ada.uuid)]


def listed(response) -> list[str]:
    return [contact.email for contact in response.context["contacts"]]


# -- Who may look ------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_dashboard_login(people, client):
    for page in pages(people):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith(reverse("dashboard:login")), page


def test_customers_and_staff_without_both_permissions_are_refused(people):
    """A customer's page gathers every basket, message, consent and order of a person: staff
    who may see baskets but not contacts (or contacts but not baskets) see neither page."""
    refused = [
        factories.UserFactory(is_staff=False),
        sc.recovery_staff(),
        sc.recovery_staff("view_cartjourney"),
        sc.recovery_staff("view_contact"),
        sc.recovery_staff("view_campaign", "change_campaignenrolment"),
    ]
    for user in refused:
        client = Client()
        client.force_login(user)
        for page in pages(people):
            assert client.get(page).status_code == 403, (user.pk, page)


def test_staff_with_the_permissions_see_both_pages_and_the_menu_entry(people, staff_client):
    for page in pages(people):
        assert staff_client.get(page).status_code == 200, page
    menu = staff_client.get(url("recovery-basket-list")).content.decode()
    assert url("recovery-contact-list") in menu


def test_the_menu_hides_the_entry_from_staff_who_may_not_open_it(people):
    client = Client()
    client.force_login(sc.recovery_staff("view_cartjourney"))
    assert (
        url("recovery-contact-list") not in client.get(url("recovery-basket-list")).content.decode()
    )


def test_a_basket_links_to_its_customer_for_staff_who_may_open_the_page(people, staff_client):
    basket = url("recovery-basket-detail", people.bob_journey.pk)
    html = staff_client.get(basket).content.decode()
    assert url("recovery-contact-detail", people.bob.uuid) in html
    baskets_only = Client()
    baskets_only.force_login(sc.recovery_staff("view_cartjourney"))
    html = baskets_only.get(basket).content.decode()
    assert "data-contact-link" not in html


def test_an_unknown_customer_is_not_found(people, staff_client):
    missing = "00000000-0000-0000-0000-000000000000"
    assert staff_client.get(f"{url('recovery-contact-list')}{missing}/").status_code == 404


# -- The list --------------------------------------------------------------------------------


def test_the_list_shows_live_customers_newest_seen_first_with_their_figures(people, staff_client):
    response = staff_client.get(url("recovery-contact-list"))
    # Ada's guest contact merged into her account's: listed once, as her account.
    assert listed(response) == ["ada@example.com", "bob@example.com"]
    html = response.content.decode()
    row = html[html.index(f'data-contact="{people.ada.uuid}"') :]
    row = row[: row.index("</tr>")]
    assert "Ada Lovelace" in row  # the account
    assert ">2<" in row  # two orders: the guest one and the account's, not someone else's
    assert "160.00" in row  # lifetime value
    assert "Given, not verified" in row  # consent typed at checkout, not confirmed
    bob = html[html.index(f'data-contact="{people.bob.uuid}"') :]
    bob = bob[: bob.index("</tr>")]
    assert "Guest" in bob and "Never contact again" in bob


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ADA@example.COM ", ["ada@example.com"]),  # canonical form
        ("bob@", ["bob@example.com"]),  # part of the address
        ("example.com", ["ada@example.com", "bob@example.com"]),
        ("nobody@example.com", []),
    ],
)
def test_the_list_is_searched_by_address(people, staff_client, term, expected):
    assert listed(staff_client.get(url("recovery-contact-list"), {"q": term})) == expected


def test_the_list_is_searched_by_an_address_only_an_identifier_holds(people, staff_client):
    from oscar_recovery.constants import IdentifierKind
    from oscar_recovery.models import ContactIdentifier

    ContactIdentifier.objects.create(
        contact=people.ada, kind=IdentifierKind.EMAIL, value="ada.work@example.com"
    )
    response = staff_client.get(url("recovery-contact-list"), {"q": "Ada.Work@example.com"})
    assert listed(response) == ["ada@example.com"]


def test_the_list_is_searched_by_uuid(people, staff_client):
    response = staff_client.get(url("recovery-contact-list"), {"q": str(people.bob.uuid)})
    assert listed(response) == ["bob@example.com"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"account": "yes"}, ["ada@example.com"]),
        ({"account": "no"}, ["bob@example.com"]),
        ({"orders": "yes"}, ["ada@example.com"]),
        ({"orders": "no"}, ["bob@example.com"]),
        ({"status": ContactStatus.MERGED}, ["ada@example.com"]),  # the merged guest contact
        ({"status": "any"}, ["ada@example.com", "ada@example.com", "bob@example.com"]),
    ],
)
def test_the_list_is_filtered(people, staff_client, filters, expected):
    assert sorted(listed(staff_client.get(url("recovery-contact-list"), filters))) == expected


def test_merged_customers_are_marked_and_filters_are_kept_across_pages(people, staff_client):
    from oscar_recovery.dashboard.views import ContactListView

    response = staff_client.get(url("recovery-contact-list"), {"status": "merged"})
    assert [c.pk for c in response.context["contacts"]] == [people.ada_guest.pk]
    assert "badge" in response.content.decode()
    Contact.objects.bulk_create(
        [Contact(email=f"c{i}@example.com") for i in range(ContactListView.paginate_by)]
    )
    response = staff_client.get(url("recovery-contact-list"), {"orders": "no"})
    assert response.context["is_paginated"]
    assert "orders=no&amp;page=2" in response.content.decode()


def test_an_invalid_filter_lists_live_customers_and_says_why(people, staff_client):
    response = staff_client.get(url("recovery-contact-list"), {"status": "<script>"})
    assert response.status_code == 200
    assert sorted(listed(response)) == ["ada@example.com", "bob@example.com"]
    assert "alert-danger" in response.content.decode()


def test_the_segment_filter_keeps_a_real_segments_members(people, staff_client):
    """With the segments installed, the list's segment field is there, and filtering by a
    refreshed segment keeps its members (and only them)."""
    from oscar_recovery.models import Segment
    from oscar_recovery.segments.refresh import refresh_all

    assert forms.segment_model() is Segment
    refresh_all()
    segment = next(s for s in Segment.objects.all() if s.member_count)
    members = set(segment.memberships.filter(exited_at=None).values_list("contact_id", flat=True))
    response = staff_client.get(url("recovery-contact-list"), {"segment": segment.pk})
    assert "segment" in response.context["form"].fields
    shown = {contact.pk for contact in response.context["page_obj"].object_list}
    assert shown and shown <= members


def test_the_segment_filter_lists_the_members_once_segments_exist(
    people, staff_client, monkeypatch
):
    """The hook for segments: with a segment model the form grows a field, and the list
    keeps the contacts ``segments.members`` returns (a campaign stands in for a segment)."""
    from oscar_recovery.models import Campaign

    stand_in = Campaign.objects.create(name="Big spenders")
    monkeypatch.setattr(forms, "segment_model", lambda: Campaign)
    monkeypatch.setattr(
        forms,
        "segment_members",
        lambda segment: Contact.objects.filter(email="bob@example.com" if segment else ""),
    )
    response = staff_client.get(url("recovery-contact-list"), {"segment": stand_in.pk})
    assert "segment" in response.context["form"].fields
    assert listed(response) == ["bob@example.com"]
    unknown = staff_client.get(url("recovery-contact-list"), {"segment": "999999"})
    assert unknown.context["form"].errors and len(listed(unknown)) == 2


def test_the_list_costs_the_same_queries_for_one_customer_or_a_full_page(
    people, staff_client, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        staff_client.get(url("recovery-contact-list"))
    Contact.objects.bulk_create([Contact(email=f"c{i}@example.com") for i in range(60)])
    with django_assert_max_num_queries(len(few)):
        response = staff_client.get(url("recovery-contact-list"))
    assert len(response.context["contacts"]) == 50


# -- A customer's page ------------------------------------------------------------------------


def section(html: str, name: str) -> str:
    start = html.index(f'data-table="{name}"')
    return html[start : html.index("</table>", start)]


def test_the_page_shows_identity_identifiers_and_facts(people, staff_client):
    html = staff_client.get(url("recovery-contact-detail", people.ada.uuid)).content.decode()
    identity_ = section(html, "identity")
    assert str(people.ada.uuid) in identity_
    assert reverse("dashboard:user-detail", kwargs={"pk": people.ada.user_id}) in identity_
    identifiers = section(html, "identifiers")
    assert "Customer account" in identifiers and "Email address" in identifiers
    assert "Browser (visitor cookie)" in identifiers and "laptop" in identifiers
    facts = section(html, "facts")
    assert "data-order-count>2<" in facts and "160.00" in facts and "120.00" in facts


def test_the_page_lists_baskets_messages_and_orders_with_links(people, staff_client):
    html = staff_client.get(url("recovery-contact-detail", people.ada.uuid)).content.decode()
    journeys = section(html, "journeys")
    for journey in people.ada_journeys:  # the guest basket too: it followed the merge
        assert url("recovery-basket-detail", journey.pk) in journeys
    assert url("recovery-basket-detail", people.bob_journey.pk) not in journeys
    messages = section(html, "messages")
    assert "Forgot something?" in messages and "Email" in messages and "Sent" in messages
    orders = section(html, "orders")
    mine, account, someone_else = people.orders
    for order in (mine, account):
        assert reverse("dashboard:order-detail", kwargs={"number": order.number}) in orders
    assert someone_else.number not in orders
    assert "Guest (Ada@Example.com)" in orders


def test_the_page_shows_consent_history_newest_first_and_the_state_now(people, staff_client):
    from oscar_recovery.constants import Channel, ConsentAction, ConsentSource
    from oscar_recovery.privacy import ledger

    ledger.record(
        Channel.EMAIL,
        "ada@example.com",
        ConsentAction.CONFIRMED,
        source=ConsentSource.CONFIRMED,
        language="de",
    )
    html = staff_client.get(url("recovery-contact-detail", people.ada.uuid)).content.decode()
    history = section(html, "consent-history")
    confirmed, given = history.index("Confirmed by email"), history.index("Checkout gateway")
    assert confirmed < given  # newest first
    assert "Email me about my basket" in history  # the wording shown
    assert "German" in history  # the language by name, not its code
    assert "Prior consent" in history
    state = section(html, "consent-state")
    assert "ada@example.com" in state and 'data-consent="confirmed"' in state


def test_the_page_names_an_address_the_ledger_holds_by_its_hash(people, staff_client):
    """Unsubscribe links that outlived their journey record the address by its keyed hash:
    the page still says which address, and the state counts it."""
    from oscar_recovery.constants import Channel, ConsentAction, ConsentSource
    from oscar_recovery.privacy import ledger
    from oscar_recovery.privacy.hashing import email_hash

    ConsentEvent.objects.filter(address="bob@example.com").delete()
    ledger.record(
        Channel.EMAIL,
        email_hash("bob@example.com"),
        ConsentAction.UNSUBSCRIBED,
        source=ConsentSource.UNSUBSCRIBE_LINK,
    )
    # An address the customer no longer holds (erased since): no one to name.
    ledger.record(
        Channel.EMAIL,
        email_hash("gone@example.com"),
        ConsentAction.ERASED,
        source=ConsentSource.ERASURE,
        contact_id=people.bob.pk,
    )
    html = staff_client.get(url("recovery-contact-detail", people.bob.uuid)).content.decode()
    history = section(html, "consent-history")
    assert "bob@example.com" in history and "Unsubscribed" in history
    assert "an erased address" in history
    assert email_hash("bob@example.com") not in history
    assert email_hash("gone@example.com") not in history
    assert 'data-consent="suppressed"' in section(html, "consent-state")


def test_the_page_shows_merges_both_ways(people, staff_client):
    html = staff_client.get(url("recovery-contact-detail", people.ada.uuid)).content.decode()
    merges = section(html, "merges")
    assert 'data-merge="in"' in merges
    assert url("recovery-contact-detail", people.ada_guest.uuid) in merges
    assert "Created an account with the address" in merges
    html = staff_client.get(url("recovery-contact-detail", people.ada_guest.uuid)).content.decode()
    assert 'data-merge="out"' in section(html, "merges")
    assert url("recovery-contact-detail", people.ada.uuid) in section(html, "identity")


def test_a_long_history_is_capped_and_says_how_much_is_left_out(people, staff_client, settings):
    from oscar_recovery.constants import Channel, ConsentAction, ConsentSource
    from oscar_recovery.contacts import profile
    from oscar_recovery.privacy import ledger

    for _ in range(profile.SECTION_LIMIT + 3):
        ledger.record(
            Channel.EMAIL, "bob@example.com", ConsentAction.WITHDRAWN, source=ConsentSource.PROMPT
        )
    response = staff_client.get(url("recovery-contact-detail", people.bob.uuid))
    shown = response.context["profile"].consent_events
    assert len(shown.rows) == profile.SECTION_LIMIT
    assert shown.total == profile.SECTION_LIMIT + 4  # with the unsubscribe
    assert "4 older rows not shown." in response.content.decode()


def test_a_customer_the_sweep_has_not_counted_yet_opens(staff_client):
    contact = Contact.objects.create(email="new@example.com")
    response = staff_client.get(url("recovery-contact-detail", contact.uuid))
    assert response.status_code == 200
    assert "data-no-facts" in response.content.decode()
    listing = staff_client.get(url("recovery-contact-list")).content.decode()
    assert f'data-contact="{contact.uuid}"' in listing


# -- The Django admin -------------------------------------------------------------------------


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_contact_admin_is_searched_by_address_and_uuid_and_filtered(people, superuser_client):
    changelist = reverse("admin:oscar_recovery_contact_changelist")

    def found(**params):
        response = superuser_client.get(changelist, params)
        assert response.status_code == 200, params
        return sorted(c.pk for c in response.context["cl"].result_list)

    assert found(q="BOB@example.com") == [people.bob.pk]
    assert found(q=str(people.ada.uuid)) == [people.ada.pk]
    assert found(has_account="yes") == [people.ada.pk]
    assert found(has_orders="no") == sorted([people.bob.pk, people.ada_guest.pk])
    assert found(status__exact="merged") == [people.ada_guest.pk]


def test_the_contact_admin_shows_identifiers_facts_and_merges_and_edits_nothing(
    people, superuser_client
):
    change = reverse("admin:oscar_recovery_contact_change", args=[people.ada.pk])
    html = superuser_client.get(change).content.decode()
    assert "Browser (visitor cookie)" in html and "laptop" in html  # an identifier
    assert "160.00" in html  # facts
    assert str(people.ada_guest.uuid) in html  # the merge
    assert superuser_client.post(change, {"email": "x@example.com"}).status_code == 403
    assert superuser_client.get(reverse("admin:oscar_recovery_contact_add")).status_code == 403
    delete = reverse("admin:oscar_recovery_contact_delete", args=[people.ada.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    people.ada.refresh_from_db()
    assert people.ada.email == "ada@example.com"


def test_the_consent_ledger_admin_is_append_only_for_everyone(people, superuser_client):
    from oscar_recovery.models import ConsentEvent

    event = ConsentEvent.objects.filter(address="ada@example.com").first()
    changelist = reverse("admin:oscar_recovery_consentevent_changelist")
    response = superuser_client.get(changelist, {"q": "Ada@Example.com"})
    assert [e.pk for e in response.context["cl"].result_list] == [event.pk]
    # Bob's unsubscribe is held by its hash: searching his address finds it all the same.
    response = superuser_client.get(changelist, {"q": "bob@example.com"})
    assert [e.action for e in response.context["cl"].result_list] == ["unsubscribed"]
    change = reverse("admin:oscar_recovery_consentevent_change", args=[event.pk])
    page = superuser_client.get(change)
    assert page.status_code == 200 and "Email me about my basket" in page.content.decode()
    assert superuser_client.post(change, {"action": "withdrawn"}).status_code == 403
    add = reverse("admin:oscar_recovery_consentevent_add")
    assert superuser_client.get(add).status_code == 403
    delete = reverse("admin:oscar_recovery_consentevent_delete", args=[event.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    bulk = superuser_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302, 403)
    assert ConsentEvent.objects.filter(pk=event.pk).exists()
    event.refresh_from_db()
    assert event.action == "given"


def test_a_customers_page_costs_the_same_queries_however_long_their_history(
    people, staff_client, django_assert_max_num_queries
):
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from oscar_recovery.constants import MessageStatus
    from oscar_recovery.models import RecoveryMessage
    from tests.support.factories import make_journey

    page = url("recovery-contact-detail", people.ada.uuid)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(page)
    for hours in range(1, 8):
        journey = make_journey(
            quiet_for=timedelta(hours=hours), email="ada@example.com", contact=people.ada
        )
        RecoveryMessage.objects.create(
            journey=journey, step=people.message.step, status=MessageStatus.SENT
        )
    with django_assert_max_num_queries(len(few)):
        response = staff_client.get(page)
    assert len(response.context["profile"].journeys.rows) == 9
    assert len(response.context["profile"].messages.rows) == 8
