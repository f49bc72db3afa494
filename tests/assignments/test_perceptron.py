"""perceptron: what the shared harness (tests/test_practicals.py) does not cover — the accuracy
checks' details, determinism, the notebook variant's skipped training, and weights fitted
offline. Its corpus is assignments/perceptron/corpus/."""

import pytest

import practicals
from corpus import losing
from grader.judge import grade

pytestmark = pytest.mark.slow

MODULE = "perceptron"
PRACTICAL = practicals.practical(MODULE)
ACCURACY = PRACTICAL.corpus.ACCURACY
W_STEP = PRACTICAL.corpus.W_STEP


def test_accuracy_checks_report_the_accuracy():
    trained = [c for c in PRACTICAL.reference_result().checks if c.trains]
    assert {c.name for c in trained} == set(ACCURACY)
    for check in trained:
        details = check.details["accuracy"]
        assert details["value"] >= details["high"] and details["n_test"] == 1000
        assert sum(map(sum, check.details["confusion_matrix"])) == 1000
        assert "held-out" in check.message


def test_grading_is_deterministic(tmp_path):
    again = grade(PRACTICAL.copy_reference(tmp_path), MODULE, hidden=True)
    first = {c.name: (c.score, c.message) for c in PRACTICAL.reference_result().checks}
    assert {c.name: (c.score, c.message) for c in again.checks} == first


def test_notebook_variant_never_runs_its_top_level_training():
    result = PRACTICAL.variant_result("notebook")
    assert any("for epoch in range(nb_epochs)" in s.code for s in result.skipped)


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
