"""Tests of the reference solution ``reference/optim.py`` against torch's own implementations."""

import ast
import copy
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.testing import assert_close

from grader.assignment import load_assignment

ref = load_assignment("optim").load_reference()

HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _compare_with_torch(torch_optimizer, our_step, n_steps=6):
    """Run ``n_steps`` of torch's optimiser on one model and ``our_step`` on a copy, on the same
    batches, and check that the parameters agree after each step.

    ``our_step(params, grads, state) -> state``.
    """
    model = _model()
    ours = copy.deepcopy(model)
    opt = torch_optimizer(model.parameters())
    state = None
    torch.manual_seed(1)
    for _ in range(n_steps):
        x, y = torch.randn(16, 4), torch.randn(16, 3)
        for m in (model, ours):
            m.zero_grad()
            nn.functional.mse_loss(m(x), y).backward()
        opt.step()
        params = list(ours.parameters())
        grads = [p.grad for p in params]
        grads_before = [g.clone() for g in grads]
        state = our_step(params, grads, state)
        for g, g0 in zip(grads, grads_before):
            assert torch.equal(g, g0), "the gradients must not be modified"
        for p_torch, p_ours in zip(model.parameters(), params):
            assert_close(p_ours, p_torch)
    return state


# ----------------------------------------------------------------------------- optimisers


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_sgd_step_matches_torch(momentum, weight_decay):
    lr = 0.1

    def step(params, grads, velocity):
        return ref.sgd_step(params, grads, lr, momentum=momentum, velocity=velocity,
                            weight_decay=weight_decay)

    velocity = _compare_with_torch(
        lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum, weight_decay=weight_decay),
        step)
    if momentum == 0:
        assert velocity is None
    else:
        assert len(velocity) == 4 and all(isinstance(v, torch.Tensor) for v in velocity)


def test_sgd_step_plain_update_by_hand():
    p = torch.tensor([1.0, -2.0])
    g = torch.tensor([0.5, 0.5])
    v = ref.sgd_step([p], [g], lr=0.1, momentum=0.5)
    assert_close(p, torch.tensor([0.95, -2.05]))  # first step: buf = g
    ref.sgd_step([p], [g], lr=0.1, momentum=0.5, velocity=v)
    assert_close(p, torch.tensor([0.875, -2.125]))  # buf = 0.5 * g + g = 0.75


@pytest.mark.parametrize("lr,alpha,eps", [(1e-2, 0.99, 1e-8), (3e-3, 0.9, 1e-6)])
def test_rmsprop_step_matches_torch(lr, alpha, eps):
    def step(params, grads, state):
        return ref.rmsprop_step(params, grads, state, lr=lr, alpha=alpha, eps=eps)

    state = _compare_with_torch(
        lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=alpha, eps=eps), step)
    assert len(state) == 4


def test_rmsprop_defaults_match_torch():
    _compare_with_torch(torch.optim.RMSprop, ref.rmsprop_step)


def test_decayed_lr():
    assert ref.decayed_lr(0.1, 0.5, 0) == pytest.approx(0.1)
    assert ref.decayed_lr(0.1, 0.5, 2) == pytest.approx(0.05)
    assert ref.decayed_lr(1.0, 0.01, 100) == pytest.approx(0.5)
    assert ref.decayed_lr(0.3, 0.0, 1000) == pytest.approx(0.3)


# ------------------------------------------------------------------------- regularisation


def test_l2_penalty_weights_only_and_differentiable():
    model = _model()
    lam = 0.01
    penalty = ref.l2_penalty(model, lam)
    expected = lam * ((model[0].weight ** 2).sum() + (model[2].weight ** 2).sum())
    assert penalty.dim() == 0
    assert_close(penalty, expected)

    # Biases are excluded: changing them leaves the penalty unchanged.
    with torch.no_grad():
        model[0].bias.fill_(100.0)
    assert_close(ref.l2_penalty(model, lam), expected)

    penalty = ref.l2_penalty(model, lam)
    penalty.backward()
    assert_close(model[0].weight.grad, 2 * lam * model[0].weight.detach())
    assert_close(model[2].weight.grad, 2 * lam * model[2].weight.detach())
    assert model[0].bias.grad is None or torch.all(model[0].bias.grad == 0)


def test_dropout_train_statistics():
    p, n = 0.3, 1_000_000
    x = torch.ones(n)
    torch.manual_seed(0)
    y = ref.Dropout(p).train()(x)
    # Zero rate: standard error sqrt(p(1-p)/n) ~ 4.6e-4, tolerance 5e-3 (> 10 sigma).
    assert abs((y == 0).float().mean().item() - p) < 5e-3
    # Survivors are scaled by 1/(1-p); mean preserved: standard error ~ 6.5e-4, tolerance 1e-2.
    assert_close(y[y != 0], torch.full_like(y[y != 0], 1 / (1 - p)))
    assert abs(y.mean().item() - 1.0) < 1e-2


def test_dropout_seed_controls_mask():
    x = torch.randn(100, 50)
    d = ref.Dropout(0.5)
    torch.manual_seed(42)
    a = d(x)
    torch.manual_seed(42)
    b = d(x)
    assert torch.equal(a, b)


def test_dropout_eval_and_edge_cases():
    torch.manual_seed(0)
    x = torch.randn(64, 32)
    assert torch.equal(ref.Dropout(0.5).eval()(x), x)
    assert torch.equal(ref.Dropout(1.0).eval()(x), x)
    assert torch.equal(ref.Dropout(0.0).train()(x), x)
    y = ref.Dropout(1.0).train()(x)
    assert torch.equal(y, torch.zeros_like(x))
    assert not torch.isnan(y).any()
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError):
            ref.Dropout(bad)


def test_dropout_gradient_is_mask_over_keep_prob():
    torch.manual_seed(0)
    x = torch.randn(1000, requires_grad=True)
    y = ref.Dropout(0.25)(x)
    y.sum().backward()
    assert_close(x.grad, (y != 0).float() / 0.75)


def test_batchnorm_matches_torch():
    torch.manual_seed(0)
    n_features = 5
    ours = ref.BatchNorm1d(n_features, eps=1e-5, momentum=0.1)
    theirs = nn.BatchNorm1d(n_features, eps=1e-5, momentum=0.1)
    assert isinstance(ours.weight, nn.Parameter) and isinstance(ours.bias, nn.Parameter)
    assert {name for name, _ in ours.named_buffers()} >= {"running_mean", "running_var"}
    # Non-trivial affine parameters, identical in both modules.
    with torch.no_grad():
        for bn in (ours, theirs):
            bn.weight.copy_(torch.linspace(0.5, 2.0, n_features))
            bn.bias.copy_(torch.linspace(-1.0, 1.0, n_features))

    for step in range(5):
        x = (torch.randn(32, n_features) * 3 + step).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        upstream = torch.randn(32, n_features)
        out_ours, out_theirs = ours(x), theirs(x2)
        assert_close(out_ours, out_theirs)
        (out_ours * upstream).sum().backward()
        (out_theirs * upstream).sum().backward()
        assert_close(x.grad, x2.grad)
        assert_close(ours.weight.grad, theirs.weight.grad)
        assert_close(ours.bias.grad, theirs.bias.grad)
        for bn in (ours, theirs):
            bn.zero_grad()
        assert_close(ours.running_mean, theirs.running_mean)
        assert_close(ours.running_var, theirs.running_var)

    ours.eval()
    theirs.eval()
    x = torch.randn(10, n_features) * 2 + 1
    assert_close(ours(x), theirs(x))
    # Evaluation mode does not touch the running statistics.
    assert_close(ours.running_mean, theirs.running_mean)
    assert_close(ours.running_var, theirs.running_var)


# -------------------------------------------------------------------------------- metrics


def test_precision_recall_f1_by_hand():
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3]
    y_pred = [0, 1, 0, 1, 2, 2, 2, 0, 1, 1]
    # Confusion matrix (rows: true, columns: predicted):
    #   [[2, 1, 0, 0],
    #    [0, 1, 1, 0],
    #    [1, 1, 2, 0],
    #    [0, 1, 0, 0]]
    # TP = [2, 1, 2, 0], predicted = [3, 4, 3, 0], actual = [3, 2, 4, 1]
    precision = [2 / 3, 1 / 4, 2 / 3, 0.0]  # class 3 never predicted: 0
    recall = [2 / 3, 1 / 2, 2 / 4, 0.0]
    f1 = [2 * p * r / (p + r) if p + r > 0 else 0.0 for p, r in zip(precision, recall)]
    expected = (np.mean(precision), np.mean(recall), np.mean(f1))

    for convert in (list, np.array, torch.tensor):
        result = ref.precision_recall_f1(convert(y_true), convert(y_pred), 4)
        assert all(isinstance(v, float) for v in result)
        assert result == pytest.approx(expected)

    # A fifth class absent from both y_true and y_pred counts as zeros in the macro average.
    result = ref.precision_recall_f1(y_true, y_pred, 5)
    assert result == pytest.approx(tuple(v * 4 / 5 for v in expected))


def test_precision_recall_f1_perfect_and_class_absent_from_truth():
    assert ref.precision_recall_f1([0, 1, 2], [0, 1, 2], 3) == pytest.approx((1.0, 1.0, 1.0))
    # Class 1 is predicted but never true: precision 0 and recall 0 for it.
    p, r, f = ref.precision_recall_f1([0, 0], [0, 1], 2)
    assert (p, r, f) == pytest.approx((0.5, 0.25, (2 * 1 * 0.5 / 1.5) / 2))


@pytest.mark.skipif(not HAS_SKLEARN, reason="scikit-learn not installed")
def test_precision_recall_f1_matches_sklearn():
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(0)
    for n_classes in (2, 5, 8):
        y_true = rng.integers(0, n_classes, 60)
        y_pred = rng.integers(0, n_classes - 1, 60)  # last class never predicted
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=list(range(n_classes)), average="macro", zero_division=0)
        assert ref.precision_recall_f1(y_true, y_pred, n_classes) == pytest.approx((p, r, f))


# ---------------------------------------------------------------------------- the template


def test_solution_fences_make_a_valid_template():
    """Replacing every fenced block by ``raise NotImplementedError()`` must leave valid Python."""
    source = Path(ref.__file__).read_text()
    pattern = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n",
                         re.MULTILINE | re.DOTALL)
    template, n_blocks = pattern.subn(r"\1raise NotImplementedError()\n", source)
    assert n_blocks >= 9
    assert "### BEGIN SOLUTION" not in template and "### END SOLUTION" not in template
    ast.parse(template)
