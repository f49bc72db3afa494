"""diy graded end to end: the reference, the starter code, known bugs, valid solutions written
differently, an attempt to fake the finite differences; and the child-side helpers.

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
    # against the cross-correlation with the module's own kernel, read in its own layout.
    bug("conv1d_flipped_kernel",
        "out = sum(X[:, _taps(k, self.stride, L_out)] @ W[k] for k in range(self.k_size))",
        "out = sum(X[:, _taps(k, self.stride, L_out)] @ W[self.k_size - 1 - k] for k in range(self.k_size))",
        "Conv1D forward matches its parameters [stride=1]",
        "Conv1D forward matches its parameters [stride=2]",
        "Conv1D backward delta matches finite differences [stride=1]",
        "Conv1D backward delta matches finite differences [stride=2]",
        "Conv1D backward update gradient matches finite differences [stride=1]",
        "Conv1D backward update gradient matches finite differences [stride=2]",
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
    bug("optim_no_zero_grad", "        self.net.zero_grad()\n        yhat = self.net.forward(batch_x)",
        "        yhat = self.net.forward(batch_x)",
        "Optim step follows the mean gradient", "SGD returns the mean loss of each epoch",
        maybe=TRAININGS),
]

# A submission that swaps the grader's batched finite-difference helper (it runs in the
# student process, like all of the submission) for one that reports outputs made up from its
# own wrong backward_delta: the judge recomputes some of them by calling forward directly.
FAKE_FD = '''        import grader.recipes.numpy_modules as nm

        def fake(module, x, perturbations, h, owners=()):
            out = module.forward(x)
            plus, minus = [], []
            for owner, key, index in perturbations:
                if owner != -1:
                    plus.append(out)
                    minus.append(out)
                    continue
                column = np.zeros(out.shape)
                for j in np.ndindex(out.shape):
                    unit = np.zeros(out.shape)
                    unit[j] = 1.0
                    column[j] = module.backward_delta(x, unit)[tuple(index)]
                plus.append(out + h * column)
                minus.append(out - h * column)
            return {"plus": plus, "minus": minus}

        nm.probe_outputs = fake
'''
@pytest.fixture(scope="module")
def reference_result(tmp_path_factory):
    return grade_reference(tmp_path_factory.mktemp("ref"), MODULE)


def test_reference_scores_full_marks_public_and_hidden(reference_result):
    result = reference_result
    assert_full_marks(result)


def test_every_check_name_starts_with_its_element(reference_result):
    assert_checks_named_by_element(reference_result, set(ELEMENTS), BUGS)
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


def test_faked_finite_differences_are_caught(tmp_path):
    """A wrong Linear.backward_delta (twice the gradient) behind a helper patched to agree with
    it: the judge's direct forward calls expose the made-up outputs."""
    text = (REPO / "reference" / f"{MODULE}.py").read_text()
    wrong = text.replace('return delta @ self._parameters["W"].T',
                         'return 2 * delta @ self._parameters["W"].T')
    patched = wrong.replace('        super().__init__()\n        bound = 1 / np.sqrt(input)\n',
                            '        super().__init__()\n' + FAKE_FD
                            + '        bound = 1 / np.sqrt(input)\n')
    assert patched.count("nm.probe_outputs = fake") == 1
    path = tmp_path / "faked" / f"{MODULE}.py"
    path.parent.mkdir()
    path.write_text(patched)
    result = grade(path, MODULE)   # public checks: the one that matters is there
    checks = {c.name: c for c in result.checks}
    faked = checks["Linear backward delta matches finite differences"]
    assert faked.score == 0 and "called directly" in faked.message, faked.message


@pytest.mark.parametrize("name", ["torch_layout", "flat_params"])
def test_valid_solutions_written_differently_score_full_marks(name):
    result = grade(REPO / "tests" / "submissions" / MODULE / name, MODULE, hidden=True)
    assert result.error is None
    assert losing(result) == set(), {c.name: c.message for c in result.checks if not c.passed}


def test_untouched_template_scores_zero_with_a_clear_message_each(tmp_path):
    assert_template_scores_zero(tmp_path, MODULE)


# ------------------------------------------------------------------ child-side helpers


class Affine:
    """A tiny module in the reference's layout, for the helpers' own tests."""

    def __init__(self):
        self._parameters = {"W": np.arange(6.0).reshape(3, 2) / 10, "b": np.array([[0.5, -0.5]])}
        self._gradient = {k: np.zeros_like(v) for k, v in self._parameters.items()}

    def forward(self, X):
        return X @ self._parameters["W"] + self._parameters["b"]

    def zero_grad(self):
        for g in self._gradient.values():
            g[...] = 0

    def backward_update_gradient(self, input, delta):
        self._gradient["W"] += input.T @ delta
        self._gradient["b"] += delta.sum(axis=0, keepdims=True)

    def backward_delta(self, input, delta):
        return delta @ self._parameters["W"].T


def test_probe_outputs_moves_one_entry_and_restores_it_exactly():
    module, x = Affine(), np.random.default_rng(0).standard_normal((4, 3))
    before = {k: v.copy() for k, v in module._parameters.items()}
    x_before = x.copy()
    h = 1e-5
    answer = nm.probe_outputs(module, x, [[-1, None, [1, 2]], [0, "W", [2, 1]], [0, "b", [0, 0]]],
                              h, [module])
    out = module.forward(x)
    assert np.array_equal(x, x_before)
    assert all(np.array_equal(module._parameters[k], v) for k, v in before.items())
    # one input entry: only its row moves, by h * W[2]
    assert np.allclose(answer["plus"][0] - out, np.outer(np.eye(4)[1], module._parameters["W"][2]) * h)
    assert np.allclose(answer["minus"][1] - out, -h * np.outer(x[:, 2], np.eye(2)[1]))
    assert np.allclose(answer["plus"][2] - answer["minus"][2], 2 * h * np.outer(np.ones(4), [1, 0]))


def test_analytic_modes_and_bare_array_parameters():
    module, x = Affine(), np.ones((2, 3))
    delta = np.array([[1.0, 0.0], [0.0, 2.0]])
    res = nm.analytic(module, x, delta, "update")
    assert np.allclose(res["gradients"][0]["W"], x.T @ delta)
    assert np.allclose(nm.analytic(module, x, delta, "delta")["dx"], delta @ module._parameters["W"].T)
    bare = Affine()
    bare._parameters = bare._parameters["W"]           # a lone array works too
    bare.forward = lambda X: X @ bare._parameters
    answer = nm.probe_outputs(bare, np.ones((1, 3)), [[0, None, [0, 0]]], 1.0, [bare])
    assert np.allclose(answer["plus"][0] - answer["minus"][0], [[2.0, 0.0]])
    assert np.array_equal(bare._parameters, np.arange(6.0).reshape(3, 2) / 10)


def test_probes_are_consistent_with_finite_differences():
    rng = np.random.default_rng(1)
    scale = nm.ProbeScale(rng.standard_normal((1, 3)), rng.standard_normal((1, 3)))
    dup = nm.ProbeDuplicate()
    x, delta = rng.standard_normal((4, 3)), rng.standard_normal((4, 6))
    out = dup.forward(scale.forward(x))
    assert out.shape == (4, 6)
    dx = scale.backward_delta(x, dup.backward_delta(scale.forward(x), delta))
    eps = 1e-6
    for i in np.ndindex(x.shape):
        moved = x.copy()
        moved[i] += eps
        numeric = np.sum((dup.forward(scale.forward(moved)) - out) * delta) / eps
        assert abs(numeric - dx[i]) < 1e-4
    loss = nm.ProbeLoss()
    assert np.allclose(loss.forward(delta, out), (delta * out).sum(axis=1))
    assert np.array_equal(loss.backward(delta, out), delta)
