"""diy graded end to end: the reference, the starter code, known bugs, valid solutions written
differently, hostile submissions that try to earn points without the work; and the grader's
probe modules.

(tests/reference/test_diy.py tests the reference solution itself.)
"""

import numpy as np
import pytest

from corpus import (REPO, assert_checks_named_by_element, assert_full_marks, assert_loses_exactly,
                    assert_template_scores_zero, bug, grade_reference, losing, write_mutant)
from grader.judge import grade
from grader.recipes import numpy_modules as nm

pytestmark = pytest.mark.slow

MODULE = "diy"
MLP = ("SGD mlp accuracy on usps", "SGD mlp accuracy with another seed")
CONV_NET = "Conv1D network accuracy on signals"
AUTOENCODER = "SGD autoencoder reduces reconstruction loss"
TRAININGS = (*MLP, CONV_NET, AUTOENCODER)
ELEMENTS = {"MSELoss", "BCELoss", "CELoss", "CELogSoftmax", "Module", "Linear", "TanH",
            "Sigmoide", "Softmax", "ReLU", "Sequentiel", "Optim", "SGD", "Conv1D", "MaxPool1D",
            "Flatten", "Conv2D", "AvgPool2D"}

BUGS = [
    # Linear(4, 3) is not square: delta @ W (not Wᵀ) fails on the shapes, everywhere it is used.
    bug("linear_delta_uses_W", 'return delta @ self._parameters["W"].T',
        'return delta @ self._parameters["W"]',
        "Linear shapes [bias]", "Linear shapes [no-bias]",
        "Linear backward delta matches finite differences", "Linear without bias matches finite "
        "differences", "Linear on a single sample", *TRAININGS),
    # Overwriting is invisible after a zero_grad: only the accumulation check sees it.
    bug("linear_gradient_overwritten", 'self._gradient["W"] += input.T @ delta',
        'self._gradient["W"] = input.T @ delta',
        "Linear backward update gradient accumulates"),
    bug("update_wrong_sign", "p -= gradient_step * self._gradient[name]",
        "p += gradient_step * self._gradient[name]",
        "Module update parameters descends the gradient",
        "Module update parameters default step and conv", *TRAININGS),
    bug("maxpool_first_of_window", "winner = windows.argmax(axis=0)",
        "winner = np.zeros(windows.shape[1:], dtype=int)",
        "MaxPool1D backward delta matches finite differences [k=2,stride=2]",
        "MaxPool1D backward delta matches finite differences [k=3,stride=2]",
        "MaxPool1D backward delta with overlapping windows", maybe=(CONV_NET,)),
    bug("conv1d_ignores_stride",
        "self.k_size, self.stride = k_size, stride\n        bound = 1 / np.sqrt(k_size * chan_in)",
        "self.k_size, self.stride = k_size, 1\n        bound = 1 / np.sqrt(k_size * chan_in)",
        "Conv1D forward matches its parameters [stride=2]",
        "Conv1D backward delta matches finite differences [stride=2]",
        "Conv1D backward update gradient matches finite differences [stride=2]",
        "Conv1D with stride 3"),
    # A true convolution (flipped kernel) in forward only: the forward values are checked
    # against the cross-correlation with the module's own kernel, read in its own layout. The
    # kernel gradient does not depend on the kernel: right, it keeps its points. dL/dx does,
    # and a forward that does not use the kernel it reports leaves nothing to check it with.
    bug("conv1d_flipped_kernel",
        "out = sum(X[:, _taps(k, self.stride, L_out)] @ W[k] for k in range(self.k_size))",
        "out = sum(X[:, _taps(k, self.stride, L_out)] @ W[self.k_size - 1 - k] for k in range(self.k_size))",
        "Conv1D forward matches its parameters [stride=1]",
        "Conv1D forward matches its parameters [stride=2]",
        "Conv1D backward delta matches finite differences [stride=1]",
        "Conv1D backward delta matches finite differences [stride=2]",
        "Conv1D with stride 3", maybe=(CONV_NET,)),
    # W[q, p] on a k_h x k_w kernel with k_h != k_w reads out of bounds: every Conv2D check.
    bug("conv2d_transposed_kernel", "X[:, r, c] @ W[p, q] for p, q, r, c in taps",
        "X[:, r, c] @ W[q, p] for p, q, r, c in taps",
        "Conv2D forward matches its parameters [stride=1]",
        "Conv2D forward matches its parameters [stride=2x3]",
        "Conv2D backward delta matches finite differences [stride=1]",
        "Conv2D backward delta matches finite differences [stride=2x3]",
        "Conv2D backward update gradient matches finite differences [stride=1]",
        "Conv2D backward update gradient matches finite differences [stride=2x3]",
        "Conv2D with strides 3x1"),
    bug("avgpool_backward_no_divide", "dX[:, r, c] += delta / (self.k_h * self.k_w)",
        "dX[:, r, c] += delta",
        "AvgPool2D backward delta matches finite differences [2x2,stride=2x2]",
        "AvgPool2D backward delta matches finite differences [3x2,stride=1x2]",
        "AvgPool2D with a 2x3 window and strides 3x1"),
    bug("tanh_derivative_on_input", "return delta * (1 - np.tanh(input) ** 2)",
        "return delta * (1 - input ** 2)",
        "TanH backward delta matches finite differences", "TanH backward delta on a 3d input",
        maybe=(*MLP, AUTOENCODER)),
    bug("sigmoide_backward_on_input", "s = self.forward(input)\n        return delta * s * (1 - s)",
        "return delta * input * (1 - input)",
        "Sigmoide backward delta matches finite differences", maybe=(AUTOENCODER,)),
    bug("softmax_backward_diagonal_only",
        "return s * (delta - (delta * s).sum(axis=-1, keepdims=True))", "return delta * s * (1 - s)",
        "Softmax backward delta matches finite differences", "Softmax backward delta on a 3d input"),
    bug("celogsoftmax_unstable",
        "m = yhat.max(axis=-1)\n        logsumexp = m + np.log(np.exp(yhat - m[:, None]).sum(axis=-1))",
        "logsumexp = np.log(np.exp(yhat).sum(axis=-1))",
        "CELogSoftmax is stable at large logits"),
    bug("bce_unclipped",
        "p = np.clip(yhat, EPS, 1 - EPS)\n        return -_per_sample_sum(y * np.log(p)",
        "p = yhat\n        return -_per_sample_sum(y * np.log(p)",
        "BCELoss is finite at 0 and 1", maybe=(AUTOENCODER,)),
    bug("mse_backward_no_factor_2", "return -2 * (y - yhat)", "return -(y - yhat)",
        "MSELoss backward matches finite differences", "MSELoss backward on a batch of one"),
    bug("sequentiel_backward_not_reversed",
        "for m, x in zip(reversed(self.modules), reversed(self._inputs)):\n"
        "            m.backward_update_gradient(x, delta)",
        "for m, x in zip(self.modules, self._inputs):\n            m.backward_update_gradient(x, delta)",
        "Sequentiel backward matches finite differences",
        "Sequentiel nested matches finite differences", *TRAININGS),
    bug("sgd_ignores_batch_size",
        "for start in range(0, len(X), batch_size):\n            idx = order[start:start + batch_size]",
        "for start in range(0, 1):\n            idx = order",
        "SGD uses batches of batch size and every sample", "SGD shuffles every epoch",
        "SGD returns the mean loss of each epoch", *MLP, AUTOENCODER, maybe=(CONV_NET,)),
    bug("sgd_no_shuffle", "idx = order[start:start + batch_size]",
        "idx = np.arange(len(X))[start:start + batch_size]",
        "SGD shuffles every epoch", "SGD is deterministic for a seed", maybe=TRAININGS),
    bug("flatten_backward_no_reshape", "return delta.reshape(input.shape)", "return delta",
        "Flatten backward delta matches finite differences", "Flatten backward delta on a 4d input",
        CONV_NET),
    bug("optim_sum_gradient", "delta = self.loss.backward(batch_y, yhat) / len(batch_x)",
        "delta = self.loss.backward(batch_y, yhat)",
        "Optim step follows the mean gradient", "SGD returns the mean loss of each epoch",
        maybe=TRAININGS),
    # What SGD returns is checked by "SGD returns the mean loss of each epoch" only: the
    # trainings measure the trained network themselves and merely draw the history (issue 16;
    # BATCH_LOSSES below is the submission of that issue).
    bug("sgd_returns_nothing", "    return history\n", "\n",
        "SGD returns the mean loss of each epoch"),
    # Optim.step returning the batch's summed loss: its own check, and the epoch means SGD
    # builds from it; the trainings do not look at it.
    bug("optim_returns_summed_loss", "return float(loss)",
        "return float(self.loss.forward(batch_y, yhat).sum())",
        "Optim step follows the mean gradient", "SGD returns the mean loss of each epoch"),
    # Sequentiel.backward that forgets to return dL/dx: its own checks; the trainings (the
    # reference's Optim calls backward_update_gradient and ignores what backward returns) keep
    # their points.
    bug("sequentiel_backward_returns_nothing",
        "        return delta\n        ### END SOLUTION\n\n    def backward_update_gradient",
        "        ### END SOLUTION\n\n    def backward_update_gradient",
        "Sequentiel backward matches finite differences",
        "Sequentiel nested matches finite differences"),
    # A NumPy array of the epoch means is one mean loss per epoch: nothing lost.
    bug("sgd_returns_an_array", "    return history\n", "    return np.array(history)\n"),
    bug("optim_no_zero_grad", "        self.net.zero_grad()\n        yhat = self.net.forward(batch_x)",
        "        yhat = self.net.forward(batch_x)",
        "Optim step follows the mean gradient", "SGD returns the mean loss of each epoch",
        maybe=TRAININGS),
]

BATCH_LOSSES = bug("sgd_returns_batch_losses",
                   "total += optim.step(X[idx], Y[idx]) * len(idx)  # batch mean -> batch sum\n"
                   "        history.append(total / len(X))",
                   "history.append(optim.step(X[idx], Y[idx]))  # one loss per batch, to plot",
                   "SGD returns the mean loss of each epoch")


@pytest.fixture(scope="module")
def reference_result(tmp_path_factory):
    return grade_reference(tmp_path_factory.mktemp("ref"), MODULE)


def test_reference_scores_full_marks_public_and_hidden(reference_result):
    result = reference_result
    assert_full_marks(result)


def test_every_check_name_starts_with_its_element(reference_result):
    assert_checks_named_by_element(reference_result, set(ELEMENTS), [*BUGS, BATCH_LOSSES])
    assert {c.name for c in reference_result.checks if c.trains} == set(TRAININGS)
    accuracy = [c for c in reference_result.checks if "accuracy" in c.name]
    assert len(accuracy) == 3 and all(c.trains for c in accuracy)


def test_training_checks_report_their_numbers(reference_result):
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


@pytest.mark.parametrize("mutation", BUGS, ids=lambda m: m.name)
def test_bug_loses_points_exactly_on_its_checks(tmp_path, mutation):
    result = grade(write_mutant(tmp_path, MODULE, mutation), MODULE, hidden=True)
    assert_loses_exactly(result, mutation)


@pytest.mark.parametrize("name", ["torch_layout", "flat_params"])
def test_valid_solutions_written_differently_score_full_marks(name):
    result = grade(REPO / "tests" / "submissions" / MODULE / name, MODULE, hidden=True)
    assert result.error is None
    assert losing(result) == set(), {c.name: c.message for c in result.checks if not c.passed}


def test_untouched_template_scores_zero_with_a_clear_message_each(tmp_path):
    assert_template_scores_zero(tmp_path, MODULE)




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

import grader.recipes.numpy_modules as _nm


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
    text = (REPO / "reference" / f"{MODULE}.py").read_text()
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
    assert (result.score, result.max_score) == (102, 103)
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
    path = REPO / "tests" / "submissions" / MODULE / "callable_modules"
    text = (path / f"{MODULE}.py").read_text()
    assert '"b": None' in text and "yhat = self.net(batch_x)" in text   # what it is about
    assert "update_parameters(eps=self.eps)" in text
    result = grade(path, MODULE, hidden=True)
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
    import sys
    sys.path.insert(0, str(REPO / "assignments" / MODULE))
    try:
        import diy_checks
    finally:
        sys.path.remove(str(REPO / "assignments" / MODULE))
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
