"""The report `grader.check()` shows below its cell: what a student reads first, nothing that
can run in the page, and no news about the check cell itself."""

from __future__ import annotations

from grader.notebook_check import Notebook, render_html
from grader.results import CheckResult, GradingResult, SkippedStatement

LIVE = Notebook(b"", "MLP_pixels.ipynb", None, "JupyterLab / Notebook 7", live=True)


def result(**fields) -> GradingResult:
    checks = [CheckResult("MLP output shape [images]", 1, 1, "passed"),
              CheckResult("MLP parameter count [512-128]", 0, 1, "failed",
                          message="MLP(hidden=(512, 128)) has 468,875 parameters; expected 468,874"),
              CheckResult("MLP accuracy", 2, 4, "failed", message="accuracy 0.820 on 500 images",
                          details={"learning_curves": {"train_loss": [0.9, 0.4],
                                                       "valid_loss": [0.5, 0.45]}})]
    return GradingResult("mlp_pixels", "MLP_pixels", "MLP_pixels.ipynb", checks=checks, **fields)


def test_failing_checks_come_first_with_their_messages_and_curves():
    page = render_html(result(), LIVE, "MLP")
    assert 'data-score="3" data-max-score="6"' in page
    assert "the checks of <code>MLP</code> only" in page
    first, rest = page.split("Look at these first (2)", 1)
    assert "parameter count" not in first and "468,875 parameters" in rest
    assert rest.index("parameter count") < rest.index("MLP accuracy")
    assert "data:image/png;base64," in rest  # the learning curves of the accuracy check
    assert "Passed (1)" in page and "dl-grader-note" not in page


def test_student_text_cannot_run_in_the_page():
    hostile = result(error=None)
    hostile.checks[1].message = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    hostile.title = "<b onmouseover=alert(3)>"
    page = render_html(hostile, LIVE)
    assert "<script>" not in page and "<img src=x" not in page and "<b onmouseover" not in page
    assert "&lt;script&gt;" in page


def test_the_check_cell_is_not_listed_as_skipped_code():
    skipped = [SkippedStatement("MLP_pixels.ipynb, cell 12, line 1", "import grader", "not needed"),
               SkippedStatement("MLP_pixels.ipynb, cell 12, line 2", 'report = grader.check("MLP")',
                                "top-level expression")]
    assert "not run" not in render_html(result(skipped=skipped), LIVE)
    skipped.append(SkippedStatement("MLP_pixels.ipynb, cell 9, line 1", "fit(model, 20)",
                                    "top-level expression"))
    page = render_html(result(skipped=skipped), LIVE)
    assert "1 statement(s), e.g. MLP_pixels.ipynb, cell 9, line 1: fit(model, 20)" in page


def test_a_stale_file_is_said_on_top():
    note = ("Graded MLP_pixels.ipynb as saved 4 min ago (VS Code cannot be asked to save from the "
            "kernel) — press Ctrl+S and run this cell again to grade your latest edits.")
    stale = Notebook(b"", "MLP_pixels.ipynb", None, "VS Code", live=False, note=note)
    page = render_html(result(), stale)
    assert page.index("dl-grader-note") < page.index("MLP_pixels</b>")
    assert "saved 4 min ago" in page and "press Ctrl+S" in page
