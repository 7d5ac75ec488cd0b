#!/usr/bin/env python
"""Django's command-line utility for the sandbox shop: ``python sandbox/manage.py runserver``."""

import os
import sys
from pathlib import Path

SANDBOX_DIR = Path(__file__).resolve().parent
REPO_ROOT = SANDBOX_DIR.parent


def main() -> None:
    # Python puts this script's folder first on sys.path, where sandbox modules would shadow
    # real packages (sandbox/celery.py as ``celery``): import from the repository root instead.
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != SANDBOX_DIR]
    sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
