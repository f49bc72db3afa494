"""Child-side helpers for the NumPy "DIY" framework (modules with forward / backward_delta /
backward_update_gradient, ``_parameters`` and ``_gradient``).

Imported *in the student process* (``student.lib("grader.recipes.numpy_modules.probe_outputs")``).
Like every recipe it decides nothing: it runs the student's methods and returns what they
produced, as data (NumPy arrays keep their dtype: float64 stays float64). Finite differences,
relative errors, comparisons and scores are all computed in the judge.

Parameters are reached through the student's own ``_parameters``, whatever its layout: one
array, a dict name -> array (any names, ``W`` stored (in, out) or (out, in)), or a list of
arrays. An entry is named by ``key``: None for a lone array, else the dict key or list index.

The ``Probe*`` classes are modules and a loss of the grader's own, deliberately trivial (an
element-wise affine map, a duplication, a linear loss): checks of ``Sequentiel``, ``Optim``
and ``SGD`` run them inside the student's code, so that a bug in the student's ``Linear`` or
``TanH`` costs points only in the checks of those modules. They reveal nothing of the
practical's modules.
"""

from __future__ import annotations

import numpy as np

MISSING = "<missing>"


# ------------------------------------------------------------------------------ data copies


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


def _entry(params, key):
    """The array of ``params`` named by ``key`` (None: params is the array itself)."""
    return params if key is None else params[key]


def state(module) -> dict:
    """Copies of the module's ``_parameters`` and ``_gradient`` (``MISSING`` when absent)."""
    return {"parameters": copy_data(getattr(module, "_parameters", MISSING)),
            "gradient": copy_data(getattr(module, "_gradient", MISSING))}


def states(modules) -> list[dict]:
    return [state(m) for m in modules]


def set_parameters(module, values: dict) -> None:
    """Write ``values`` (key -> array; key None for a lone array) into the module's own
    parameter arrays, in place (same shape), so that the judge knows their values."""
    params = module._parameters
    for key, value in values.items():
        target = _entry(params, key)
        target[...] = value


# ------------------------------------------------------------------------------ gradients


def analytic(module, x, delta, mode: str = "delta", owners=None) -> dict:
    """What the student's backward pass gives for L = sum(forward(x) * delta).

    ``mode``: "delta": forward(x) then backward_delta(x, delta) -> out, dx;
    "update": forward(x), zero_grad(), backward_update_gradient(x, delta) -> out, gradients;
    "backward" (a Sequentiel): forward(x), zero_grad(), backward(x, delta) -> out, dx, gradients.
    ``owners``: the modules whose ``_gradient`` is returned (default: the module itself).
    """
    owners = [module] if owners is None else list(owners)
    out = copy_data(module.forward(x))
    result = {"out": out}
    if mode == "delta":
        result["dx"] = copy_data(module.backward_delta(x, delta))
        return result
    module.zero_grad()
    if mode == "update":
        module.backward_update_gradient(x, delta)
    elif mode == "backward":
        result["dx"] = copy_data(module.backward(x, delta))
    else:
        raise ValueError(f"unknown mode {mode!r}")
    result["gradients"] = [copy_data(getattr(o, "_gradient", MISSING)) for o in owners]
    return result


def probe_outputs(module, x, perturbations, h: float, owners=()) -> dict:
    """forward(x) with one entry moved by +h, then by -h, for each perturbation.

    A perturbation is ``[owner, key, index]``: owner -1 is the input ``x``, otherwise the
    position in ``owners`` of the module whose ``_parameters`` entry ``key`` is perturbed at
    ``index`` (a list of ints). Every entry is put back exactly after its two forwards.
    Returns {"plus": [outputs], "minus": [outputs]}: the judge takes the differences.
    """
    plus, minus = [], []
    for owner, key, index in perturbations:
        target = x if owner == -1 else _entry(owners[owner]._parameters, key)
        idx = tuple(int(i) for i in index)
        old = target[idx].copy()
        try:
            target[idx] = old + h
            plus.append(copy_data(module.forward(x)))
            target[idx] = old - h
            minus.append(copy_data(module.forward(x)))
        finally:
            target[idx] = old
    return {"plus": plus, "minus": minus}


def loss_probe(loss, y, yhat, perturbations, h: float) -> dict:
    """loss.forward(y, yhat) with yhat[index] moved by +h and -h, for each index."""
    plus, minus = [], []
    for index in perturbations:
        idx = tuple(int(i) for i in index)
        old = yhat[idx].copy()
        try:
            yhat[idx] = old + h
            plus.append(copy_data(loss.forward(y, yhat)))
            yhat[idx] = old - h
            minus.append(copy_data(loss.forward(y, yhat)))
        finally:
            yhat[idx] = old
    return {"plus": plus, "minus": minus}


def accumulation(module, x, delta) -> dict:
    """Gradients after zero_grad + one backward_update_gradient, after a second one, and
    after zero_grad again."""
    module.forward(x)
    module.zero_grad()
    module.backward_update_gradient(x, delta)
    once = copy_data(module._gradient)
    module.backward_update_gradient(x, delta)
    twice = copy_data(module._gradient)
    module.zero_grad()
    return {"once": once, "twice": twice, "reset": copy_data(module._gradient)}


def update(module, x, delta, steps) -> dict:
    """Parameters before and after update_parameters(step) for each of ``steps`` (None: the
    default step), with the gradient of one backward_update_gradient(x, delta)."""
    module.forward(x)
    module.zero_grad()
    module.backward_update_gradient(x, delta)
    result = {"before": copy_data(module._parameters), "gradient": copy_data(module._gradient),
              "after": []}
    for step in steps:
        if step is None:
            module.update_parameters()
        else:
            module.update_parameters(step)
        result["after"].append(copy_data(module._parameters))
    return result


def bookkeeping(module, x, delta) -> dict:
    """A parameter-less module accepts zero_grad, backward_update_gradient, update_parameters."""
    module.zero_grad()
    module.backward_update_gradient(x, delta)
    module.update_parameters(0.1)
    return state(module)


# ------------------------------------------------------------------- the grader's own probes


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

    def update_parameters(self, gradient_step=1e-3):
        for k, p in self._parameters.items():
            p -= gradient_step * self._gradient[k]

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

    def update_parameters(self, gradient_step=1e-3):
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

    def backward(self, y, yhat):
        return np.array(y, dtype=np.float64, copy=True)
