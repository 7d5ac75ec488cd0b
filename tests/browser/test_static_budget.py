"""Budgets of the files the prompts add to every page that shows one (no browser needed)."""

import gzip
import re

from tests.browser.conftest import STATIC

SCRIPT = STATIC / "oscar_recovery" / "prompts.js"
STYLESHEET = STATIC / "oscar_recovery" / "prompts.css"


def test_the_script_is_at_most_3_kb_gzipped():
    assert len(gzip.compress(SCRIPT.read_bytes(), compresslevel=9)) <= 3 * 1024


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
