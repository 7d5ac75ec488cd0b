"""The sandbox recovery email templates are rendered in.

Shop owners write each step's subject, preheader and bodies as Django templates in the admin,
so a template is untrusted code: it must not reach the database, settings, files or secrets.
Three walls keep it in:

- **Its own engine**, not the project's ``TEMPLATES``: no loaders, no context processors, no
  ``{% load %}``-able libraries, and builtins limited to an allow-list (the harmless default
  tags, every default filter, and the i18n tags). A forbidden or unknown tag is a
  :class:`TemplateError` naming it.
- **A context of plain data** (strings, numbers, dates, lists and dicts of those): anything
  else, a model instance, a QuerySet or a callable, is refused before rendering, so a template
  can never call a method that does something. The context is copied on the way in, so not
  even a list method called from a template can change the caller's data.
- **Caught failures**: compiling and rendering only ever raise :class:`TemplateError`, with a
  message meant for the staff member who wrote the template.
- **Bounded output**: a render may produce at most :data:`MAX_RENDERED_CHARS` characters, no
  filter may return more, padding widths and number formats are at most :data:`MAX_WIDTH`,
  ``{% lorem %}`` at most :data:`MAX_LOREM` items, and all ``{% for %}`` loops of one render
  at most :data:`MAX_LOOP_ITERATIONS` iterations. Going over is a :class:`TemplateTooLarge`,
  refused when the template is saved (a trial render) and when it is rendered, before the
  big value is built where the size is known in advance (``ljust:"30000000"``).

The shipped default bodies are ordinary files (``oscar_recovery/email/default.html`` and
``.txt``) found through the project's template loaders, so a shop overrides them the Django
way; only their *source* is read that way, they are rendered here like any other template.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import css_inline
from django.core.exceptions import ValidationError
from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateDoesNotExist,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
    engines,
)
from django.template.backends.django import DjangoTemplates
from django.template.base import TokenType
from django.templatetags import i18n
from django.utils.functional import Promise
from django.utils.safestring import SafeString
from django.utils.translation import gettext

#: Default tags a template may use. Everything else in ``defaulttags`` is left out on purpose:
#: ``load``, ``debug`` (dumps the context and ``sys.modules``), ``url`` (reverses the URLconf),
#: ``csrf_token`` and ``querystring`` (need a request).
SAFE_DEFAULT_TAGS = (
    "autoescape",
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "lorem",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)

#: i18n tags a template may use; ``get_available_languages`` is left out as it reads settings.
SAFE_I18N_TAGS = (
    "translate",
    "trans",
    "blocktranslate",
    "blocktrans",
    "language",
    "get_current_language",
    "get_current_language_bidi",
    "get_language_info",
    "get_language_info_list",
)

#: Tags people will try, refused with a message saying so rather than "unknown tag".
FORBIDDEN_TAGS = (
    "load",
    "debug",
    "include",
    "extends",
    "block",
    "url",
    "csrf_token",
    "querystring",
    "static",
    "get_static_prefix",
    "get_media_prefix",
    "ssi",
    "get_available_languages",
)

#: Words that close or split a block (``{% endif %}``, ``{% else %}``...): a stray one is a
#: structure mistake, not an unknown tag.
_BLOCK_WORDS = frozenset({"else", "elif", "empty", "plural"})

#: How deep the context may nest; deeper is a bug (or a cycle) in the caller.
_MAX_DEPTH = 16

#: Compiled templates kept, by source. Steps and their variants times four fields each.
_CACHE_SIZE = 512


class TemplateError(Exception):
    """A template that cannot be compiled or rendered, or a context that is not plain data.
    The message is meant for staff: it says what is wrong and, when known, on which line."""


#: Largest rendered template (subject, preheader or body), and largest value a filter may
#: return, in characters. A recovery email is a few kilobytes; this is far above any real one.
MAX_RENDERED_CHARS = 500_000
#: Largest width for ``ljust``, ``rjust``, ``center``, ``stringformat`` and ``floatformat``.
MAX_WIDTH = 1_000
#: Largest count for ``{% lorem %}`` (words, paragraphs or blocks).
MAX_LOREM = 100
#: Most ``{% for %}`` iterations in one render, all loops together (nested loops multiply).
MAX_LOOP_ITERATIONS = 10_000


class TemplateTooLarge(TemplateError):
    """A template whose output (or one of its values) would exceed the documented limits."""


def _too_large(what: str) -> TemplateTooLarge:
    return TemplateTooLarge(
        gettext("The template makes too much output: %(what)s.") % {"what": what}
    )


_WIDTH_FILTERS = frozenset({"ljust", "rjust", "center", "stringformat", "floatformat"})
_NUMBERS = re.compile(r"\d+")


def _bounded_filter(name: str, func):
    """``func`` refusing width arguments over :data:`MAX_WIDTH` before it runs, and results
    longer than :data:`MAX_RENDERED_CHARS` after. ``functools.wraps`` keeps the flags
    Django reads (``is_safe``, ``needs_autoescape``...) and, through ``__wrapped__``, the
    signature it checks arguments against."""

    @functools.wraps(func)
    def bounded(value, *args, **kwargs):
        if name in _WIDTH_FILTERS and args:
            widths = [int(n) for n in _NUMBERS.findall(str(args[0]))]
            if any(width > MAX_WIDTH for width in widths):
                raise _too_large(
                    gettext("%(filter)s allows widths up to %(max)d")
                    % {"filter": name, "max": MAX_WIDTH}
                )
        result = func(value, *args, **kwargs)
        if isinstance(result, str | list) and len(result) > MAX_RENDERED_CHARS:
            raise _too_large(
                gettext("the %(filter)s filter returned more than %(max)d characters")
                % {"filter": name, "max": MAX_RENDERED_CHARS}
            )
        return result

    return bounded


class _BoundedLoremNode(defaulttags.LoremNode):
    def render(self, context):
        try:
            count = int(self.count.resolve(context))
        except (ValueError, TypeError):
            count = 1
        if count > MAX_LOREM:
            raise _too_large(gettext("{%% lorem %%} allows up to %(max)d") % {"max": MAX_LOREM})
        return super().render(context)


def _lorem(parser, token):
    node = defaulttags.lorem(parser, token)
    node.__class__ = _BoundedLoremNode
    return node


_LOOP_BUDGET = "oscar_recovery.loop_iterations"


class _CountedForNode(defaulttags.ForNode):
    """Counts this render's loop iterations (shared by all loops of the render, kept in
    its ``render_context``) and refuses to start a loop that would exceed the budget."""

    def render(self, context):
        values = self.sequence.resolve(context, ignore_failures=True)
        try:
            planned = len(values) if values is not None else 0
        except TypeError:
            planned = 0  # an iterator: Django turns it into a list, bounded by its source
        done = context.render_context.get(_LOOP_BUDGET, 0) + planned
        if done > MAX_LOOP_ITERATIONS:
            raise _too_large(
                gettext("loops may run %(max)d times in all") % {"max": MAX_LOOP_ITERATIONS}
            )
        context.render_context[_LOOP_BUDGET] = done
        return super().render(context)


def _for(parser, token):
    node = defaulttags.do_for(parser, token)
    node.__class__ = _CountedForNode
    return node


def _forbidden(parser, token) -> None:
    name = token.split_contents()[0]
    message = gettext("The {%% %(tag)s %%} tag is not allowed in recovery emails (line %(line)d).")
    if name == "load":
        # Most often "{% load i18n %}" copied from a site template: say it is not needed.
        message += " " + gettext("The translation tags work without it.")
    raise TemplateSyntaxError(message % {"tag": name, "line": token.lineno})


def _sandbox_library() -> Library:
    library = Library()
    for name in SAFE_DEFAULT_TAGS:
        library.tags[name] = defaulttags.register.tags[name]
    for name in SAFE_I18N_TAGS:
        library.tags[name] = i18n.register.tags[name]
    for name in FORBIDDEN_TAGS:
        library.tags[name] = _forbidden
    library.tags["lorem"] = _lorem
    library.tags["for"] = _for
    for filters in (defaultfilters.register.filters, i18n.register.filters):
        for name, func in filters.items():
            library.filters[name] = _bounded_filter(name, func)
    return library


class _SandboxEngine(Engine):
    # Engine always prepends these (loader_tags brings include/extends): none of them here.
    default_builtins: list[str] = []


@functools.cache
def sandbox_engine() -> Engine:
    """The engine every recovery template is compiled with (one per process)."""
    engine = _SandboxEngine(
        loaders=[],
        context_processors=[],
        libraries={},
        builtins=[],
        string_if_invalid="",
        debug=False,
    )
    engine.template_builtins = [_sandbox_library()]
    return engine


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _compile(source: str) -> Template:
    engine = sandbox_engine()
    try:
        return Template(source, engine=engine)
    except TemplateSyntaxError as exc:
        raise TemplateError(_syntax_message(exc, engine)) from exc
    except Exception as exc:
        # A tag's compile function may raise anything on arguments it cannot parse.
        raise TemplateError(
            gettext("The template is not valid: %(error)s") % {"error": exc}
        ) from exc


def _syntax_message(exc: TemplateSyntaxError, engine: Engine) -> str:
    """Django's message, reworded where it would mislead someone who cannot load libraries,
    and with the line number when Django leaves it out."""
    token = getattr(exc, "token", None)
    message = str(exc)
    if token is None:
        return message
    words = token.contents.split()
    if token.token_type == TokenType.BLOCK and words:
        command = words[0]
        if command not in engine.template_builtins[0].tags:
            if not (command.startswith("end") or command in _BLOCK_WORDS):
                return gettext(
                    "Unknown tag {%% %(tag)s %%} on line %(line)d: recovery emails can use the "
                    "standard tags (if, for, with, translate, blocktranslate...) and filters only."
                ) % {"tag": command, "line": token.lineno}
            message = message.replace(" Did you forget to register or load this tag?", "")
    if "line" not in message:
        message = gettext("%(error)s (line %(line)d)") % {"error": message, "line": token.lineno}
    return message


def _plain(value: Any, path: str, depth: int = 0) -> Any:
    """A copy of ``value`` made of built-in types only, or :class:`TemplateError`.

    Subclasses (enum members, lazy translations) become their base type, so a template only
    ever sees the built-in methods of ``str``, ``int``... and none of a subclass's.
    """
    if depth > _MAX_DEPTH:
        raise TemplateError(
            gettext("Template context value “%(path)s” is nested too deeply.") % {"path": path}
        )
    kind = type(value)
    if value is None or kind in (str, SafeString, int, bool, float, Decimal, date, datetime):
        return value
    if kind in (list, tuple):
        return [_plain(item, f"{path}.{i}", depth + 1) for i, item in enumerate(value)]
    if kind is dict:
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TemplateError(
                    gettext("Template context value “%(path)s” has a key that is not text.")
                    % {"path": path}
                )
            plain[str.__str__(key)] = _plain(item, f"{path}.{key}", depth + 1)
        return plain
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Decimal):
        return Decimal(value)
    if isinstance(value, datetime):
        return datetime(*value.timetuple()[:6], value.microsecond, value.tzinfo, fold=value.fold)
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    raise TemplateError(
        gettext(
            "Template context value “%(path)s” is a %(type)s; only text, numbers, dates, "
            "lists and dicts can be passed to a recovery email template."
        )
        % {"path": path, "type": kind.__name__}
    )


def _render(source: str, context: dict, *, autoescape: bool) -> str:
    if not isinstance(context, dict):
        raise TemplateError(gettext("A template context must be a dict."))
    template = _compile(source)
    plain = {}
    for key, value in context.items():
        if not isinstance(key, str):
            raise TemplateError(gettext("Template context keys must be text."))
        plain[key] = _plain(value, key)
    try:
        rendered = template.render(Context(plain, autoescape=autoescape))
    except TemplateTooLarge:
        raise
    except Exception as exc:
        # Filters and tags fail on odd values in ways a template author can fix; the error
        # must reach them (the admin preview), not crash a sending worker.
        raise TemplateError(
            gettext("The template could not be rendered: %(error)s") % {"error": exc}
        ) from exc
    if len(rendered) > MAX_RENDERED_CHARS:
        raise _too_large(gettext("more than %(max)d characters") % {"max": MAX_RENDERED_CHARS})
    return rendered


def render_html(source: str, context: dict) -> str:
    """Render an HTML body; variables are HTML-escaped."""
    return _render(source, context, autoescape=True)


_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)


def render_text(source: str, context: dict) -> str:
    """Render a plain-text body; nothing is escaped.

    Runs of blank lines (what ``{% if %}``/``{% for %}`` tags leave behind) shrink to one,
    so the text template can be laid out readably; a plain-text email never needs two.
    """
    text = _render(source, context, autoescape=False)
    text = _TRAILING_SPACE.sub("", text.replace("\r\n", "\n"))
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"


def render_line(source: str, context: dict) -> str:
    """Render a subject or preheader: unescaped (it is not HTML), on one stripped line (a
    newline in a header would break it)."""
    return " ".join(_render(source, context, autoescape=False).split())


def validate_template(source: str) -> None:
    """Compile ``source`` in the sandbox and try it on an empty context;
    :class:`~django.core.exceptions.ValidationError` with the :class:`TemplateError` message
    if it does not compile or its output is over the limits already then (for admin form
    ``clean``). Other render failures on the empty context are left to the preview: real
    data may well render."""
    try:
        _compile(source)
        _render(source, {}, autoescape=True)
    except TemplateTooLarge as exc:
        raise ValidationError(str(exc), code="template_too_large") from exc
    except TemplateError as exc:
        if _is_compiled(source):
            return
        raise ValidationError(str(exc), code="invalid_template") from exc


def _is_compiled(source: str) -> bool:
    try:
        _compile(source)
    except TemplateError:
        return False
    return True


DEFAULT_TEMPLATES = {
    "html": "oscar_recovery/email/default.html",
    "text": "oscar_recovery/email/default.txt",
}


def default_source(kind: str) -> str:
    """The source of the default ``"html"`` or ``"text"`` body.

    Found by the project's Django template loaders, so a shop's own
    ``oscar_recovery/email/default.html`` earlier in its template dirs wins. The file is only
    read, never compiled by the project's engine: it is a sandbox template (translation tags
    without ``{% load i18n %}``), which that engine could not compile.
    """
    name = DEFAULT_TEMPLATES[kind]
    for backend in engines.all():
        if not isinstance(backend, DjangoTemplates):
            continue  # a Jinja2 template could not be rendered by the sandbox anyway
        for loader in backend.engine.template_loaders:
            for origin in loader.get_template_sources(name):
                try:
                    return loader.get_contents(origin)
                except TemplateDoesNotExist:
                    continue
    raise TemplateError(gettext("The default template %(name)s was not found.") % {"name": name})


@functools.cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(
        # A template must not make the sending worker fetch URLs; a <link> is left as it is.
        load_remote_stylesheets=False,
        keep_link_tags=True,
        # @media rules cannot be inlined: they stay in a <style> so the layout stays
        # responsive in the clients that support it.
        keep_at_rules=True,
    )


def inline_css(html: str) -> str:
    """Move the CSS of ``<style>`` blocks into ``style`` attributes (many email clients drop
    ``<style>``), keeping ``@media`` rules in a ``<style>``. No remote stylesheet is loaded."""
    try:
        return _inliner().inline(html)
    except css_inline.InlineError as exc:
        raise TemplateError(
            gettext("The email's CSS could not be inlined: %(error)s") % {"error": exc}
        ) from exc
