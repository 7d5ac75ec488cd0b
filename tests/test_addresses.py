"""One canonical address: every spelling an ESP delivers to one mailbox is one address."""

from __future__ import annotations

import pytest
from django.utils import translation

from oscar_recovery.contacts.addresses import (
    InvalidAddress,
    canonical_email,
    canonical_phone,
    display_email,
    safe_canonical_email,
)

SOFT_HYPHEN = "victim@exam\u00adple.com"
FULL_WIDTH = "victim@\uff45xample.com"


@pytest.mark.parametrize(
    "raw, canonical",
    [
        ("victim@example.com", "victim@example.com"),
        ("  Victim@Example.COM \n", "victim@example.com"),
        ("anna@bücher.de", "anna@xn--bcher-kva.de"),
        ("Anna@BÜCHER.de", "anna@xn--bcher-kva.de"),
        ("anna@xn--bcher-kva.de", "anna@xn--bcher-kva.de"),
        # NFD (u + combining diaeresis) is the same domain as NFC.
        ("anna@bu\u0308cher.de", "anna@xn--bcher-kva.de"),
        # IDNA 2008 keeps ß: straße.de is not strasse.de.
        ("anna@straße.de", "anna@xn--strae-oqa.de"),
        ("anna@пример.рф", "anna@xn--e1afmkfd.xn--p1ai"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
    ],
)
def test_canonical_email(raw, canonical):
    assert canonical_email(raw) == canonical
    assert canonical_email(canonical) == canonical  # idempotent


@pytest.mark.parametrize(
    "raw",
    [
        SOFT_HYPHEN,
        FULL_WIDTH,
        "vic\u200btim@example.com",  # zero-width space
        "victim@example\u200d.com",  # zero-width joiner
        "victim@\u202eexample.com",  # right-to-left override
        "victim\u00a0@example.com",  # no-break space inside
        "vic tim@example.com",
        "victim@exa\tmple.com",
        "ﬁnance@example.com",  # ligature fi
        "victim@example.co\u00b2",  # superscript two
        "victim@ex\u0430mple.com",  # Cyrillic a in a Latin label
        "vict\u0456m@example.com",  # Cyrillic i in a Latin local part
        "victim@\u03bfrange.com",  # Greek omicron in a Latin label
        "",
        "   ",
        "not-an-address",
        "victim@",
        "@example.com",
        "victim@@example.com",
        "victim@-example-.com",
    ],
)
def test_refused(raw):
    with pytest.raises(InvalidAddress) as excinfo:
        canonical_email(raw)
    assert str(excinfo.value)  # a message the shopper can read
    assert safe_canonical_email(raw) == ""


def test_sharp_s_is_not_ss():
    """``str.casefold`` would turn ß into ss and merge two mailboxes; nor does the
    address's ß become anything else."""
    assert canonical_email("STRASSE@example.de") == "strasse@example.de"
    assert safe_canonical_email("straße@example.de") != "strasse@example.de"
    assert canonical_email("anna@STRASSE.de") != canonical_email("anna@straße.de")


def test_display_email_shows_the_u_label():
    assert display_email("anna@xn--bcher-kva.de") == "anna@bücher.de"
    assert display_email("victim@example.com") == "victim@example.com"
    assert display_email("") == ""
    # Something that is not a canonical address is shown as it is, never raises.
    assert display_email("broken@xn--") == "broken@xn--"


def test_safe_canonical_email_reads_anything():
    assert safe_canonical_email(None) == ""
    assert safe_canonical_email(42) == ""
    assert safe_canonical_email("Victim@Example.com") == "victim@example.com"


def reason(raw: str) -> str:
    with pytest.raises(InvalidAddress) as excinfo:
        canonical_email(raw)
    return str(excinfo.value)


def test_the_reason_is_in_the_shoppers_language():
    with translation.override("ro"):
        assert reason("not-an-address") == "Introdu o adresă de e-mail validă."
        assert reason(SOFT_HYPHEN).startswith("Această adresă de e-mail conține caractere")


@pytest.mark.parametrize(
    "raw, region, e164",
    [
        ("+44 20 7946 0958", None, "+442079460958"),
        ("+1 (202) 555-0143", None, "+12025550143"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("+442079460958", "FR", "+442079460958"),
    ],
)
def test_canonical_phone(raw, region, e164):
    assert canonical_phone(raw, region) == e164
    assert canonical_phone(e164) == e164


def test_phone_region_default_is_the_setting(settings):
    with pytest.raises(InvalidAddress):
        canonical_phone("020 7946 0958")  # no region: must be +international
    settings.OSCAR_RECOVERY_PHONE_REGION = "GB"
    assert canonical_phone("020 7946 0958") == "+442079460958"


@pytest.mark.parametrize(
    "raw", ["", "12", "+44 20", "not a number", "+999 123 456", "+44 20 7946 0958 0958 0958"]
)
def test_invalid_phone_refused(raw):
    with pytest.raises(InvalidAddress):
        canonical_phone(raw, "GB")
