"""The template sandbox and the shipped default recovery emails."""

import re
import socket
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models
from django.test import override_settings
from django.utils import translation
from django.utils.translation import gettext_lazy

from oscar_recovery.sending.templating import (
    MAX_RENDERED_CHARS,
    TemplateError,
    TemplateTooLarge,
    default_source,
    inline_css,
    render_html,
    render_line,
    render_text,
    validate_template,
)

EVIL_TITLE = '<script>alert("x")</script> & <b>Coat</b>'


def email_context(
    *, language="en-gb", lines=3, recommendations=0, incentive=False, free_shipping=False
) -> dict:
    """A context as the sending pipeline builds it (see the contract in emails.py).
    ``free_shipping``: a £7.50 gap that the first ``free_shipping`` (True: 1) recommendations
    close, or that nothing closes (0)."""
    rtl = translation.get_language_info(language)["bidi"]
    context = {
        "subject": "Your basket is waiting",
        "preheader": "Pick up where you left off",
        "language": language,
        "direction": "rtl" if rtl else "ltr",
        "start": "right" if rtl else "left",
        "end": "left" if rtl else "right",
        "shop": {
            "name": "Acme Outfitters",
            "url": "https://shop.example.com/",
            "postal_address": "1 High Street\nLondon N1 9GU",
        },
        "shopper": {"first_name": "Ada"},
        "lines": [
            {
                "title": f"Winter coat {i}",
                "quantity": 2,
                "price": "£12.50",
                "line_price": "£25.00",
                "image_url": f"https://shop.example.com/media/coat-{i}.jpg",
                "url": f"https://shop.example.com/catalogue/coat-{i}/",
            }
            for i in range(lines)
        ],
        "num_items": 2 * lines,
        "total": "£75.00",
        "restore_url": "https://shop.example.com/recovery/restore/RESTORE-TOKEN/",
        "unsubscribe_url": "https://shop.example.com/recovery/unsubscribe/UNSUB-TOKEN/",
        "incentive": {
            "kind": "percentage",
            "code": "BACK-7QX2",
            "description": "10% off your order",
            "expires": "1 March 2026",
        }
        if incentive
        else None,
        "free_shipping": None,
        "recommendations": [
            {
                "title": f"Wool hat {i}",
                "price": "£9.00",
                "image_url": f"https://shop.example.com/media/hat-{i}.jpg",
                "url": f"https://shop.example.com/catalogue/hat-{i}/",
            }
            for i in range(recommendations)
        ],
        "step": {"position": 1},
    }
    if free_shipping is not False:
        closers = context["recommendations"][: int(free_shipping)]
        context["free_shipping"] = {
            "threshold": "£82.50",
            "gap": "£7.50",
            "closers": closers,
            "closers_total": f"£{9 * len(closers)}.00" if closers else "",
        }
    return context


def default_email(kind: str = "html", **options) -> str:
    context = email_context(**options)
    with translation.override(context["language"]):
        if kind == "html":
            return render_html(default_source("html"), context)
        return render_text(default_source("text"), context)


# The sandbox


@pytest.mark.parametrize(
    "source, tag",
    [
        ("{% load static %}", "load"),
        ("{% debug %}", "debug"),
        ('{% include "oscar/layout.html" %}', "include"),
        ('{% extends "oscar/layout.html" %}', "extends"),
        ("{% url 'basket:summary' %}", "url"),
        ("{% csrf_token %}", "csrf_token"),
        ("{% get_available_languages as languages %}", "get_available_languages"),
    ],
)
def test_forbidden_tags_raise_template_error_naming_them(source, tag):
    with pytest.raises(TemplateError, match=r"\{% " + tag + r" %\} tag is not allowed"):
        render_html(f"Hello\n{{% if x %}}{source}{{% endif %}}", {})


def test_unknown_tag_is_named_with_its_line():
    with pytest.raises(TemplateError, match=r"Unknown tag \{% shout %\} on line 2"):
        render_text("Hello\n{% shout 'hi' %}", {})


def test_syntax_errors_say_which_line():
    with pytest.raises(TemplateError, match=r"Invalid filter: 'shout' \(line 3\)"):
        render_text("a\nb\n{{ total|shout }}", {})


def test_translation_and_default_tags_need_no_load():
    source = (
        "{% get_current_language as lang %}{{ lang }} {% translate 'Basket' %} "
        "{% blocktranslate count counter=n %}{{ counter }} item{% plural %}{{ counter }} items"
        "{% endblocktranslate %} {% for x in xs %}{% cycle 'a' 'b' %}{% endfor %}"
        " {{ when|date:'Y' }} {{ title|truncatechars:4 }}"
    )
    context = {"n": 2, "xs": [1, 2, 3], "when": date(2026, 3, 1), "title": "Winter coat"}
    with translation.override("de"):
        # Oscar's own German catalogue: templates follow the active language.
        assert render_text(source, context) == "de Warenkorb 2 items aba 2026 Win…\n"


@pytest.mark.parametrize(
    "value, type_name",
    [
        (User(username="ada"), "User"),
        (lambda: "called", "function"),
        (User.objects.all(), "QuerySet"),
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
    ],
)
def test_context_values_that_are_not_plain_data_are_refused(value, type_name):
    context = {"lines": [{"title": "Coat", "product": value}]}
    with pytest.raises(TemplateError, match=rf"“lines\.0\.product” is a {type_name}"):
        render_html("{{ lines.0.title }}", context)


def test_context_dict_keys_must_be_text():
    with pytest.raises(TemplateError, match="key that is not text"):
        render_text("{{ shop }}", {"shop": {1: "one"}})


class Kind(models.TextChoices):
    PERCENTAGE = "percentage"


def test_context_subclasses_become_plain_builtins():
    context = {
        "kind": Kind.PERCENTAGE,
        "label": gettext_lazy("Basket"),
        "price": Decimal("12.50"),
        "flag": True,
    }
    assert render_text("{{ kind }} {{ label }} {{ price }} {{ flag }}", context) == (
        "percentage Basket 12.50 True\n"
    )


def test_template_cannot_change_the_callers_context():
    lines = [{"title": "Coat"}, {"title": "Hat"}]
    shop = {"name": "Acme"}
    rendered = render_text(
        "{{ lines.pop.title }}|{{ shop.clear }}{{ shop.name }}",
        {
            "lines": lines,
            "shop": shop,
        },
    )
    assert rendered == "Hat|None\n"
    assert lines == [{"title": "Coat"}, {"title": "Hat"}]
    assert shop == {"name": "Acme"}


def test_private_attributes_are_out_of_reach():
    with pytest.raises(TemplateError, match="may not begin with underscores"):
        render_text("{{ total.__class__ }}", {"total": "£1"})


def test_missing_variables_render_empty():
    assert render_line("Hello {{ shopper.first_name }}{{ nothing.at.all }}!", {}) == "Hello !"


def test_errors_while_rendering_become_template_errors():
    with pytest.raises(TemplateError, match="could not be rendered"):
        render_text("{{ num_items|divisibleby:0 }}", {"num_items": 3})


def test_html_escapes_values_and_text_does_not():
    context = {"lines": [{"title": EVIL_TITLE}]}
    source = "{% for line in lines %}{{ line.title }}{% endfor %}"
    html = render_html(source, context)
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Coat" in html
    assert render_text(source, context) == EVIL_TITLE + "\n"


def test_default_html_escapes_a_malicious_product_title():
    context = email_context(lines=1)
    context["lines"][0]["title"] = EVIL_TITLE
    html = render_html(default_source("html"), context)
    assert "<script>" not in html
    assert 'alt="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Coat' in html


def test_render_line_collapses_whitespace_to_one_stripped_line():
    source = "  {{ lines.0.title }} is\n\n   waiting\tfor {{ shopper.first_name }}  \n"
    context = {"lines": [{"title": "Coat & hat"}], "shopper": {"first_name": "Ada\nLovelace"}}
    assert render_line(source, context) == "Coat & hat is waiting for Ada Lovelace"


def test_render_text_squeezes_blank_lines_left_by_tags():
    source = "Hi\n{% if a %}\nA\n{% endif %}\n\n{% if b %}\nB\n{% endif %}\n\nBye   \n"
    assert render_text(source, {"a": True}) == "Hi\n\nA\n\nBye\n"


def test_validate_template_raises_validation_error_with_the_message():
    validate_template("{% if shopper.first_name %}Hi {{ shopper.first_name }}{% endif %}")
    with pytest.raises(ValidationError) as caught:
        validate_template("Hi\n{% load i18n %}")
    assert caught.value.messages == [
        "The {% load %} tag is not allowed in recovery emails (line 2). "
        "The translation tags work without it."
    ]
    assert caught.value.code == "invalid_template"


def test_compiled_templates_are_reused_by_source():
    from oscar_recovery.sending.templating import _compile

    source = "{{ total }} cached " + __name__
    first = _compile(source)
    assert _compile(source) is first
    assert render_text(source, {"total": "£1"}) == f"£1 cached {__name__}\n"


# The default templates


def test_default_html_is_left_to_right_in_english():
    html = default_email(language="en-gb")
    assert '<html lang="en-gb" dir="ltr">' in html
    assert '<body dir="ltr"' in html
    assert 'class="wrapper" dir="ltr"' in html
    assert 'class="line-body font" align="left"' in html
    assert 'class="line-price font" align="right"' in html
    assert "text-align: left;" in html


def test_default_html_is_mirrored_in_arabic():
    html = default_email(language="ar")
    assert '<html lang="ar" dir="rtl">' in html
    assert '<body dir="rtl"' in html
    assert 'class="wrapper" dir="rtl"' in html
    assert 'class="line-body font" align="right"' in html
    assert 'class="line-price font" align="left"' in html
    assert "text-align: right;" in html


@pytest.mark.parametrize("kind", ["html", "text"])
def test_default_templates_never_hard_code_a_side(kind):
    """Alignment goes through {{ start }}/{{ end }}, or RTL languages would not mirror."""
    source = default_source(kind)
    sides = re.findall(r"(?:align|float|padding|margin|border)[-=:\s\"]*(?:left|right)", source)
    assert sides == []


@pytest.mark.parametrize("kind", ["html", "text"])
def test_every_visible_sentence_of_the_defaults_is_translatable(kind):
    """What is left once tags, markup, CSS and variables are removed is punctuation."""
    source = default_source(kind)
    for pattern in (
        r"\{% comment %\}.*?\{% endcomment %\}",
        r"\{% blocktranslate .*?\{% endblocktranslate %\}",
        r"<style>.*?</style>",
        r"<!--.*?-->",
        r"\{%.*?%\}",
        r"\{\{.*?\}\}",
        r"<[^>]+>",
        r"&#?\w+;",
    ):
        source = re.sub(pattern, "", source, flags=re.DOTALL)
    assert re.findall(r"[^\W\d_]+", source) == []


def test_default_html_has_the_whole_basket_and_the_links():
    html = default_email(lines=2)
    assert "<title>Your basket is waiting</title>" in html
    assert '<span class="preheader">Pick up where you left off' in html
    assert (
        '<img class="thumb" src="https://shop.example.com/media/coat-1.jpg" width="80" '
        'height="80" alt="Winter coat 1">'
    ) in html
    assert 'href="https://shop.example.com/catalogue/coat-1/"' in html
    assert "Quantity: 2 \u00d7 £12.50" in html
    assert "£25.00" in html and "£75.00" in html and "(4 items)" in html
    assert (
        '<a class="button" href="https://shop.example.com/recovery/restore/RESTORE-TOKEN/">'
        "Return to your basket</a>"
    ) in html
    assert "1 High Street<br>London N1 9GU" in html
    assert (
        '<a href="https://shop.example.com/recovery/unsubscribe/UNSUB-TOKEN/">'
        "Unsubscribe from basket reminders</a>"
    ) in html


def test_default_html_headline_follows_the_step():
    context = email_context()
    headlines = []
    for position in (1, 2, 3):
        context["step"] = {"position": position}
        html = render_html(default_source("html"), context)
        headlines.append(re.search(r"<h1>(.*?)</h1>", html).group(1))
    assert headlines == [
        "Your basket is waiting",
        "Still thinking it over?",
        "Last chance to complete your order",
    ]


def test_default_text_part_is_plain_and_complete():
    text = default_email("text", lines=2, recommendations=2, incentive=True, free_shipping=True)
    for expected in (
        "Hi Ada,",
        "* Winter coat 0\n  Quantity: 2 \u00d7 £12.50 = £25.00\n"
        "  https://shop.example.com/catalogue/coat-0/",
        "* Winter coat 1",
        "Total: £75.00 (4 items)",
        "Return to your basket:\nhttps://shop.example.com/recovery/restore/RESTORE-TOKEN/",
        "10% off your order\nUse this code at checkout: BACK-7QX2\nValid until 1 March 2026.",
        "You are £7.50 away from free delivery.",
        "* Wool hat 1 (£9.00)\n  https://shop.example.com/catalogue/hat-1/",
        "1 High Street\nLondon N1 9GU",
        "https://shop.example.com/recovery/unsubscribe/UNSUB-TOKEN/",
    ):
        assert expected in text
    assert not re.search(r"<[a-z/!]|&[#\w]+;|\{[{%]", text)
    assert "\n\n\n" not in text


def test_default_text_does_not_escape_what_the_shop_wrote():
    context = email_context(lines=1)
    context["shop"]["name"] = "Smith & Sons"
    context["lines"][0]["title"] = "Salt & pepper <large>"
    text = render_text(default_source("text"), context)
    assert "Smith & Sons" in text and "* Salt & pepper <large>" in text


@pytest.mark.parametrize("kind", ["html", "text"])
def test_incentive_and_free_shipping_appear_only_when_present(kind):
    without = default_email(kind, recommendations=2)
    assert "BACK-7QX2" not in without and "10% off your order" not in without
    assert "away from free delivery" not in without
    assert "You might also like" in without and "Wool hat 1" in without

    with_both = default_email(kind, recommendations=2, incentive=True, free_shipping=True)
    assert "BACK-7QX2" in with_both and "Valid until 1 March 2026." in with_both
    assert "You are £7.50 away from free delivery." in with_both
    assert "Add Wool hat 0 (£9.00) to get free delivery." in with_both
    assert "Top up your basket for free delivery" in with_both


@pytest.mark.parametrize("kind", ["html", "text"])
def test_the_gap_copy_names_what_closes_it_and_never_pretends(kind):
    pair = default_email(kind, recommendations=3, free_shipping=2)
    assert "Add Wool hat 0 and Wool hat 1 (£18.00 together) to get free delivery." in pair
    assert "Top up your basket for free delivery" in pair

    # Nothing in the catalogue closes the gap: the distance, and no claim.
    nothing = default_email(kind, recommendations=2, free_shipping=0)
    assert "You are £7.50 away from free delivery." in nothing
    assert "to get free delivery" not in nothing and "Top up" not in nothing
    assert "You might also like" in nothing


@pytest.mark.parametrize("count", [0, 1, 3, 4])
def test_default_recommendations_grid_is_well_formed(count):
    html = default_email(recommendations=count)
    grid = re.search(r'<table[^>]*class="grid".*?</table>', html, re.DOTALL)
    if not count:
        assert grid is None
        return
    cells = grid.group(0)
    assert cells.count('<td class="rec') == count
    assert cells.count("<tr>") == cells.count("</tr>") == (count + 1) // 2


def test_default_email_inlined_stays_well_under_gmail_clipping():
    context = email_context(lines=5, recommendations=4, incentive=True, free_shipping=True)
    html = inline_css(render_html(default_source("html"), context))
    assert "Winter coat 4" in html and "Wool hat 3" in html
    assert len(html.encode()) < 100 * 1024


def test_default_email_keeps_responsive_rule_after_inlining():
    html = inline_css(default_email())
    assert "@media only screen and (max-width: 620px)" in html
    assert re.search(r'<table class="container font"[^>]*style="[^"]*max-width: 600px', html)


def test_default_source_picks_up_a_shop_override(tmp_path):
    override = tmp_path / "oscar_recovery" / "email" / "default.html"
    override.parent.mkdir(parents=True)
    override.write_text("<p>{% translate 'Our own' %} {{ shop.name }}</p>")
    templates = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [str(tmp_path)],
            "APP_DIRS": True,
        }
    ]
    with override_settings(TEMPLATES=templates):
        assert default_source("html") == override.read_text()
        assert "Return to your basket" in default_source("text")
        html = render_html(default_source("html"), {"shop": {"name": "Acme"}})
    assert html == "<p>Our own Acme</p>"
    assert "Return to your basket" in default_source("html")


# Inlining


def test_inline_css_moves_rules_into_style_attributes_and_keeps_media_rules():
    html = (
        "<html><head><style>.button { color: #ffffff; padding: 4px }"
        " @media only screen and (max-width: 620px) { .button { display: block !important } }"
        '</style></head><body><a class="button" href="#">Go</a></body></html>'
    )
    inlined = inline_css(html)
    assert '<a class="button" href="#" style="color: #ffffff;padding: 4px;">Go</a>' in inlined
    assert re.search(
        r"<style>@media only screen and \(max-width: 620px\) "
        r"\{ \.button \{ display: block !important \} \}\s*</style>",
        inlined,
    )


def test_inline_css_does_not_load_remote_stylesheets():
    # A socket that listens but never accepts: any connection attempt stays queued on it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/styles.css"
    html = f'<html><head><link rel="stylesheet" href="{url}"></head><body><p>Hi</p></body></html>'
    try:
        inlined = inline_css(html)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    assert f'<link rel="stylesheet" href="{url}">' in inlined
    assert "<p>Hi</p>" in inlined


# Bounded output


@pytest.mark.parametrize(
    "source",
    [
        '{{ x|ljust:"30000000" }}',
        '{{ x|rjust:"30000000" }}',
        '{{ x|center:"30000000" }}',
        '{{ x|stringformat:"030000000d" }}',
        '{{ 1|floatformat:"10000000" }}',
        "{% lorem 500000 w %}",
        "{% lorem 100000 p %}",
        # Nested loops multiply: three loops of 1,000 would run a billion times.
        '{% with a="x"|ljust:"1000" %}{% for i in a %}{% for j in a %}{% for k in a %}'
        "x{% endfor %}{% endfor %}{% endfor %}{% endwith %}",
        # Doubling a value through {% with %}: every filter's result is bounded.
        '{% with a="x"|ljust:"1000" %}{% with b=a|add:a %}{% with c=b|add:b %}'
        "{% with d=c|add:c %}{% with e=d|add:d %}{% with f=e|add:e %}{% with g=f|add:f %}"
        "{% with h=g|add:g %}{% with i=h|add:h %}{% with j=i|add:i %}"
        "{{ j }}{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}"
        "{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}",
    ],
)
def test_templates_that_would_render_megabytes_are_refused(source):
    with pytest.raises(ValidationError):
        validate_template(source)
    with pytest.raises(TemplateTooLarge):
        render_html(source, {"x": "a"})


def test_output_over_the_documented_size_is_refused_whatever_builds_it():
    source = "{% for line in lines %}{{ line }}{% endfor %}"
    lines = ["y" * 999] * 600  # each value fine, together over the limit
    assert len(render_html(source, {"lines": lines[:400]})) == 399_600
    with pytest.raises(TemplateTooLarge):
        render_html(source, {"lines": lines})
    assert MAX_RENDERED_CHARS < 600 * 999


def test_reasonable_widths_and_lorem_still_work():
    assert render_html('{{ "ab"|ljust:"5" }}|{{ "ab"|center:"6" }}|', {}) == "ab   |  ab  |"
    assert render_line('{{ 3.14159|floatformat:"2" }} {{ 7|stringformat:"03d" }}', {}) == (
        "3.14 007"
    )
    assert len(render_line("{% lorem 20 w %}", {}).split()) == 20
    validate_template('{{ x|ljust:"40" }}{% lorem 3 p %}{% for i in items %}{{ i }}{% endfor %}')
