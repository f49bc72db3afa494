"""The MLP_pixels handout's own functions, graded as students hand them in (issue 12).

The course's notebooks give students a ``perf_loop`` that counts the total right
(``Total = len(dataloader.dataset)``) and then returns inside its ``for`` loop, a
``train_loop`` that returns the last batch's loss, and a ``fit`` that only saves an epoch
beating an earlier one, so never the first. Each is put, as written, into an otherwise
correct submission (the reference), and graded once: each must get the message that names
its mistake, the line to look at and the fix — not only "expected 12, got 5".
"""

import ast
import re

import pytest

from corpus import REPO, losing
from grader.judge import grade
from handout_code import HANDOUT_FIT, HANDOUT_PERF_LOOP, HANDOUT_TRAIN_LOOP

pytestmark = pytest.mark.slow

REFERENCE = REPO / "assignments" / "mlp_pixels" / "reference" / "mlp_pixels.py"

HANDOUT = {"perf_loop": HANDOUT_PERF_LOOP, "train_loop": HANDOUT_TRAIN_LOOP, "fit": HANDOUT_FIT}


def with_functions(text: str, replacements: dict[str, str]) -> str:
    """``text`` with each named top-level function replaced by the given source."""
    lines = text.splitlines(keepends=True)
    nodes = [n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)
             and n.name in replacements]
    assert {n.name for n in nodes} == set(replacements)
    for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
        lines[node.lineno - 1:node.end_lineno] = [replacements[node.name].strip("\n") + "\n"]
    return "".join(lines)


def line_of(text: str, code: str) -> int:
    (number,) = [i for i, line in enumerate(text.splitlines(), 1) if line.strip() == code]
    return number


@pytest.fixture(scope="module")
def handout_result(tmp_path_factory):
    """The reference with the handout's perf_loop, train_loop and fit, graded once (each
    function's checks are its own: fit runs with the grader's loops, the accuracy checks do
    not use what train_loop returns)."""
    text = with_functions(REFERENCE.read_text(), HANDOUT)
    path = tmp_path_factory.mktemp("handout") / "mlp_pixels.py"
    path.write_text(text)
    return text, grade(path, "mlp_pixels", hidden=True)


def diagnosed(result, check_name: str) -> tuple[str, str]:
    check = next(c for c in result.checks if c.name == check_name)
    return check.details.get("diagnosis"), check.message


def test_only_the_handouts_functions_lose_points(handout_result):
    _, result = handout_result
    assert losing(result) == {
        "perf_loop counts the whole loader", "perf_loop with batches of seven",
        "train_loop matches reference", "train_loop with adam and an uneven last batch",
        "fit saves the first epoch when it is the best"}, [
        (c.name, c.message) for c in result.checks if not c.passed]


def test_the_handouts_perf_loop_is_told_its_return_is_inside_the_loop(handout_result):
    text, result = handout_result
    line = line_of(text, "return correct, Total, torch.cat(y_pred)")
    for check in ("perf_loop counts the whole loader", "perf_loop with batches of seven"):
        key, message = diagnosed(result, check)
        assert key == "return_inside_loop", message
        assert "returns inside its `for` loop" in message
        assert "only the first batch" in message
        assert f"mlp_pixels.py, line {line}: `return correct, Total, torch.cat(y_pred)`" in message
        assert "Move the `return` after the loop" in message
        # and the numbers the check saw, for the curious
        assert "perf_loop's n_correct" in message


def test_the_handouts_fit_is_told_it_never_saves_the_first_epoch(handout_result):
    text, result = handout_result
    key, message = diagnosed(result, "fit saves the first epoch when it is the best")
    assert key == "first_epoch_never_saved", message
    assert "never saves the first epoch" in message
    line = line_of(text, "torch.save(model.state_dict(), checkpoint)")
    assert f"mlp_pixels.py, line {line}" in message
    assert "float('inf')" in message


def test_the_handouts_train_loop_is_told_it_returns_the_last_batchs_loss(handout_result):
    text, result = handout_result
    for check in ("train_loop matches reference", "train_loop with adam and an uneven last batch"):
        key, message = diagnosed(result, check)
        assert key == "last_batch_loss", message
        assert "loss of the last batch" in message
        assert f"line {line_of(text, 'return loss.item()')}: `return loss.item()`" in message
