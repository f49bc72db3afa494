"""Optimisation and regularisation — hidden checks (instructor grading only; never shipped).

The same comparisons on other values, plus what a submission tuned to the public checks tends
to miss: the step functions on a real model's parameters and gradients, weight decay without
momentum, gradients left untouched, other dropout rates, dropout's gradient and fresh masks,
other batch-normalisation settings and the initial state, random label vectors and the input
types precision_recall_f1 accepts.
"""

import numpy as np
import pytest
import torch

from grader.api import _

import optim_checks as checks
import optim_hidden_checks as hidden_checks

# ------------------------------------------------------------------------------- sgd_step


@pytest.mark.points(1)
def test_sgd_step_weight_decay_without_momentum(student):
    """weight_decay=0.1 without momentum: 4 steps match torch.optim.SGD(lr=0.05,
    weight_decay=0.1)."""
    checks.optimizer_scenario(student, "sgd", {"lr": 0.05, "weight_decay": 0.1}, n_steps=4,
                              seed=10)


@pytest.mark.points(2)
def test_sgd_step_trains_a_library_model(student):
    """sgd_step on list(model.parameters()) with the gradients of an MSE loss, as in a training
    loop (momentum 0.5, weight decay 0.01, 6 steps), matches torch.optim.SGD on the same model."""
    hidden_checks.optimizer_on_model_scenario(
        student, "sgd", {"lr": 0.2, "momentum": 0.5, "weight_decay": 0.01}, n_steps=6, seed=11)


@pytest.mark.points(1)
def test_sgd_step_leaves_the_gradients_unchanged(student):
    """sgd_step does not modify the gradients it is given (they are the parameters' .grad)."""
    kwargs = {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}
    run = checks.optimizer_scenario(student, "sgd", kwargs, n_steps=3, seed=12, compare=False)
    hidden_checks.gradients_left_alone("sgd_step", run)


# --------------------------------------------------------------------------- rmsprop_step


@pytest.mark.points(2)
def test_rmsprop_step_trains_a_library_model(student):
    """rmsprop_step on list(model.parameters()) with the gradients of an MSE loss, 8 steps with
    lr=1e-3, alpha=0.95, eps=1e-7, matches torch.optim.RMSprop on the same model."""
    hidden_checks.optimizer_on_model_scenario(
        student, "rmsprop", {"lr": 1e-3, "alpha": 0.95, "eps": 1e-7}, n_steps=8, seed=13)


@pytest.mark.points(1)
def test_rmsprop_step_tiny_gradients_match_torch(student):
    """Parameters whose gradients are about 1e-4 (where the place of eps matters): 6 steps with
    lr=0.01, alpha=0.99, eps=1e-8 match torch.optim.RMSprop."""
    checks.optimizer_scenario(student, "rmsprop", {"lr": 0.01, "alpha": 0.99, "eps": 1e-8},
                              n_steps=6, seed=14, tiny=2)


# ----------------------------------------------------------------------------- decayed_lr


@pytest.mark.points(1)
def test_decayed_lr_over_a_schedule(student):
    """decayed_lr(0.05, 0.1, t) for t = 0..40 follows lr0 / (1 + decay · t)."""
    checks.decayed_lr_values(student, [(0.05, 0.1, t) for t in range(41)])


# ----------------------------------------------------------------------------- l2_penalty


@pytest.mark.points(2)
def test_l2_penalty_on_a_convolutional_network(student):
    """l2_penalty(model, 0.3) on Conv2d(1, 3, 3) → ReLU → Flatten → Linear(48, 5): value and
    gradient (convolution kernels are weights, their biases are not)."""
    checks.l2_penalty_scenario(student, [("Conv2d", 1, 3, 3), ("ReLU",), ("Flatten",),
                                         ("Linear", 48, 5)], lam=0.3, seed=1)


# -------------------------------------------------------------------------------- Dropout


@pytest.mark.points(1)
@pytest.mark.parametrize("p", [0.1, 0.8])
def test_Dropout_other_rates(student, p):
    """Dropout(p) in train mode for another p: zero rate within 6 binomial standard deviations
    of p and survivors equal to 1 / (1 - p)."""
    checks.dropout_statistics(student, p, seed=int(p * 10) + 20)


@pytest.mark.points(1)
def test_Dropout_with_p_zero_is_identity(student):
    """Dropout(0.0) in train mode returns its input unchanged."""
    checks.dropout_identity(student, 0.0, train=True, seed=2)


@pytest.mark.points(1)
def test_Dropout_gradient_is_the_scaled_mask(student):
    """The gradient of Dropout(0.25)(x).sum() with respect to x is the mask of kept elements
    divided by 1 - p: dropout stays inside the autograd graph."""
    hidden_checks.dropout_gradient(student, 0.25, seed=3)


@pytest.mark.points(1)
def test_Dropout_draws_a_new_mask_each_call(student):
    """Two forward passes in a row drop different elements."""
    hidden_checks.dropout_new_mask_each_call(student, 0.5, seed=4)


# ---------------------------------------------------------------------------- BatchNorm1d


@pytest.mark.points(2)
def test_BatchNorm1d_other_settings_match_torch(student):
    """BatchNorm1d(3, eps=1e-3, momentum=0.3) on batches of 8, 5, 16 and 2: outputs, gradients
    and running statistics after each, then the eval output, equal nn.BatchNorm1d's."""
    momentum = 0.3
    run = checks.batchnorm_scenario(student, num_features=3, eps=1e-3, momentum=momentum,
                                    batch_sizes=[8, 5, 16, 2], seed=5)
    checks.compare_batchnorm_steps(run, ("out", "x_grad", "weight_grad", "bias_grad",
                                         "running_mean", "running_var"), momentum)
    checks.compare_batchnorm_eval(run)


@pytest.mark.points(1)
def test_BatchNorm1d_default_arguments_match_torch(student):
    """BatchNorm1d(4) with its default eps and momentum, over 3 batches then in eval mode,
    equals nn.BatchNorm1d(4)."""
    run = checks.batchnorm_scenario(student, num_features=4, eps=1e-5, momentum=0.1,
                                    batch_sizes=[12, 12, 6], seed=6, defaults=True)
    checks.compare_batchnorm_steps(run, tuple(checks.BN_LABELS), 0.1)
    checks.compare_batchnorm_eval(run)


@pytest.mark.points(1)
def test_BatchNorm1d_initial_state(student):
    """A fresh BatchNorm1d(6) starts like nn.BatchNorm1d: weight 1, bias 0, running_mean 0,
    running_var 1."""
    hidden_checks.batchnorm_initial_state(student, 6)


# -------------------------------------------------------------------- precision_recall_f1


@pytest.mark.points(2)
@pytest.mark.parametrize("n_classes", [2, 5, 8])
def test_precision_recall_f1_random_labels(student, n_classes):
    """60 random labels over n_classes classes, the last class never predicted: macro scores
    equal those computed here from the confusion matrix."""
    rng = np.random.default_rng(n_classes)
    y_true = rng.integers(0, n_classes, 60).tolist()
    y_pred = rng.integers(0, n_classes - 1, 60).tolist()
    checks.prf_scenario(student, y_true, y_pred, n_classes,
                        _("precision_recall_f1 on 60 random labels over {n_classes} classes "
                          "(class {difference} never predicted)").format(
                            n_classes=n_classes, difference=n_classes - 1))


@pytest.mark.points(1)
@pytest.mark.parametrize("kind", ["tensor", "ndarray"])
def test_precision_recall_f1_accepts_tensors_and_arrays(student, kind):
    """y_true and y_pred given as int64 tensors or NumPy arrays (every class predicted and
    present; macro and micro averages differ)."""
    y_true = [0, 0, 0, 0, 1, 1, 2, 2, 2, 1, 0, 2]
    y_pred = [0, 0, 0, 1, 1, 2, 2, 2, 0, 1, 0, 2]
    convert = torch.tensor if kind == "tensor" else np.array
    checks.prf_scenario(student, convert(y_true), convert(y_pred), 3,
                        _("precision_recall_f1 with y_true and y_pred as {kind}s").format(
                            kind=kind))
