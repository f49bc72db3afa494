"""The student distribution: what students install to run `grade check` themselves.

It holds the grader, every assignment's settings and *public* checks (with their scenario
modules) and the starter files — and nothing a student must not see: no hidden checks, no
reference solutions, no test corpus (``grader.assignment.PRIVATE``). Assignments, with their
starter files, travel inside the package
(``grader/_bundled/``), so a plain ``pip install DEST`` works anywhere. Public checks do not
use the reference solution (a test of the grader enforces it), so they run unchanged here.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import grader
from grader.assignment import PRIVATE, SETTINGS_FILE, assignments_root

BUNDLED = "_bundled"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.report.html",
                                 "grade-report.html", BUNDLED)


class ExportError(Exception):
    pass


def export_student_distribution(dest: Path) -> Path:
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} exists and is not empty: choose a new folder")
    package = Path(grader.__file__).resolve().parent
    repo = package.parent
    shutil.copytree(package, dest / "grader", ignore=IGNORED)
    bundled = dest / "grader" / BUNDLED
    for folder in sorted(assignments_root().iterdir()):
        if not (folder / SETTINGS_FILE).is_file():
            continue
        target = bundled / "assignments" / folder.name
        target.mkdir(parents=True)
        for item in folder.iterdir():
            if item.name in PRIVATE or item.name.startswith((".", "__")):
                continue
            if item.is_dir():
                shutil.copytree(item, target / item.name, ignore=IGNORED)
            else:
                shutil.copy2(item, target / item.name)
    (dest / "pyproject.toml").write_text(_student_pyproject((repo / "pyproject.toml").read_text()))
    (dest / "README.md").write_text(STUDENT_README)
    return dest


def _student_pyproject(text: str) -> str:
    text = re.sub(r'include = \[[^\]]*\]', 'include = ["grader*"]', text)
    text = re.sub(r'grader = \[[^\]]*\]', f'grader = ["judge.ini", "report_templates/*", '
                  f'"locale/*/LC_MESSAGES/*.po", '
                  f'"{BUNDLED}/**/*", "{BUNDLED}/**/.grader-assignment"]', text)
    text = text.replace('name = "dl-grader"', 'name = "dl-grader-student"')
    return text


STUDENT_README = """# dl-grader (student edition)

Check your practicals before handing them in:

    pip install .
    grade template mlp_pixels --notebook   # a starter notebook (or a .py without --notebook)
    grade check                            # in the folder of your work

`grade check` runs the public checks of the practical on your definitions (not on your training
runs or plots), in a sandboxed process, and tells you what passed and what to fix. Hidden checks
run when your instructor grades.
"""
