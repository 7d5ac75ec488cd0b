"""Owner-written text per language: prompts and campaign steps (and their variants).

Each translatable field of a model (``headline``, ``subject``…) holds the text in the
shop's default language (``settings.LANGUAGE_CODE``), so every reader that ignores languages
keeps working. The other languages of ``settings.LANGUAGES`` live in the model's
``translations`` JSON field, ``{"ar": {"headline": "…"}, "fa": {…}}``, keyed by lower-case
language code. Readers ask :func:`text_for` (one object) or :func:`layered_text` (a variant
over its parent), which fall back from the language to its base language (``pt-br`` ->
``pt``) and then to the default-language field. An empty translation counts as missing.

The admin edits the languages side by side: :class:`TranslationsFormMixin` gives a model
form one extra field ``<field>__<code>`` per translatable field and language and folds them
into ``translations`` on save; :class:`TranslationsAdminMixin` puts them on one row with
the default-language field.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import (
    get_language,
    get_language_info,
    gettext,
    override,
    to_locale,
)

#: Separates a field's name from a language code in the admin's extra field names.
SEPARATOR = "__"


def normalise(code: str) -> str:
    """``pt_BR`` and ``PT-br`` -> ``pt-br``: the key a language's text is stored under."""
    return (code or "").replace("_", "-").lower()


def base_language(code: str) -> str:
    return normalise(code).split("-")[0]


def default_language() -> str:
    return normalise(settings.LANGUAGE_CODE)


def content_languages() -> list[tuple[str, str]]:
    """``(code, name)`` of the languages owners write text in besides the default one: the
    shop's ``LANGUAGES`` less ``LANGUAGE_CODE``, in the shop's order."""
    default = default_language()
    seen: set[str] = set()
    languages = []
    for code, name in settings.LANGUAGES:
        code = normalise(code)
        if code != default and code not in seen:
            seen.add(code)
            languages.append((code, str(name)))
    return languages


def _candidates(language: str | None) -> list[str]:
    """The stored codes to try for ``language``, best first; none for the default language
    (its text is the field itself)."""
    code = normalise(language or "")
    default = default_language()
    if not code or code == default:
        return []
    candidates = [code]
    base = base_language(code)
    if base != code and base != default:
        candidates.append(base)
    return candidates


def translated(obj: Any, field: str, language: str | None) -> tuple[str, str] | None:
    """``(text, code)`` of ``field`` written for ``language`` or its base language, or None
    when neither has (non-empty) text. Never the default-language field."""
    translations = getattr(obj, "translations", None) or {}
    if not isinstance(translations, dict):
        return None
    for code in _candidates(language):
        values = translations.get(code)
        if isinstance(values, dict):
            text = values.get(field)
            if isinstance(text, str) and text.strip():
                return text, code
    return None


def text_for(obj: Any, field: str, language: str | None = None) -> str:
    """``obj.<field>`` in ``language`` (default: the active one), falling back to its base
    language and then to the default-language field."""
    found = translated(obj, field, get_language() if language is None else language)
    return found[0] if found else getattr(obj, field)


def layered_text(
    variant: Any | None, parent: Any, field: str, language: str | None = None
) -> tuple[str, str]:
    """``(text, code)`` of ``field`` for an A/B ``variant`` over its ``parent`` (a prompt or
    step; ``variant`` None is the parent itself) in ``language`` (default: the active one).

    Order: the variant's text in the language, then the parent's in the language (a shopper
    reads their language before they read the variant's wording), then the variant's
    default-language text, then the parent's. ``code`` is the language the text is in."""
    language = get_language() if language is None else language
    for obj in (variant, parent):
        if obj is not None and (found := translated(obj, field, language)):
            return found
    for obj in (variant, parent):
        if obj is not None and (text := getattr(obj, field)):
            return text, default_language()
    return "", default_language()


@functools.cache
def app_speaks(code: str) -> bool:
    """Whether this app's own words (labels, buttons, messages) come in language ``code``:
    the default language's base, or a compiled catalogue of ours (or of the shop's
    ``LOCALE_PATHS``) for the language or its base. Text shown whole in one language asks
    here before it puts the owner's words next to the app's."""
    code = normalise(code)
    if not code:
        return False
    if base_language(code) == base_language(default_language()):
        return True
    folders = [Path(__file__).resolve().parent.parent / "locale"]
    folders += [Path(folder) for folder in getattr(settings, "LOCALE_PATHS", ())]
    names = {to_locale(code), to_locale(base_language(code))}
    return any(
        (folder / name / "LC_MESSAGES" / "django.mo").is_file()
        for folder in folders
        for name in names
    )


#: Unicode's first-strong isolate and its end: the text between takes its own direction.
_FSI, _PDI = "\u2068", "\u2069"


def isolate_lines(text: str, rtl: bool) -> str:
    """``text`` (an address, say) with each line isolated in a right-to-left message, so
    "1 Example Street" keeps its order where there is no markup to say so (plain-text
    emails, mail clients that drop ``dir``); unchanged in a left-to-right one."""
    if not rtl or not text:
        return text
    return "\n".join(f"{_FSI}{line}{_PDI}" if line.strip() else line for line in text.split("\n"))


def is_rtl(code: str) -> bool:
    try:
        return bool(get_language_info(code)["bidi"])
    except KeyError:
        try:
            return bool(get_language_info(base_language(code))["bidi"])
        except KeyError:
            return False


# -- admin ---------------------------------------------------------------------------------


class TranslationsFormMixin:
    """For a ``ModelForm`` of a model with a ``translations`` field: ``translated_fields``
    names the fields written per language. Build the form class with
    :func:`with_translations`, which declares ``<field>__<code>`` for each language of
    :func:`content_languages`. Those are optional, start from the stored translations and are
    folded back into ``translations`` on save (languages no longer in ``LANGUAGES`` are
    kept; emptied ones are dropped). A ``clean_translation(field, value)`` method, where the
    form has one, validates each value (e.g. a template that must compile) and may raise
    ``ValidationError``."""

    translated_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = getattr(self.instance, "translations", None) or {}
        for name in self.fields:
            field, code = split_name(name)
            if code and field in self.translated_fields and name not in self.initial:
                self.initial[name] = (stored.get(code) or {}).get(field, "")

    def clean(self) -> dict:
        cleaned = super().clean()
        # Looked up rather than defined here, so a mixin later in the MRO can provide it.
        check = getattr(self, "clean_translation", None)
        for name in list(cleaned):
            field, code = split_name(name)
            value = cleaned.get(name)
            if check and code and field in self.translated_fields and value:
                try:
                    cleaned[name] = check(field, value)
                except forms.ValidationError as exc:
                    self.add_error(name, exc)
        return cleaned

    def _post_clean(self) -> None:
        self.instance.translations = self.folded_translations()
        super()._post_clean()

    def folded_translations(self) -> dict:
        result = dict(getattr(self.instance, "translations", None) or {})
        for code, _name in content_languages():
            values = dict(result.get(code) or {})
            for field in self.translated_fields:
                name = f"{field}{SEPARATOR}{code}"
                if name not in self.fields or name not in self.cleaned_data:
                    continue
                value = self.cleaned_data[name] or ""
                if value.strip():
                    values[field] = value
                else:
                    values.pop(field, None)
            if values:
                result[code] = values
            else:
                result.pop(code, None)
        return result


def split_name(name: str) -> tuple[str, str]:
    """``"headline__ar"`` -> ``("headline", "ar")``; ``("headline", "")`` for a plain field."""
    field, _sep, code = name.partition(SEPARATOR)
    return field, code


def with_translations(form_class: type[forms.ModelForm]) -> type[forms.ModelForm]:
    """``form_class`` with a declared field per translatable field and content language."""
    return _with_translations(form_class, tuple(content_languages()))


@functools.lru_cache(maxsize=64)
def _with_translations(form_class: type, languages: tuple[tuple[str, str], ...]) -> type:
    attrs: dict[str, Any] = {"__module__": form_class.__module__}
    for field in form_class.translated_fields:
        base = form_class.base_fields.get(field)
        if base is None:
            continue
        for code, name in languages:
            extra = copy.deepcopy(base)
            extra.required = False
            extra.label = f"{base.label} ({name})"
            extra.help_text = ""
            extra.widget.attrs.update({"lang": code, "dir": "rtl" if is_rtl(code) else "ltr"})
            attrs[f"{field}{SEPARATOR}{code}"] = extra
    return type(form_class.__name__, (form_class,), attrs)


class TranslationsAdminMixin:
    """For a ``ModelAdmin`` or inline: set ``translations_form`` (a form class with
    :class:`TranslationsFormMixin`) instead of ``form``; each translatable field is shown
    with its translations on one row, in the order of ``LANGUAGES``."""

    translations_form: type[forms.ModelForm]

    @property
    def form(self) -> type[forms.ModelForm]:
        return with_translations(self.translations_form)

    def get_fieldsets(self, request, obj=None):
        names = set(self.translations_form.translated_fields)
        codes = [code for code, _name in content_languages()]
        fieldsets = []
        for title, options in super().get_fieldsets(request, obj):
            fields = []
            for field in options.get("fields", ()):
                if isinstance(field, str) and split_name(field)[1]:
                    continue  # an extra field listed by the form itself: placed below
                if field in names:
                    fields.append((field, *(f"{field}{SEPARATOR}{code}" for code in codes)))
                else:
                    fields.append(field)
            fieldsets.append((title, {**options, "fields": fields}))
        return fieldsets


# -- installers ----------------------------------------------------------------------------

#: The languages oscar-recovery ships catalogues for: the example prompts and campaigns
#: are installed in each of them.
SHIPPED_LANGUAGES = ("en", "ar", "fa", "ko", "ro")


def translations_of(texts: dict[str, str]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """For an installer: ``texts`` (field -> English source marked with ``gettext_noop``)
    as ``(default-language fields, translations)``, each translated from the app's
    catalogues. A shipped language whose catalogue lacks a text gets no entry for it (the
    default language then shows), nor does the default language itself or its base."""
    default = default_language()
    with override(settings.LANGUAGE_CODE):
        fields = {name: gettext(text) for name, text in texts.items()}
    result: dict[str, dict[str, str]] = {}
    for code in SHIPPED_LANGUAGES:
        if code in (default, base_language(default)):
            continue
        with override(code):
            values = {
                name: gettext(text)
                for name, text in texts.items()
                if code == "en" or gettext(text) != text
            }
        if values:
            result[code] = values
    return fields, result
