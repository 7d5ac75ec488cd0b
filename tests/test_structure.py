"""The shape of the code: no import cycle in ``oscar_recovery/``, services never import the
Celery tasks, and no tracker numbers in code or tests.

What counts as an import: every ``import`` statement of a module, at module level or inside
a function or class, except under ``if TYPE_CHECKING:`` (never executed). A function-level
import still makes its module depend on the other one, so it cannot hide a cycle; it is
only for importing later (``RecoveryConfig.ready`` imports what needs the models loaded).
Work handed over by name does not count: a task published by its name
(:mod:`oscar_recovery.handoff.publish`) or an outbox handler named by a dotted path
(:data:`oscar_recovery.handoff.outbox.HANDLERS`) is how services hand work on without
depending on what runs it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "oscar_recovery"

#: The only modules that may import ``oscar_recovery.tasks``: the app config registers the
#: tasks when Django starts. Everything else hands work over by task name or the outbox.
TASK_IMPORTERS = {"oscar_recovery.apps"}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST):
    """Every import statement executed at some point: all but those under TYPE_CHECKING."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skipped:
            yield node


def _targets(module: str, node: ast.Import | ast.ImportFrom, modules: dict) -> set[str]:
    """The modules of ours an import statement loads (the most specific one: ``from a import
    b`` is ``a.b`` when that is a module, else ``a``)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    if node.level:
        base = module.split(".")
        if modules[module].name != "__init__.py":
            base.pop()
        base = base[: len(base) - node.level + 1]
        if node.module:
            base.append(node.module)
        source = ".".join(base)
    else:
        source = node.module or ""
    if source.split(".")[0] != PACKAGE:
        return set()
    found = set()
    for alias in node.names:
        sub = f"{source}.{alias.name}"
        if sub in modules:
            found.add(sub)
        elif source in modules:
            found.add(source)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ``oscar_recovery`` it imports (see the module docstring)."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = {
            target
            for node in _imports(tree)
            for target in _targets(module, node, modules)
            if target != module
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as one
    cycle through all of its modules' edges, sorted for stable messages."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    edges = [f"  {a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return f"{len(component)} modules:\n" + "\n".join(edges)


def test_there_is_no_import_cycle_in_the_package():
    graph = import_graph()
    assert "oscar_recovery.adapter" in graph and len(graph) > 100  # the walk found the code
    found = cycles(graph)
    assert not found, (
        "Import cycles (break each at the module that should not know the other):\n"
        + ("\n".join(_describe(component, graph) for component in found))
    )


def test_the_cycle_finder_names_a_cycle_and_ignores_a_chain():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_a_function_level_import_counts_and_type_checking_does_not(tmp_path):
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from oscar_recovery import tasks\n"
        "def later():\n    from oscar_recovery.handoff import publish\n"
    )
    modules = {"oscar_recovery.x": tmp_path / "x.py", "oscar_recovery.tasks": tmp_path / "t.py"}
    modules["oscar_recovery.handoff.publish"] = tmp_path / "p.py"
    imported = set()
    for node in _imports(ast.parse(source)):
        imported |= _targets("oscar_recovery.x", node, modules)
    assert imported == {"oscar_recovery.handoff.publish"}


def test_services_never_import_the_tasks():
    """Services hand work on by task name (``handoff.publish_soon``) or through the outbox
    (``handoff.record``): importing ``tasks``, which imports nearly every service, is what
    tied them all into one cycle."""
    importers = {
        module for module, targets in import_graph().items() if "oscar_recovery.tasks" in targets
    }
    assert importers <= TASK_IMPORTERS, sorted(importers - TASK_IMPORTERS)


def test_the_adapter_depends_on_nothing_that_depends_on_it():
    graph = import_graph()
    reached, todo = set(), ["oscar_recovery.adapter"]
    while todo:
        for target in graph[todo.pop()]:
            if target not in reached:
                reached.add(target)
                todo.append(target)
    assert "oscar_recovery.adapter" not in reached


# -- tracker numbers ------------------------------------------------------------------------

#: "issue 13", "issue #13", "stop 17", "part 1 of issue 13", "issue 15's", "#15.3", "(#12)",
#: "#12.12-13, #13)": a tracker's numbers, which mean nothing to a reader of the code. A
#: lone "#2" is a name's counter ("Campaign #2"), not a tracker number.
TRACKER_NUMBER = re.compile(
    r"\b(?:issues?|stops?|tickets?|PR)\s*#?\d+"
    r"|(?<![\w&])#\d+(?:\.\d+)+"
    r"|(?<=\()#\d+"
    r"|(?<![\w&])#\d+(?=\))",
    re.IGNORECASE,
)
SCANNED = ("oscar_recovery", "tests", "bench", "sandbox", "scripts")
SUFFIXES = {".py", ".html", ".txt", ".js", ".css", ".sh", ".toml", ".cfg", ".ini"}


def _tracker_numbers(text: str) -> list[str]:
    return [match.group(0) for match in TRACKER_NUMBER.finditer(text)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("see issue 13 part 1", ["issue 13"]),
        ("# Resending what never reached the ESP (#15.3)", ["#15.3"]),
        ("issue 15's last stop", ["issue 15"]),
        ("stop 17: the kill test", ["stop 17"]),
        ("(issue #12.12-13, #13)", ["issue #12", "#13"]),
        ("a stranger could silence the owner's reminder (#12).", ["#12"]),
        ("color: #123; &#8211; the 2 stops", []),
        ('"Welcome back #1: Forgot something?", f"{offer.name} #2", r"[-#0+]"', []),
        ("version 1.2, line 13, HTTP 404", []),
    ],
)
def test_the_tracker_number_pattern(text, found):
    assert _tracker_numbers(text) == found


def test_no_tracker_numbers_in_code_or_tests():
    me = Path(__file__).resolve()
    offenders = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix not in SUFFIXES or path == me or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for word in _tracker_numbers(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {word!r}: {line.strip()}")
    assert not offenders, "Say what it is, not its tracker number:\n" + "\n".join(offenders)
