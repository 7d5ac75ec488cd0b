"""Export and erasure of a person's contacts: their identifiers, facts and merges go with
the address, and the consent ledger keeps its proof under keyed hashes, each address under
its own."""

import pytest

from oscar_recovery.constants import (
    Channel,
    ConsentAction,
    ConsentSource,
    ConsentStatus,
    IdentifierKind,
)
from oscar_recovery.models import (
    ConsentEvent,
    Contact,
    ContactFacts,
    ContactIdentifier,
    ContactMerge,
)
from oscar_recovery.privacy import data_rights, ledger
from oscar_recovery.privacy.hashing import email_hash
from tests.support import contacts_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return contacts_scenario.build()


def test_export_covers_the_contacts_identifiers_facts_merges_and_ledger(people):
    data = data_rights.export_email("Ada@Example.com")

    contacts = {row["uuid"]: row for row in data["contacts"]}
    assert set(contacts) == {people.ada.uuid, people.ada_guest.uuid}
    ada = contacts[people.ada.uuid]
    assert ada["user_id"] == people.ada.user_id
    assert {(i["kind"], i["value"]) for i in ada["identifiers"]} >= {
        (IdentifierKind.EMAIL, "ada@example.com"),
        (IdentifierKind.USER, str(people.ada.user_id)),
        (IdentifierKind.VISITOR, "laptop"),
    }
    assert ada["facts"]["order_count"] == 2 and str(ada["facts"]["lifetime_value"]) == "160.00"
    (merge,) = ada["merges"]
    assert merge["loser_uuid"] == people.ada_guest.uuid
    events = data["consent_events"]
    assert [(e["address"], e["action"]) for e in events] == [("ada@example.com", "given")]
    assert events[0]["wording"] == "Email me about my basket"
    # Nothing of Bob's.
    assert "bob@example.com" not in data_rights.export_json("ada@example.com")


def test_erase_deletes_contacts_identifiers_facts_and_merges_and_keeps_the_ledger_hashed(
    people,
):
    given = ConsentEvent.objects.get(address="ada@example.com")
    erasure = data_rights.erase_email("ada@example.com")

    assert erasure.contacts == 2
    assert not Contact.objects.filter(pk__in=[people.ada.pk, people.ada_guest.pk]).exists()
    assert not ContactIdentifier.objects.filter(contact_id=people.ada.pk).exists()
    assert not ContactIdentifier.objects.filter(value="ada@example.com").exists()
    assert not ContactFacts.objects.filter(contact_id=people.ada.pk).exists()
    assert not ContactMerge.objects.exists()
    given.refresh_from_db()
    assert given.address == email_hash("ada@example.com")
    assert (given.contact_id, given.journey_id, given.visitor_id, given.evidence) == (
        None,
        None,
        "",
        {},
    )
    assert given.wording == "Email me about my basket"  # the proof of what was asked stays
    assert not ConsentEvent.objects.filter(address__icontains="ada@").exists()
    # The ledger still knows the address by its hash: erased, never emailed again.
    assert ledger.email_state("ada@example.com").status == ConsentStatus.SUPPRESSED
    # Bob is untouched.
    assert Contact.objects.filter(pk=people.bob.pk).exists()
    assert ledger.email_state("bob@example.com").status == ConsentStatus.SUPPRESSED


def test_erasing_one_address_keeps_the_consent_of_the_persons_other_address(people):
    """Ada's contact also holds her work address, where she said no thanks. Erasing her
    private address erases the contact, but the work address's "no" must not turn into a
    record of the private one: each event is kept under the hash of its own address."""
    ContactIdentifier.objects.create(
        contact=people.ada, kind=IdentifierKind.EMAIL, value="ada.work@example.com"
    )
    ledger.record(
        Channel.EMAIL,
        "ada.work@example.com",
        ConsentAction.WITHDRAWN,
        source=ConsentSource.PROMPT,
        contact_id=people.ada.pk,
    )
    assert ledger.email_state("ada.work@example.com").status == ConsentStatus.WITHDRAWN

    data_rights.erase_email("ada@example.com")

    assert ledger.email_state("ada.work@example.com").status == ConsentStatus.WITHDRAWN
    assert not ConsentEvent.objects.filter(address__icontains="ada").exists()
    work = ConsentEvent.objects.get(action=ConsentAction.WITHDRAWN)
    assert work.address == email_hash("ada.work@example.com") and work.contact_id is None
