"""What the reference pages document, read from the code of the ``oscar_recovery`` package.

Plain functions over :mod:`ast` (no Django set-up, no database, no Sphinx), so the
documentation build (``recovery_reference``) and the test suite (``tests/test_docs.py``,
which checks that the reference covers the code) read the code the same way.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "oscar_recovery"


@dataclass
class Setting:
    name: str  # the full settings name, OSCAR_RECOVERY_...
    default: str  # the default as written in the source
    type: str
    doc: str


def _constant(node: ast.AST | None) -> str | None:
    """The string a node spells: a constant, or ``_("...")`` / ``gettext_lazy("...")``,
    or such a call formatted with ``%``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and node.args and not node.keywords:
        return _constant(node.args[0])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _constant(node.left)
    return None


def _calls(tree: ast.AST, name: str):
    """Every call of ``name`` (a function, or a method of any object) under ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and name in (
            getattr(node.func, "id", None),
            getattr(node.func, "attr", None),
        ):
            yield node


def _parse(path: Path) -> tuple[ast.Module, str]:
    source = path.read_text()
    return ast.parse(source), source


def collect_settings(path: Path) -> list[Setting]:
    """Every setting a settings module reads, in source order."""
    tree, source = _parse(path)
    prefix = next(
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "PREFIX" for t in node.targets)
    )
    found = []
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        for func in cls.body:
            if not isinstance(func, ast.FunctionDef):
                continue
            if not any(isinstance(d, ast.Name) and d.id == "property" for d in func.decorator_list):
                continue
            for call in _calls(func, "_setting"):
                if len(call.args) == 2:
                    found.append(
                        Setting(
                            name=prefix + call.args[0].value,
                            default=ast.get_source_segment(source, call.args[1]) or "",
                            type=ast.unparse(func.returns) if func.returns else "",
                            doc=ast.get_docstring(func) or "",
                        )
                    )
                    break
    return found


@dataclass
class Check:
    id: str
    level: str
    message: str
    hint: str = ""
    doctor: bool = False  # found by ``manage.py recovery_doctor``
    deploy: bool = False  # and shown by ``manage.py check --deploy``


LEVELS = {"E": "Error", "W": "Warning", "I": "Info", "C": "Critical"}
CHECK_ID = re.compile(r"^(?:oscar_recovery\.)?([CEWI])(\d{3})$")


def _check_calls(tree: ast.AST):
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        for call in ast.walk(func):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
                continue
            keywords = {k.arg: k.value for k in call.keywords}
            if "id" in keywords and call.args:
                yield func, call, keywords


TRANSLATE = {"_", "gettext", "gettext_lazy", "str"}


class _Texts:
    """Finds the text of a check's message or hint however the code builds it: a literal,
    ``_("...")`` (``% {...}`` formatted or not), a variable assigned in the function, a
    module-level constant, or a call of a helper that returns a translated text, in any of
    the modules given (``checks.X`` from the doctor finds ``X`` in ``checks.py``)."""

    def __init__(self, *trees: ast.Module):
        self.functions: dict[str, ast.FunctionDef] = {}
        self.constants: dict[str, ast.AST] = {}
        for tree in trees:
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    self.functions[node.name] = node
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            self.constants[target.id] = node.value

    def of(self, node: ast.AST | None, scope: ast.FunctionDef | None = None) -> list[str]:
        """Every text ``node`` may stand for (a message chosen by branch has several)."""
        if node is None:
            return []
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            return self.of(node.left, scope)
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in TRANSLATE and node.args:
                return self.of(node.args[0], scope)
            if name in self.functions:
                return self.returned(self.functions[name])
            return []
        if isinstance(node, ast.Name | ast.Attribute):
            name = getattr(node, "id", None) or node.attr
            local = []
            if scope is not None:
                local = [
                    text
                    for assign in ast.walk(scope)
                    if isinstance(assign, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == name for t in assign.targets)
                    for text in self.of(assign.value, scope)
                ]
            return local or self.of(self.constants.get(name), None)
        return []

    def returned(self, func: ast.FunctionDef) -> list[str]:
        """The translated texts a helper function builds (what it returns)."""
        return [
            text
            for node in ast.walk(func)
            if isinstance(node, ast.Call)
            and getattr(node.func, "id", None) in TRANSLATE - {"str"}
            and node.args
            for text in self.of(node.args[0], func)
        ]


def collect_checks(checks_path: Path, doctor_path: Path) -> list[Check]:
    """The system checks and the doctor's checks, sorted by id."""
    found: dict[str, Check] = {}
    tree, _source = _parse(checks_path)
    doctor_tree, _source = _parse(doctor_path)
    texts = _Texts(tree, doctor_tree)
    for func, call, keywords in _check_calls(tree):
        message = " / ".join(texts.of(call.args[0], func))
        hint = " / ".join(texts.of(keywords.get("hint"), func))
        check_id = _constant(keywords["id"])
        if check_id is not None:
            ids = [check_id]
        else:
            # An id chosen at run time (an error in production, a warning under DEBUG):
            # every literal id the function names.
            ids = sorted(
                {
                    node.value
                    for node in ast.walk(func)
                    if isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and CHECK_ID.match(node.value)
                }
            )
        for one in ids:
            full = one if one.startswith("oscar_recovery.") else f"oscar_recovery.{one}"
            level = LEVELS[CHECK_ID.match(full).group(1)]
            found[full] = Check(full, level, message, hint)

    for call in _calls(doctor_tree, "DoctorCheck"):
        check_id = _constant(call.args[0])
        test_name = getattr(call.args[1], "id", None) or getattr(call.args[1], "attr", None)
        test = texts.functions.get(test_name)  # a function here, or checks.<name>
        message = " / ".join(texts.returned(test)) if test is not None else ""
        keywords = {k.arg: k.value for k in call.keywords}
        in_check_deploy = keywords.get("in_check_deploy")
        found[check_id] = Check(
            check_id,
            "Warning",
            message,
            " / ".join(texts.of(call.args[2])),
            doctor=True,
            deploy=not (isinstance(in_check_deploy, ast.Constant) and not in_check_deploy.value),
        )
    return sorted(found.values(), key=lambda c: (c.id[15], int(c.id[16:])))


@dataclass
class SignalDoc:
    name: str
    doc: str
    args: str


def collect_signals(path: Path) -> list[SignalDoc]:
    """Module-level ``name = Signal()`` with the ``#:`` comment above it."""
    tree, source = _parse(path)
    lines = source.splitlines()
    found = []
    for node in tree.body:
        if not (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "Signal"
        ):
            continue
        comment = []
        index = node.lineno - 2
        while index >= 0 and lines[index].strip().startswith("#:"):
            comment.insert(0, lines[index].strip()[2:].strip())
            index -= 1
        args = ""
        prose = []
        for line in comment:
            if line.startswith("provides args:"):
                args = line.removeprefix("provides args:").strip()
            else:
                prose.append(line)
        found.append(SignalDoc(node.targets[0].id, " ".join(prose), args))
    return found


@dataclass
class TaskDoc:
    name: str
    function: str
    args: str
    doc: str
    options: list[str] = field(default_factory=list)


def collect_tasks(path: Path) -> list[TaskDoc]:
    """Functions decorated with ``@shared_task(name=...)``."""
    tree, _source = _parse(path)
    found = []
    for func in tree.body:
        if not isinstance(func, ast.FunctionDef):
            continue
        for decorator in func.decorator_list:
            if not (
                isinstance(decorator, ast.Call)
                and getattr(decorator.func, "id", None) == "shared_task"
            ):
                continue
            keywords = {k.arg: k.value for k in decorator.keywords}
            args = [a.arg for a in func.args.args]
            if isinstance(keywords.get("bind"), ast.Constant) and keywords["bind"].value:
                args = args[1:]
            arguments = ", ".join(
                f"{a.arg}: {ast.unparse(a.annotation)}" if a.annotation else a.arg
                for a in func.args.args
                if a.arg in args
            )
            options = [f"{k}={ast.unparse(v)}" for k, v in keywords.items() if k not in ("name",)]
            found.append(
                TaskDoc(
                    _constant(keywords["name"]),
                    func.name,
                    arguments,
                    ast.get_docstring(func) or "",
                    options,
                )
            )
    return found


def _every(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {seconds} seconds"


def describe_schedule(schedule) -> str:
    if isinstance(schedule, timedelta):
        return _every(schedule)
    parts = [
        f"{name}={getattr(schedule, '_orig_' + name)}"
        for name in ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
        if str(getattr(schedule, "_orig_" + name, "*")) != "*"
    ]
    return f"crontab({', '.join(parts)})"


def beat_entries() -> dict[str, list[str]]:
    """Task name -> how ``oscar_recovery.schedules.BEAT_SCHEDULE`` runs it."""
    from oscar_recovery.schedules import BEAT_SCHEDULE

    entries: dict[str, list[str]] = {}
    for key, entry in BEAT_SCHEDULE.items():
        text = f"``{key}``: {describe_schedule(entry['schedule'])}"
        if entry.get("kwargs"):
            text += " with " + ", ".join(f"``{k}={v!r}``" for k, v in entry["kwargs"].items())
        entries.setdefault(entry["task"], []).append(text)
    return entries


@dataclass
class Argument:
    names: list[str]
    help: str
    metavar: str = ""


@dataclass
class CommandDoc:
    name: str
    help: str
    arguments: list[Argument]


def collect_commands(directory: Path) -> list[CommandDoc]:
    """Every management command in ``directory``: its help and arguments."""
    found = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree, _source = _parse(path)
        command = next(
            (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Command"), None
        )
        if command is None:
            continue
        help_text = ""
        arguments = []
        for node in command.body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in (
                "help",
                "help_text",
            ):
                help_text = _constant(node.value) or ""
        for call in _calls(command, "add_argument"):
            keywords = {k.arg: k.value for k in call.keywords}
            names = [_constant(a) for a in call.args]
            metavar = _constant(keywords.get("metavar")) or ""
            if not metavar and names[0].startswith("-") and not _stores_flag(keywords):
                dest = _constant(keywords.get("dest")) or names[-1].lstrip("-")
                metavar = dest.upper().replace("-", "_")
            arguments.append(Argument(names, _constant(keywords.get("help")) or "", metavar))
        found.append(CommandDoc(path.stem, help_text, arguments))
    return found


def _stores_flag(keywords: dict) -> bool:
    return _constant(keywords.get("action")) in ("store_true", "store_false", "count")


@dataclass
class TemplateDoc:
    path: str
    extends: str
    blocks: list[str]
    comment: str


def collect_templates(directory: Path) -> list[TemplateDoc]:
    found = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        text = path.read_text()
        extends = re.search(r"{%\s*extends\s+[\"']([^\"']+)[\"']\s*%}", text)
        comment = re.match(r"\s*(?:{%[^%]*%}\s*)*{#(.*?)#}", text)
        found.append(
            TemplateDoc(
                str(path.relative_to(directory)),
                extends.group(1) if extends else "",
                re.findall(r"{%-?\s*block\s+(\w+)", text),
                comment.group(1).strip() if comment else "",
            )
        )
    return found


@dataclass
class TagDoc:
    library: str
    name: str
    args: str
    doc: str


def collect_template_tags(directory: Path) -> list[TagDoc]:
    found = []
    for path in sorted(directory.glob("*.py")):
        tree, _source = _parse(path)
        for func in tree.body:
            if not isinstance(func, ast.FunctionDef):
                continue
            registered = any("register." in ast.unparse(d) for d in func.decorator_list)
            if not registered:
                continue
            takes_context = any("takes_context=True" in ast.unparse(d) for d in func.decorator_list)
            params = func.args.args[1:] if takes_context else func.args.args
            defaults = [None] * (len(params) - len(func.args.defaults)) + func.args.defaults
            args = " ".join(
                f"{p.arg}={ast.unparse(d)}" if d is not None else p.arg
                for p, d in zip(params, defaults, strict=True)
            )
            # A library of one tag may say it all in the module's docstring.
            doc = ast.get_docstring(func) or ast.get_docstring(tree) or ""
            found.append(TagDoc(path.stem, func.name, args, doc))
    return found
