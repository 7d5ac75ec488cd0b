"""Reference pages generated from the code, so they cannot drift from it.

Every directive reads source files of the ``oscar_recovery`` package with :mod:`ast` (no
Django set-up, no database) and writes reStructuredText:

- ``recovery-settings`` — each ``OSCAR_RECOVERY_*`` setting an ``app_settings.py`` module
  reads (``self._setting("NAME", default)``), with its default, type and docstring;
- ``recovery-checks`` — the system checks (``checks.py``) and the doctor's checks
  (``operations/doctor.py``): id, level, message and hint;
- ``recovery-signals`` — the signals of ``signals.py`` and their ``#:`` comments;
- ``recovery-tasks`` — the Celery tasks of ``tasks.py`` and their beat schedule;
- ``recovery-commands`` — the ``recovery_*`` management commands and their options;
- ``recovery-templates`` — the shipped templates with what they extend and their blocks,
  and the template tags.

What each directive documents is read by the plain functions of :mod:`recovery_collect`,
which the test suite uses to check that the reference covers the code.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from recovery_collect import (
    PACKAGE,
    beat_entries,
    collect_checks,
    collect_commands,
    collect_settings,
    collect_signals,
    collect_tasks,
    collect_template_tags,
    collect_templates,
)
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

# -- rendering ---------------------------------------------------------------------------


def escape(text: str) -> str:
    """Plain text (a check's message) as reStructuredText that shows it as written."""
    return re.sub(r"([\\`*_|\[\]<>])", r"\\\1", " ".join(text.split()))


def indent(text: str, by: str = "   ") -> list[str]:
    return [by + line if line.strip() else "" for line in text.splitlines()]


def entry(kind: str, name: str, fields: list[str], doc: str) -> list[str]:
    """One described object (``.. setting::``, ``.. task::``): its fields as a line block,
    then its docstring."""
    out = [f".. {kind}:: {name}", ""]
    out += [f"   | {field}" for field in fields]
    return [*out, "", *indent(doc), ""]


class GeneratedDirective(SphinxDirective):
    has_content = False
    required_arguments = 0
    optional_arguments = 1

    def lines(self) -> list[str]:
        raise NotImplementedError

    def depend(self, *paths: Path) -> None:
        for path in paths:
            self.env.note_dependency(str(path))

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        content = StringList(self.lines(), source=self.get_source_info()[0])
        nested_parse_with_titles(self.state, content, container, self.content_offset)
        return container.children


class SettingsDirective(GeneratedDirective):
    """``.. recovery-settings:: oscar_recovery/app_settings.py``"""

    required_arguments = 1
    optional_arguments = 0

    def lines(self) -> list[str]:
        path = PACKAGE.parent / self.arguments[0]
        self.depend(path)
        out = []
        for setting in collect_settings(path):
            fields = [f"Default: ``{' '.join(setting.default.split())}``"]
            if setting.type:
                fields.append(f"Type: ``{setting.type}``")
            out += entry("setting", setting.name, fields, setting.doc)
        return out


class ChecksDirective(GeneratedDirective):
    def lines(self) -> list[str]:
        checks_path, doctor_path = PACKAGE / "checks.py", PACKAGE / "operations" / "doctor.py"
        self.depend(checks_path, doctor_path)
        out = []
        for check in collect_checks(checks_path, doctor_path):
            out += [f".. check:: {check.id}", ""]
            where = ""
            if check.doctor:
                where = " (``recovery_doctor``{})".format(
                    " and ``check --deploy``" if check.deploy else ""
                )
            out += [f"   **{check.level}**{where}: {escape(check.message)}", ""]
            if check.hint:
                out += [f"   *Fix:* {escape(check.hint)}", ""]
        return out


class SignalsDirective(GeneratedDirective):
    def lines(self) -> list[str]:
        path = PACKAGE / "signals.py"
        self.depend(path)
        out = []
        for signal in collect_signals(path):
            fields = [f"Arguments: ``{signal.args}``"] if signal.args else []
            out += entry("py:data", f"oscar_recovery.signals.{signal.name}", fields, signal.doc)
        return out


class TasksDirective(GeneratedDirective):
    def lines(self) -> list[str]:
        path = PACKAGE / "tasks.py"
        self.depend(path, PACKAGE / "schedules.py")
        schedule = beat_entries()
        out = []
        for task in collect_tasks(path):
            fields = [f"Function: ``oscar_recovery.tasks.{task.function}({task.args})``"]
            if task.options:
                fields.append(f"Options: ``{', '.join(task.options)}``")
            beat = "; ".join(schedule.get(task.name, [])) or "not scheduled (queued by the app)"
            fields.append(f"In ``BEAT_SCHEDULE``: {beat}")
            out += entry("task", task.name, fields, task.doc)
        return out


class CommandsDirective(GeneratedDirective):
    def lines(self) -> list[str]:
        directory = PACKAGE / "management" / "commands"
        self.depend(*directory.glob("*.py"))
        out = []
        for command in collect_commands(directory):
            usage = " ".join(
                (f"[{a.names[0]} {a.metavar}]" if a.metavar else f"[{a.names[0]}]")
                if a.names[0].startswith("-")
                else a.names[0].upper()
                for a in command.arguments
            )
            out += [command.name, "-" * len(command.name), ""]
            out += [f".. program:: {command.name}", ""]
            out += [escape(command.help), ""]
            out += [".. code-block:: text", "", f"   python manage.py {command.name} {usage}", ""]
            for argument in command.arguments:
                names = ", ".join(
                    f"{n} {argument.metavar}" if argument.metavar and n.startswith("-") else n
                    for n in argument.names
                )
                out += [f".. option:: {names}", ""]
                if argument.help:
                    out += ["   " + escape(argument.help), ""]
        return out


class TemplatesDirective(GeneratedDirective):
    def lines(self) -> list[str]:
        directory = PACKAGE / "templates"
        self.depend(*directory.rglob("*.*"))
        out = [".. list-table::", "   :header-rows: 1", "   :widths: 40 25 35", ""]
        out += ["   * - Template", "     - Extends", "     - Blocks"]
        for template in collect_templates(directory):
            note = f" — {escape(template.comment)}" if template.comment else ""
            out += [f"   * - ``{template.path}``{note}"]
            out += [f"     - ``{template.extends}``" if template.extends else "     -"]
            blocks = ", ".join(f"``{b}``" for b in template.blocks)
            out += [f"     - {blocks}" if blocks else "     -"]
        out += [""]
        return out


class TemplateTagsDirective(GeneratedDirective):
    def lines(self) -> list[str]:
        directory = PACKAGE / "templatetags"
        self.depend(*directory.glob("*.py"))
        out = []
        for tag in collect_template_tags(directory):
            signature = f"{{% load {tag.library} %}}{{% {tag.name}{' ' if tag.args else ''}"
            signature += f"{tag.args} %}}"
            out += [f".. templatetag:: {tag.name}", "", "   .. code-block:: django", ""]
            out += [f"      {signature}", ""]
            out += [*indent(tag.doc), ""]
        return out


def setup(app):
    app.add_object_type("setting", "setting", "pair: %s; setting")
    app.add_object_type("check", "check", "pair: %s; system check")
    app.add_object_type("task", "task", "pair: %s; Celery task")
    app.add_object_type("templatetag", "ttag", "pair: %s; template tag")
    app.add_directive("recovery-settings", SettingsDirective)
    app.add_directive("recovery-checks", ChecksDirective)
    app.add_directive("recovery-signals", SignalsDirective)
    app.add_directive("recovery-tasks", TasksDirective)
    app.add_directive("recovery-commands", CommandsDirective)
    app.add_directive("recovery-templates", TemplatesDirective)
    app.add_directive("recovery-templatetags", TemplateTagsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
