"""Child-side modules of the grader's own for the NumPy "DIY" framework (modules with forward /
backward_delta / backward_update_gradient, ``_parameters`` and ``_gradient``).

Imported *in the student process* as ``practical`` (``api.recipe(student, "ProbeScale")``),
where the submission can replace anything, this module included: nothing here produces a
verdict. The checks call the student's own methods directly and compute the expected values
in the judge (``assignments/diy/diy_checks.py``); the finite-difference and read-back helpers
that used to live here are gone for that reason (a submission replaced them, or recognised
their ±h probes, and passed any backward).

The ``Probe*`` classes are modules and a loss of the grader's own, deliberately trivial (an
element-wise affine map, a duplication, a linear loss): checks of ``Sequentiel``, ``Optim``
and ``SGD`` run them inside the student's code, so that a bug in the student's ``Linear`` or
``TanH`` costs points only in the checks of those modules. The judge knows their parameters
and computes what they must give. They behave like modules of a student's framework as far as
the practical's interface goes: ``forward`` and the backward methods, ``zero_grad``,
``update_parameters`` (the step passed by position or under any one keyword), ``backward`` for
an ``Optim`` that calls it, and ``probe(X)`` / ``loss(y, yhat)`` for a framework whose
``Module`` defines ``__call__``.
"""

from __future__ import annotations

import numpy as np


def copy_data(value):
    """A deep copy of arrays inside dicts/lists (so later in-place updates do not show)."""
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, dict):
        return {k: copy_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [copy_data(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# ------------------------------------------------------------------- the grader's own probes


def step_size(gradient_step, named: dict) -> float:
    """The step an Optim passed, whatever its framework calls the argument
    (``update_parameters(eps=0.1)``, ``update_parameters(lr=0.1)``...): one keyword at most."""
    if len(named) > 1:
        raise TypeError(f"update_parameters() takes one step size, got {sorted(named)}")
    return next(iter(named.values())) if named else gradient_step


class ProbeScale:
    """out = X * a + c element-wise, a and c of shape (1, d): a module of the grader's own.

    Records the first column of every input it back-propagates (sample ids in SGD checks).
    """

    def __init__(self, a, c):
        self._parameters = {"a": np.array(a, dtype=np.float64), "c": np.array(c, dtype=np.float64)}
        self._gradient = {k: np.zeros_like(v) for k, v in self._parameters.items()}
        self.seen = []

    def zero_grad(self):
        for g in self._gradient.values():
            g[...] = 0

    def forward(self, X):
        return X * self._parameters["a"] + self._parameters["c"]

    def __call__(self, X):  # for a framework whose modules are called: self.net(X)
        return self.forward(X)

    def update_parameters(self, gradient_step=1e-3, **named):
        step = step_size(gradient_step, named)
        for k, p in self._parameters.items():
            p -= step * self._gradient[k]

    def backward_update_gradient(self, input, delta):
        self.seen.append(np.array(input[:, 0], copy=True))
        self._gradient["a"] += (input * delta).sum(axis=0, keepdims=True)
        self._gradient["c"] += delta.sum(axis=0, keepdims=True)

    def backward_delta(self, input, delta):
        return delta * self._parameters["a"]

    def backward(self, input, delta):  # for an Optim that calls net.backward
        self.backward_update_gradient(input, delta)
        return self.backward_delta(input, delta)

    def batches(self):
        """The sample ids (first input column) of each back-propagated batch, in order."""
        return [copy_data(s) for s in self.seen]


class ProbeDuplicate:
    """(batch, d) -> (batch, 2d): [X, 2X]; no parameters."""

    def __init__(self):
        self._parameters = None
        self._gradient = None

    def zero_grad(self):
        pass

    def forward(self, X):
        return np.concatenate([X, 2 * X], axis=1)

    def __call__(self, X):
        return self.forward(X)

    def update_parameters(self, gradient_step=1e-3, **named):
        pass

    def backward_update_gradient(self, input, delta):
        pass

    def backward_delta(self, input, delta):
        d = input.shape[1]
        return delta[:, :d] + 2 * delta[:, d:]

    def backward(self, input, delta):
        return self.backward_delta(input, delta)


class ProbeLoss:
    """A linear loss of the grader's own: forward sum_j y_j yhat_j per sample, backward y."""

    def forward(self, y, yhat):
        return (y * yhat).sum(axis=1)

    def __call__(self, y, yhat):  # for an Optim that calls self.loss(y, yhat)
        return self.forward(y, yhat)

    def backward(self, y, yhat):
        return np.array(y, dtype=np.float64, copy=True)
