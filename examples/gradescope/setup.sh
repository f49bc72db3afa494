#!/usr/bin/env bash
# Gradescope autograder set-up: zip this file with run_autograder and the grader's source
# (`git archive` of the course repository, hidden checks included) and upload the zip.
set -euo pipefail
apt-get update -q && apt-get install -y -q python3 python3-pip python3-venv bubblewrap
python3 -m venv /opt/grader-venv
/opt/grader-venv/bin/pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu
/opt/grader-venv/bin/pip install -e "/autograder/source[data]"
