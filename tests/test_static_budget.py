"""Budgets of the files the prompts add to every page that shows one (no browser needed, so
they run wherever the suite runs, browser or not)."""

import gzip
import io
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "oscar_recovery" / "static"
SCRIPT = STATIC / "oscar_recovery" / "prompts.js"
STYLESHEET = STATIC / "oscar_recovery" / "prompts.css"


#: What a shop's server sends of prompts.js to every page with a prompt, gzipped.
SCRIPT_BUDGET = 3 * 1024


def gzipped_size(data: bytes, name: str = SCRIPT.name) -> int:
    """What ``gzip -9 -c prompts.js | wc -c`` counts: the file name in the header too (a
    web server's response leaves it out, so it sends a few bytes less)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(name, "wb", compresslevel=9, fileobj=buffer, mtime=0) as packed:
        packed.write(data)
    return len(buffer.getvalue())


def test_the_script_is_under_3_kb_gzipped():
    size = gzipped_size(SCRIPT.read_bytes())
    assert size < SCRIPT_BUDGET, f"prompts.js is {size} bytes gzipped, over {SCRIPT_BUDGET}"


def test_the_budget_check_catches_a_script_over_it():
    assert gzipped_size(SCRIPT.read_bytes() + bytes(range(256)) * 4) >= SCRIPT_BUDGET


def test_the_script_has_no_dependencies_and_no_dynamic_code():
    source = SCRIPT.read_text()
    assert not re.search(
        r"\b(import|require)\s*\(|\beval\s*\(|new Function|innerHTML|document\.write", source
    )
    assert ".style." not in source and 'setAttribute("style"' not in source


def test_the_stylesheet_uses_logical_directions_only():
    """Physical left/right would not mirror on right-to-left pages."""
    css = re.sub(r"/\*.*?\*/", "", STYLESHEET.read_text(), flags=re.S)
    physical = re.findall(r"[\w-]*\b(?:left|right)\b[\w-]*", css)
    assert physical == []
    assert "prefers-reduced-motion: no-preference" in css  # motion only for those who want it
