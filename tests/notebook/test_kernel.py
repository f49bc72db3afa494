"""`grader.check()` run by a real kernel (nbclient): the score a notebook gets from its own last
cell is the score `grade check` gives the same notebook, whatever the kernel did before."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader.judge import grade
from notebook_cases import (buggy_source, notebook_of, reference_source, starter_notebook,
                            write)

pytestmark = pytest.mark.slow

CHECK_CELL = "import grader\nreport = grader.check()"
BACKEND = "import matplotlib\nbackend = matplotlib.get_backend()"


def execute(path: Path) -> nbformat.NotebookNode:
    """Run the notebook as Jupyter would, in its folder; cell errors fail the test."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def shown_report(cell) -> tuple[float, float, str]:
    """(score, max score, HTML) of the report a cell shows: what the student reads."""
    pages = [o["data"]["text/html"] for o in cell.outputs
             if o.get("output_type") in ("display_data", "execute_result")
             and "dl-grader-report" in o.get("data", {}).get("text/html", "")]
    assert len(pages) == 1, f"expected one report below the cell, got {cell.outputs}"
    page = pages[0]
    score = re.search(r'data-score="([\d.]+)" data-max-score="([\d.]+)"', page)
    return float(score[1]), float(score[2]), page


def statuses(checks) -> dict[str, tuple[str, float]]:
    return {c.name: (c.status, c.score) for c in checks}


PATCHES = '''
import os, pathlib, tempfile, torch
import grader, grader.checks
# What a judge running in this kernel would use, made to pass, and global state changed:
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
grader.checks.check_close = lambda *args, **kwargs: None
torch.set_default_dtype(torch.float64)
torch.manual_seed(123)
# ... and a sitecustomize.py that any new Python process of this environment would import,
# marking every check passed before the result is saved:
site = pathlib.Path(tempfile.mkdtemp())
(site / "sitecustomize.py").write_text(
    "import pathlib, grader.results as r\\n"
    f"pathlib.Path({str(site)!r}, 'imported').touch()\\n"
    "save = r.GradingResult.save\\n"
    "def cheat(self, path):\\n"
    "    for c in self.checks:\\n"
    "        c.score, c.status = c.max_score, 'passed'\\n"
    "    return save(self, path)\\n"
    "r.GradingResult.save = cheat\\n")
os.environ["PYTHONPATH"] = str(site)
'''


@pytest.mark.parametrize("variant", ["reference", "starter", "buggy"])
def test_check_in_the_notebook_scores_as_grade_check(tmp_path, variant):
    """The report below a `grader.check()` cell shows the score `grade check` gives the same
    notebook. The starter and the buggy notebooks first monkeypatch torch and the grader in the
    kernel and plant a sitecustomize.py through PYTHONPATH: no point more — the grading process
    starts clean (`python -E`, its own working folder) and never sees the kernel's state."""
    nb = {"reference": lambda: notebook_of(reference_source()), "starter": starter_notebook,
          "buggy": lambda: notebook_of(buggy_source())}[variant]()
    cheats = [] if variant == "reference" else [PATCHES]
    path = write(nb, tmp_path / variant, [*cheats, BACKEND, CHECK_CELL,
                                          "print(report.score, report.max_score, "
                                          "globals().get('site'), matplotlib.get_backend() == "
                                          "backend)"])
    ran = execute(path)
    score, most, page = shown_report(ran.cells[-2])
    expected = grade(path)  # what `grade check` computes for this very file
    assert (score, most) == (expected.score, expected.max_score)
    printed_score, printed_most, site, same_backend = ran.cells[-1].outputs[0]["text"].split()
    # The report's plots are drawn in the grading process: the student's plots still show.
    assert same_backend == "True", "check() changed the kernel's matplotlib backend"
    assert (printed_score, printed_most) == (f"{expected.score}", f"{expected.max_score}")
    if variant == "reference":
        assert score == most
    elif variant == "starter":
        assert score == 0 and "not implemented yet" in page
    else:
        assert 0 < score < most and "Look at these first" in page
        assert "forward" in page  # the check about the bug is among the ones to look at
    if cheats:
        assert not (Path(site) / "imported").exists(), \
            "the grading process imported the kernel's sitecustomize"
    # Under nbclient no front end says which notebook runs: graded as saved, and said.
    assert "dl-grader-note" in page and "as saved just now" in page


def test_one_part_and_the_magic(tmp_path):
    """`%load_ext grader` and `%grade softmax` run the checks of softmax only (as
    `grader.check("softmax")` does: test_front_ends, test_browser); a misspelt part is one line
    naming the parts, without a traceback."""
    path = write(notebook_of(reference_source()), tmp_path, [
        "%load_ext grader\n%grade softmax", '%grade sofmax'])
    ran = execute(path)
    score, most, page = shown_report(ran.cells[-2])
    assert (score, most) == (2, 2)
    assert "the checks of <code>softmax</code> only" in page
    assert "init_params" not in page and "cross_entropy" not in page
    (wrong,) = [o for o in ran.cells[-1].outputs if o.get("output_type") == "display_data"]
    text = wrong["data"]["text/plain"]
    assert "`sofmax` is not a part of `perceptron`" in text and "did you mean `softmax`?" in text
    assert "Traceback" not in str(ran.cells[-1].outputs)
