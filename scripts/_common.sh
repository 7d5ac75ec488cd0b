# Shared helpers for scripts/sandbox and scripts/test (sourced, not run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export UV_PYTHON_DOWNLOADS=never   # only interpreters already on the machine
export PIP_DISABLE_PIP_VERSION_CHECK=1

# find_python 3.12 -> prints the path of a working python3.12 (PATH first, then pyenv), or nothing.
find_python() {
    local want="$1" candidate
    for candidate in "python$want" "$(command -v pyenv >/dev/null 2>&1 && echo "$(pyenv root)/versions/$want"*/bin/python"$want")"; do
        for c in $candidate; do
            if [ -n "$c" ] && "$c" -c 'import sys' >/dev/null 2>&1; then
                command -v "$c" 2>/dev/null || echo "$c"
                return 0
            fi
        done
    done
    return 0
}

# bootstrap_venv EXTRAS -> .venv with the package installed editable with those extras.
bootstrap_venv() {
    local extras="$1" py
    py="$(find_python 3.11)"; [ -n "$py" ] || py="$(find_python 3.12)"; [ -n "$py" ] || py="$(find_python 3.13)"
    [ -n "$py" ] || { echo "Python 3.11+ is needed and none was found." >&2; exit 1; }
    [ -x .venv/bin/python ] || "$py" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[$extras]"
}

# service_up HOST PORT -> exit status 0 when something accepts TCP connections there.
service_up() {
    .venv/bin/python - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
    sys.exit(1)
PY
}

# apt_install WHAT PACKAGE... -> the Debian packages, installed non-interactively with apt-get,
# through sudo when not root; returns non-zero when that cannot happen (it says why).
apt_install() {
    local what="$1"; shift
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "No apt-get here: install $* yourself for $what." >&2
        return 1
    fi
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        # A password prompt only where someone can answer it.
        if [ -t 0 ]; then sudo=(sudo); else sudo=(sudo -n); fi
    fi
    echo "Installing Debian's $* for $what ..." >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "$@" >/dev/null
}

# ensure_chromium -> Debian's chromium and chromium-driver (the browser tests drive them), installed
# when missing. Where that cannot happen it says so; the browser tests then skip (or, with
# CI=true, fail) with the reason.
ensure_chromium() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        return 0
    fi
    apt_install "the browser tests (or OSCAR_RECOVERY_CHROMIUM=/path/to/chromium)" chromium chromium-driver \
        || echo "Could not install chromium: the browser tests will be skipped (failed with CI=true)." >&2
}

# ensure_msgfmt -> GNU gettext's msgfmt, which checks the translation catalogues' placeholders
# (tests/test_catalogue_formats.py), installed when missing; else that test skips (fails
# with CI=true).
ensure_msgfmt() {
    command -v msgfmt >/dev/null 2>&1 && return 0
    apt_install "the translation catalogue checks" gettext \
        || echo "Could not install gettext: the catalogue checks will be skipped (failed with CI=true)." >&2
}
