# Starter code for the practical `optim`: fill in every TODO, then run
#     grade check
# in this folder. (Generated from the reference solution; do not rename the
# functions and classes: the grader looks for these names.)
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
    # TODO: your code here
    raise NotImplementedError


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
    # TODO: your code here
    raise NotImplementedError


def decayed_lr(lr0, decay, iteration):
    """Learning rate after ``iteration`` steps of inverse-time decay: ``lr0 / (1 + decay * iteration)``."""
    # TODO: your code here
    raise NotImplementedError


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
    # TODO: your code here
    raise NotImplementedError


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
        # TODO: your code here
        raise NotImplementedError

    def forward(self, x):
        # TODO: your code here
        raise NotImplementedError


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
        # TODO: your code here
        raise NotImplementedError

    def forward(self, x):
        # TODO: your code here
        raise NotImplementedError


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
    # TODO: your code here
    raise NotImplementedError
