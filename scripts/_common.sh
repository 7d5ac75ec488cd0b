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
