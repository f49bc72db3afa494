"""Optimisation, regularisation and metrics, written by hand in PyTorch.

The exercises rebuild a few pieces that ``torch`` already provides, so that each one can be
checked against the library version:

* optimisers: one step of SGD (with momentum and weight decay) and of RMSprop, plus a
  decaying learning-rate schedule;
* regularisation: an L2 penalty on the weights, inverted dropout and batch normalisation;
* metrics: macro-averaged precision, recall and F1.

Optimiser steps change the parameters *in place* under ``torch.no_grad()``: the update is
not part of the model's computation, so autograd must not record it.
"""

import torch
from torch import nn

# ----------------------------------------------------------------------------- optimisers


def sgd_step(params, grads, lr, momentum=0.0, velocity=None, weight_decay=0.0):
    """One step of stochastic gradient descent, as ``torch.optim.SGD`` (no dampening, no Nesterov).

    For every parameter ``p`` with gradient ``grad``::

        g = grad + weight_decay * p          # L2 regularisation folded into the gradient
        buf = g                              # first step (velocity is None)
        buf = momentum * buf + g             # later steps
        p  -= lr * buf                       # with momentum
        p  -= lr * g                         # without momentum (momentum == 0)

    Args:
        params: list of tensors, updated in place.
        grads: list of gradient tensors, same shapes as ``params``; left unchanged.
        lr: learning rate.
        momentum: momentum factor; 0 disables momentum.
        velocity: list of momentum buffers returned by the previous call, or None on the
            first step.
        weight_decay: L2 coefficient added to the gradient.

    Returns:
        The list of momentum buffers (one tensor per parameter) to pass to the next call,
        or None when ``momentum == 0`` (plain SGD keeps no state).
    """
    ### BEGIN SOLUTION
    new_velocity = []
    with torch.no_grad():
        for i, (p, grad) in enumerate(zip(params, grads)):
            g = grad + weight_decay * p  # a new tensor: ``grad`` is not modified
            if momentum != 0:
                # The buffer is an exponentially weighted sum of past gradients; torch starts
                # it at the first gradient (not at zero).
                buf = g.clone() if velocity is None else momentum * velocity[i] + g
                new_velocity.append(buf)
                g = buf
            p -= lr * g
    return new_velocity if momentum != 0 else None
    ### END SOLUTION


def rmsprop_step(params, grads, state, lr=1e-2, alpha=0.99, eps=1e-8):
    """One step of RMSprop, as ``torch.optim.RMSprop`` with its defaults (not centred, no momentum).

    Each parameter keeps a running average of its squared gradient and the step is divided
    by its square root, so every coordinate gets its own effective learning rate::

        square_avg = alpha * square_avg + (1 - alpha) * g**2
        p -= lr * g / (sqrt(square_avg) + eps)

    Args:
        params: list of tensors, updated in place.
        grads: list of gradient tensors; left unchanged.
        state: None on the first call (the square averages start at zero), else what the
            previous call returned.
        lr, alpha, eps: learning rate, smoothing constant and the term that keeps the
            division finite.

    Returns:
        The new state: a list with one ``square_avg`` tensor per parameter.
    """
    ### BEGIN SOLUTION
    if state is None:
        state = [torch.zeros_like(p) for p in params]
    new_state = []
    with torch.no_grad():
        for p, g, square_avg in zip(params, grads, state):
            square_avg = alpha * square_avg + (1 - alpha) * g * g
            p -= lr * g / (square_avg.sqrt() + eps)
            new_state.append(square_avg)
    return new_state
    ### END SOLUTION


def decayed_lr(lr0, decay, iteration):
    """Learning rate after ``iteration`` steps of inverse-time decay: ``lr0 / (1 + decay * iteration)``."""
    ### BEGIN SOLUTION
    return lr0 / (1 + decay * iteration)
    ### END SOLUTION


# ------------------------------------------------------------------------- regularisation


def l2_penalty(model, lam):
    """L2 penalty ``lam * sum(w**2)`` over the model's weights, biases excluded.

    A weight is a parameter whose name ends with ``"weight"`` (``"0.weight"`` in an
    ``nn.Sequential``); note that this also includes the scale of normalisation layers.
    Biases only shift the output, and penalising them does not reduce overfitting.

    Returns:
        A scalar tensor that is part of the autograd graph, so ``(loss + penalty).backward()``
        adds ``2 * lam * w`` to each weight's gradient.
    """
    ### BEGIN SOLUTION
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    total = sum((w**2).sum() for w in weights)
    return lam * torch.as_tensor(total)  # as_tensor: a tensor even for a model without weights
    ### END SOLUTION


class Dropout(nn.Module):
    """Inverted dropout.

    In training mode each element is zeroed with probability ``p`` and the survivors are
    multiplied by ``1 / (1 - p)``, so the expected value of every element is unchanged and
    nothing needs rescaling at test time. In evaluation mode (``model.eval()``) it is the
    identity. The random mask comes from ``torch.rand_like``, so ``torch.manual_seed``
    makes it reproducible.
    """

    def __init__(self, p=0.5):
        """Raises ValueError unless ``0 <= p <= 1``."""
        ### BEGIN SOLUTION
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return torch.zeros_like(x)  # everything dropped; 1 / (1 - p) would give 0 * inf = NaN
        keep = (torch.rand_like(x) >= self.p).to(x.dtype)  # 1 with probability 1 - p
        return x * keep / (1 - self.p)
        ### END SOLUTION


class BatchNorm1d(nn.Module):
    """Batch normalisation of ``(batch, num_features)`` inputs, as ``nn.BatchNorm1d``.

    Training mode normalises each feature with the mean and the *biased* variance of the
    current batch, then applies the learnable scale ``weight`` and shift ``bias``::

        y = weight * (x - mean) / sqrt(var + eps) + bias

    and updates the running statistics (used in evaluation mode instead of the batch's)::

        running = (1 - momentum) * running + momentum * batch_statistic

    where the running variance is fed the *unbiased* batch variance (divided by n - 1).
    ``momentum`` must be a float (``nn.BatchNorm1d``'s ``momentum=None``, a cumulative
    average, is not supported).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        ### BEGIN SOLUTION
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        # Buffers are saved in the state_dict and moved by .to(), but not trained.
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError("BatchNorm1d needs more than one sample per batch in training")
            mean = x.mean(dim=0)
            var = x.var(dim=0, correction=0)  # biased: divides by n
            with torch.no_grad():  # the running statistics are not part of the graph
                m = self.momentum
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * var * n / (n - 1))  # unbiased
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight * x_hat + self.bias
        ### END SOLUTION


# -------------------------------------------------------------------------------- metrics


def precision_recall_f1(y_true, y_pred, n_classes):
    """Macro-averaged precision, recall and F1 of a classifier.

    Per class ``c``, with TP the samples of class ``c`` predicted ``c``::

        precision_c = TP / (number of samples predicted c)
        recall_c    = TP / (number of samples whose true class is c)
        f1_c        = 2 * precision_c * recall_c / (precision_c + recall_c)

    and each score is the plain mean over the ``n_classes`` classes (macro average: every
    class counts the same, however frequent). F1 is the mean of the per-class F1, not the
    F1 of the mean precision and recall.

    Conventions where a ratio is 0/0 (those of scikit-learn with ``zero_division=0`` and
    ``labels=range(n_classes)``): a class that is never predicted has precision 0, a class
    absent from ``y_true`` has recall 0, and F1 is 0 when precision + recall == 0. Classes
    absent from both still count in the average.

    Args:
        y_true, y_pred: 1-D integer labels in ``[0, n_classes)`` (tensors, lists or numpy
            arrays) of the same length.
        n_classes: number of classes.

    Returns:
        ``(precision, recall, f1)`` as Python floats.
    """
    ### BEGIN SOLUTION
    y_true = torch.as_tensor(y_true).long().flatten()
    y_pred = torch.as_tensor(y_pred).long().flatten()
    if y_true.shape != y_pred.shape:
        raise ValueError("y_true and y_pred must have the same length")
    for y in (y_true, y_pred):
        if y.numel() and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"labels must be in [0, {n_classes})")

    # Confusion matrix: cm[t, p] = number of samples of true class t predicted as p.
    cm = torch.bincount(y_true * n_classes + y_pred, minlength=n_classes**2)
    cm = cm.reshape(n_classes, n_classes).double()
    tp = cm.diag()
    predicted = cm.sum(dim=0)  # column sums: TP + FP
    actual = cm.sum(dim=1)  # row sums: TP + FN

    # When a denominator is 0, TP is 0 too, so clamping the denominator to 1 gives 0/1 = 0:
    # exactly the zero_division=0 convention.
    precision = tp / predicted.clamp(min=1)
    recall = tp / actual.clamp(min=1)
    # 2PR / (P + R) simplifies to 2 TP / (predicted + actual); it is 0 whenever TP is 0,
    # which is exactly when P + R == 0.
    f1 = 2 * tp / (predicted + actual).clamp(min=1)
    return precision.mean().item(), recall.mean().item(), f1.mean().item()
    ### END SOLUTION
