"""Bounded hangs: an infinite loop costs one time limit, not one per check that needs it.

One reference grading measures what its requests cost (it is also the calibration the per-
request limits come from); an ``mlp_pixels`` submission whose ``train_loop`` never returns is
then graded with those limits.
"""

import pytest

from grader import judge, limits
from grader.assignment import load_assignment
from grader.student_process import RequestLimits

pytestmark = pytest.mark.slow  # gradings: part of the required suite

LOOP = '''

def train_loop(*args, **kwargs):  # never returns
    while True:
        pass
'''


@pytest.fixture(scope="module")
def mlp_pixels():
    return load_assignment("mlp_pixels")


@pytest.fixture(scope="module")
def reference_grading(mlp_pixels):
    return judge.grade(limits.reference_file(mlp_pixels), mlp_pixels, hidden=True)


@pytest.fixture(scope="module")
def looping_grading(mlp_pixels, reference_grading, tmp_path_factory):
    path = tmp_path_factory.mktemp("loop") / "mlp_pixels.py"
    path.write_text(limits.reference_file(mlp_pixels).read_text() + LOOP)
    calibrated = RequestLimits(costs=reference_grading.request_costs)
    return judge.grade(path, mlp_pixels, hidden=True, request_limits=calibrated), calibrated


def test_the_reference_records_what_each_request_costs(reference_grading):
    assert reference_grading.score == reference_grading.max_score
    costs = reference_grading.request_costs
    assert costs["train_loop matches reference"]["train_loop"] > 0
    # every call is named by the student function it runs, the same in every check
    assert "MLP" in costs["MLP returns logits"]
    assert "train" in costs["MLP accuracy"]  # the grader's training, given the train_loop


def test_an_infinite_train_loop_is_waited_for_once(looping_grading):
    result, calibrated = looping_grading
    by_name = {c.name: c for c in result.checks}
    first = by_name["train_loop matches reference"]
    limit = calibrated.limit("train_loop matches reference", "train_loop", 30.0)
    assert calibrated.floor <= limit < 30.0  # the reference's cost here, not the marker's guess
    assert first.score == 0 and f"timed out after {limit:g} s" in first.message
    # every later check that calls train_loop fails at once, saying where and after how long
    again = [c for c in result.checks if "`train_loop` was not called again" in c.message]
    assert {c.name for c in again} >= {"train_loop with adam and an uneven last batch",
                                       "MLP accuracy"}
    for check in again:
        assert check.score == 0
        assert (f"it already timed out in the check `train_loop matches reference` after "
                f"{limit:g} s") in check.message
    timed_out = [c for c in result.checks if "timed out after" in c.message]
    assert len({c.message.split(" timed out")[0] for c in timed_out}) == len(timed_out)
    # what does not need train_loop still gets its points
    assert by_name["perf_loop counts the whole loader"].score > 0
    assert by_name["valid_loop mean loss and weights unchanged"].score > 0
