"""docs/authoring.md is followed to the letter: its example practical (``logreg``), written
file by file into a temporary copy of the assignments folder — files only inside its own
folder — is listed, graded, covered by the shared harness and exported, with no test edited.
"""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from authoring_example import example_files, write_example
from corpus import REPO
from grader.cli import app

pytestmark = pytest.mark.slow


def test_the_guide_holds_a_whole_practical():
    files = example_files()
    assert {path.split("/")[0] for path in files} == {"logreg"}   # one folder, nothing else
    assert {"logreg/assignment.toml", "logreg/reference/logreg.py", "logreg/public/test_logreg.py",
            "logreg/hidden/test_logreg_hidden.py", "logreg/student_side.py",
            "logreg/corpus/bugs.py", "logreg/calibration.py"} <= set(files)
    for path, text in files.items():   # checks import only grader.api and their own folder
        if path.endswith(".py") and "/reference/" not in path and "/corpus/" not in path:
            imports = [line for line in text.splitlines()
                       if line.startswith(("from grader", "import grader"))]
            assert all(line in ("from grader import api", "from grader.corpus import bug")
                       for line in imports), (path, imports)


def test_a_new_practical_from_the_guide_is_graded_and_covered(tmp_path, monkeypatch):
    root = tmp_path / "assignments"
    shutil.copytree(REPO / "assignments", root,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    written = write_example(root)
    assert all((root / "logreg") in path.parents for path in written)
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(root))
    runner = CliRunner()

    regenerate = runner.invoke(app, ["template", "--regenerate"], catch_exceptions=False)
    assert regenerate.exit_code == 0, regenerate.output
    assert (root / "logreg" / "starter" / "logreg.py").is_file()
    listed = runner.invoke(app, ["list"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert "logreg" in listed.output

    # The shared harness, on this assignments folder, for the new practical: reference full
    # marks, starter 0, its corpus, the label inspection, the export — without editing a test.
    junit = tmp_path / "harness.xml"
    env = {**os.environ, "GRADER_ASSIGNMENTS": str(root)}
    run = subprocess.run([sys.executable, "-m", "pytest", str(REPO / "tests" / "test_practicals.py"),
                          "-k", "logreg", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                          f"--junitxml={junit}"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    ran = {case.get("name") for case in ET.parse(junit).iter("testcase")
           if case.find("skipped") is None}
    expected = {
        "test_layout_has_no_traps[logreg]", "test_reference_scores_full_marks[logreg]",
        "test_starter_scores_zero_with_one_not_implemented_line_per_check[logreg]",
        "test_bug_loses_points_exactly_on_its_checks[logreg-no_zero_grad]",
        "test_bug_loses_points_exactly_on_its_checks[logreg-sum_of_losses]",
        "test_bug_loses_points_exactly_on_its_checks[logreg-no_flatten]",
        "test_valid_variant_scores_full_marks[logreg-sequential]",
        "test_scored_images_are_never_sent_with_labels[logreg]",
        "test_public_checks_never_use_the_reference[logreg]",
        "test_export_ships_starter_and_public_checks_and_nothing_hidden[logreg]",
    }
    assert expected <= ran, sorted(expected - ran)

    exported = runner.invoke(app, ["export-student", str(tmp_path / "dist")],
                             catch_exceptions=False)
    assert exported.exit_code == 0, exported.output
    shipped = tmp_path / "dist" / "grader" / "_bundled" / "assignments" / "logreg"
    names = {p.relative_to(shipped).as_posix() for p in shipped.rglob("*") if p.is_file()}
    assert {"starter/logreg.py", "public/test_logreg.py", "logreg_checks.py",
            "student_side.py", "assignment.toml"} <= names
    assert not any(n.startswith(("hidden/", "reference/", "corpus/")) or n == "calibration.py"
                   for n in names), sorted(names)
