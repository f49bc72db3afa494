#!/usr/bin/env bash
# Install the grader into ./.venv from scratch (idempotent).
#
# torch/torchvision are pinned to the builds these course machines carry on disk; real users
# can install any torch>=2.6 (pyproject.toml keeps the range loose). bubblewrap gives the
# student process its strong sandbox; without it the grader still works ("isolation: basic").
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_PIN=${TORCH_PIN:-"torch==2.14.1 torchvision==0.29.1"}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    command -v bwrap >/dev/null || missing+=(bubblewrap)
    if [ "${INSTALL_CHROMIUM:-0}" = 1 ] && ! command -v chromium >/dev/null; then
        missing+=(chromium)
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing system packages: ${missing[*]}"
        apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
    fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# pip, without the harmless "Location ... is ignored" lines of this machine's local index;
# a failing pip still fails the script.
pip() {
    local log status=0
    log=$(mktemp)
    .venv/bin/python -m pip --disable-pip-version-check -q "$@" >"$log" 2>&1 || status=$?
    grep -v "^WARNING: Location" "$log" || true
    rm -f "$log"
    return $status
}
pip install --upgrade pip
# shellcheck disable=SC2086
.venv/bin/python -c "import torch, torchvision" 2>/dev/null || pip install $TORCH_PIN
pip install -e ".[test]"
echo "installed: $(.venv/bin/python -c 'import torch, grader; print("grader", grader.__version__, "torch", torch.__version__)')"
