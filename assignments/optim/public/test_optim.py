"""Optimisation and regularisation — public checks (what `grade check` runs for students).

Every check talks to the submission through ``student`` (a separate, sandboxed process) and
compares what comes back with torch's own implementation, run here in the judge on the same
values: torch.optim.SGD / RMSprop step by step, nn.BatchNorm1d, autograd, a confusion matrix.
"""

import pytest

from grader.api import _

import optim_checks as checks

# ------------------------------------------------------------------------------- sgd_step


@pytest.mark.points(2)
def test_sgd_step_plain_matches_torch(student):
    """sgd_step(params, grads, lr) for 4 steps: after each one the parameters (updated in
    place) equal torch.optim.SGD(lr=0.1)'s."""
    checks.optimizer_scenario(student, "sgd", {"lr": 0.1}, n_steps=4, seed=0, pass_state=False)


@pytest.mark.points(2)
def test_sgd_step_with_momentum_matches_torch(student):
    """With momentum=0.9 (the velocity returned by each call passed to the next), 5 steps
    match torch.optim.SGD(lr=0.1, momentum=0.9)."""
    checks.optimizer_scenario(student, "sgd", {"lr": 0.1, "momentum": 0.9}, n_steps=5, seed=1)


@pytest.mark.points(2)
def test_sgd_step_with_momentum_and_weight_decay_matches_torch(student):
    """With momentum=0.9 and weight_decay=0.05, 5 steps match torch.optim.SGD with the same
    settings (weight decay is folded into the gradient before the momentum buffer)."""
    checks.optimizer_scenario(student, "sgd", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05},
                              n_steps=5, seed=2)


# --------------------------------------------------------------------------- rmsprop_step


@pytest.mark.points(2)
def test_rmsprop_step_defaults_match_torch(student):
    """rmsprop_step(params, grads, state) with its default lr, alpha and eps: 5 steps match
    torch.optim.RMSprop's defaults (one parameter has tiny gradients, where eps matters)."""
    checks.optimizer_scenario(student, "rmsprop", {}, n_steps=5, seed=3, tiny=1)


@pytest.mark.points(2)
def test_rmsprop_step_custom_hyperparameters_match_torch(student):
    """rmsprop_step(..., lr=3e-3, alpha=0.9, eps=1e-6): 5 steps match torch.optim.RMSprop with
    the same settings."""
    checks.optimizer_scenario(student, "rmsprop", {"lr": 3e-3, "alpha": 0.9, "eps": 1e-6},
                              n_steps=5, seed=4, tiny=3)


# ----------------------------------------------------------------------------- decayed_lr


@pytest.mark.points(1)
def test_decayed_lr_values(student):
    """decayed_lr(lr0, decay, iteration) = lr0 / (1 + decay · iteration) on a few values."""
    checks.decayed_lr_values(student, [(0.1, 0.5, 0), (0.1, 0.5, 2), (1.0, 0.01, 100),
                                       (0.3, 0.0, 1000), (0.05, 0.2, 7)])


# ----------------------------------------------------------------------------- l2_penalty


@pytest.mark.points(2)
def test_l2_penalty_value_and_gradient(student):
    """l2_penalty(model, 0.01) on Linear(4, 8) → Tanh → Linear(8, 3): the value is
    lam · Σ w² over the weights only, and its gradient is 2 · lam · w for the weights and 0 for
    the biases."""
    checks.l2_penalty_scenario(student, [("Linear", 4, 8), ("Tanh",), ("Linear", 8, 3)],
                               lam=0.01, seed=0)


# -------------------------------------------------------------------------------- Dropout


@pytest.mark.points(2)
def test_Dropout_zero_rate_and_scaling(student):
    """Dropout(0.3) in train mode on 200,000 ones: about 30 % zeros (within 6 binomial
    standard deviations) and every other element equal to 1 / (1 - 0.3)."""
    checks.dropout_statistics(student, 0.3, seed=0)


@pytest.mark.points(1)
def test_Dropout_is_identity_in_eval_mode(student):
    """Dropout(0.5) after .eval() returns its input unchanged."""
    checks.dropout_identity(student, 0.5, train=False, seed=1)


# ---------------------------------------------------------------------------- BatchNorm1d

BN = {"num_features": 5, "eps": 1e-5, "momentum": 0.1, "batch_sizes": [32, 32, 16, 32, 8],
      "seed": 0}


@pytest.mark.points(2)
def test_BatchNorm1d_training_outputs_and_gradients_match_torch(student):
    """In train mode, over 5 batches: the output and the gradients with respect to the input,
    weight and bias equal nn.BatchNorm1d's (same weight and bias, same upstream gradient)."""
    run = checks.batchnorm_scenario(student, **BN)
    checks.compare_batchnorm_steps(run, ("out", "x_grad", "weight_grad", "bias_grad"),
                                   BN["momentum"])


@pytest.mark.points(2)
def test_BatchNorm1d_running_statistics_match_torch(student):
    """running_mean and running_var after each of 5 training batches equal nn.BatchNorm1d's
    (momentum 0.1; the running variance uses the unbiased batch variance)."""
    run = checks.batchnorm_scenario(student, **BN)
    checks.compare_batchnorm_steps(run, ("running_mean", "running_var"), BN["momentum"])


@pytest.mark.points(2)
def test_BatchNorm1d_eval_output_matches_torch(student):
    """After 5 training batches, .eval() normalises with the running statistics: the output
    equals nn.BatchNorm1d's, and the running statistics do not change in eval mode."""
    run = checks.batchnorm_scenario(student, **BN)
    checks.compare_batchnorm_eval(run)


# -------------------------------------------------------------------- precision_recall_f1


@pytest.mark.points(2)
def test_precision_recall_f1_with_a_class_never_predicted(student):
    """Macro precision, recall and F1 over 4 classes, one of which is never predicted (its
    precision counts as 0)."""
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3]
    y_pred = [0, 1, 0, 1, 2, 2, 2, 0, 1, 1]
    checks.prf_scenario(student, y_true, y_pred, 4,
                        _("precision_recall_f1(y_true, y_pred, 4) with class 3 never predicted"))


@pytest.mark.points(1)
def test_precision_recall_f1_with_absent_classes(student):
    """Over 5 classes: class 3 is predicted but never true (recall 0) and class 4 appears in
    neither (all zeros); every class counts in the macro average."""
    y_true = [0, 0, 1, 1, 1, 2, 2, 0, 1, 2, 2, 0]
    y_pred = [0, 3, 1, 1, 0, 2, 3, 0, 1, 2, 1, 0]
    checks.prf_scenario(student, y_true, y_pred, 5,
                        _("precision_recall_f1(y_true, y_pred, 5) with class 3 never true and "
                          "class 4 absent"))
