"""perceptron graded end to end: the reference, the template, known bugs, valid variants."""

import pytest

from corpus import (REPO, assert_checks_named_by_element, assert_full_marks, assert_loses_exactly,
                    assert_template_scores_zero, bug, copy_reference, grade_reference, losing,
                    write_mutant)
from grader.judge import grade

pytestmark = pytest.mark.slow

MODULE = "perceptron"
# Bugs that do not name the accuracy checks keep full marks there: the training starts from
# weights the judge draws and runs update with the handout's forward, so a bug in init_params
# or forward costs points only in their own checks.
ACCURACY = ("update training accuracy", "update training accuracy on another split")
INIT_SHAPES = ("init_params shapes and dtype", "init_params other shapes with a generator [3x7]",
               "init_params other shapes with a generator [50x1]")
INIT_RANGE = ("init_params values in range", "init_params values in range other shape and seed")
FORWARD = ("forward is x times w plus b", "forward other inputs [float64]",
           "forward other inputs [batch_of_1]", "forward other inputs [other_shapes]")
IN_PLACE = ("update changes w and b in place", "update in place in float64 with a batch of 1")
WEIGHTS = ("update weights match one gradient step", "update weights other inputs [float64]",
           "update weights other inputs [batch_of_1]",
           "update weights other inputs [other_shapes_and_eta]")
BIAS = ("update bias is summed over the batch", "update bias other inputs [float64]",
        "update bias other inputs [other_shapes_and_eta]")
ACCURACY_FN = ("accuracy counts argmax matches", "accuracy other inputs [float64]",
               "accuracy other inputs [batch_of_1_wrong]", "accuracy other inputs [all_right]")
SOFTMAX_EXTREME = ("softmax is stable on extreme logits", "softmax other inputs [float64_extreme]")
CE = ("cross_entropy matches torch", "cross_entropy is stable on extreme logits",
      "cross_entropy other inputs [float64]", "cross_entropy other inputs [float64_extreme]",
      "cross_entropy other inputs [other_shapes]")
CE_EXTREME = ("cross_entropy is stable on extreme logits",
              "cross_entropy other inputs [float64_extreme]")

W_DRAW = "w = torch.empty(n_in, n_out, dtype=torch.float32).uniform_(-0.001, 0.001, generator=generator)"
W_STEP = "w += eta * (x.T @ grad)"

BUGS = [
    bug("init_range_positive", W_DRAW, W_DRAW.replace("(-0.001, 0.001", "(0.0, 0.001"),
        *INIT_RANGE),
    bug("init_range_too_wide", W_DRAW, W_DRAW.replace("(-0.001, 0.001", "(-0.01, 0.01"),
        *INIT_RANGE),
    bug("init_bias_zero", "b = torch.empty(1, n_out, dtype=torch.float32).uniform_(-0.001, 0.001, generator=generator)",
        "b = torch.zeros(1, n_out, dtype=torch.float32)",
        *INIT_RANGE),
    bug("generator_ignored", W_DRAW, W_DRAW.replace(", generator=generator", ""),
        "init_params honours the generator", "init_params honours the generator other seeds"),
    bug("w_transposed", "torch.empty(n_in, n_out,", "torch.empty(n_out, n_in,",
        *INIT_SHAPES),
    bug("b_flat", "b = torch.empty(1, n_out,", "b = torch.empty(n_out,",
        *INIT_SHAPES),
    bug("init_float64", W_DRAW, W_DRAW.replace("float32", "float64"), *INIT_SHAPES),
    bug("forward_no_bias", "return x @ w + b\n", "return x @ w\n", *FORWARD),
    bug("update_wrong_sign", W_STEP, "w -= eta * (x.T @ grad)", *WEIGHTS, *ACCURACY),
    bug("update_reshape_not_transpose", W_STEP, "w += eta * (x.reshape(x.shape[1], x.shape[0]) @ grad)",
        "update weights match one gradient step", "update weights other inputs [float64]",
        "update weights other inputs [other_shapes_and_eta]", *ACCURACY),
    bug("update_grad_T_x", W_STEP, "w += eta * (grad.T @ x)",
        *IN_PLACE, *WEIGHTS, *BIAS, *ACCURACY),
    bug("update_grad_is_target", "grad = t - forward(x, w, b)", "grad = t",
        *WEIGHTS, *BIAS, *ACCURACY),
    bug("bias_mean", "grad.sum(dim=0, keepdim=True)", "grad.mean(dim=0, keepdim=True)",
        *BIAS),
    bug("update_not_in_place", W_STEP, "w = w + eta * (x.T @ grad)",
        *IN_PLACE, *WEIGHTS, *ACCURACY),
    bug("accuracy_wrong_axis",
        "predicted = forward(x, w, b).argmax(dim=1)\n    return (predicted == t.argmax(dim=1))",
        "predicted = forward(x, w, b).argmax(dim=0)\n    return (predicted == t.argmax(dim=0))",
        *ACCURACY_FN),
    bug("accuracy_returns_count", ".float().mean().item()", ".sum().item()",
        "accuracy counts argmax matches", "accuracy other inputs [float64]",
        "accuracy other inputs [all_right]"),
    bug("softmax_no_max", "e = torch.exp(z - z.max(dim=1, keepdim=True).values)",
        "e = torch.exp(z)", *SOFTMAX_EXTREME),
    bug("softmax_over_columns", "return e / e.sum(dim=1, keepdim=True)",
        "return e / e.sum(dim=0, keepdim=True)",
        "softmax matches torch", *SOFTMAX_EXTREME, "softmax other inputs [batch_of_1]",
        "softmax other inputs [two_classes]"),
    bug("cross_entropy_sum", "return -(t * log_probs).sum(dim=1).mean()",
        "return -(t * log_probs).sum()", *CE),
    bug("cross_entropy_unstable",
        "    shifted = z - z.max(dim=1, keepdim=True).values\n"
        "    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))\n",
        "    log_probs = torch.log(softmax(z))\n", *CE_EXTREME),
]


@pytest.fixture(scope="module")
def reference_result(tmp_path_factory):
    return grade_reference(tmp_path_factory.mktemp("ref"), MODULE)


def test_reference_scores_full_marks_public_and_hidden(reference_result):
    result = reference_result
    assert_full_marks(result)


def test_every_check_name_starts_with_its_element(reference_result):
    assert_checks_named_by_element(
        reference_result, {"init_params", "forward", "update", "accuracy", "softmax",
                           "cross_entropy"}, BUGS)
    assert all("accuracy" in c.name for c in reference_result.checks if c.trains)


def test_accuracy_checks_report_the_accuracy(reference_result):
    trained = [c for c in reference_result.checks if c.trains]
    assert {c.name for c in trained} == set(ACCURACY)
    for check in trained:
        details = check.details["accuracy"]
        assert details["value"] >= details["high"] and details["n_test"] == 1000
        assert sum(map(sum, check.details["confusion_matrix"])) == 1000
        assert "held-out" in check.message


def test_grading_is_deterministic(tmp_path, reference_result):
    again = grade(copy_reference(tmp_path, MODULE), MODULE, hidden=True)
    first = {c.name: (c.score, c.message) for c in reference_result.checks}
    assert {c.name: (c.score, c.message) for c in again.checks} == first


# The diagnoses students see for the classic mistakes: (check, phrase of its message).
MESSAGES = {
    "update_wrong_sign": ("update weights match one gradient step", "the wrong way"),
    "bias_mean": ("update bias is summed over the batch", "mean over the batch"),
    "update_not_in_place": ("update changes w and b in place", "in place"),
    "forward_no_bias": ("forward is x times w plus b", "bias b is missing"),
    "softmax_no_max": ("softmax is stable on extreme logits", "subtract each row's max"),
    "softmax_over_columns": ("softmax matches torch", "normalises the columns"),
    "cross_entropy_sum": ("cross_entropy matches torch", "sum over the batch"),
    "cross_entropy_unstable": ("cross_entropy is stable on extreme logits", "log(0)"),
    "w_transposed": ("init_params shapes and dtype", "transposed"),
    "b_flat": ("init_params shapes and dtype", "a row"),
    "generator_ignored": ("init_params honours the generator", "generator"),
    "init_range_positive": ("init_params values in range", "negative values"),
    "init_range_too_wide": ("init_params values in range", "outside [-0.001, 0.001]"),
    "accuracy_returns_count": ("accuracy counts argmax matches", "number of correct rows"),
    "update_reshape_not_transpose": ("update weights match one gradient step", "use x.T"),
    "update_grad_is_target": ("update bias is summed over the batch", "not the target t alone"),
    "update_grad_T_x": ("update weights match one gradient step", "update(x, t, w, b, eta=0.01)"),
}


@pytest.mark.parametrize("mutation", BUGS, ids=lambda m: m.name)
def test_bug_loses_points_exactly_on_its_checks(tmp_path, mutation):
    result = grade(write_mutant(tmp_path, MODULE, mutation), MODULE, hidden=True)
    assert_loses_exactly(result, mutation)
    if mutation.name in MESSAGES:
        check_name, phrase = MESSAGES[mutation.name]
        message = next(c.message for c in result.checks if c.name == check_name)
        assert phrase in message, message


@pytest.mark.parametrize("name", ["inplace_ops", "notebook"])
def test_valid_solutions_written_differently_score_full_marks(name):
    folder = REPO / "tests" / "submissions" / MODULE / name
    result = grade(folder, MODULE, hidden=True)
    assert result.error is None
    assert losing(result) == set(), {c.name: c.message for c in result.checks if not c.passed}
    if name == "notebook":   # the top-level training on the course's data file never runs
        assert any("for epoch in range(nb_epochs)" in s.code for s in result.skipped)


def test_untouched_template_scores_zero_with_a_clear_message_each(tmp_path):
    assert_template_scores_zero(tmp_path, MODULE)


# Issue 9, "points without learning": an update that only rebinds w (so nothing trains), plus
# child-side training helpers replaced by the submission to return w, b fitted offline (least
# squares on the held-out images themselves). Scored from what the child returned, this had
# about 0.9 accuracy (+6). Now the judge draws the starting weights, replays the training with
# the course's rule, and gives credit only to weights it reproduces.
NOT_IN_PLACE = (W_STEP, "w = w + eta * (x.T @ grad)")
INIT_HOOK = ("    ### BEGIN SOLUTION\n    w = torch.empty(n_in",
             "    _install_cheat()\n    ### BEGIN SOLUTION\n    w = torch.empty(n_in")


def test_weights_fitted_offline_gain_nothing(tmp_path):
    import torch

    import training_attacks as attacks

    images, labels = attacks.held_out(MODULE)
    x = torch.cat([images.reshape(len(images), -1).double(), torch.ones(len(images), 1,
                   dtype=torch.float64)], dim=1)
    solution = torch.linalg.lstsq(x, torch.nn.functional.one_hot(labels, 10).double()).solution
    w, b = solution[:-1].float().contiguous(), solution[-1:].float().contiguous()
    assert ((images.reshape(len(images), -1) @ w + b).argmax(dim=1) == labels).float().mean() > 0.9
    cheat = attacks.write_cheat(tmp_path / "cheat", MODULE, [NOT_IN_PLACE], INIT_HOOK,
                                {"parameters": [], "w": w, "b": b},
                                attacks.answers(images, labels))
    honest = grade(attacks.write_baseline(tmp_path / "honest", MODULE, [NOT_IN_PLACE]), MODULE,
                   hidden=True)
    hostile = grade(cheat, MODULE, hidden=True)
    assert set(ACCURACY) <= losing(honest)
    assert hostile.score <= honest.score
    for check in hostile.checks:
        if check.name in ACCURACY:
            assert check.score == 0, (check.name, check.message)
            assert "weights the grader can reproduce" in check.message, check.message
