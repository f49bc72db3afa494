"""Checks of NumPy code from the judge: arrays from the student process, parameters stored in
any layout, gradients computed here by autograd.

A practical that has students write NumPy modules (``forward``, ``backward_delta``,
``_parameters`` and ``_gradient`` in whatever layout they like) checks them with these: the
judge reads the parameters back, finds every reading of them as the canonical arrays of the
operation (an axis order, maybe merged axes: distinct dimensions make it unique), computes the
operation and its gradients with torch in float64, and compares with
:func:`grader.checks.check_gradient` (CS231n relative error).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from grader.i18n import _
from grader.checks import check_close
from grader.failures import CheckFailure

MISSING = "<missing>"   # an attribute the student's object does not have
FORWARD_RTOL, FORWARD_ATOL = 1e-6, 1e-9


def t(a):
    """A float64 tensor of ``a`` (a tensor stays itself, autograd included)."""
    if isinstance(a, torch.Tensor):
        return a
    return torch.from_numpy(np.ascontiguousarray(np.asarray(a, dtype=np.float64)))


def as_array(value, what: str) -> np.ndarray:
    """A float array from what the student returned, or a failure saying what came instead."""
    if isinstance(value, torch.Tensor):
        value = value.numpy()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
        kind = type(value).__name__ if value is not None else "None (no return statement?)"
        raise CheckFailure(_("{what}: expected a NumPy array, got {kind}").format(
                               what=what, kind=kind))
    return value


def check_array(value, shape, what: str) -> np.ndarray:
    a = as_array(value, what)
    if tuple(a.shape) != tuple(shape):
        raise CheckFailure(_("{what}: expected shape {shape}, got {shape2}").format(
                               what=what, shape=list(shape), shape2=list(a.shape)))
    return a


def entries(params, what: str) -> list[tuple]:
    """(key, array) of a student's ``_parameters`` or ``_gradient`` value; ``None`` entries
    (``_parameters["b"] = None`` for a module without bias) mean "no such parameter"."""
    if isinstance(params, str) and params == MISSING:
        raise CheckFailure(_("{what} does not exist: set it in __init__ (None for a module "
                             "without parameters)").format(what=what))
    if params is None:
        return []
    if isinstance(params, np.ndarray):
        return [(None, params)]
    if isinstance(params, dict):
        out = list(params.items())
    elif isinstance(params, (list, tuple)):
        out = list(enumerate(params))
    else:
        raise CheckFailure(_("{what} should be an array, a dict name -> array or None; got "
                             "{name}").format(what=what, name=type(params).__name__))
    for key, value in out:
        if value is not None and not isinstance(value, np.ndarray):
            # an object that is not data comes back as a handle: name the student's type
            kind = getattr(value, "type_name", "") or type(value).__name__
            raise CheckFailure(_("{what}[{key!r}] should be a NumPy array, got {kind}").format(
                                   what=what, key=key, kind=kind))
    return [(key, value) for key, value in out if value is not None]


def label(key) -> str:
    return "" if key is None else f"[{key!r}]"


def describe_layout(params) -> str:
    items = entries(params, "_parameters")
    if not items:
        return "no parameters"
    return ", ".join(f"{label(k) or 'array'} {list(v.shape)}" for k, v in items)


def gradient_matches_parameters(params, grads, what: str) -> list[tuple]:
    """``_gradient`` has an array shaped like each array of ``_parameters``; returns the
    (key, parameter, gradient) triples."""
    p_items = entries(params, f"{what}._parameters")
    g_items = entries(grads, f"{what}._gradient")
    if not p_items:
        raise CheckFailure(_("{what}._parameters is None: this module has parameters to learn").format(
                               what=what))
    g = dict(g_items)
    if not all(k in g for k, _ in p_items):
        g = {str(k): v for k, v in g_items}
        absent = [k for k, _ in p_items if str(k) not in g]
        if absent:
            raise CheckFailure(_("{what}._gradient has no array for _parameters{label} (absent "
                                 "or None; its keys: {value}): give every parameter a gradient "
                                 "of its shape in __init__ (np.zeros_like)").format(
                                   what=what, label=label(absent[0]), value=[k for k,
                                   _ in g_items]))
    pairs = []
    for key, p in p_items:
        grad = g[key] if key in g else g[str(key)]
        if tuple(grad.shape) != tuple(p.shape):
            raise CheckFailure(_("{what}._gradient{label} has shape {shape}, its parameter "
                                 "{shape2}: they must match").format(
                                   what=what, label=label(key), shape=list(grad.shape),
                                   shape2=list(p.shape)))
        pairs.append((key, p, grad))
    return pairs


def float64_note(*arrays) -> str:
    kinds = {a.dtype.name for a in arrays if isinstance(a, np.ndarray) and a.dtype != np.float64}
    return (_(" (note: arrays of dtype {join}: keep everything float64)").format(
                join=', '.join(sorted(kinds)))
            if kinds else "")



# ------------------------------------------------------- an operation, computed here


class Op:
    """What a module of the practical computes, in the judge: ``spec`` (parameter name ->
    canonical shape; empty without parameters) and ``fn(params, x)`` on float64 tensors."""

    def __init__(self, label: str, spec: dict, fn):
        self.label, self.spec, self.fn = label, spec, fn

    def __call__(self, params: dict, x):
        return self.fn({k: t(v) for k, v in params.items()}, t(x))


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


class Layout:
    """One way of reading a student's array as the canonical one: reshape to ``permuted``, then
    put the axes back in the canonical order (works on arrays and on tensors)."""

    def __init__(self, permuted: tuple, inverse: tuple):
        self.permuted, self.inverse = permuted, inverse

    def __call__(self, value):
        if isinstance(value, torch.Tensor):
            return value.reshape(self.permuted).permute(*self.inverse)
        return np.asarray(value).reshape(self.permuted).transpose(self.inverse)


def layouts(array: np.ndarray, canonical: tuple) -> list[Layout]:
    """Every way of reading ``array`` as an array of shape ``canonical``: an axis order, maybe
    with consecutive axes merged. Distinct dimensions make it unique in the checks."""
    found, seen = [], []
    for perm in itertools.permutations(range(len(canonical))):
        permuted = tuple(canonical[i] for i in perm)
        if _merges(_no_ones(permuted), _no_ones(array.shape)):  # (1, n) reads as (n,)
            layout = Layout(permuted, tuple(int(i) for i in np.argsort(perm)))
            candidate = layout(array.astype(np.float64))
            if not any(np.array_equal(candidate, f) for f in seen):
                seen.append(candidate)
                found.append(layout)
    return found


class Reading:
    """The student's parameters read in a canonical layout: name -> (key, Layout)."""

    def __init__(self, parts: dict):
        self.parts = parts

    def canonical(self, arrays: dict) -> dict:
        """Canonical name -> value, from the student's key -> array (or tensor)."""
        return {name: layout(arrays[key]) for name, (key, layout) in self.parts.items()}


def readings(params, spec: dict, what: str) -> list[Reading]:
    """Every reading of the student's ``_parameters`` as ``spec`` (name -> shape): several when
    a layout is ambiguous."""
    items = entries(params, f"{what}._parameters")
    expected = ", ".join(f"{name} {list(shape)}" for name, shape in spec.items())
    options = []
    for name, shape in spec.items():
        candidates = [(key, layout) for key, value in items
                      if int(value.size) == int(np.prod(shape))
                      for layout in layouts(value, tuple(shape))]
        if len(items) != len(spec) or not candidates:
            raise CheckFailure(
                _("{what}: cannot match its _parameters ({describe_layout}) with {expected} "
                  "(in any axis order) — one array each").format(
                    what=what, describe_layout=describe_layout(params), expected=expected))
        options.append([(name, c) for c in candidates])
    found = [Reading(dict(combo)) for combo in itertools.product(*options)
             if len({repr(key) for _, (key, _) in combo}) == len(combo)]
    if not found:
        raise CheckFailure(_("{what}: cannot match its _parameters ({describe_layout}) with "
                             "{expected} — one array each").format(
                               what=what, describe_layout=describe_layout(params),
                               expected=expected))
    return found


def canonical_parameters(params, spec: dict, what: str) -> list[dict]:
    """The student's parameters read in the canonical layout ``spec``: candidate dicts."""
    arrays = dict(entries(params, f"{what}._parameters"))
    return [r.canonical({k: v.astype(np.float64) for k, v in arrays.items()})
            for r in readings(params, spec, what)]


def matching_readings(params, op: Op, x, out, what: str) -> tuple[list[Reading], bool]:
    """The readings of ``params`` under which ``op`` reproduces the student's ``out`` for
    ``x``; all of them (and False) when none does."""
    if not op.spec:
        return [Reading({})], True
    arrays = {k: v.astype(np.float64) for k, v in entries(params, f"{what}._parameters")}
    every = readings(params, op.spec, what)
    good = []
    for reading in every:
        with torch.no_grad():
            expected = op(reading.canonical(arrays), x).numpy()
        if (out is not None and expected.shape == np.shape(out)
                and np.allclose(out, expected, rtol=FORWARD_RTOL, atol=FORWARD_ATOL)):
            good.append(reading)
    return (good, True) if good else (every, False)


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


def expected_gradients(op: Op, reading: Reading, arrays: dict, x, delta) -> tuple:
    """dL/dx and dL/d(each student array, in its own layout) for L = sum(op(params, x) * delta),
    by autograd in the judge."""
    leaves = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True)
              for k, v in arrays.items()}
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    out = op.fn(reading.canonical(leaves), xt)
    (out * t(delta)).sum().backward()
    grads = {k: (v.grad.numpy() if v.grad is not None else np.zeros(v.shape))
             for k, v in leaves.items()}
    return xt.grad.numpy(), grads
