#!/usr/bin/env bash
# The benchmark-only virtual environment of benchmarks/bench_nbgrader.py (benchmark 5 of
# issue 17): nbgrader 0.9 and a Jupyter kernel with the same torch as the grader's .venv, so
# that both sides train with the same library. Idempotent: a second run checks and returns.
#
#     bash benchmarks/nbgrader_env.sh            # -> benchmarks/.venv-nbgrader (gitignored)
#
# Nothing of the project's install or tests uses it. torch/torchvision are pinned in the same
# pip command as everything else and by a constraints file, so that the resolver never picks
# another torch (these builds lie on the course machines' disk: about a minute to install).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${NBGRADER_VENV:-benchmarks/.venv-nbgrader}
TORCH_PIN=${TORCH_PIN:-"torch==2.14.1 torchvision==0.29.1"}
# What the benchmark's notebooks import (numpy, pandas for the CSV, torch) and what nbgrader
# needs to run them (ipykernel: the kernel nbgrader's autograde starts for each notebook).
PACKAGES=("nbgrader>=0.9,<0.10" ipykernel numpy pandas)

ready() {
    "$VENV/bin/python" - <<'EOF' 2>/dev/null
import importlib.metadata as m
import torch, torchvision, numpy, pandas, ipykernel, nbgrader  # noqa: F401
assert m.version("nbgrader").startswith("0.9."), m.version("nbgrader")
print("nbgrader", m.version("nbgrader"), "torch", torch.__version__, "ipykernel", ipykernel.__version__)
EOF
}

if [ -x "$VENV/bin/python" ] && ready; then
    exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
# shellcheck disable=SC2086
printf '%s\n' $TORCH_PIN >"$constraints"
pip() {
    local log status=0
    log=$(mktemp)
    "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" >"$log" 2>&1 || status=$?
    grep -v "^WARNING: Location" "$log" || true
    rm -f "$log"
    return $status
}
pip install --upgrade pip
# shellcheck disable=SC2086
pip install -c "$constraints" $TORCH_PIN "${PACKAGES[@]}"
# The kernel nbgrader starts ("python3") must be this venv's Python, not another one found
# on the machine: install its kernelspec inside the venv (sys.prefix/share/jupyter/kernels).
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
ready
