"""One canonical form per mailbox and per phone, used everywhere an address is stored,
hashed, matched, suppressed, limited or redacted.

Django's ``EmailValidator`` accepts ``victim@exam\\u00adple.com`` (a soft hyphen) and
``victim@\\uff45xample.com`` (a full-width letter), and Django's ``sanitize_address`` and the ESPs
deliver both to ``victim@example.com``. Compared as raw strings, each spelling would be a new
shopper: one an unsubscribe, a bounce or an erasure never covered. :func:`canonical_email`
turns an address into the form the ESP delivers to, and refuses the spellings that only
differ from a plain address by invisible or look-alike characters.

The rules, in order (each refusal is an :class:`InvalidAddress`):

1. Surrounding whitespace is trimmed.
2. Control, format, private-use and unassigned characters (Unicode category ``C*``: soft
   hyphen, zero-width space and joiner, bidi controls...) and any whitespace inside are
   refused: no mail system delivers to them, they only hide a plain address.
3. The address is NFC-normalised (``u`` + combining diaeresis is ``ü``), and refused when
   NFKC differs from NFC: full-width letters, ligatures, superscripts and the like are
   compatibility look-alikes of a plain form.
4. Look-alike scripts: the local part and each domain label may not mix letters of two of
   Latin, Greek and Cyrillic (``ex\\u0430mple``, with a Cyrillic a). Other mixes (Latin
   with Han or Kana, as Japanese names have) stay allowed. A label written entirely in one
   of these scripts is allowed even when it looks like a Latin word: that is a real
   internationalised domain, and telling it apart needs the confusables tables.
5. The local part is lowercased with ``str.lower()`` (see :func:`_local_part`), the domain
   becomes its IDNA 2008 A-label (UTS #46 mapping, non-transitional, so ``straße.de`` stays
   ``xn--strae-oqa.de`` and is never ``strasse.de``), lowercase.
6. The result must pass Django's ``EmailValidator`` and fit a 254-character ``EmailField``.

``anna@bücher.de`` is ``anna@xn--bcher-kva.de``; :func:`display_email` shows it back as
``anna@bücher.de``. The function is idempotent. Phones: :func:`canonical_phone` (E.164).
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata

import idna
import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from oscar_recovery import app_settings

#: The length of a journey's ``EmailField`` (and of RFC 5321's path, less the brackets).
MAX_LENGTH = 254

#: Scripts whose letters pass for each other's (Cyrillic and Latin a, Greek and Latin o).
_LOOK_ALIKE_SCRIPTS = frozenset({"LATIN", "GREEK", "CYRILLIC"})

INVALID_EMAIL = _("Enter a valid email address.")
LOOK_ALIKE_EMAIL = _(
    "This email address contains hidden or look-alike characters. Please type it again "
    "using plain letters."
)
INVALID_PHONE = _("Enter a valid phone number, with its country code (for example +44).")


class InvalidAddress(ValueError):
    """An address or phone number that cannot be canonicalised. ``message`` is the
    shopper-facing reason, translated into the active language when shown."""

    def __init__(self, message=INVALID_EMAIL):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


def canonical_email(raw: str) -> str:
    """The canonical form of ``raw`` (the module docstring's rules), or :class:`InvalidAddress`.
    ``canonical_email(canonical_email(x)) == canonical_email(x)``."""
    if not isinstance(raw, str):
        raise InvalidAddress()
    address = raw.strip()
    if not address:
        raise InvalidAddress()
    for char in address:
        if unicodedata.category(char)[0] in "CZ" or char.isspace():
            raise InvalidAddress(LOOK_ALIKE_EMAIL)
    address = unicodedata.normalize("NFC", address)
    if unicodedata.normalize("NFKC", address) != address:
        raise InvalidAddress(LOOK_ALIKE_EMAIL)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress()
    local = _local_part(local)
    domain = _domain(domain)
    canonical = f"{local}@{domain}"
    if len(canonical) > MAX_LENGTH:
        raise InvalidAddress()
    try:
        validate_email(canonical)
    except ValidationError:
        raise InvalidAddress() from None
    return canonical


def safe_canonical_email(raw: object) -> str:
    """:func:`canonical_email`, or ``""`` for anything that is not a valid address (old rows,
    Oscar's own fields, ``None``): for reading, where no one can be asked to retype it."""
    return _safe_canonical_email(raw) if isinstance(raw, str) else ""


# Pure, and asked again and again for the same few addresses (a send batch compares each
# journey's address with every row its checks read).
@functools.lru_cache(maxsize=4096)
def _safe_canonical_email(raw: str) -> str:
    try:
        return canonical_email(raw)
    except InvalidAddress:
        return ""


def validate_canonical_email(value: str) -> None:
    """A Django validator: ``ValidationError`` (code ``invalid``) for what
    :func:`canonical_email` refuses, with its reason."""
    try:
        canonical_email(value)
    except InvalidAddress as exc:
        raise ValidationError(exc.message, code="invalid") from None


def email_spellings(canonical: str) -> list[str]:
    """The forms a canonical address is commonly stored under elsewhere (Oscar's orders and
    users keep what was typed): itself, its U-label form, and that form with the domain in
    upper case (SQLite's ``UPPER`` leaves non-ASCII letters as they are). For a
    case-insensitive first look in SQL, which :func:`canonical_email` then confirms in
    Python."""
    shown = display_email(canonical)
    local, _at, domain = shown.rpartition("@")
    return list(dict.fromkeys([canonical, shown, f"{local}@{domain.upper()}"]))


def display_email(canonical: str) -> str:
    """The address as people read it, with its domain's U-label (``anna@bücher.de``): for
    the dashboard and an email's "sent to". Anything that is not a canonical address is
    returned as it is."""
    local, at, domain = (canonical or "").rpartition("@")
    if not at or "xn--" not in domain:
        return canonical or ""
    try:
        return f"{local}@{idna.decode(domain)}"
    except (idna.IDNAError, UnicodeError):
        return canonical


def canonical_phone(raw: str, region: str | None = None) -> str:
    """``raw`` in E.164 (``+442079460958``), ready for an SMS provider, or
    :class:`InvalidAddress` when it is not a valid number. A number without its ``+country``
    prefix is read in ``region`` (default: ``OSCAR_RECOVERY_PHONE_REGION``; with none, such a
    number is refused)."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidAddress(INVALID_PHONE)
    region = region or app_settings.PHONE_REGION or None
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        raise InvalidAddress(INVALID_PHONE) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidAddress(INVALID_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def safe_canonical_phone(raw: object, region: str | None = None) -> str:
    """:func:`canonical_phone`, or ``""`` for anything that is not a valid number."""
    try:
        return canonical_phone(raw, region)  # type: ignore[arg-type]
    except InvalidAddress:
        return ""


def email_sha256(raw: object) -> str:
    """SHA-256 (hex) of the canonical address, ``""`` for no valid address: the unkeyed hash
    identifiers and ad audiences (Google Customer Match, Meta) carry. Canonical is what they
    ask for (trimmed, lower case) and, like everything else, one hash per mailbox."""
    canonical = safe_canonical_email(raw)
    return hashlib.sha256(canonical.encode()).hexdigest() if canonical else ""


def phone_sha256(raw: object, region: str | None = None) -> str:
    """SHA-256 (hex) of the number in E.164 (``+442079460958``, as Google Customer Match asks),
    ``""`` for no valid number."""
    e164 = safe_canonical_phone(raw, region)
    return hashlib.sha256(e164.encode()).hexdigest() if e164 else ""


def _local_part(local: str) -> str:
    _refuse_mixed_scripts(local)
    # Mail systems treat local parts case-insensitively in practice, and the app always
    # matched them so. ``lower()``, not ``casefold()``: casefold turns ß into "ss" (and
    # other letters into several), which would make ``straße@`` and ``strasse@`` one
    # shopper though they are two mailboxes. NFC again: lowering can decompose (İ -> i̇).
    return unicodedata.normalize("NFC", local.lower())


def _domain(domain: str) -> str:
    try:
        ascii_domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
        # An A-label given as such is checked as what it shows, like a U-label.
        for label in idna.decode(ascii_domain).split("."):
            _refuse_mixed_scripts(label)
    except (idna.IDNAError, UnicodeError):
        raise InvalidAddress() from None
    return ascii_domain.lower()


def _refuse_mixed_scripts(text: str) -> None:
    scripts = {
        unicodedata.name(char, "").split(" ", 1)[0]
        for char in text
        if char.isalpha() and not char.isascii()
    }
    if any(char.isascii() and char.isalpha() for char in text):
        scripts.add("LATIN")
    if len(scripts & _LOOK_ALIKE_SCRIPTS) > 1:
        raise InvalidAddress(LOOK_ALIKE_EMAIL)
