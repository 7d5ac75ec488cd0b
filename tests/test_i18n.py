"""The shipped translations: complete catalogues, and emails and pages in the shopper's language
(right-to-left for Arabic and Persian, prices and dates formatted for the language)."""

import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import formats, translation
from oscar.templatetags.currency_filters import currency

import oscar_recovery
from oscar_recovery.campaigns.install import install_defaults
from oscar_recovery.checks import check_settings
from oscar_recovery.models import CartJourney, RecoveryMessage
from oscar_recovery.sending.content import compose, load_email_products, preview
from tests.support.journeys import add_to_basket, guest_gateway

LOCALE_DIR = Path(oscar_recovery.__file__).parent / "locale"
SHIPPED = ("ar", "fa", "ko", "ro")
#: Plural forms per language (CLDR, as Django's own catalogues have them).
NUM_PLURALS = {"ar": 6, "fa": 2, "ko": 1, "ro": 3}
PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0+]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
TEMPLATE_VARIABLE = re.compile(r"\{\{.*?\}\}")


@pytest.fixture(autouse=True)
def english_afterwards():
    """A page requested with Accept-Language leaves that language active in the thread
    (LocaleMiddleware never resets it); later tests of this process expect English."""
    yield
    translation.deactivate()


def catalogue(language: str):
    with (LOCALE_DIR / language / "LC_MESSAGES" / "django.po").open("rb") as po_file:
        return read_po(po_file, locale=language)


def placeholders(text: str, python_format: bool) -> list[str]:
    found = TEMPLATE_VARIABLE.findall(text)
    if python_format:
        found += PRINTF.findall(text)
    return sorted(found)


# Catalogues ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", SHIPPED)
def test_every_catalogue_is_complete_with_placeholders_kept(language):
    po = catalogue(language)
    entries = [message for message in po if message.id]

    assert po.num_plurals == NUM_PLURALS[language]
    assert len(entries) > 300  # the whole app, not a sample
    problems = []
    for message in entries:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        python_format = "python-format" in message.flags
        if message.fuzzy or not all(strings):
            problems.append(("untranslated or fuzzy", ids[0]))
        elif len(ids) > 1 and len(strings) != po.num_plurals:
            problems.append(("plural forms", ids[0]))
        elif any(
            placeholders(string, python_format) != placeholders(ids[-1], python_format)
            for string in strings
        ):
            problems.append(("placeholders", ids[0]))
    assert problems == []


@pytest.mark.parametrize("language", SHIPPED)
def test_the_catalogue_is_compiled_next_to_its_source(language):
    # The build backend compiles it (editable installs too); never committed.
    assert (LOCALE_DIR / language / "LC_MESSAGES" / "django.mo").exists()


def test_the_shipped_languages_are_in_the_test_and_sandbox_settings():
    from sandbox import settings as sandbox_settings

    for languages in (settings.LANGUAGES, sandbox_settings.LANGUAGES):
        assert set(SHIPPED) <= {code for code, _name in languages}


# Emails -------------------------------------------------------------------------------------


@pytest.fixture
def campaign(db):
    """The default campaign: translated subjects and the shipped default bodies."""
    return install_defaults(activate=True)


@pytest.fixture
def journey(shopper, product, other_product):
    add_to_basket(shopper, product)
    add_to_basket(shopper, other_product, quantity=2)
    guest_gateway(shopper, "guest@example.com")
    return CartJourney.objects.get()


def email_in(language: str, journey: CartJourney, campaign, position: int = 1):
    CartJourney.objects.filter(pk=journey.pk).update(language=language)
    journey.refresh_from_db()
    step = campaign.steps.get(position=position)
    message = RecoveryMessage.objects.create(journey=journey, step=step)
    email = compose(message, load_email_products(journey))
    # css-inline may write non-breaking spaces as entities; compare text with text.
    return email, html.unescape(email.alternatives[0][0]), email.body


def money(amount: str, language: str) -> str:
    with translation.override(language):
        return currency(Decimal(amount), "GBP")


# Strings each part of the default email must show, per language.
EXPECTED = {
    "ar": {
        "subject": "تركتَ شيئًا في سلة التسوق",
        "strings": ["سلتك بانتظارك", "العودة إلى سلتك", "إلغاء الاشتراك في تذكيرات السلة"],
        "count": "(3 منتجات)",
    },
    "fa": {
        "subject": "چیزی در سبد خریدتان جا گذاشتید",
        "strings": ["سبد خریدتان منتظر شماست", "بازگشت به سبد خرید", "لغو اشتراک"],
        "count": "(3 کالا)",
    },
    "ko": {
        "subject": "장바구니에 상품을 두고 가셨어요",
        "strings": ["장바구니가 기다리고 있어요", "장바구니로 돌아가기", "장바구니 알림 수신 거부"],
        "count": "(3개)",
    },
    "ro": {
        "subject": "Ai uitat ceva în coș",
        "strings": ["Coșul tău te așteaptă", "Înapoi la coș", "Dezabonează-te"],
        "count": "(3 produse)",
    },
}


@pytest.mark.parametrize("language", ["ar", "fa"])
def test_a_right_to_left_email_is_mirrored_and_translated_in_both_parts(
    language, journey, campaign
):
    email, html_part, text_part = email_in(language, journey, campaign)
    expected = EXPECTED[language]

    assert email.subject == expected["subject"]
    assert f'<html lang="{language}" dir="rtl">' in html_part
    assert re.search(r'<body [^>]*dir="rtl"', html_part)
    # Alignment mirrored: text starts on the right, prices sit on the left.
    assert "text-align: right" in html_part and 'align="right"' in html_part
    for part in (html_part, text_part):
        for string in [*expected["strings"], expected["count"]]:
            assert string in part
        assert "Return to your basket" not in part
        assert "Your basket is waiting" not in part


def test_the_postal_address_keeps_its_own_direction_in_a_right_to_left_email(
    journey, campaign, settings
):
    """ "1 Example Street" in an Arabic footer would read "Example Street 1": the address
    is isolated and takes the direction of its own words."""
    settings.OSCAR_RECOVERY_POSTAL_ADDRESS = "1 Example Street\nLondon"
    __, html_part, text_part = email_in("ar", journey, campaign)
    # Each line isolated (U+2068 ... U+2069), for the text part and clients that drop dir.
    street, city = "\u20681 Example Street\u2069", "\u2068London\u2069"
    assert re.search(rf'<p dir="auto"[^>]*>{street}<br>{city}</p>', html_part)
    assert f"{street}\n{city}" in text_part
    __, html_part, text_part = email_in("ro", journey, campaign, position=2)
    assert "\u2068" not in text_part and "1 Example Street\nLondon" in text_part


@pytest.mark.parametrize("language", ["ko", "ro"])
def test_a_left_to_right_email_carries_its_translation(language, journey, campaign):
    email, html_part, text_part = email_in(language, journey, campaign)
    expected = EXPECTED[language]

    assert email.subject == expected["subject"]
    assert f'<html lang="{language}" dir="ltr">' in html_part
    for part in (html_part, text_part):
        for string in [*expected["strings"], expected["count"]]:
            assert string in part
        assert "Return to your basket" not in part


@pytest.mark.parametrize("language", SHIPPED)
def test_prices_are_formatted_for_the_language_in_both_parts(language, journey, campaign):
    _email, html_part, text_part = email_in(language, journey, campaign)

    # Unit price of the hat, the line of two hats and the total of the basket.
    for amount in ("12.50", "25.00", "65.00"):
        assert money(amount, language) in html_part
        assert money(amount, language) in text_part


def test_localised_prices_really_differ_from_english():
    # Guards the test above against a formatter that ignores the language.
    assert money("12.50", "ro") == "12,50\xa0GBP"
    assert money("12.50", "ar") != money("12.50", "en-gb")


@pytest.mark.parametrize(
    ("language", "date"),
    [
        ("ar", "17 مارس، 2026"),
        ("fa", "17 مارس 2026"),
        ("ko", "2026년 3월 17일"),
        ("ro", "17 Martie 2026"),
    ],
)
def test_the_voucher_expiry_date_is_formatted_for_the_language(language, date, journey):
    campaign = install_defaults(activate=True, discount=Decimal("10"))
    step = campaign.steps.get(position=3)
    step.incentive_valid_for = timedelta(days=7)
    step.save()
    CartJourney.objects.filter(pk=journey.pk).update(language=language)
    journey.refresh_from_db()

    with time_machine.travel(datetime(2026, 3, 10, 12, tzinfo=UTC), tick=False):
        rendered = preview(step, journey)

    with translation.override(language):
        assert formats.date_format(datetime(2026, 3, 17), "DATE_FORMAT") == date
    for part in (html.unescape(rendered.html), rendered.text):
        assert date in part
        assert "Mar 2026" not in part


# Pages --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "heading", "reason"),
    [
        ("ar", "تعذّر علينا قراءة رابط إلغاء الاشتراك هذا", "هذا الرابط غير صالح."),
        ("fa", "نتوانستیم این پیوند لغو اشتراک را بخوانیم", "این پیوند معتبر نیست."),
        ("ko", "이 수신 거부 링크를 읽을 수 없습니다", "유효하지 않은 링크입니다."),
        ("ro", "Nu am putut citi acest link de dezabonare", "Acest link nu este valid."),
    ],
)
def test_the_unsubscribe_page_is_translated(client, db, language, heading, reason):
    url = reverse("oscar_recovery:unsubscribe", kwargs={"token": "not-a-token"})

    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)

    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert heading in page and reason in page
    assert "We could not read this unsubscribe link" not in page


@pytest.mark.parametrize(
    ("language", "heading", "untouched"),
    [
        ("ar", "تعذّر علينا استعادة هذه السلة", "سلتك الحالية لم تتغيّر."),
        ("fa", "نتوانستیم این سبد را بازگردانیم", "سبد فعلی شما دست‌نخورده است."),
        ("ko", "이 장바구니를 되살릴 수 없습니다", "현재 장바구니는 그대로입니다."),
        ("ro", "Nu am putut readuce acest coș", "Coșul tău actual a rămas neschimbat."),
    ],
)
def test_the_restore_invalid_page_is_translated(client, db, language, heading, untouched):
    url = reverse("oscar_recovery:restore", args=["not-a-token"])

    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)

    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert heading in page and untouched in page
    assert "We could not bring back this basket" not in page


# Staff and owner ----------------------------------------------------------------------------


def test_management_command_output_is_translated(db):
    out = StringIO()
    with translation.override("ro"):
        call_command("recovery_install_defaults", stdout=out)

    assert "3 e-mailuri, inactivă" in out.getvalue()


def test_system_check_messages_are_translated(settings):
    settings.OSCAR_RECOVERY_POSTAL_ADDRESS = ""
    with translation.override("ko"):
        messages = [problem.msg for problem in check_settings(None)]

    assert any("OSCAR_RECOVERY_POSTAL_ADDRESS가 비어 있습니다" in msg for msg in messages)
