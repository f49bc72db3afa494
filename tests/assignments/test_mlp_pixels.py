"""mlp_pixels: what the shared harness (tests/test_practicals.py) does not cover — the run's
metadata, learning curves, a notebook with a long top-level training, the variants' skipped
code. Its corpus is assignments/mlp_pixels/corpus/; attacks are in test_mlp_pixels_attacks."""

import time

import pytest

import practicals
from corpus import assert_reports_its_training, as_notebook, losing
from grader.judge import grade

pytestmark = pytest.mark.slow

MODULE = "mlp_pixels"
PRACTICAL = practicals.practical(MODULE)
ACCURACY = PRACTICAL.corpus.ACCURACY


def test_reference_run_metadata():
    result = PRACTICAL.reference_result()
    assert result.isolation_level in ("strong", "basic")
    assert result.grader_version and len(result.checks_hash) == 16
    # One student process for the whole run: nothing killed it (a start-up thread that exits
    # used to, through bwrap's parent-death signal).
    assert result.timings["student_startups"] == 1


def test_accuracy_checks_report_learning_curves():
    trained = [c for c in PRACTICAL.reference_result().checks if c.trains]
    assert {c.name for c in trained} == set(ACCURACY)
    assert len(trained) == 2
    for check in trained:
        assert_reports_its_training(check, epochs=5, n_test=500)


def test_notebook_with_long_top_level_training_grades_as_fast(tmp_path):
    reference_result = PRACTICAL.reference_result()
    source = PRACTICAL.assignment.reference_path.read_text()
    # A top-level cell that would train for hours, a plot and a magic: none of it may run.
    training_cell = (
        "%matplotlib inline\n"
        "import time\n"
        "model = MLP()\n"
        "for epoch in range(20):\n"
        "    time.sleep(3600)\n")
    notebook = as_notebook(source, tmp_path / "nb" / "MLP_pixels.ipynb",
                           [training_cell, "!pip install torchsummary", "plt.plot([1, 2])"])
    started = time.monotonic()
    result = grade(notebook.parent, hidden=True)   # assignment detected from the file name
    elapsed = time.monotonic() - started
    assert result.assignment == MODULE
    assert losing(result) == set(), [(c.name, c.message) for c in result.checks if not c.passed]
    assert any("for epoch in range(20)" in s.code for s in result.skipped)
    assert any("cell" in s.where for s in result.skipped)
    # "about the same time" as the .py file (generous: machines are noisy)
    assert elapsed < 2 * reference_result.timings["measured_s"] + 10


def test_variant_with_a_main_block_skips_it():
    result = PRACTICAL.variant_result("explicit_layers")
    assert any("__main__" in s.reason for s in result.skipped)
