"""Check helpers for assignment authors, with messages that say what differed, where, by how much.

Modelled on ``torch.testing.assert_close``: one comparison routine (:func:`check_close`) and a
few specialised checks around it. Every helper raises :class:`~grader.failures.CheckFailure`
with a message written for the student, and works on values the student process sent back
(tensors, NumPy arrays, numbers) — never on student objects.

Tolerances (``rtol``, ``atol``) default to torch's per dtype: float32 (1.3e-6, 1e-5),
float64 (1e-7, 1e-7). Comparisons against the reference that go through a different but valid
order of operations (a student's ``x @ W.T`` vs ``nn.Linear``) need looser ones: checks pass
them explicitly.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from grader.i18n import _
from grader import diagnosis
from grader.failures import CheckFailure
from grader.wire import describe_value

DEFAULT_TOLERANCES = {torch.float16: (1e-3, 1e-5), torch.bfloat16: (1.6e-2, 1e-5),
                      torch.float32: (1.3e-6, 1e-5), torch.float64: (1e-7, 1e-7)}

# Gradient checking (CS231n): relative error max|a − n| / max(1e-8, |a| + |n|) in float64 with
# h = 1e-5. ≤ 1e-7 is right; up to 1e-4 is acceptable around kinks (ReLU, max); above 1e-2 the
# gradient is wrong. The default threshold sits between: 1e-5.
FD_STEP = 1e-5
FD_THRESHOLD = 1e-5


def as_tensor(value: Any, what: str) -> torch.Tensor:
    """A tensor from a tensor, an ndarray or a (nested) list of numbers; else a clear failure."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray) and value.dtype != object:
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, (int, float, bool)) for v in np.ravel(np.asarray(value, dtype=object))):
        return torch.as_tensor(np.asarray(value, dtype=np.float64))
    raise CheckFailure(_("{what}: expected a tensor, got {describe_value}").format(
                           what=what, describe_value=describe_value(value)))


def check_shape(value: Any, expected: Sequence[int], what: str) -> torch.Tensor:
    tensor = as_tensor(value, what)
    if tuple(tensor.shape) != tuple(expected):
        raise CheckFailure(_("{what}: expected shape {expected}, got {shape}").format(
                               what=what, expected=list(expected), shape=list(tensor.shape)))
    return tensor


def check_finite(value: Any, what: str) -> torch.Tensor:
    tensor = as_tensor(value, what)
    if tensor.is_floating_point() and not torch.isfinite(tensor).all():
        bad = (~torch.isfinite(tensor)).sum().item()
        index = _index(torch.nonzero(~torch.isfinite(tensor))[0], tensor.shape)
        raise CheckFailure(_("{what}: {bad} of {numel} values are NaN or infinite (first at "
                             "index {index}: {reshape})").format(
                               what=what, bad=bad, numel=tensor.numel(), index=index,
                               reshape=tensor.reshape(-1)[_flat(index, tensor.shape)].item()))
    return tensor


def check_close(actual: Any, expected: Any, what: str, *, rtol: float | None = None,
                atol: float | None = None, expected_label: str = "expected",
                known_mistakes: Sequence[diagnosis.Candidate] = ()) -> None:
    """Fail unless ``actual`` has ``expected``'s shape and every element is within
    ``atol + rtol·|expected|`` of it. NaN only matches NaN where ``expected`` has one.
    ``known_mistakes``: what the check recognises when it fails (see :mod:`grader.diagnosis`);
    a match, with the same tolerance, names the mistake."""
    if known_mistakes:
        with diagnosis.recognising(actual, known_mistakes, diagnosis.passes(
                lambda wrong: check_close(actual, wrong, what, rtol=rtol, atol=atol))):
            return check_close(actual, expected, what, rtol=rtol, atol=atol,
                               expected_label=expected_label)
    a = as_tensor(actual, what)
    e = as_tensor(expected, what)
    if tuple(a.shape) != tuple(e.shape):
        raise CheckFailure(_("{what}: shape {shape}, {expected_label} {shape2}").format(
                               what=what, shape=list(a.shape), expected_label=expected_label,
                               shape2=list(e.shape)))
    dtype = e.dtype if e.is_floating_point() else torch.float64
    default_rtol, default_atol = DEFAULT_TOLERANCES.get(dtype, (0.0, 0.0))
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    a64, e64 = a.detach().to(torch.float64), e.detach().to(torch.float64)
    if a.numel() == 0:
        return
    both_nan = torch.isnan(a64) & torch.isnan(e64)
    equal = a64 == e64  # equal infinities
    diff = (a64 - e64).abs()
    ok = both_nan | equal | (diff <= atol + rtol * e64.abs())
    if bool(ok.all()):
        return
    bad = ~ok
    n_bad = int(bad.sum())
    diff = torch.where(torch.isnan(diff), torch.full_like(diff, float("inf")), diff)
    diff = torch.where(bad, diff, torch.zeros_like(diff))
    worst = int(diff.reshape(-1).argmax())
    index = _index_of_flat(worst, a.shape)
    rel = diff / e64.abs().clamp_min(1e-12)
    rel = torch.where(bad, rel, torch.zeros_like(rel))
    worst_rel = int(rel.reshape(-1).argmax())
    share = 100.0 * n_bad / a.numel()
    lines = [
        f"{what}: {n_bad:,} of {a.numel():,} values differ ({share:.1f} %)",
        f"  largest absolute difference: {diff.reshape(-1)[worst].item():.3g} at index {index} "
        f"(got {a64.reshape(-1)[worst].item():.6g}, {expected_label} {e64.reshape(-1)[worst].item():.6g}; "
        f"allowed {atol:g} + {rtol:g}·|{expected_label}|)",
        f"  largest relative difference: {rel.reshape(-1)[worst_rel].item():.3g} at index "
        f"{_index_of_flat(worst_rel, a.shape)}",
    ]
    raise CheckFailure("\n".join(lines))


def check_int(value: Any, expected: int, what: str, *,
              known_mistakes: Sequence[diagnosis.Candidate] = ()) -> None:
    """A plain Python int equal to ``expected`` (not a tensor, not a float)."""
    if known_mistakes:
        with diagnosis.recognising(value, known_mistakes, diagnosis.passes(
                lambda wrong: check_int(value, wrong, what))):
            return check_int(value, expected, what)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckFailure(f"{what}: expected a plain int ({expected:,}), got {describe_value(value)}"
                           + (" — use .item() to turn a one-element tensor into a number"
                              if isinstance(value, torch.Tensor) else ""))
    if value != expected:
        raise CheckFailure(_("{what}: expected {expected:,}, got {value:,} (off by "
                             "{difference:+,})").format(
                               what=what, expected=expected, value=value,
                               difference=value - expected))


def check_count(value: Any, expected: int, what: str, *,
                known_mistakes: Sequence[diagnosis.Candidate] = ()) -> int:
    """A count equal to ``expected``, in any numeric type holding an integral value: ``12``,
    ``12.0`` (counting in a float, ``acc = 0.``), a one-element tensor or array."""
    if known_mistakes:
        with diagnosis.recognising(value, known_mistakes, diagnosis.passes(
                lambda wrong: check_count(value, wrong, what))):
            return check_count(value, expected, what)
    number = as_number(value, what)
    if number != number or number in (float("inf"), float("-inf")) or number != int(number):
        raise CheckFailure(_("{what}: expected a count ({expected:,}), got {describe_value} — "
                             "not a whole number").format(
                               what=what, expected=expected, describe_value=describe_value(value)))
    if int(number) != expected:
        raise CheckFailure(_("{what}: expected {expected:,}, got {number:,} (off by "
                             "{difference:+,})").format(
                               what=what, expected=expected, number=int(number),
                               difference=int(number) - expected))
    return int(number)


def as_number(value: Any, what: str) -> float:
    """A float from a Python number, a one-element tensor or a one-element array."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.item())
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiub":
        return float(value.item())
    if isinstance(value, np.generic) and value.dtype.kind in "fiu":  # np.int64(12)
        return float(value.item())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CheckFailure(_("{what}: expected a number, got {describe_value}").format(
                               what=what, describe_value=describe_value(value)))
    try:
        return float(value)
    except OverflowError:  # an int beyond 1.8e308
        raise CheckFailure(_("{what}: expected a number of sensible size, got {describe_value}").format(
                               what=what, describe_value=describe_value(value))) from None


def check_number(value: Any, expected: float, what: str, *, rtol: float = 1e-5,
                 atol: float = 1e-8,
                 known_mistakes: Sequence[diagnosis.Candidate] = ()) -> float:
    """A real number (Python or one-element tensor) close to ``expected``."""
    if known_mistakes:
        with diagnosis.recognising(value, known_mistakes, diagnosis.passes(
                lambda wrong: check_number(value, wrong, what, rtol=rtol, atol=atol))):
            return check_number(value, expected, what, rtol=rtol, atol=atol)
    value = as_number(value, what)
    if not abs(value - expected) <= atol + rtol * abs(expected):
        raise CheckFailure(_("{what}: expected {expected:.6g}, got {value:.6g} (difference "
                             "{difference:+.3g})").format(
                               what=what, expected=expected, value=value,
                               difference=value - expected))
    return value


def check_parameter_layout(layout: list[dict], expected_shapes: Sequence[Sequence[int]],
                           what: str) -> None:
    """Parameter tensors (from ``grader.recipes.parameter_layout``) have the expected shapes,
    in order; the message lists both when they do not."""
    shapes = [tuple(p["shape"]) for p in layout]
    expected = [tuple(s) for s in expected_shapes]
    if shapes != expected:
        raise CheckFailure(_("{what}: parameter shapes {shapes}, expected {shapes2}").format(
                               what=what, shapes=_shapes(shapes), shapes2=_shapes(expected)))


def check_parameter_count(layout: list[dict], expected: int, what: str, *,
                          trainable_only: bool = True,
                          known_mistakes: Sequence[diagnosis.Candidate] = ()) -> int:
    """Count parameters from the tensors the child described — not from the student's own
    count — and compare."""
    if known_mistakes:
        with diagnosis.recognising(layout, known_mistakes, diagnosis.passes(
                lambda wrong: check_parameter_count(layout, wrong, what,
                                                    trainable_only=trainable_only))):
            return check_parameter_count(layout, expected, what,
                                         trainable_only=trainable_only)
    total = sum(int(np.prod(p["shape"])) for p in layout
                if p.get("requires_grad", True) or not trainable_only)
    if total != expected:
        shapes = _shapes([tuple(p["shape"]) for p in layout])
        raise CheckFailure(_("{what}: {total:,} parameters, expected {expected:,} (off by "
                             "{difference:+,}); tensors: {shapes}").format(
                               what=what, total=total, expected=expected,
                               difference=total - expected, shapes=shapes))
    return total


def linear_credit(value: float, low: float, high: float) -> float:
    """0 at or below ``low``, 1 at or above ``high``, linear in between."""
    if high <= low:
        return 1.0 if value >= high else 0.0
    return float(min(1.0, max(0.0, (value - low) / (high - low))))


def accuracy(predictions: Any, labels: torch.Tensor, what: str) -> float:
    """Judge-side accuracy of the student's predictions against labels the child never saw."""
    pred = as_tensor(predictions, what)
    if pred.dim() == 2 and pred.shape[0] == labels.shape[0]:
        pred = pred.argmax(dim=1)  # logits or probabilities instead of classes: accept them
    if tuple(pred.shape) != tuple(labels.shape):
        raise CheckFailure(_("{what}: expected {shape} predicted classes, got shape {shape2}").format(
                               what=what, shape=labels.shape[0], shape2=list(pred.shape)))
    return float((pred.to(torch.int64) == labels).to(torch.float64).mean())


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, n_classes: int) -> list[list[int]]:
    pred = predictions.reshape(-1).to(torch.int64).clamp(0, n_classes - 1)
    matrix = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    matrix.index_put_((labels.reshape(-1), pred), torch.ones_like(pred), accumulate=True)
    return matrix.tolist()


# --------------------------------------------------------------------------------------------
# Gradient checks
# --------------------------------------------------------------------------------------------

def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """CS231n's max |a − n| / max(1e-8, |a| + |n|), elementwise, then the max."""
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))))


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = FD_STEP) -> np.ndarray:
    """Central differences of a scalar function of ``x`` (a NumPy array or a torch tensor):
    each entry of ``x`` is perturbed in place by ±h (so ``f`` may also read ``x`` from
    elsewhere, a module's own parameter array) and restored."""
    grad = np.zeros(tuple(np.shape(x)), dtype=np.float64)
    for i in np.ndindex(*np.shape(x)):
        old = x[i].item()   # a number: an entry of a torch tensor would be a view of it
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def check_gradient(analytic: Any, expected: Any, what: str, hint: str = "", *,
                   threshold: float = FD_THRESHOLD) -> float:
    """The student's gradient against the expected one (computed by autograd in the judge, or
    by :func:`numerical_gradient`): CS231n relative error at most ``threshold``, else a failure
    saying where and by how much. Returns the error."""
    a = np.asarray(analytic.detach().numpy() if isinstance(analytic, torch.Tensor) else analytic,
                   dtype=np.float64)
    e = np.asarray(expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected,
                   dtype=np.float64)
    if a.shape != e.shape:
        raise CheckFailure(_("{what}: gradient of shape {shape}, expected {shape2}").format(
                               what=what, shape=list(a.shape), shape2=list(e.shape)))
    error = relative_error(a, e)
    if error <= threshold:  # NaN fails
        return error
    each = np.abs(a - e) / np.maximum(1e-8, np.abs(a) + np.abs(e))
    each = np.where(np.isnan(each), np.inf, each)
    worst = int(np.argmax(np.where(each > threshold, np.abs(a - e), -1).reshape(-1)))
    where = tuple(int(i) for i in np.unravel_index(worst, a.shape)) if a.ndim else ()
    bad = int(np.sum(each > threshold))
    text = (_("{what}: relative error {error:.3g} (allowed {threshold:g}; {bad} of {size} "
              "entries off); worst at index {where}: got {reshape:.6g}, expected {reshape2:.6g}").format(
                what=what, error=error, threshold=threshold, bad=bad, size=a.size, where=where,
                reshape=a.reshape(-1)[worst], reshape2=e.reshape(-1)[worst]))
    if not np.any(a) and np.any(e):
        text += _("\nEvery entry is 0: is the gradient computed (and returned or stored)?")
    raise CheckFailure(text + hint)


# --------------------------------------------------------------------------------------------
# Small formatting helpers
# --------------------------------------------------------------------------------------------

def _shapes(shapes) -> str:
    return "[" + ", ".join("×".join(str(d) for d in s) or "scalar" for s in shapes) + "]"


def _index_of_flat(flat: int, shape) -> tuple[int, ...]:
    if len(shape) == 0:
        return ()
    return tuple(int(i) for i in np.unravel_index(flat, tuple(shape)))


def _index(index_tensor: torch.Tensor, shape) -> tuple[int, ...]:
    return tuple(int(i) for i in index_tensor.tolist())


def _flat(index: tuple[int, ...], shape) -> int:
    return int(np.ravel_multi_index(index, tuple(shape))) if index else 0
