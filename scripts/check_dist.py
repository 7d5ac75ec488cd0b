"""Checks built release archives (``scripts/release`` runs it on ``dist/*``).

An sdist must carry the licence, the changelog, the build backend and the documentation's
sources; a wheel the licence and the compiled translations; both the version of
``oscar_recovery.__version__``, which ``CHANGELOG.md`` must have an entry for. Prints each
problem and exits with status 1 when there is any.

    python scripts/check_dist.py dist/*
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def version() -> str:
    source = (ROOT / "oscar_recovery" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', source, re.MULTILINE).group(1)


def names_in(archive: Path) -> list[str]:
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as wheel:
            return wheel.namelist()
    with tarfile.open(archive) as sdist:
        # Without the top directory (oscar_recovery-0.1.0/...).
        return [name.partition("/")[2] for name in sdist.getnames()]


def problems(archives: list[Path]) -> list[str]:
    """What is wrong with the archives, one sentence each (empty: all good)."""
    found = []
    expected = version()
    if not re.search(rf"^## {re.escape(expected)}\b", (ROOT / "CHANGELOG.md").read_text(), re.M):
        found.append(f"CHANGELOG.md has no '## {expected}' entry")
    kinds = {".whl" if a.name.endswith(".whl") else ".tar.gz" for a in archives}
    if kinds != {".whl", ".tar.gz"}:
        found.append(f"expected one sdist and one wheel, got {[a.name for a in archives]}")
    for archive in archives:
        if f"-{expected}" not in archive.name.replace("_", "-"):
            found.append(f"{archive.name}: not version {expected}")
        names = names_in(archive)
        if archive.name.endswith(".whl"):
            required = {
                "LICENSE": lambda n: re.match(r"[^/]+\.dist-info/(licenses/)?LICENSE$", n),
                "compiled translations": lambda n: n.endswith("LC_MESSAGES/django.mo"),
                "templates": lambda n: n.endswith("oscar_recovery/email/default.html"),
            }
        else:
            required = {
                "LICENSE": lambda n: n == "LICENSE",
                "CHANGELOG.md": lambda n: n == "CHANGELOG.md",
                "the build backend": lambda n: n == "build_support/oscar_recovery_build.py",
                "the documentation": lambda n: n == "docs/conf.py",
            }
        for what, test in required.items():
            if not any(test(name) for name in names):
                found.append(f"{archive.name}: no {what}")
    return found


if __name__ == "__main__":
    found = problems([Path(arg) for arg in sys.argv[1:]])
    for problem in found:
        print(problem, file=sys.stderr)
    sys.exit(1 if found else 0)
