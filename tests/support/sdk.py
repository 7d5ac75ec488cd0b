"""Tests of an optional SDK (an extra of the package) skip when it is not installed, except
under CI=true, where tox installs the extras and a missing SDK fails the run."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def require(module: str, extra: str) -> ModuleType:
    """``module``, imported; a skip (or under CI=true, a failure) when it is missing."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"pip install -e '.[{extra}]'")
