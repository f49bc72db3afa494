"""The one line that installs the grader from a notebook (README: "Checking from your notebook")
installs what `grade export-student` builds, into an environment that already has torch
(Colab, a course JupyterHub), without replacing or downloading torch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from notebook_cases import REPO

from grader.distribution import export_student_distribution


def readme_install_line() -> str:
    lines = [line.strip() for line in (REPO / "README.md").read_text().splitlines()
             if line.strip().startswith("%pip install")]
    assert len(lines) == 1, f"README.md should show one `%pip install` line, found {lines}"
    return lines[0]


def test_the_notebook_install_line_keeps_torch(tmp_path):
    line = readme_install_line()
    requirement = re.search(r'"(dl-grader-student\[[\w,]+\]) @ [^"]+"', line)
    assert requirement, line
    assert not re.search(r"\s(-U|--upgrade|--force-reinstall)\b", line)  # would touch torch
    dest = export_student_distribution(tmp_path / "dist")
    report = tmp_path / "report.json"
    # What pip would do with that requirement pointed at the export, with no index at all: it
    # may only install the grader itself (everything else, torch first, is already here).
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--no-build-isolation",
         "--disable-pip-version-check", "--quiet", "--report", str(report),
         f"{requirement[1]} @ {dest.as_uri()}"],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    installs = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert installs == {"dl-grader-student"}, installs
