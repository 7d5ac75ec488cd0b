"""Sphinx configuration of the oscar-recovery documentation (``make docs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "docs"), str(ROOT / "docs" / "_ext")]

# autodoc imports the app's modules, and they need Django's app registry: a plain Oscar
# project's settings (no database is touched while building).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_settings")
django.setup()

import oscar_recovery  # noqa: E402

project = "oscar-recovery"
author = "The oscar-recovery authors"
copyright = "The oscar-recovery authors"
release = version = oscar_recovery.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "recovery_reference",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
# Code names keep their straight quotes ('WEBHOOK_SECRET').
smartquotes = False
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# A reference to a setting, system check, task or page that does not exist fails the build
# (-W). Python objects named in docstrings and type hints are not all documented here.
nitpicky = True
nitpick_ignore_regex = [(r"py:.*", r".*")]

autodoc_member_order = "bysource"
autodoc_typehints = "description"

html_theme = "furo"
html_title = f"oscar-recovery {release}"
html_static_path: list[str] = []
