"""optim: what the shared harness (tests/test_practicals.py) does not cover — every element has
public and hidden checks, nothing trains, a variant's skipped code, determinism. Its corpus
(bugs of one element each, graded together) is assignments/optim/corpus/."""

import pytest

import practicals
from corpus import losing, write_mutant
from grader.judge import grade

pytestmark = pytest.mark.slow

MODULE = "optim"
PRACTICAL = practicals.practical(MODULE)
REQUIRED = set(PRACTICAL.assignment.required)


def test_reference_checks_every_element_publicly_and_hidden_without_training():
    result = PRACTICAL.reference_result()
    for check in result.checks:
        assert not check.trains  # no training and no accuracy threshold in this practical
    assert {c.element for c in result.public()} == REQUIRED
    assert {c.element for c in result.hidden()} == REQUIRED
    assert result.timings["measured_s"] < 120  # the time budget of the assignment (typically 10-20 s)


def test_variant_skips_its_top_level_code():
    result = PRACTICAL.variant_result("functional_style")
    assert any("print(layer" in s.code for s in result.skipped)  # top-level code not run


def test_same_submission_same_score(tmp_path):
    """Seeded (dropout masks included): a buggy submission gets the same scores and messages
    on a second run."""
    mutation = next(m for m in PRACTICAL.bugs if m.name == "dropout_p_is_keep_probability")
    path = write_mutant(tmp_path, MODULE, mutation)
    first, second = grade(path, MODULE), grade(path, MODULE)
    assert [(c.name, c.score, c.message) for c in first.checks] == [
        (c.name, c.score, c.message) for c in second.checks]
    assert losing(first) == {"Dropout zero rate and scaling"}
