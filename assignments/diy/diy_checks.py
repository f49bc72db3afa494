"""Scenarios shared by the public and hidden checks of DIY (the NumPy neural-network framework).

How a module is checked, whatever the student's layout of its parameters:

* **Finite differences, computed here.** For L = sum(forward(x) * delta) with a fixed random
  ``delta``, the student process runs the student's ``forward`` with one entry of ``x`` (or of
  one of the student's own ``_parameters`` arrays, in whatever layout they are) moved by +h and
  -h, and sends back the raw outputs (one request for all of them). The judge takes
  (L+ - L-) / 2h — as sum((out+ - out-) * delta) / 2h, so that unchanged outputs give exactly
  0 — and compares it with what ``backward_delta`` / ``backward_update_gradient`` returned:
  CS231n relative error max |a - n| / max(1e-8, |a| + |n|), float64, h = 1e-5
  (``grader.checks.FD_STEP``). Right gradients give at most 3e-8 here, the wrong ones of the
  corpus 0.3 or more; the threshold is 1e-5 (``grader.checks.FD_THRESHOLD``). Inputs stay away
  from kinks: ReLU inputs have |x| >= 0.1, max-pool inputs are distinct values 0.01 apart, so
  no ±h move changes which side of the kink or which window entry is the max. A few of the
  batched outputs are recomputed by calling the student's ``forward`` directly (the batching
  helper runs in the student process, where a submission could replace it).
* **Forward values** are compared with torch's operators (float64) applied to the student's
  own parameters, read back and put in the canonical layout by their shapes: every dimension
  of the checked modules is different, so the axis order (``W`` (in, out) or (out, in), a
  convolution kernel (k, c_in, c_out) or torch's (c_out, c_in, k), merged axes) is found from
  the shape alone, and any layout that reproduces the output is accepted.
* **Sequentiel, Optim and SGD** are checked with modules and a loss of the grader's own
  (``grader.recipes.numpy_modules.Probe*``), so a bug in the student's Linear costs points in
  the checks of Linear only; the trainings (MLP on USPS, a small Conv1D network, an
  autoencoder) use the student's modules throughout.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F

from grader.checks import (FD_STEP, FD_THRESHOLD, check_close, check_finite,
                           check_number, linear_credit, relative_error)
from grader.failures import CheckFailure, NotImplementedYet, StudentError
from grader.wire import describe_value

RECIPES = "grader.recipes.numpy_modules"
MISSING = "<missing>"
H = FD_STEP
THRESHOLD = FD_THRESHOLD
MAX_ENTRIES = 160      # at most this many entries per array are perturbed (chosen at random)
FORWARD_RTOL, FORWARD_ATOL = 1e-6, 1e-9


def recipe(student, name):
    return student.lib(f"{RECIPES}.{name}")


def conv1d(student, k_size, chan_in, chan_out, stride=1):
    """The student's Conv1D, arguments passed by position (a student may rename them)."""
    return student.Conv1D(k_size, chan_in, chan_out, stride)


def conv2d(student, k_h, k_w, chan_in, chan_out, stride_h=1, stride_w=1):
    """The student's Conv2D, arguments passed by position."""
    return student.Conv2D(k_h, k_w, chan_in, chan_out, stride_h, stride_w)


def call(what: str, function, *args, **kwargs):
    """Call into the student process. An exception in the student's code fails the check with a
    message naming ``what`` was being done (not a grader helper); a not-implemented stub keeps
    its own short message."""
    try:
        return function(*args, **kwargs)
    except NotImplementedYet:
        raise
    except StudentError as e:
        text = f"{what} raised {e.type_name}" + (f": {e.message}" if e.message else "")
        if e.where:
            text += "\n" + "\n".join(f"  {w}" for w in e.where)
        raise CheckFailure(text) from None


# ---------------------------------------------------------------------------------- inputs


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def distinct(*shape, seed=0):
    """Values 0.01 apart in random order, centred: no ties, no max changes within ±h."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) - n / 2) * 0.01


def away_from_zero(*shape, seed=0):
    """Random values with 0.1 <= |x| <= 2, far from ReLU's kink."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def one_hot(labels, n_classes):
    return np.eye(n_classes)[np.asarray(labels)]


def t(a):
    return torch.from_numpy(np.ascontiguousarray(np.asarray(a, dtype=np.float64)))


# ------------------------------------------------------------------------ data from the child


def as_array(value, what: str) -> np.ndarray:
    """A float array from what the student returned, or a failure saying what came instead."""
    if isinstance(value, torch.Tensor):
        value = value.numpy()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
        kind = type(value).__name__ if value is not None else "None (no return statement?)"
        raise CheckFailure(f"{what}: expected a NumPy array, got {kind}")
    return value


def check_array(value, shape, what: str) -> np.ndarray:
    a = as_array(value, what)
    if tuple(a.shape) != tuple(shape):
        raise CheckFailure(f"{what}: expected shape {list(shape)}, got {list(a.shape)}")
    return a


def entries(params, what: str) -> list[tuple]:
    """(key, array) of a student's ``_parameters`` or ``_gradient`` value."""
    if isinstance(params, str) and params == MISSING:
        raise CheckFailure(f"{what} does not exist: set it in __init__ (None for a module "
                           "without parameters)")
    if params is None:
        return []
    if isinstance(params, np.ndarray):
        return [(None, params)]
    if isinstance(params, dict):
        out = list(params.items())
    elif isinstance(params, list):
        out = list(enumerate(params))
    else:
        raise CheckFailure(f"{what} should be an array, a dict name -> array or None; got "
                           f"{type(params).__name__}")
    for key, value in out:
        if not isinstance(value, np.ndarray):
            raise CheckFailure(f"{what}[{key!r}] should be a NumPy array, got "
                               f"{type(value).__name__}")
    return out


def label(key) -> str:
    return "" if key is None else f"[{key!r}]"


def describe_layout(params) -> str:
    items = entries(params, "_parameters")
    if not items:
        return "no parameters"
    return ", ".join(f"{label(k) or 'array'} {list(v.shape)}" for k, v in items)


def gradient_matches_parameters(params, grads, what: str) -> list[tuple]:
    """``_gradient`` has the same keys and shapes as ``_parameters``; returns the pairs."""
    p_items = entries(params, f"{what}._parameters")
    g_items = entries(grads, f"{what}._gradient")
    p_keys, g_keys = [k for k, _ in p_items], [k for k, _ in g_items]
    if not p_items:
        raise CheckFailure(f"{what}._parameters is None: this module has parameters to learn")
    if p_keys != g_keys and sorted(map(str, p_keys)) != sorted(map(str, g_keys)):
        raise CheckFailure(f"{what}._gradient should have the keys of _parameters: "
                           f"{p_keys} vs {g_keys}")
    g = dict(g_items)
    pairs = []
    for key, p in p_items:
        if tuple(g[key].shape) != tuple(p.shape):
            raise CheckFailure(f"{what}._gradient{label(key)} has shape {list(g[key].shape)}, "
                               f"its parameter {list(p.shape)}: they must match")
        pairs.append((key, p, g[key]))
    return pairs


def float64_note(*arrays) -> str:
    kinds = {a.dtype.name for a in arrays if isinstance(a, np.ndarray) and a.dtype != np.float64}
    return (f" (note: arrays of dtype {', '.join(sorted(kinds))}: keep everything float64 — "
            "finite differences need the precision)") if kinds else ""


# ------------------------------------------------------------------- finite differences


def pick(shape, rng, limit=MAX_ENTRIES) -> list[tuple]:
    """Every index of an array of ``shape``, or ``limit`` of them drawn at random."""
    size = int(np.prod(shape))
    flat = np.arange(size) if size <= limit else np.sort(rng.choice(size, limit, replace=False))
    return [tuple(int(i) for i in np.unravel_index(f, shape)) for f in flat]


def numeric(student, module, x, delta, targets, owners, what: str) -> list[np.ndarray]:
    """Central differences of L = sum(forward * delta), from the student's raw forwards.

    ``targets``: [(owner, key, shape, indices)]; owner -1 is the input. Returns one array of
    numerical derivatives per target, over its indices.
    """
    perturbations = [[owner, key, list(i)] for owner, key, _, idx in targets for i in idx]
    answer = call(f"{what}: forward(x) with one entry of x or of _parameters moved by ±{H:g}",
                  recipe(student, "probe_outputs"), module, x, perturbations, H, list(owners))
    plus, minus = answer["plus"], answer["minus"]
    if not (isinstance(plus, list) and isinstance(minus, list)
            and len(plus) == len(minus) == len(perturbations)):
        raise CheckFailure(f"{what}: the forward passes for finite differences did not come back")
    spot_check(module, x, targets, plus, minus, what)
    values = []
    for p, m in zip(plus, minus):
        p = check_array(p, delta.shape, f"{what}: forward output")
        m = check_array(m, delta.shape, f"{what}: forward output")
        values.append(float(np.sum((p.astype(np.float64) - m.astype(np.float64)) * delta)) / (2 * H))
    out, start = [], 0
    for _, _, _, idx in targets:
        out.append(np.array(values[start:start + len(idx)]))
        start += len(idx)
    return out


def spot_check(module, x, targets, plus, minus, what: str, count: int = 2) -> None:
    """A few of the outputs the batched helper reported, recomputed by calling the student's
    forward directly on the perturbed input (data chosen here, after the reply): the batched
    outputs must be those of the student's own forward, not numbers made up to match."""
    owner, _, _, idx = targets[0]
    if owner != -1 or not idx:
        return
    rng = np.random.default_rng(len(idx))
    for k in rng.choice(len(idx), min(count, len(idx)), replace=False):
        for sign, reported in ((1, plus[k]), (-1, minus[k])):
            moved = np.array(x, dtype=np.float64, copy=True)
            moved[idx[k]] = x[idx[k]] + sign * H
            direct = as_array(call(f"{what}.forward(x)", module.forward, moved), f"{what}.forward(x)")
            reported = as_array(reported, f"{what}.forward(x)")
            if direct.shape != reported.shape or not np.allclose(direct, reported, rtol=1e-10,
                                                                 atol=1e-12):
                raise CheckFailure(f"{what}: the outputs sent back for the finite differences are "
                                   "not those of forward(x) called directly on the same input "
                                   f"(entry {idx[k]} of x moved by {sign * H:+g}): forward must "
                                   "depend on its input only (and on the parameters)")


def compare_gradient(analytic, numerical, what: str, hint: str = "", indices=None) -> None:
    """CS231n relative error of the student's gradient entries (at ``indices`` of the array)
    against the numerical ones; fails above THRESHOLD saying where and by how much."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numerical, dtype=np.float64)
    error = relative_error(a, n)
    if error <= THRESHOLD:  # NaN fails
        return
    each = np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))
    each = np.where(np.isnan(each), np.inf, each)
    worst = int(np.argmax(np.where(each > THRESHOLD, np.abs(a - n), -1)))
    where = tuple(indices[worst]) if indices is not None else (worst,)
    bad = int(np.sum(each > THRESHOLD))
    text = (f"{what}: relative error {error:.3g} against central finite differences (allowed "
            f"{THRESHOLD:g}; {bad} of {len(a)} entries off); worst at index {where}: "
            f"got {a[worst]:.6g}, numerical {n[worst]:.6g}")
    if np.all(n == 0) and np.any(a != 0):
        text += ("\nMoving these entries does not change forward's output at all: does forward "
                 "read the arrays in _parameters (not copies made in __init__)?")
    raise CheckFailure(text + hint)


def check_backward_delta(student, module, x, out_shape, what: str, seed: int = 1,
                         hint: str = "") -> None:
    """backward_delta(x, delta) against finite differences of forward, w.r.t. the input."""
    delta = randn(*out_shape, seed=seed)
    result = call(f"{what}: forward(x) then backward_delta(x, delta) for x of shape "
                  f"{list(x.shape)}", recipe(student, "analytic"), module, x, delta, "delta")
    check_array(result["out"], out_shape, f"{what}.forward(x) for x of shape {list(x.shape)}")
    dx = check_array(result["dx"], x.shape, f"{what}.backward_delta(x, delta) (shaped like x)")
    idx = pick(x.shape, np.random.default_rng(seed))
    (num,) = numeric(student, module, x, delta, [(-1, None, x.shape, idx)], [], what)
    got = np.array([dx[i] for i in idx], dtype=np.float64)
    compare_gradient(got, num, f"{what}.backward_delta vs finite differences of forward "
                     f"(x of shape {list(x.shape)})" + float64_note(dx), hint, idx)


def check_backward_update_gradient(student, module, x, out_shape, what: str, seed: int = 2,
                                   hint: str = "") -> None:
    """backward_update_gradient(x, delta) (after zero_grad) against finite differences of
    forward w.r.t. each of the student's own parameter arrays."""
    delta = randn(*out_shape, seed=seed)
    result = call(f"{what}: forward(x), zero_grad() then backward_update_gradient(x, delta) for "
                  f"x of shape {list(x.shape)}", recipe(student, "analytic"), module, x, delta,
                  "update")
    check_array(result["out"], out_shape, f"{what}.forward(x) for x of shape {list(x.shape)}")
    st = recipe(student, "state")(module)
    pairs = gradient_matches_parameters(st["parameters"], result["gradients"][0], what)
    rng = np.random.default_rng(seed)
    targets = [(0, key, p.shape, pick(p.shape, rng)) for key, p, _ in pairs]
    nums = numeric(student, module, x, delta, targets, [module], what)
    for (key, p, g), (_, _, _, idx), num in zip(pairs, targets, nums):
        got = np.array([g[i] for i in idx], dtype=np.float64)
        compare_gradient(got, num, f"{what}._gradient{label(key) or ' (array)'} of shape "
                         f"{list(p.shape)} after zero_grad + backward_update_gradient, vs finite "
                         f"differences" + float64_note(p, g), hint, idx)


def check_loss_backward(student, loss, y, yhat, what: str) -> None:
    """loss.backward(y, yhat) against finite differences of loss.forward(y, yhat).sum()."""
    grad = check_array(call(f"{what}.backward(y, yhat)", loss.backward, y, yhat), yhat.shape,
                       f"{what}.backward(y, yhat) (shaped like yhat)")
    idx = pick(yhat.shape, np.random.default_rng(0))
    answer = call(f"{what}.forward(y, yhat) with one entry of yhat moved by ±{H:g}",
                  recipe(student, "loss_probe"), loss, y, yhat, [list(i) for i in idx], H)
    num = []
    for p, m in zip(answer["plus"], answer["minus"]):
        p = check_array(p, (len(y),), f"{what}.forward(y, yhat) (one loss per sample)")
        m = check_array(m, (len(y),), f"{what}.forward(y, yhat) (one loss per sample)")
        num.append(float(np.sum(p.astype(np.float64) - m.astype(np.float64))) / (2 * H))
    got = np.array([grad[i] for i in idx], dtype=np.float64)
    compare_gradient(got, np.array(num), f"{what}.backward vs finite differences of "
                     f"{what}.forward(y, yhat).sum() (batch of {len(y)})" + float64_note(grad),
                     indices=idx)


# ------------------------------------------------------------------------- losses


def loss_inputs(name: str, batch: int = 5, width: int = 4, seed: int = 3):
    """(y, yhat) of the kind each loss expects, in its smooth region."""
    rng = np.random.default_rng(seed)
    if name == "MSELoss":
        return rng.standard_normal((batch, width)), rng.standard_normal((batch, width))
    if name == "BCELoss":
        return (rng.integers(0, 2, (batch, width)).astype(float),
                rng.uniform(0.05, 0.95, (batch, width)))
    y = one_hot(rng.integers(0, width, batch), width)
    z = rng.standard_normal((batch, width))
    if name == "CELoss":
        e = np.exp(z)
        return y, e / e.sum(axis=1, keepdims=True)
    return y, 1.5 * z


def expected_loss(name: str, y, yhat) -> np.ndarray:
    if name == "MSELoss":
        return ((y - yhat) ** 2).sum(axis=1)
    if name == "BCELoss":
        return -(y * np.log(yhat) + (1 - y) * np.log(1 - yhat)).sum(axis=1)
    if name == "CELoss":
        return -(y * np.log(yhat)).sum(axis=1)
    return F.cross_entropy(t(yhat), t(y.argmax(axis=1)).long(), reduction="none").numpy()


LOSS_FORMULAS = {
    "MSELoss": "||y - yhat||² per sample, summed over the features (no 1/2, no mean)",
    "BCELoss": "-sum_j [y_j log yhat_j + (1 - y_j) log(1 - yhat_j)] per sample",
    "CELoss": "-sum_j y_j log yhat_j per sample",
    "CELogSoftmax": "-sum_j y_j log softmax(yhat)_j per sample",
}


def loss_forward_scenario(student, name: str, batch=5, width=4, seed=3) -> None:
    y, yhat = loss_inputs(name, batch, width, seed)
    value = call(f"{name}().forward(y, yhat)", getattr(student, name)().forward, y, yhat)
    got = check_array(value, (batch,), f"{name}().forward(y, yhat) for y, yhat of shape "
                      f"[{batch}, {width}] (one loss per sample)")
    check_close(got, expected_loss(name, y, yhat), f"{name}().forward: {LOSS_FORMULAS[name]}",
                rtol=1e-6, atol=1e-9)


def loss_backward_scenario(student, name: str, batch=5, width=4, seed=3) -> None:
    y, yhat = loss_inputs(name, batch, width, seed)
    check_loss_backward(student, getattr(student, name)(), y, yhat, f"{name}()")


# ----------------------------------------------------------------- parameter layouts


def _merges(shape, target) -> bool:
    """``target`` is ``shape`` with some runs of consecutive axes merged (same C order)."""
    if int(np.prod(shape)) != int(np.prod(target)):
        return False
    if not shape:
        return True
    cum = set(np.cumprod(shape).tolist())
    return all(c in cum for c in np.cumprod(target).tolist()) and len(target) <= len(shape)


def _no_ones(shape) -> tuple:
    return tuple(int(d) for d in shape if d != 1)


def layouts(array: np.ndarray, canonical: tuple) -> list[np.ndarray]:
    """Every way of reading ``array`` as an array of shape ``canonical``: an axis order, maybe
    with consecutive axes merged. Distinct dimensions make it unique in the checks."""
    found = []
    for perm in itertools.permutations(range(len(canonical))):
        permuted = tuple(canonical[i] for i in perm)
        if _merges(_no_ones(permuted), _no_ones(array.shape)):  # (1, n) reads as (n,)
            candidate = array.reshape(permuted).transpose(np.argsort(perm))
            if not any(np.array_equal(candidate, f) for f in found):
                found.append(candidate)
    return found


def canonical_parameters(params, spec: dict, what: str) -> list[dict]:
    """The student's parameters read in the canonical layout ``spec`` (name -> shape): a list
    of candidate dicts (several when a layout is ambiguous)."""
    items = entries(params, f"{what}._parameters")
    by_size: dict[int, list] = {}
    for key, value in items:
        by_size.setdefault(int(value.size), []).append((key, value))
    expected = ", ".join(f"{name} {list(shape)}" for name, shape in spec.items())
    options = []
    for name, shape in spec.items():
        matching = by_size.get(int(np.prod(shape)), [])
        candidates = [c for _, v in matching for c in layouts(v.astype(np.float64), tuple(shape))]
        if len(items) != len(spec) or not candidates:
            raise CheckFailure(
                f"{what}: cannot match its _parameters ({describe_layout(params)}) with "
                f"{expected} (in any axis order) — one array each")
        options.append([(name, c) for c in candidates])
    return [dict(combo) for combo in itertools.product(*options)]


def forward_matches(student_out, candidates: list[dict], compute, what: str) -> None:
    """The output equals ``compute(params)`` for one reading of the parameters."""
    failures = []
    for params in candidates:
        try:
            check_close(student_out, compute(params), what, rtol=FORWARD_RTOL, atol=FORWARD_ATOL,
                        expected_label="expected")
            return
        except CheckFailure as e:
            failures.append(str(e))
    raise CheckFailure(failures[0])


def linear_out(p, x):
    out = x @ p["W"]
    return out + p["b"] if "b" in p else out


def conv1d_out(p, x, stride):
    ref = F.conv1d(t(x).permute(0, 2, 1), t(p["W"]).permute(2, 1, 0), t(p["b"]), stride=stride)
    return ref.permute(0, 2, 1).numpy()


def conv2d_out(p, x, stride_h, stride_w):
    ref = F.conv2d(t(x).permute(0, 3, 1, 2), t(p["W"]).permute(3, 2, 0, 1), t(p["b"]),
                   stride=(stride_h, stride_w))
    return ref.permute(0, 2, 3, 1).numpy()


def module_forward_scenario(student, module, x, out_shape, spec, compute, what) -> None:
    """forward(x) has the right shape and equals the operator applied to the module's own
    parameters (read back from the student process, any layout)."""
    out = check_array(call(f"{what}.forward(x)", module.forward, x), out_shape,
                      f"{what}.forward(x) for x of shape {list(x.shape)}")
    params = recipe(student, "state")(module)["parameters"]
    forward_matches(out, canonical_parameters(params, spec, what), lambda p: compute(p, x),
                    f"{what}.forward(x) vs the operator applied to its own parameters")


# -------------------------------------------------------------------- bookkeeping


def accumulation_scenario(student, module, x, out_shape, what: str) -> None:
    delta = randn(*out_shape, seed=4)
    res = call(f"{what}: forward(x), zero_grad(), backward_update_gradient(x, delta) twice, "
               "zero_grad()", recipe(student, "accumulation"), module, x, delta)
    st = recipe(student, "state")(module)
    once = {k: g for k, _, g in gradient_matches_parameters(st["parameters"], res["once"], what)}
    twice = dict(entries(res["twice"], f"{what}._gradient"))
    reset = dict(entries(res["reset"], f"{what}._gradient"))
    for key, g1 in once.items():
        if not np.any(g1 != 0):
            raise CheckFailure(f"{what}._gradient{label(key)} is still all zeros after "
                               "backward_update_gradient")
        g2 = twice[key]
        if np.allclose(g2, g1, rtol=1e-12, atol=0) and not np.allclose(g2, 2 * g1):
            raise CheckFailure(f"{what}.backward_update_gradient replaced _gradient{label(key)} "
                               "instead of adding to it: two calls with the same (x, delta) must "
                               "give twice the gradient of one (use +=)")
        check_close(g2, 2 * g1, f"{what}._gradient{label(key)} after two backward_update_gradient "
                    "calls (twice that of one: gradients accumulate)", rtol=1e-10, atol=1e-12)
        if np.any(reset[key] != 0):
            raise CheckFailure(f"zero_grad() left {int(np.sum(reset[key] != 0))} non-zero values "
                               f"in {what}._gradient{label(key)}")


def update_scenario(student, module, x, out_shape, steps, what: str) -> None:
    delta = randn(*out_shape, seed=5)
    res = call(f"{what}: forward(x), zero_grad(), backward_update_gradient(x, delta), then "
               "update_parameters(step)", recipe(student, "update"), module, x, delta, list(steps))
    pairs = gradient_matches_parameters(res["before"], res["gradient"], what)
    total = 0.0
    for step, after in zip(steps, res["after"]):
        total += 1e-3 if step is None else step
        done = "update_parameters()" if step is None else f"update_parameters({step:g})"
        now = dict(entries(after, f"{what}._parameters"))
        for key, before, grad in pairs:
            if key not in now:
                raise CheckFailure(f"{what}.{done} removed _parameters{label(key)}")
            expected = before - total * grad
            if np.allclose(now[key], before + total * grad, rtol=1e-10, atol=1e-12) and np.any(grad):
                raise CheckFailure(f"{what}.{done} moved _parameters{label(key)} along the "
                                   "gradient: gradient descent subtracts it (parameter -= "
                                   "step * gradient)")
            check_close(now[key], expected, f"{what}._parameters{label(key)} after {done} "
                        f"(expected parameter - {total:g} · gradient"
                        + (", the default step being 1e-3" if step is None else "") + ")",
                        rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ Sequentiel probes


def probe_scale(student, d, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 1.5, (1, d)) * rng.choice([-1.0, 1.0], (1, d))
    c = rng.standard_normal((1, d))
    return recipe(student, "ProbeScale")(a, c), a, c


def probe_chain(student, seed=0, d=3):
    """Three modules of the grader's own: scale (d) -> duplicate (d -> 2d) -> scale (2d)."""
    p1, a1, c1 = probe_scale(student, d, seed)
    dup = recipe(student, "ProbeDuplicate")()
    p2, a2, c2 = probe_scale(student, 2 * d, seed + 1)

    def forward(x):
        h = x * a1 + c1
        return np.concatenate([h, 2 * h], axis=1) * a2 + c2

    return [p1, dup, p2], [p1, p2], forward


CHAIN = ("Sequentiel(scale, duplicate, scale) (modules of the grader's own: an element-wise "
         "affine map, [X, 2X], another affine map)")


def sequentiel_forward_scenario(student, seed=0) -> None:
    modules, _, forward = probe_chain(student, seed)
    net = student.Sequentiel(*modules)
    x = randn(5, 3, seed=seed)
    out = check_array(call(f"{CHAIN}.forward(x)", net.forward, x), (5, 6),
                      f"{CHAIN}.forward(x) for x of shape [5, 3]")
    check_close(out, forward(x), f"{CHAIN}.forward: the modules applied in order", rtol=1e-12,
                atol=1e-12)


def sequentiel_backward_scenario(student, net, owners, x, out_shape, what, seed=1) -> None:
    """backward(x, delta) returns dL/dx and fills every module's gradient (finite differences)."""
    delta = randn(*out_shape, seed=seed)
    result = call(f"{what}: forward(x), zero_grad() then backward(x, delta)",
                  recipe(student, "analytic"), net, x, delta, "backward", owners)
    check_array(result["out"], out_shape, f"{what}.forward(x)")
    dx = check_array(result["dx"], x.shape, f"{what}.backward(x, delta) (returns dL/dx, "
                     "shaped like x)")
    rng = np.random.default_rng(seed)
    idx = pick(x.shape, rng)
    targets = [(-1, None, x.shape, idx)]
    grads = []
    for position, owner in enumerate(owners):
        st = recipe(student, "state")(owner)
        for key, p, g in gradient_matches_parameters(
                st["parameters"], result["gradients"][position], f"module {position}"):
            targets.append((position, key, p.shape, pick(p.shape, rng)))
            grads.append((position, key, g))
    nums = numeric(student, net, x, delta, targets, owners, what)
    compare_gradient(np.array([dx[i] for i in idx]), nums[0],
                     f"{what}.backward(x, delta): dL/dx vs finite differences", indices=idx)
    for (position, key, g), (_, _, _, idx_p), num in zip(grads, targets[1:], nums[1:]):
        got = np.array([g[i] for i in idx_p])
        if not np.any(got) and np.any(num):
            raise CheckFailure(f"{what}.backward(x, delta) left the gradient of parameter "
                               f"{key!r} of the module with parameters #{position + 1} at zero: "
                               "call backward_update_gradient on every module")
        compare_gradient(got, num, f"{what}.backward(x, delta): gradient of parameter {key!r} "
                         f"of the module with parameters #{position + 1}, vs finite differences",
                         indices=idx_p)


def sequentiel_bookkeeping_scenario(student, seed=0) -> None:
    """update_parameters and zero_grad of a Sequentiel reach all its modules."""
    modules, owners, _ = probe_chain(student, seed)
    net = student.Sequentiel(*modules)
    # Gradients set here, module by module, without the Sequentiel's backward.
    for owner, d in zip(owners, (3, 6)):
        owner.backward_update_gradient(randn(4, d, seed=seed + d), randn(4, d, seed=seed + 10 + d))
    before = recipe(student, "states")(owners)
    call(f"{CHAIN}.update_parameters(0.5)", net.update_parameters, 0.5)
    after = recipe(student, "states")(owners)
    for position, (b, a) in enumerate(zip(before, after)):
        for key in ("a", "c"):
            expected = b["parameters"][key] - 0.5 * b["gradient"][key]
            if np.array_equal(a["parameters"][key], b["parameters"][key]):
                raise CheckFailure(f"{CHAIN}.update_parameters(0.5) did not change the parameters "
                                   f"of its module #{[1, 3][position]}: call update_parameters on "
                                   "every module")
            check_close(a["parameters"][key], expected, f"{CHAIN}.update_parameters(0.5): "
                        f"parameter {key!r} of module #{[1, 3][position]} (parameter - 0.5 · "
                        "gradient; the step must be passed on)", rtol=1e-12, atol=1e-12)
    call(f"{CHAIN}.zero_grad()", net.zero_grad)
    for position, s in enumerate(recipe(student, "states")(owners)):
        for key in ("a", "c"):
            if np.any(s["gradient"][key] != 0):
                raise CheckFailure(f"{CHAIN}.zero_grad() did not reset the gradient of its module "
                                   f"#{[1, 3][position]}: call zero_grad on every module")


# ---------------------------------------------------------------------- Optim / SGD


def replay(a, c, X, Y, batches, eps, mean=True, zero=True):
    """Gradient descent on the probe (X * a + c, linear loss) over the given batches, here:
    the loss of each batch (before its update) and the final parameters."""
    a, c = a.copy(), c.copy()
    ga, gc = np.zeros_like(a), np.zeros_like(c)
    losses = []
    for ids in batches:
        x, y = X[ids], Y[ids]
        losses.append(float(np.mean(np.sum(y * (x * a + c), axis=1))))
        delta = y / len(ids) if mean else y
        if zero:
            ga, gc = np.zeros_like(a), np.zeros_like(c)
        ga = ga + (x * delta).sum(axis=0, keepdims=True)
        gc = gc + delta.sum(axis=0, keepdims=True)
        a, c = a - eps * ga, c - eps * gc
    return losses, a, c


def optim_scenario(student, seed=0, eps=0.1) -> None:
    """Two Optim.step calls on batches of 6 and 4: mean loss returned, mean-gradient update,
    gradients reset between steps."""
    net, a, c = probe_scale(student, 3, seed)
    loss = recipe(student, "ProbeLoss")()
    X, Y = randn(10, 3, seed=seed + 1), randn(10, 3, seed=seed + 2)
    batches = [np.arange(6), np.arange(6, 10)]
    optim = student.Optim(net, loss, eps)
    returned = [call(f"Optim(...).step(x, y) on a batch of {len(ids)}", optim.step, X[ids], Y[ids])
                for ids in batches]
    final = recipe(student, "state")(net)["parameters"]
    losses, ea, ec = replay(a, c, X, Y, batches, eps)
    what = (f"Optim(net, loss, eps={eps:g}).step on batches of 6 then 4 (net: an element-wise "
            "affine module of the grader's own, loss: sum_j y_j yhat_j)")
    for k, (value, expected) in enumerate(zip(returned, losses)):
        check_number(value, expected, f"{what}: the value returned by step #{k + 1} (the batch's "
                     "mean loss, before the update)", rtol=1e-9, atol=1e-12)
    for name, got, expected in (("a", final["a"], ea), ("c", final["c"], ec)):
        if np.allclose(got, expected, rtol=1e-9, atol=1e-12):
            continue
        diagnosis = ""
        for mean, zero, text in ((False, True, "the gradient of the summed loss was followed: "
                                  "divide loss.backward(...) by the batch size (mean loss)"),
                                 (True, False, "the gradients of the first step were still there "
                                  "at the second: call net.zero_grad() at the start of step"),
                                 (False, False, "no zero_grad and no division by the batch size")):
            _, xa, xc = replay(a, c, X, Y, batches, eps, mean=mean, zero=zero)
            if np.allclose(got, xa if name == "a" else xc, rtol=1e-9, atol=1e-12):
                diagnosis = f" — {text}"
                break
        if np.allclose(got, a if name == "a" else c):
            diagnosis = " — the parameters did not move: call net.update_parameters(eps)"
        check_close(got, expected, f"{what}: parameter {name!r} after the two steps{diagnosis}",
                    rtol=1e-9, atol=1e-12)


def sgd_probe_run(student, n=50, batch_size=16, epochs=3, eps=0.01, seed=0, probe_seed=0):
    """The student's SGD on the probe module and loss; the ids of every batch it used."""
    net, a, c = probe_scale(student, 2, probe_seed)
    rng = np.random.default_rng(100 + probe_seed)
    X = np.stack([np.arange(n, dtype=np.float64), rng.standard_normal(n)], axis=1)
    Y = rng.standard_normal((n, 2))
    history = student.SGD(net, recipe(student, "ProbeLoss")(), X, Y, batch_size, epochs, eps, seed)
    seen = net.batches()
    batches = []
    for k, ids in enumerate(seen):
        ids = as_array(ids, "batch ids")
        if not np.all(np.isin(ids, np.arange(n))):
            raise CheckFailure("SGD passed the network rows that are not rows of X")
        batches.append(ids.astype(np.int64))
    return history, batches, (a, c, X, Y)


def split_epochs(batches, n, epochs, batch_size, what):
    """Group the batches by epoch, checking sizes and that each epoch sees every sample once."""
    expected_steps = math.ceil(n / batch_size)
    sizes = [len(b) for b in batches]
    if len(batches) != expected_steps * epochs:
        if len(batches) == epochs and all(s == n for s in sizes):
            raise CheckFailure(f"{what}: one update per epoch on all {n} samples — batch_size is "
                               f"ignored (expected {expected_steps} updates per epoch on batches "
                               f"of {batch_size})")
        raise CheckFailure(f"{what}: {len(batches)} updates with batch sizes {sizes[:12]}"
                           f"{'...' if len(sizes) > 12 else ''}; expected {expected_steps} per epoch "
                           f"({epochs} epochs, batches of {batch_size}, the last one smaller)")
    per_epoch = [batches[e * expected_steps:(e + 1) * expected_steps] for e in range(epochs)]
    want = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    for e, epoch in enumerate(per_epoch):
        got = [len(b) for b in epoch]
        if got != want:
            raise CheckFailure(f"{what}: epoch {e} used batches of sizes {got}, expected {want}")
        ids = np.concatenate(epoch)
        if sorted(ids.tolist()) != list(range(n)):
            missing = sorted(set(range(n)) - set(ids.tolist()))
            raise CheckFailure(f"{what}: epoch {e} did not use every sample exactly once "
                               f"(missing {missing[:10]}{'...' if len(missing) > 10 else ''})")
    return per_epoch


# ------------------------------------------------------------------------- training


def usps_arrays(dataset, n):
    """The first n images as float64 rows (n, 256) and their labels."""
    n = min(n, len(dataset))
    x = dataset.images[:n].reshape(n, -1).numpy().astype(np.float64)
    return x, dataset.labels[:n].numpy()


def mlp_accuracy_scenario(student, settings, usps, score, seed: int) -> None:
    """An MLP of the student's modules trained by the student's SGD; scored here."""
    train, test = usps
    x, labels = usps_arrays(train, int(settings["mlp_train_size"]))
    x_test, y_test = usps_arrays(test, int(settings["mlp_test_size"]))
    student.process.reseed(seed)
    hidden = int(settings["mlp_hidden"])
    net = student.Sequentiel(student.Linear(x.shape[1], hidden), student.TanH(),
                             student.Linear(hidden, 10))
    epochs = int(settings["mlp_epochs"])
    history = student.SGD(net, student.CELogSoftmax(), x, one_hot(labels, 10),
                          int(settings["mlp_batch_size"]), epochs, float(settings["mlp_eps"]), seed)
    curve = training_curve(history, epochs, "SGD(...)")
    logits = check_array(net.forward(x_test), (len(x_test), 10),
                         f"the trained network's forward on {len(x_test)} test images")
    check_finite(logits, "the trained network's outputs")
    predictions = torch.from_numpy(logits.argmax(axis=1))
    test_labels = torch.from_numpy(y_test)
    score.award_accuracy(
        predictions, test_labels, what=f"held-out {test.name} images",
        context=(f"after {epochs} epochs of SGD on Linear({x.shape[1]}, {hidden}) → TanH → "
                 f"Linear({hidden}, 10) with CELogSoftmax; training loss {curve[0]:.3f} → "
                 f"{curve[-1]:.3f}"),
        low=float(settings["mlp_accuracy_low"]), high=float(settings["mlp_accuracy_high"]),
        history={"train_loss": curve})


def training_curve(history, epochs, what) -> list[float]:
    if not isinstance(history, (list, tuple)) or len(history) != epochs:
        raise CheckFailure(f"{what} should return one mean loss per epoch ({epochs} numbers); got "
                           f"{describe_value(history)}")
    values = []
    for v in history:
        if isinstance(v, np.ndarray) and v.size == 1:
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise CheckFailure(f"{what} should return a list of numbers; got {describe_value(history)}")
        values.append(float(v))
    return values


def signals(n, length=32, seed=0):
    """Noisy 1-D signals holding one pattern at a random place: a flat bump (class 0) or an
    oscillation (class 1). Only a detector that slides along the signal finds it."""
    rng = np.random.default_rng(seed)
    patterns = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0]])
    labels = rng.integers(0, 2, n)
    X = 0.3 * rng.standard_normal((n, length, 1))
    for i, (lab, start) in enumerate(zip(labels, rng.integers(0, length - 4, n))):
        X[i, start:start + 4, 0] += patterns[lab]
    return X, labels


def conv1d_accuracy_scenario(student, settings, score, seed: int) -> None:
    """Conv1D(4, 1, 4) → ReLU → MaxPool1D(2, 2) → Flatten → Linear(56, 2), CELogSoftmax."""
    x, labels = signals(int(settings["conv_train_size"]), seed=2 * seed)
    x_test, y_test = signals(int(settings["conv_test_size"]), seed=2 * seed + 1)
    student.process.reseed(seed)
    net = student.Sequentiel(student.Conv1D(4, 1, 4), student.ReLU(), student.MaxPool1D(2, 2),
                             student.Flatten(), student.Linear(56, 2))
    epochs = int(settings["conv_epochs"])
    history = student.SGD(net, student.CELogSoftmax(), x, one_hot(labels, 2),
                          int(settings["conv_batch_size"]), epochs, float(settings["conv_eps"]), seed)
    curve = training_curve(history, epochs, "SGD(...)")
    logits = check_array(net.forward(x_test), (len(x_test), 2),
                         f"the trained network's forward on {len(x_test)} test signals")
    check_finite(logits, "the trained network's outputs")
    score.award_accuracy(
        torch.from_numpy(logits), torch.from_numpy(y_test).to(torch.int64),
        what="held-out signals (a flat bump or an oscillation at a random place)",
        context=(f"after {epochs} epochs of Conv1D(4, 1, 4) → ReLU → MaxPool1D(2, 2) → Flatten → "
                 f"Linear(56, 2); training loss {curve[0]:.3f} → {curve[-1]:.3f}"),
        low=float(settings["conv_accuracy_low"]), high=float(settings["conv_accuracy_high"]),
        history={"train_loss": curve}, n_classes=2)


def bce(x, recon) -> float:
    """Mean over images of the summed binary cross-entropy, computed here (clipped)."""
    p = np.clip(recon, 1e-12, 1 - 1e-12)
    return float(np.mean(-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)))


def autoencoder_scenario(student, settings, usps, score, seed: int) -> None:
    """Linear(256, 64) → TanH → Linear(64, 256) → Sigmoide, BCELoss, trained by SGD on the
    images themselves; the judge measures the reconstruction loss on held-out images."""
    train, test = usps
    x, _ = usps_arrays(train, int(settings["ae_train_size"]))
    x_test, _ = usps_arrays(test, int(settings["ae_test_size"]))
    student.process.reseed(seed)
    code = int(settings["ae_code"])
    net = student.Sequentiel(student.Linear(256, code), student.TanH(),
                             student.Linear(code, 256), student.Sigmoide())
    what = f"the autoencoder's reconstructions of {len(x_test)} test images"
    before = check_array(net.forward(x_test), x_test.shape, what + " (before training)")
    check_finite(before, what + " (before training)")
    epochs = int(settings["ae_epochs"])
    history = student.SGD(net, student.BCELoss(), x, x, int(settings["ae_batch_size"]), epochs,
                          float(settings["ae_eps"]), seed)
    curve = training_curve(history, epochs, "SGD(...)")
    after = check_array(net.forward(x_test), x_test.shape, what + " (after training)")
    check_finite(after, what + " (after training)")
    loss_before, loss_after = bce(x_test, before), bce(x_test, after)
    loss_mean = bce(x_test, np.tile(x.mean(axis=0), (len(x_test), 1)))
    ratio, mean_ratio = loss_after / loss_before, loss_after / loss_mean
    full, none = float(settings["ae_ratio_full"]), float(settings["ae_ratio_none"])
    mean_full, mean_none = float(settings["ae_mean_ratio_full"]), float(settings["ae_mean_ratio_none"])
    credit = min(linear_credit(-ratio, -none, -full), linear_credit(-mean_ratio, -mean_none, -mean_full))
    score.attach("learning_curves", {"train_loss": curve})
    message = (f"reconstruction loss (binary cross-entropy per image, measured here on "
               f"{len(x_test)} held-out images) {loss_before:.1f} before training, "
               f"{loss_after:.1f} after {epochs} epochs: ×{ratio:.3f} (full marks at ×{full:g} or "
               f"less, none at ×{none:g} or more), and ×{mean_ratio:.3f} the loss of the average "
               f"training image as reconstruction, {loss_mean:.1f} (full marks at ×{mean_full:g} "
               f"or less, none at ×{mean_none:g} or more)")
    if credit < 1.0:
        message += f": {credit:.0%} of the points"
    score.partial(credit, message)
