"""diy: what the shared harness (tests/test_practicals.py) does not cover — the trainings'
numbers, hostile submissions that try to earn points without the work, the conventions of
issues 10 and 16, and the grader's probe modules (its child-side helpers). Its corpus is
assignments/diy/corpus/.

(tests/reference/test_diy.py tests the reference solution itself.)
"""

import numpy as np
import pytest

import practicals
from corpus import assert_loses_exactly, losing, write_mutant
from grader.assignment import load_module_file
from grader.judge import grade

pytestmark = pytest.mark.slow

MODULE = "diy"
PRACTICAL = practicals.practical(MODULE)
FOLDER = PRACTICAL.assignment.folder
nm = load_module_file("diy_student_side_under_test", FOLDER / "student_side.py")
TRAININGS = PRACTICAL.corpus.TRAININGS
AUTOENCODER = PRACTICAL.corpus.AUTOENCODER
BATCH_LOSSES = PRACTICAL.corpus.BATCH_LOSSES


def test_training_checks_report_their_numbers():
    reference_result = PRACTICAL.reference_result()
    assert {c.name for c in reference_result.checks if c.trains} == set(TRAININGS)
    accuracy = [c for c in reference_result.checks if "accuracy" in c.name]
    assert len(accuracy) == 3 and all(c.trains for c in accuracy)
    for check in reference_result.checks:
        if not check.trains:
            continue
        curve = check.details["learning_curves"]["train_loss"]
        assert curve[-1] < curve[0], check.name
        if "accuracy" in check.name:
            details = check.details["accuracy"]
            assert details["value"] >= details["high"], check.name
        else:
            assert "×" in check.message  # the reduction factors, stated


# --------------------------------------------------------- hostile submissions (issue 9)
# Everything in the student process can be replaced by the submission, the grader's helpers
# there included. Each hostile submission is graded next to its honest baseline — the same
# code without the trick — and must score no more than it. The tricks are installed by the
# first Module or Loss built (top-level statements of a submission are not run).

HOOK = ("    def __init__(self):\n        self._parameters = None\n        self._gradient = None\n",
        '    """Base class of the losses: ``y`` is the target, ``yhat`` the prediction."""\n')
ONCE = """

_INSTALLED = []


def _once():
    if not _INSTALLED:
        _INSTALLED.append(True)
        _install()
"""

# backward methods that give zeros, and forwards that give back their last output when called
# again on nearly the same input and parameters: central differences of them are exactly 0.
STICKY = """

def _sticky(forward):
    def wrapped(self, *args):
        params = getattr(self, "_parameters", None) or {}
        now = [np.array(a, dtype=float, copy=True) for a in args]
        now += [np.array(p, copy=True) for p in params.values()]
        last = getattr(self, "_last", None)
        if last is not None and len(last[0]) == len(now) and all(
                a.shape == b.shape for a, b in zip(last[0], now)):
            gap = max(float(np.abs(a - b).max()) if a.size else 0.0 for a, b in zip(last[0], now))
            if 0 < gap < 1e-4:
                return last[1]
        out = forward(self, *args)
        self._last = (now, np.array(out, copy=True))
        return out
    return wrapped


def _zeros_like_input(self, input, delta):
    return np.zeros(np.shape(input))


def _zeros_like_yhat(self, y, yhat):
    return np.zeros(np.shape(yhat))


def _nothing(self, input, delta):
    pass


def _install():
    for cls in (Linear, TanH, Sigmoide, ReLU, Softmax, Conv1D, MaxPool1D, Flatten, Conv2D,
                AvgPool2D):
        cls.backward_delta = _zeros_like_input
        if cls in (Linear, Conv1D, Conv2D):
            cls.backward_update_gradient = _nothing
        if TRICK:
            cls.forward = _sticky(cls.forward)
    for cls in (MSELoss, BCELoss, CELoss, CELogSoftmax):
        cls.backward = _zeros_like_yhat
        if TRICK:
            cls.forward = _sticky(cls.forward)
"""

# A wrong Linear gradient (twice dL/dW) behind the grader's finite-difference helper replaced
# by one that reports outputs made up from that gradient (what scored +4 before the judge
# computed the gradients itself).
FAKE_PROBE = """

import sys as _sys


def _fake_probe(honest):
    def fake(module, x, perturbations, h, owners=()):
        real = honest(module, x, perturbations, h, owners)
        out = module.forward(x)
        for n, (owner, key, index) in enumerate(perturbations):
            if owner == -1 or owners[owner] is not module:
                continue
            column = np.zeros(out.shape)
            for j in np.ndindex(out.shape):
                unit = np.zeros(out.shape)
                unit[j] = 1.0
                module.zero_grad()
                module.backward_update_gradient(x, unit)
                column[j] = module._gradient[key][tuple(index)]
            module.zero_grad()
            real["plus"][n] = out + h * column
            real["minus"][n] = out - h * column
        return real
    return fake


def _install():
    _nm = _sys.modules.get("practical")   # the grader's child-side helpers of diy
    if TRICK and hasattr(_nm, "probe_outputs"):
        _nm.probe_outputs = _fake_probe(_nm.probe_outputs)
"""

# No training at all (a flat history), and a Sequentiel that gives back its input once SGD
# has been asked to reproduce it: a perfect "reconstruction" (+3 before).
IDENTITY = """

def SGD(net, loss, X, Y, batch_size, epochs, eps, seed=0):
    if np.shape(X) == np.shape(Y):
        net._reconstructs = True
    return [float(loss.forward(Y, net.forward(X)).mean())] * epochs


def _install():
    honest = Sequentiel.forward

    def forward(self, X):
        out = honest(self, X)
        return X if getattr(self, "_reconstructs", False) else out

    if TRICK:
        Sequentiel.forward = forward
"""


# A wrong Linear.backward_delta (twice dL/dx) and parameters reported to the grader made to
# fit it (twice W), while forward and everything else use the real ones. (An intermediate
# version of the judge compared dL/dx with whatever parameters the module reported.)
LYING_PARAMETERS = """

def _install():
    if not TRICK:
        return

    def reported(self):
        real = self.__dict__["_real"]
        return {**real, "W": 2 * real["W"]} if _GRADER_READS() else real

    def store(self, value):
        self.__dict__["_real"] = value

    Linear._parameters = property(reported, store)


def _GRADER_READS():
    import sys
    frame = sys._getframe(2)
    while frame is not None:
        if "student_server" in frame.f_code.co_filename:
            return frame.f_code.co_name == "resolve"
        frame = frame.f_back
    return False
"""


def hostile_pair(tmp_path, name, tricks, replace=()):
    """Grade the reference with ``tricks`` installed (TRICK = True) and its honest baseline
    (TRICK = False), public and hidden checks."""
    text = PRACTICAL.assignment.reference_path.read_text()
    for old, new in replace:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    for marker in HOOK:
        assert text.count(marker) == 1
    text = text.replace(HOOK[0], HOOK[0] + "        _once()\n")
    text = text.replace(HOOK[1], HOOK[1] + "\n    def __init__(self):\n        _once()\n")
    results = []
    for trick in (True, False):
        path = tmp_path / f"{name}_{trick}" / f"{MODULE}.py"
        path.parent.mkdir()
        path.write_text(text + ONCE + f"\nTRICK = {trick}\n" + tricks)
        results.append(grade(path, MODULE, hidden=True))
    return results


def scores(result):
    return {c.name: c.score for c in result.checks}


def test_forward_recognising_the_probes_gains_nothing(tmp_path):
    """Zero backward methods pass nothing, whatever forward does near the inputs it was given:
    the expected gradients are computed by the judge (+44 over the baseline before)."""
    tricked, honest = hostile_pair(tmp_path, "sticky", STICKY)
    assert tricked.score <= honest.score, sorted(set(losing(honest)) - set(losing(tricked)))
    lost = losing(tricked)
    backward = [c.name for c in tricked.checks
                if "backward" in c.name and "Sequentiel" not in c.name]
    assert len(backward) >= 20 and set(backward) <= lost, set(backward) - lost
    linear = {c.name: c for c in tricked.checks}["Linear backward delta matches finite differences"]
    assert "computed by the grader" in linear.message and "Every entry is 0" in linear.message


def test_replaced_probe_helper_hides_no_wrong_gradient(tmp_path):
    """A wrong Linear gradient behind a replaced helper of the grader's loses its checks like
    the wrong gradient alone (+4 before)."""
    tricked, honest = hostile_pair(
        tmp_path, "fake_probe", FAKE_PROBE,
        [('self._gradient["W"] += input.T @ delta', 'self._gradient["W"] += 2 * input.T @ delta')])
    assert scores(tricked) == scores(honest)
    assert {"Linear backward update gradient matches finite differences",
            "Linear without bias matches finite differences",
            "Linear on a single sample"} <= losing(tricked)


def test_parameters_reported_to_fit_a_wrong_backward_delta_gain_nothing(tmp_path):
    """dL/dx depends on W: the judge uses the parameters a module reports only when its forward
    computes the operation with them."""
    tricked, honest = hostile_pair(
        tmp_path, "lying", LYING_PARAMETERS,
        [('return delta @ self._parameters["W"].T', 'return 2 * delta @ self._parameters["W"].T')])
    assert tricked.score <= honest.score, sorted(set(losing(honest)) - set(losing(tricked)))
    checks = {c.name: c for c in tricked.checks}
    assert checks["Linear forward matches its parameters"].score == 0   # the lie is seen there
    delta = checks["Linear backward delta matches finite differences"]
    assert delta.score == 0 and "see its forward check" in delta.message, delta.message


def test_identity_after_sgd_earns_no_reconstruction_credit(tmp_path):
    """A network that gives back its input once SGD has run, without any training: the judge
    reconstructs the images from the parameters, which did not move (+3 before)."""
    tricked, honest = hostile_pair(
        tmp_path, "identity", IDENTITY,
        [("def SGD(net, loss, X, Y, batch_size, epochs, eps, seed=0):",
          "def _unused_SGD(net, loss, X, Y, batch_size, epochs, eps, seed=0):")])
    assert tricked.score <= honest.score
    checks = {c.name: c for c in tricked.checks}
    autoencoder = checks[AUTOENCODER]
    assert autoencoder.score == 0 and "did not decrease" in autoencoder.message, autoencoder.message
    assert "did not change at all" in autoencoder.message
    assert all(checks[name].score == 0 for name in TRAININGS)


# ------------------------------------------------------------- conventions (issues 10, 16)


def test_sgd_returning_batch_losses_costs_its_own_check_only(tmp_path):
    """The submission of issue 16: SGD trains right and returns one loss per mini-batch. It
    lost 16 of 103 points (the trainings stopped at the history); now 1, and the report says
    why the learning curve is missing."""
    result = grade(write_mutant(tmp_path, MODULE, BATCH_LOSSES), MODULE, hidden=True)
    assert (result.score, result.max_score) == (105, 106)  # 103 + the NumPy-only rule's 3
    assert_loses_exactly(result, BATCH_LOSSES)
    [lost] = [c for c in result.checks if not c.passed]
    assert "one per mini-batch?" in lost.message, lost.message  # the likely mistake, named
    for check in result.checks:
        if check.trains:
            assert "no learning curve drawn" in check.message, check.message
            assert "learning_curves" not in check.details


def test_none_entries_and_callable_modules_score_full_marks():
    """Issue 10, items 7 and 8: `_parameters = {"W": ..., "b": None}` (None: no such parameter)
    and a framework whose Module defines __call__, whose Optim calls self.net(X) and
    self.loss(y, yhat) (the grader's probes are callable)."""
    path = PRACTICAL.assignment.corpus_dir / "callable_modules"
    text = (path / f"{MODULE}.py").read_text()
    assert '"b": None' in text and "yhat = self.net(batch_x)" in text   # what it is about
    assert "update_parameters(eps=self.eps)" in text
    result = PRACTICAL.variant_result("callable_modules")
    assert result.error is None and result.score == result.max_score, {
        c.name: c.message for c in result.checks if not c.passed}


def test_probes_are_callable_like_modules():
    rng = np.random.default_rng(0)
    scale = nm.ProbeScale(rng.standard_normal((1, 3)), rng.standard_normal((1, 3)))
    x = rng.standard_normal((4, 3))
    assert np.array_equal(scale(x), scale.forward(x))
    assert np.array_equal(nm.ProbeDuplicate()(x), nm.ProbeDuplicate().forward(x))
    loss = nm.ProbeLoss()
    assert np.array_equal(loss(x, scale(x)), loss.forward(x, scale(x)))
    # the step under the name of the student's own framework
    scale.backward_update_gradient(x, np.ones((4, 3)))
    before = scale._parameters["c"].copy()
    scale.update_parameters(eps=0.5)
    assert np.allclose(scale._parameters["c"], before - 0.5 * 4)
    nm.ProbeDuplicate().update_parameters(lr=0.1)


def test_probes_are_consistent_with_the_chain_the_judge_computes():
    """The probes in the student process compute what diy_checks.chain_forward/gradients say."""
    diy_checks = load_module_file("diy_checks_under_test", FOLDER / "diy_checks.py")
    rng = np.random.default_rng(1)
    params = [(rng.standard_normal((1, 3)), rng.standard_normal((1, 3))),
              (rng.standard_normal((1, 6)), rng.standard_normal((1, 6)))]
    first, dup, second = nm.ProbeScale(*params[0]), nm.ProbeDuplicate(), nm.ProbeScale(*params[1])
    x, delta = rng.standard_normal((4, 3)), rng.standard_normal((4, 6))
    h = dup.forward(first.forward(x))
    assert np.allclose(second.forward(h), diy_checks.chain_forward(params, x))
    second.backward_update_gradient(h, delta)
    d_h = dup.backward_delta(first.forward(x), second.backward_delta(h, delta))
    first.backward_update_gradient(x, d_h)
    dx, grads = diy_checks.chain_gradients(params, x, delta)
    assert np.allclose(first.backward_delta(x, d_h), dx)
    for probe, expected in zip((first, second), grads):
        for key in ("a", "c"):
            assert np.allclose(probe._gradient[key], expected[key])
    loss = nm.ProbeLoss()
    assert np.allclose(loss.forward(delta, h), (delta * h).sum(axis=1))
    assert np.array_equal(loss.backward(delta, h), delta)
