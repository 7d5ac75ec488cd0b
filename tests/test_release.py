"""The release archives: built from this checkout exactly as ``make dist`` builds them, they
carry the licence (BSD-3-Clause, as the metadata says) and what each kind needs.

Runs where the ``release`` extra is installed (the tox ``docs`` env); elsewhere it is
skipped. It builds without network access (``--no-isolation``), in a few seconds.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

for module in ("build", "wheel", "babel"):
    pytest.importorskip(module, reason=f"the release extra ({module}) is not installed")
# The build backend's own requirement (pyproject.toml), installed by the release extra.
pytest.importorskip("setuptools", minversion="69", reason="the release extra is not installed")


def _check_dist():
    spec = importlib.util.spec_from_file_location("check_dist", ROOT / "scripts/check_dist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_dist = _check_dist()


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return sorted(out.iterdir())


def test_the_release_archives_carry_the_licence_and_pass_their_checks(archives):
    assert check_dist.problems(archives) == []
    wheel = next(a for a in archives if a.name.endswith(".whl"))
    licence = [n for n in check_dist.names_in(wheel) if n.endswith("LICENSE")]
    assert len(licence) == 1
    with zipfile.ZipFile(wheel) as archive:
        assert "BSD 3-Clause License" in archive.read(licence[0]).decode()
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
    assert "License-File: LICENSE" in text


def test_the_checker_finds_a_missing_licence(archives, tmp_path):
    """The check that guards the archives fails when LICENSE is left out."""
    wheel = next(a for a in archives if a.name.endswith(".whl"))
    stripped = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(stripped, "w") as target:
        for item in source.infolist():
            if not item.filename.endswith("LICENSE"):
                target.writestr(item, source.read(item))
    sdist = next(a for a in archives if a.name.endswith(".tar.gz"))
    assert check_dist.problems([stripped, sdist]) == [f"{wheel.name}: no LICENSE"]
