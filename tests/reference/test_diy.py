"""Tests of the reference solution of the DIY practical (reference/diy.py).

Gradients are checked by central finite differences in float64; forward values against
torch's own operators (torch is used here only, never by the reference).
"""

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader import checks
from grader.assignment import load_assignment

diy = load_assignment("diy").load_reference()

H = 1e-5  # finite-difference step
TOL = 1e-6  # largest accepted relative error


def numerical_gradient(f, x, h=H):
    """Central differences of the scalar f() w.r.t. the array x, which f reads (edited in
    place): the grader's one implementation."""
    return checks.numerical_gradient(lambda _: f(), x, h)


def parameter_owners(module):
    """(module, name) of every parameter array of ``module`` and of its sub-modules."""
    for m in getattr(module, "modules", []):
        yield from parameter_owners(m)
    for name in module._parameters or {}:
        yield module, name


def check_gradients(module, x, seed=0, tol=TOL):
    """Finite-difference check of backward_delta and backward_update_gradient for sum(out * delta)."""
    delta = np.random.default_rng(seed).standard_normal(module.forward(x).shape)

    def f():
        return np.sum(module.forward(x) * delta)

    module.forward(x)
    dx = module.backward_delta(x, delta)
    assert dx.shape == x.shape and dx.dtype == np.float64
    assert checks.relative_error(dx, numerical_gradient(f, x)) <= tol
    module.zero_grad()
    module.forward(x)  # a Sequentiel's backward reuses its last forward, here on a perturbed x
    module.backward_update_gradient(x, delta)
    for owner, name in parameter_owners(module):
        num = numerical_gradient(f, owner._parameters[name])
        assert owner._gradient[name].shape == owner._parameters[name].shape
        assert checks.relative_error(owner._gradient[name], num) <= tol, (type(owner).__name__, name)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def distinct(*shape, seed=0):
    """Values 0.01 apart in random order: no ties, and no window's max changes within +-H."""
    return np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) * 0.01


def away_from_zero(*shape, seed=0):
    """Random values with |x| >= 0.1, far from ReLU's kink."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def one_hot(labels, n_classes):
    return np.eye(n_classes)[labels]


@pytest.fixture(autouse=True)
def seeded():
    np.random.seed(0)  # the modules draw their initial parameters from np.random


def t(a):
    """numpy -> torch, same dtype (float64 stays float64)."""
    return torch.from_numpy(np.ascontiguousarray(a))


# ----------------------------------------------------------------------------- shapes

SHAPES = [
    (lambda: diy.Linear(4, 3), (5, 4), (5, 3)),
    (lambda: diy.Linear(4, 3, bias=False), (5, 4), (5, 3)),
    (lambda: diy.TanH(), (5, 3, 2), (5, 3, 2)),
    (lambda: diy.Sigmoide(), (5, 3), (5, 3)),
    (lambda: diy.ReLU(), (5, 3), (5, 3)),
    (lambda: diy.Softmax(), (5, 7), (5, 7)),
    (lambda: diy.Conv1D(3, 2, 4), (6, 10, 2), (6, 8, 4)),
    (lambda: diy.Conv1D(3, 2, 4, stride=2), (6, 10, 2), (6, 4, 4)),
    (lambda: diy.Conv1D(4, 1, 2, stride=3), (2, 13, 1), (2, 4, 2)),
    (lambda: diy.Conv1D(5, 3, 1, stride=2), (1, 5, 3), (1, 1, 1)),
    (lambda: diy.MaxPool1D(2, 2), (3, 9, 4), (3, 4, 4)),
    (lambda: diy.MaxPool1D(3, 1), (3, 9, 4), (3, 7, 4)),
    (lambda: diy.MaxPool1D(3, 2), (3, 10, 2), (3, 4, 2)),
    (lambda: diy.Flatten(), (3, 4, 5), (3, 20)),
    (lambda: diy.Flatten(), (3, 4, 5, 2), (3, 40)),
    (lambda: diy.Conv2D(3, 2, 2, 5), (2, 7, 6, 2), (2, 5, 5, 5)),
    (lambda: diy.Conv2D(3, 2, 2, 5, stride_h=2, stride_w=3), (2, 8, 9, 2), (2, 3, 3, 5)),
    (lambda: diy.AvgPool2D(2, 2, 2, 2), (2, 7, 6, 3), (2, 3, 3, 3)),
    (lambda: diy.AvgPool2D(3, 2, 1, 2), (2, 7, 6, 3), (2, 5, 3, 3)),
    (lambda: diy.Sequentiel(diy.Conv1D(3, 1, 4, stride=2), diy.MaxPool1D(2, 2), diy.Flatten(),
                            diy.Linear(24, 2)), (5, 27, 1), (5, 2)),
]


@pytest.mark.parametrize("make, shape_in, shape_out", SHAPES)
def test_forward_and_backward_shapes(make, shape_in, shape_out):
    module, x = make(), randn(*shape_in)
    out = module.forward(x)
    assert out.shape == shape_out and out.dtype == np.float64
    delta = randn(*shape_out, seed=1)
    assert module.backward_delta(x, delta).shape == shape_in
    module.zero_grad()
    module.backward_update_gradient(x, delta)
    for owner, name in parameter_owners(module):
        assert owner._gradient[name].shape == owner._parameters[name].shape


def test_parameter_shapes():
    assert {k: v.shape for k, v in diy.Linear(4, 3)._parameters.items()} == {"W": (4, 3), "b": (1, 3)}
    assert set(diy.Linear(4, 3, bias=False)._parameters) == {"W"}
    assert {k: v.shape for k, v in diy.Conv1D(3, 2, 5)._parameters.items()} == {"W": (3, 2, 5), "b": (5,)}
    conv2d = diy.Conv2D(3, 2, 4, 5)
    assert {k: v.shape for k, v in conv2d._parameters.items()} == {"W": (3, 2, 4, 5), "b": (5,)}
    for m in (diy.TanH(), diy.Sigmoide(), diy.ReLU(), diy.Softmax(), diy.Flatten(),
              diy.MaxPool1D(2, 2), diy.AvgPool2D(2, 2, 2, 2)):
        assert m._parameters is None and m._gradient is None
    for m in (diy.Linear(4, 3), conv2d):
        assert set(m._gradient) == set(m._parameters)
        assert all(m._gradient[k].shape == p.shape for k, p in m._parameters.items())


def test_linear_init_is_uniform_in_fan_in_bound_and_seeded():
    np.random.seed(1)
    a = diy.Linear(400, 50)
    np.random.seed(1)
    b = diy.Linear(400, 50)
    assert np.array_equal(a._parameters["W"], b._parameters["W"])
    for p in a._parameters.values():
        assert p.dtype == np.float64 and np.abs(p).max() <= 1 / np.sqrt(400)
    assert np.abs(a._parameters["W"]).max() > 0.9 / np.sqrt(400)  # spread over the whole range


# ------------------------------------------------------------------ gradient checks

GRADIENT_CASES = {
    "linear": (lambda: diy.Linear(4, 3), lambda: randn(5, 4)),
    "linear-no-bias": (lambda: diy.Linear(4, 3, bias=False), lambda: randn(5, 4)),
    "tanh": (diy.TanH, lambda: randn(5, 3)),
    "sigmoide": (diy.Sigmoide, lambda: 3 * randn(5, 3)),
    "relu": (diy.ReLU, lambda: away_from_zero(5, 3)),
    "softmax": (diy.Softmax, lambda: randn(5, 4)),
    "softmax-3d": (diy.Softmax, lambda: randn(2, 3, 4)),
    "conv1d": (lambda: diy.Conv1D(3, 2, 4), lambda: randn(3, 9, 2)),
    "conv1d-stride2-uneven": (lambda: diy.Conv1D(3, 2, 4, stride=2), lambda: randn(3, 10, 2)),
    "conv1d-stride3": (lambda: diy.Conv1D(2, 3, 2, stride=3), lambda: randn(2, 12, 3)),
    "maxpool1d": (lambda: diy.MaxPool1D(2, 2), lambda: distinct(3, 9, 2)),
    "maxpool1d-overlap": (lambda: diy.MaxPool1D(3, 1), lambda: distinct(2, 8, 3)),
    "maxpool1d-stride2-uneven": (lambda: diy.MaxPool1D(3, 2), lambda: distinct(2, 10, 3)),
    "flatten": (diy.Flatten, lambda: randn(3, 4, 5)),
    "conv2d": (lambda: diy.Conv2D(3, 2, 2, 3), lambda: randn(2, 6, 5, 2)),
    "conv2d-strided-uneven": (lambda: diy.Conv2D(2, 3, 3, 2, stride_h=2, stride_w=3),
                              lambda: randn(2, 7, 10, 3)),
    "avgpool2d": (lambda: diy.AvgPool2D(2, 2, 2, 2), lambda: randn(2, 6, 7, 3)),
    "avgpool2d-overlap": (lambda: diy.AvgPool2D(3, 2, 1, 2), lambda: randn(2, 6, 7, 2)),
    "sequentiel-mlp": (lambda: diy.Sequentiel(diy.Linear(4, 5), diy.TanH(), diy.Linear(5, 3),
                                              diy.Softmax()), lambda: randn(6, 4)),
    "sequentiel-conv-nested": (
        lambda: diy.Sequentiel(
            diy.Sequentiel(diy.Conv1D(3, 2, 3, stride=2), diy.TanH()), diy.MaxPool1D(2, 2),
            diy.Flatten(), diy.Sequentiel(diy.Linear(9, 4), diy.Sigmoide())),
        lambda: randn(4, 14, 2)),
    "sequentiel-conv2d": (
        lambda: diy.Sequentiel(diy.Conv2D(2, 2, 2, 3), diy.TanH(), diy.AvgPool2D(2, 2, 2, 2),
                               diy.Flatten(), diy.Linear(12, 2)),
        lambda: randn(3, 5, 5, 2)),
}


@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_module_gradients_match_finite_differences(case):
    make, make_x = GRADIENT_CASES[case]
    check_gradients(make(), make_x())


def _loss_inputs(loss):
    rng = np.random.default_rng(3)
    if isinstance(loss, diy.MSELoss):
        return rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    if isinstance(loss, diy.BCELoss):
        return rng.integers(0, 2, (5, 3)).astype(float), rng.uniform(0.05, 0.95, (5, 3))
    y = one_hot(rng.integers(0, 4, 5), 4)
    if isinstance(loss, diy.CELoss):
        return y, diy.Softmax().forward(rng.standard_normal((5, 4)))
    return y, rng.standard_normal((5, 4))


@pytest.mark.parametrize("loss", [diy.MSELoss(), diy.BCELoss(), diy.CELoss(), diy.CELogSoftmax()],
                         ids=lambda loss: type(loss).__name__)
def test_loss_gradients_match_finite_differences(loss):
    y, yhat = _loss_inputs(loss)
    value = loss.forward(y, yhat)
    assert value.shape == (5,) and value.dtype == np.float64
    grad = loss.backward(y, yhat)
    assert grad.shape == yhat.shape
    assert checks.relative_error(grad, numerical_gradient(lambda: loss.forward(y, yhat).sum(), yhat)) <= TOL


# ------------------------------------------------------------------ forward vs torch


def test_linear_and_activations_match_torch():
    x = randn(5, 4)
    lin = diy.Linear(4, 3)
    W, b = lin._parameters["W"], lin._parameters["b"]
    assert np.allclose(lin.forward(x), F.linear(t(x), t(W.T), t(b[0])).numpy(), rtol=1e-12, atol=1e-12)
    z = 4 * randn(6, 5)
    for module, op in [(diy.TanH(), torch.tanh), (diy.Sigmoide(), torch.sigmoid),
                       (diy.ReLU(), torch.relu), (diy.Softmax(), lambda a: torch.softmax(a, -1))]:
        assert np.allclose(module.forward(z), op(t(z)).numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("k, cin, cout, stride, length", [(3, 2, 4, 1, 10), (3, 2, 4, 2, 10),
                                                          (4, 3, 2, 3, 13), (1, 2, 3, 2, 7)])
def test_conv1d_matches_torch(k, cin, cout, stride, length):
    conv, x = diy.Conv1D(k, cin, cout, stride=stride), randn(4, length, cin)
    W, b = conv._parameters["W"], conv._parameters["b"]
    ref = F.conv1d(t(x).permute(0, 2, 1), t(W).permute(2, 1, 0), t(b), stride=stride)
    assert np.allclose(conv.forward(x), ref.permute(0, 2, 1).numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kh, kw, sh, sw, H_, W_", [(3, 3, 1, 1, 7, 7), (3, 2, 2, 3, 8, 10),
                                                    (2, 4, 3, 1, 9, 6)])
def test_conv2d_matches_torch(kh, kw, sh, sw, H_, W_):
    conv, x = diy.Conv2D(kh, kw, 3, 4, stride_h=sh, stride_w=sw), randn(2, H_, W_, 3)
    W, b = conv._parameters["W"], conv._parameters["b"]
    ref = F.conv2d(t(x).permute(0, 3, 1, 2), t(W).permute(3, 2, 0, 1), t(b), stride=(sh, sw))
    assert np.allclose(conv.forward(x), ref.permute(0, 2, 3, 1).numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k, stride, length", [(2, 2, 9), (3, 1, 8), (3, 2, 10), (4, 3, 14)])
def test_maxpool1d_matches_torch(k, stride, length):
    x = randn(3, length, 4)
    ref = F.max_pool1d(t(x).permute(0, 2, 1), k, stride).permute(0, 2, 1).numpy()
    assert np.array_equal(diy.MaxPool1D(k, stride).forward(x), ref)


@pytest.mark.parametrize("kh, kw, sh, sw", [(2, 2, 2, 2), (3, 2, 1, 2), (2, 3, 3, 1)])
def test_avgpool2d_matches_torch(kh, kw, sh, sw):
    x = randn(2, 8, 9, 3)
    ref = F.avg_pool2d(t(x).permute(0, 3, 1, 2), (kh, kw), (sh, sw)).permute(0, 2, 3, 1).numpy()
    assert np.allclose(diy.AvgPool2D(kh, kw, sh, sw).forward(x), ref, rtol=1e-12, atol=1e-14)


def test_conv_and_pool_backward_match_torch_autograd():
    x = randn(2, 9, 8, 3)
    for module, op in [
        (diy.Conv2D(3, 2, 3, 4, stride_h=2, stride_w=3),
         lambda a, m: F.conv2d(a.permute(0, 3, 1, 2), t(m._parameters["W"]).permute(3, 2, 0, 1),
                               t(m._parameters["b"]), stride=(2, 3)).permute(0, 2, 3, 1)),
        (diy.AvgPool2D(3, 2, 2, 1),
         lambda a, m: F.avg_pool2d(a.permute(0, 3, 1, 2), (3, 2), (2, 1)).permute(0, 2, 3, 1)),
    ]:
        xt = t(x.copy()).requires_grad_()
        out = op(xt, module)
        delta = randn(*out.shape, seed=2)
        out.backward(t(delta))
        assert np.allclose(module.backward_delta(x, delta), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_losses_match_torch():
    rng = np.random.default_rng(4)
    y, yhat = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    ref = F.mse_loss(t(yhat), t(y), reduction="none").sum(1).numpy()
    assert np.allclose(diy.MSELoss().forward(y, yhat), ref, rtol=1e-12)

    y, p = rng.integers(0, 2, (6, 3)).astype(float), rng.uniform(0.01, 0.99, (6, 3))
    ref = F.binary_cross_entropy(t(p), t(y), reduction="none").sum(1).numpy()
    assert np.allclose(diy.BCELoss().forward(y, p), ref, rtol=1e-12)

    labels, logits = rng.integers(0, 5, 6), 3 * rng.standard_normal((6, 5))
    probs = torch.softmax(t(logits), -1).numpy()
    ref = F.nll_loss(torch.log(t(probs)), t(labels), reduction="none").numpy()
    assert np.allclose(diy.CELoss().forward(one_hot(labels, 5), probs), ref, rtol=1e-12)
    ref = F.cross_entropy(t(logits), t(labels), reduction="none").numpy()
    assert np.allclose(diy.CELogSoftmax().forward(one_hot(labels, 5), logits), ref, rtol=1e-12)


# ------------------------------------------------------------------ numerical stability


def test_probability_losses_are_finite_at_0_and_1():
    y = np.array([[0.0, 1.0, 1.0, 0.0]])
    for p in (np.array([[0.0, 1.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 1.0, 0.0]])):
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            assert np.all(np.isfinite(diy.BCELoss().forward(y, p)))
            assert np.all(np.isfinite(diy.BCELoss().backward(y, p)))
    assert diy.BCELoss().forward(y, np.array([[0.0, 1.0, 1.0, 0.0]]))[0] < 1e-9  # perfect
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    p = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss, grad = diy.CELoss().forward(y, p), diy.CELoss().backward(y, p)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert loss[0] < 1e-9 and loss[1] > 20  # right (1 on the target) vs wrong (0 on it)


def test_celogsoftmax_and_softmax_are_stable_at_large_logits():
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [1000.0, 1000.0, -1000.0]])
    y = one_hot(np.array([1, 2, 0]), 3)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss, grad = diy.CELogSoftmax().forward(y, z), diy.CELogSoftmax().backward(y, z)
        s = diy.Softmax().forward(z)
        sig = diy.Sigmoide().forward(z)
    ref = F.cross_entropy(t(z), t(np.array([1, 2, 0])), reduction="none").numpy()
    assert np.allclose(loss, ref, rtol=1e-12)
    assert np.allclose(loss, [2000.0, 0.0, np.log(2)])
    assert np.allclose(grad, torch.softmax(t(z), -1).numpy() - y)
    assert np.allclose(s.sum(axis=1), 1) and np.all(np.isfinite(sig))


# ------------------------------------------------------------------ gradient bookkeeping


@pytest.mark.parametrize("make, shape", [(lambda: diy.Linear(4, 3), (5, 4)),
                                         (lambda: diy.Conv1D(3, 2, 4, stride=2), (3, 10, 2)),
                                         (lambda: diy.Conv2D(2, 3, 2, 3), (2, 5, 6, 2))])
def test_gradients_accumulate_reset_and_descend(make, shape):
    module, x = make(), randn(*shape)
    delta = randn(*module.forward(x).shape, seed=1)
    module.zero_grad()
    module.backward_update_gradient(x, delta)
    once = {k: g.copy() for k, g in module._gradient.items()}
    assert all(np.any(g != 0) for g in once.values())
    module.backward_update_gradient(x, delta)
    for k, g in module._gradient.items():
        assert np.allclose(g, 2 * once[k], rtol=1e-12)
    before = {k: p.copy() for k, p in module._parameters.items()}
    module.update_parameters(0.1)
    for k, p in module._parameters.items():
        assert np.allclose(p, before[k] - 0.1 * module._gradient[k], rtol=1e-12)
    module.update_parameters()  # default step 1e-3
    for k, p in module._parameters.items():
        assert np.allclose(p, before[k] - 0.101 * module._gradient[k], rtol=1e-12)
    module.zero_grad()
    assert all(np.all(g == 0) for g in module._gradient.values())


def test_parameterless_modules_accept_the_bookkeeping_calls():
    x, delta = randn(3, 4), randn(3, 4, seed=1)
    for m in (diy.TanH(), diy.Sigmoide(), diy.ReLU(), diy.Softmax()):
        m.zero_grad()
        m.backward_update_gradient(x, delta)
        m.update_parameters(0.1)
        assert m._parameters is None and m._gradient is None


def test_sequentiel_bookkeeping_reaches_every_module():
    inner = diy.Sequentiel(diy.Linear(3, 4), diy.TanH())
    net = diy.Sequentiel(inner, diy.Linear(4, 2))
    assert net.modules[0] is inner and len(inner.modules) == 2
    x = randn(5, 3)
    delta = randn(5, 2, seed=1)
    net.forward(x)
    dx = net.backward(x, delta)
    assert dx.shape == x.shape
    owners = list(parameter_owners(net))
    assert len(owners) == 4
    grads = {(id(m), k): m._gradient[k].copy() for m, k in owners}
    assert all(np.any(g != 0) for g in grads.values())
    assert np.allclose(net.backward_delta(x, delta), dx)  # no gradient accumulated by it
    for m, k in owners:
        assert np.array_equal(m._gradient[k], grads[(id(m), k)])
    before = {(id(m), k): m._parameters[k].copy() for m, k in owners}
    net.update_parameters(0.5)
    for m, k in owners:
        assert np.allclose(m._parameters[k], before[(id(m), k)] - 0.5 * grads[(id(m), k)])
    net.zero_grad()
    assert all(np.all(m._gradient[k] == 0) for m, k in owners)


def test_sequentiel_backward_without_a_fresh_forward_uses_the_given_input():
    net = diy.Sequentiel(diy.Linear(3, 4), diy.TanH(), diy.Linear(4, 2))
    x1, x2, delta = randn(5, 3), randn(5, 3, seed=1), randn(5, 2, seed=2)
    net.forward(x1)
    dx2 = net.backward_delta(x2, delta)  # the last forward was on x1
    net.forward(x2)
    assert np.allclose(dx2, net.backward_delta(x2, delta))


# ------------------------------------------------------------------ training


def test_optim_step_follows_the_mean_gradient_and_returns_the_mean_loss():
    lin = diy.Linear(3, 2)
    X, Y = randn(8, 3), randn(8, 2, seed=1)
    W, b = lin._parameters["W"].copy(), lin._parameters["b"].copy()
    residual = X @ W + b - Y
    loss = diy.Optim(lin, diy.MSELoss(), 0.1).step(X, Y)
    assert type(loss) is float
    assert np.isclose(loss, np.mean(np.sum(residual ** 2, axis=1)))
    assert np.allclose(lin._parameters["W"], W - 0.1 * X.T @ (2 * residual) / 8)
    assert np.allclose(lin._parameters["b"], b - 0.1 * (2 * residual).sum(0, keepdims=True) / 8)


def _xor_blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.choice([-1.0, 1.0], (n, 2))
    X = centres + 0.3 * rng.standard_normal((n, 2))
    Y = (centres[:, :1] != centres[:, 1:]).astype(float)  # XOR of the signs
    return X, Y


def _xor_net():
    return diy.Sequentiel(diy.Linear(2, 8), diy.TanH(), diy.Linear(8, 1), diy.Sigmoide())


def test_sgd_learns_xor_with_a_tanh_hidden_layer():
    X, Y = _xor_blobs()
    net = _xor_net()
    history = diy.SGD(net, diy.BCELoss(), X, Y, batch_size=16, epochs=60, eps=0.5)
    assert len(history) == 60 and all(type(v) is float for v in history)
    assert history[-1] < 0.2 * history[0]
    assert np.mean((net.forward(X) > 0.5) == (Y > 0.5)) >= 0.95


def test_sgd_is_deterministic_for_a_seed():
    X, Y = _xor_blobs()
    runs = []
    for seed in (3, 3, 4):
        np.random.seed(0)
        runs.append(diy.SGD(_xor_net(), diy.BCELoss(), X, Y, batch_size=16, epochs=5, eps=0.5, seed=seed))
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_sgd_epoch_loss_is_the_mean_over_samples_with_an_uneven_last_batch():
    X, Y = _xor_blobs(n=50)
    net = _xor_net()
    full = float(diy.BCELoss().forward(Y, net.forward(X)).mean())
    history = diy.SGD(net, diy.BCELoss(), X, Y, batch_size=16, epochs=3, eps=0.0)  # no update
    assert np.allclose(history, [full] * 3, rtol=1e-12)


def _signals(n=400, length=32, seed=0):
    """Noisy signals holding one pattern at a random place: flat bump (0) or oscillation (1)."""
    rng = np.random.default_rng(seed)
    patterns = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0]])
    labels = rng.integers(0, 2, n)
    X = 0.3 * rng.standard_normal((n, length, 1))
    for i, (label, start) in enumerate(zip(labels, rng.integers(0, length - 4, n))):
        X[i, start:start + 4, 0] += patterns[label]
    return X, one_hot(labels, 2)


def test_sgd_trains_a_small_conv1d_network():
    X, Y = _signals()
    net = diy.Sequentiel(diy.Conv1D(4, 1, 4), diy.MaxPool1D(2, 2), diy.Flatten(), diy.Linear(56, 2))
    history = diy.SGD(net, diy.CELogSoftmax(), X, Y, batch_size=20, epochs=30, eps=0.1)
    assert history[-1] < 0.25 * history[0]
    assert np.mean(net.forward(X).argmax(1) == Y.argmax(1)) >= 0.9


# ------------------------------------------------------------------ the file itself


def test_reference_uses_numpy_only():
    tree = ast.parse(Path(diy.__file__).read_text())
    modules = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    modules += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert {m.split(".")[0] for m in modules} == {"numpy"}


def test_solution_fences_make_a_valid_template_of_whole_function_bodies():
    """Each fenced block, replaced by ``raise NotImplementedError()``, is a whole function body."""
    pattern = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^\1### END SOLUTION\n", re.M | re.S)
    template, n_blocks = pattern.subn(r"\1raise NotImplementedError()\n", Path(diy.__file__).read_text())
    assert n_blocks >= 40 and "### " not in template
    stubs = 0
    for node in ast.walk(ast.parse(template)):
        if isinstance(node, ast.FunctionDef) and any(isinstance(b, ast.Raise) for b in node.body):
            docstring, *body = node.body
            assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant), node.name
            assert len(body) == 1 and isinstance(body[0], ast.Raise), node.name
            stubs += 1
    assert stubs >= n_blocks
