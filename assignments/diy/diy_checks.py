"""Scenarios shared by the public and hidden checks of DIY (the NumPy neural-network framework).

The wall: everything that runs in the student process — the submission, and the grader's own
helpers imported there (``student_side.py``) — can be replaced by the submission.
So nothing computed there is trusted as a verdict: the checks call the student's own methods
directly (``module.forward(x)``, ``module.backward_delta(x, delta)``, ``module._gradient``...)
and compare what comes back with what the judge computes itself.

* **Gradients, computed here.** The practical fixes what each module computes (Linear,
  Conv1D, Conv2D, the activations, the pools, Flatten, the losses), so the judge builds the
  same operation with torch (float64), from the student's own parameters (read back, in
  whatever layout they are) and the judge's inputs, and takes the gradient of
  L = sum(forward(x) * delta) by autograd. What ``backward_delta`` /
  ``backward_update_gradient`` / ``loss.backward`` returned must match it: CS231n relative
  error max |a - e| / max(1e-8, |a| + |e|) <= 1e-5 (``grader.api.FD_THRESHOLD``); right
  gradients give ~1e-15, the wrong ones of the corpus 0.3 or more. (Earlier versions took
  finite differences of the student's forward through a helper in the student process: a
  forward that recognised the ±h probes, or a replaced helper, passed any backward.) Inputs
  stay away from kinks: ReLU inputs have |x| >= 0.1, max-pool inputs are distinct values.
* **Forward values** are compared with the same operations applied to the student's own
  parameters, put in the canonical layout by their shapes: every dimension of the checked
  modules is different, so the axis order (``W`` (in, out) or (out, in), a convolution kernel
  (k, c_in, c_out) or torch's (c_out, c_in, k), merged axes) is found from the shape alone, and
  any layout that reproduces the output is accepted. ``None`` entries of ``_parameters`` and
  ``_gradient`` mean "no such parameter" (``_parameters["b"] = None`` without a bias).
* **Sequentiel, Optim and SGD** are checked with modules and a loss of the grader's own
  (``student_side.py``'s ``Probe*``), so that a bug in the student's Linear costs points
  in the checks of Linear only; the judge knows their parameters and computes what they must
  give. They are callable like modules (``net(x)``, ``loss(y, yhat)``).
* **Trainings** (MLP on USPS, a small Conv1D network, an autoencoder) use the student's modules
  and SGD; the judge reads the trained parameters back and computes the predictions and
  reconstructions itself, on data the student process never saw with labels, before and after
  training: a loss that did not decrease earns no credit, whatever the network's own forward
  says, and what SGD returns is only drawn as a learning curve (its own check is about it).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F

from grader.api import _, gettext
from grader.api import (FD_THRESHOLD, MISSING, CheckFailure, NotImplementedYet, Op, Reading,
                        StudentError, as_array, call, canonical_parameters, check_array,
                        check_close, check_finite, check_gradient, check_number, describe_layout,
                        describe_value, entries, expected_gradients, float64_note,
                        forward_matches, gradient_matches_parameters, label, layouts,
                        linear_credit, matching, matching_readings, readings, recipe,
                        recognising, relative_error, t)

import diy_mistakes as known

THRESHOLD = FD_THRESHOLD


def conv1d(student, k_size, chan_in, chan_out, stride=1):
    """The student's Conv1D, arguments passed by position (a student may rename them)."""
    return student.Conv1D(k_size, chan_in, chan_out, stride)


def conv2d(student, k_h, k_w, chan_in, chan_out, stride_h=1, stride_w=1):
    """The student's Conv2D, arguments passed by position."""
    return student.Conv2D(k_h, k_w, chan_in, chan_out, stride_h, stride_w)


def attribute(obj, name: str):
    """``obj.<name>`` read straight from the student's object (no helper of the grader runs in
    the student process for it): data, or MISSING when the attribute does not exist."""
    try:
        return getattr(obj, name).fetch()
    except NotImplementedYet:
        raise
    except StudentError as e:
        if e.type_name == "AttributeError":
            return MISSING
        raise CheckFailure(f"reading .{name} raised {e.type_name}"
                           + (f": {e.message}" if e.message else "")) from None


def state(module) -> dict:
    """The module's ``_parameters`` and ``_gradient`` as they are now (MISSING when absent)."""
    return {"parameters": attribute(module, "_parameters"),
            "gradient": attribute(module, "_gradient")}


# ---------------------------------------------------------------------------------- inputs


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def distinct(*shape, seed=0):
    """Values 0.01 apart in random order, centred: no ties in a max-pool window."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) - n / 2) * 0.01


def away_from_zero(*shape, seed=0):
    """Random values with 0.1 <= |x| <= 2, far from ReLU's kink."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def one_hot(labels, n_classes):
    return np.eye(n_classes)[np.asarray(labels)]


# ------------------------------------------------------- the practical's operations, here


def linear_op(n_in, n_out, bias=True) -> Op:
    spec = {"W": (n_in, n_out), "b": (n_out,)} if bias else {"W": (n_in, n_out)}
    return Op("X W + b" if bias else "X W", spec, linear_t)


def linear_t(p, x):
    out = x @ p["W"]
    return out + p["b"] if "b" in p else out


def conv1d_op(k_size, chan_in, chan_out, stride=1) -> Op:
    return Op(_("the cross-correlation of x with its kernel, plus its bias"),
              {"W": (k_size, chan_in, chan_out), "b": (chan_out,)},
              lambda p, x: conv1d_t(p, x, stride))


def conv1d_t(p, x, stride):
    return F.conv1d(x.permute(0, 2, 1), p["W"].permute(2, 1, 0), p["b"],
                    stride=stride).permute(0, 2, 1)


def conv2d_op(k_h, k_w, chan_in, chan_out, stride_h=1, stride_w=1) -> Op:
    return Op(_("the cross-correlation of x with its kernel, plus its bias"),
              {"W": (k_h, k_w, chan_in, chan_out), "b": (chan_out,)},
              lambda p, x: conv2d_t(p, x, stride_h, stride_w))


def conv2d_t(p, x, stride_h, stride_w):
    return F.conv2d(x.permute(0, 3, 1, 2), p["W"].permute(3, 2, 0, 1), p["b"],
                    stride=(stride_h, stride_w)).permute(0, 2, 3, 1)


def maxpool1d_t(x, k, stride):
    return F.max_pool1d(x.permute(0, 2, 1), k, stride).permute(0, 2, 1)


def avgpool2d_t(x, k_h, k_w, stride_h, stride_w):
    return F.avg_pool2d(x.permute(0, 3, 1, 2), (k_h, k_w), (stride_h, stride_w)).permute(0, 2, 3, 1)


OPS = {
    "TanH": Op("tanh", {}, lambda p, x: torch.tanh(x)),
    "Sigmoide": Op("the sigmoid", {}, lambda p, x: torch.sigmoid(x)),
    "ReLU": Op("max(0, x)", {}, lambda p, x: torch.relu(x)),
    "Softmax": Op("the softmax over the last axis", {}, lambda p, x: torch.softmax(x, -1)),
    "Flatten": Op("the C-order reshape to (batch, -1)", {}, lambda p, x: x.reshape(len(x), -1)),
}


def maxpool1d_op(k, stride) -> Op:
    return Op(_("the max of each window"), {}, lambda p, x: maxpool1d_t(x, k, stride))


def avgpool2d_op(k_h, k_w, stride_h, stride_w) -> Op:
    return Op(_("the mean of each window"), {},
              lambda p, x: avgpool2d_t(x, k_h, k_w, stride_h, stride_w))


def linear_out(p, x):
    return linear_t({k: t(v) for k, v in p.items()}, t(x)).numpy()


def conv1d_out(p, x, stride):
    return conv1d_t({k: t(v) for k, v in p.items()}, t(x), stride).numpy()


def conv2d_out(p, x, stride_h, stride_w):
    return conv2d_t({k: t(v) for k, v in p.items()}, t(x), stride_h, stride_w).numpy()


def conv1d_forward_mistakes(stride) -> list:
    """(mistake, its output from (parameters, x)) for a Conv1D of this stride's forward."""
    flipped = [(known.CONV1D_KERNEL_FLIPPED,
                lambda p, x: conv1d_out({**p, "W": p["W"][::-1].copy()}, x, stride))]
    if stride == 1:
        return flipped
    return [(known.CONV1D_STRIDE_IGNORED, lambda p, x: conv1d_out(p, x, 1)), *flipped]


def module_forward_scenario(student, module, x, out_shape, spec, compute, what,
                            mistakes=()) -> None:
    """forward(x) has the right shape and equals the operator applied to the module's own
    parameters (read back from the student process, any layout). ``mistakes``: (mistake, the
    output it gives from (parameters, x), computed here) recognised when the check fails."""
    raw = call(f"{what}.forward(x)", module.forward, x)
    try:
        out = check_array(raw, out_shape, _("{what}.forward(x) for x of shape {shape}").format(
                              what=what, shape=list(x.shape)))
        params = attribute(module, "_parameters")
        forward_matches(out, canonical_parameters(params, spec, what), lambda p: compute(p, x),
                        _("{what}.forward(x) vs the operator applied to its own parameters").format(
                            what=what))
    except CheckFailure as failure:
        raise_known_forward(failure, raw, module, spec, x, what, mistakes)
        raise


def raise_known_forward(failure, raw, module, spec, x, what, mistakes) -> None:
    """Raise ``failure`` as the known mistake whose output, computed here from the module's own
    parameters and x, the student's forward gave (by the forward check's own comparison)."""
    if not mistakes:
        return
    try:
        got = as_array(raw, what)
        readings_ = canonical_parameters(attribute(module, "_parameters"), spec, what)
    except CheckFailure:
        return
    for mistake, wrong in mistakes:
        try:
            forward_matches(got, readings_, lambda p, wrong=wrong: wrong(p, x), what)
        except CheckFailure:
            continue
        raise mistake.failure(str(failure)) from None


# ------------------------------------------------------------------------ gradients, here


def _forward_note(matched: bool, op: Op, what: str) -> str:
    return ("" if matched else _("\n(Its forward does not compute {label} of its own parameters "
                                 "either: see its forward check. The gradient expected is that "
                                 "of the right operation.)").format(label=op.label))


def check_backward_delta(student, module, x, out_shape, what: str, op: Op, seed: int = 1,
                         hint: str = "") -> None:
    """backward_delta(x, delta) against dL/dx computed here from the module's parameters."""
    delta = randn(*out_shape, seed=seed)
    out = check_array(call(f"{what}.forward(x)", module.forward, x), out_shape,
                      gettext("{what}.forward(x) for x of shape {shape}").format(
                          what=what, shape=list(x.shape)))
    raw = call(gettext("{what}: forward(x) then backward_delta(x, delta) for x of shape {shape}").format(
                   what=what, shape=list(x.shape)), module.backward_delta, x, delta)
    mistakes = known.backward_delta_mistakes(what)
    try:
        dx = check_array(raw, x.shape, gettext("{what}.backward_delta(x, delta) (shaped like "
                                               "x)").format(what=what))
    except CheckFailure as e:
        raise_known(e, raw, mistakes, x, delta, None)
        raise
    params = attribute(module, "_parameters") if op.spec else None
    arrays = dict(entries(params, f"{what}._parameters")) if op.spec else {}
    candidates, matched = matching_readings(params, op, x, out, what)
    if not matched:
        # dL/dx depends on the parameters, and these are only what the module reports: unless
        # its forward computes the operation with them, nothing says they are those it uses
        # (a module could report parameters made to fit a wrong backward_delta).
        raise CheckFailure(gettext("{what}.forward(x) is not {label} of the parameters in its "
                             "_parameters ({describe_layout}), so its backward_delta cannot be "
                             "checked against them: see its forward check first").format(
                               what=what, label=op.label, describe_layout=describe_layout(params)))
    failure, right = None, None
    for reading in candidates:
        expected, _ = expected_gradients(op, reading, arrays, x, delta)
        right = expected if right is None else right
        try:
            check_gradient(dx, expected, f"{what}.backward_delta(x, delta) vs dL/dx computed "
                             f"by the grader (x of shape {list(x.shape)})" + float64_note(dx),
                             hint)
            return
        except CheckFailure as e:
            failure = failure or e
    raise_known(failure, dx, mistakes, x, delta, right)
    raise failure


def raise_known(failure: CheckFailure, got, mistakes, first, second, right) -> None:
    """Raise ``failure`` as the known mistake whose gradient, computed here from the check's
    inputs (and the right gradient), the student's is (within the gradient check's tolerance)."""
    def same_gradient(actual, wrong) -> bool:
        a = np.asarray(actual, dtype=np.float64)
        w = np.asarray(wrong, dtype=np.float64)
        return a.shape == w.shape and relative_error(a, w) <= THRESHOLD

    found = matching(got, [m.gives(lambda fn=fn: fn(first, second, right)) for m, fn in mistakes
                           if right is not None or m is known.FLATTEN_NOT_RESHAPED],
                     same_gradient)
    if found is not None:
        raise found[0].failure(str(failure)) from None


def check_backward_update_gradient(student, module, x, out_shape, what: str, op: Op,
                                   seed: int = 2, hint: str = "") -> None:
    """backward_update_gradient(x, delta) (after zero_grad) against dL/d(parameters) computed
    here, for each of the student's own parameter arrays."""
    delta = randn(*out_shape, seed=seed)
    out = check_array(call(f"{what}.forward(x)", module.forward, x), out_shape,
                      gettext("{what}.forward(x) for x of shape {shape}").format(
                          what=what, shape=list(x.shape)))
    call(f"{what}.zero_grad()", module.zero_grad)
    call(gettext("{what}: forward(x), zero_grad() then backward_update_gradient(x, delta) for x of "
           "shape {shape}").format(what=what, shape=list(x.shape)), module.backward_update_gradient, x, delta)
    st = state(module)
    pairs = gradient_matches_parameters(st["parameters"], st["gradient"], what)
    arrays = {key: p for key, p, _ in pairs}
    # The operations with parameters are linear in them: dL/d(parameters) does not depend on
    # their values, so a forward that is wrong (its own check) does not cost this one.
    candidates, matched = matching_readings(st["parameters"], op, x, out, what)
    failure = None
    for reading in candidates:
        _, expected = expected_gradients(op, reading, arrays, x, delta)
        try:
            for key, p, g in pairs:
                check_gradient(g, expected[key], f"{what}._gradient{label(key) or ' (array)'} "
                                 f"of shape {list(p.shape)} after zero_grad + "
                                 "backward_update_gradient, vs dL/d(parameter) computed by the "
                                 "grader" + float64_note(p, g),
                                 hint + _forward_note(matched, op, what))
            return
        except CheckFailure as e:
            failure = failure or e
    raise failure


def check_loss_backward(student, name: str, y, yhat, what: str) -> None:
    """loss.backward(y, yhat) against the gradient of the loss's formula summed over the batch,
    computed here by autograd."""
    loss = getattr(student, name)()
    grad = check_array(call(f"{what}.backward(y, yhat)", loss.backward, y, yhat), yhat.shape,
                       _("{what}.backward(y, yhat) (shaped like yhat)").format(what=what))
    z = torch.tensor(np.asarray(yhat, dtype=np.float64), requires_grad=True)
    loss_t(name, t(y), z).sum().backward()
    try:
        check_gradient(grad, z.grad.numpy(), f"{what}.backward vs the gradient of "
                         f"{what}.forward(y, yhat).sum() computed by the grader (batch of "
                         f"{len(y)})" + float64_note(grad))
    except CheckFailure as e:
        raise_known(e, grad, known.loss_backward_mistakes(name), y, yhat, z.grad.numpy())
        raise


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


def loss_t(name: str, y, yhat):
    """The practical's losses per sample, on tensors (y one-hot for the cross-entropies)."""
    if name == "MSELoss":
        return ((y - yhat) ** 2).sum(dim=1)
    if name == "BCELoss":
        return -(y * torch.log(yhat) + (1 - y) * torch.log(1 - yhat)).sum(dim=1)
    if name == "CELoss":
        return -(y * torch.log(yhat)).sum(dim=1)
    return -(y * torch.log_softmax(yhat, dim=1)).sum(dim=1)


def expected_loss(name: str, y, yhat) -> np.ndarray:
    with torch.no_grad():
        return loss_t(name, t(y), t(yhat)).numpy()


LOSS_FORMULAS = {
    "MSELoss": "||y - yhat||² per sample, summed over the features (no 1/2, no mean)",
    "BCELoss": "-sum_j [y_j log yhat_j + (1 - y_j) log(1 - yhat_j)] per sample",
    "CELoss": "-sum_j y_j log yhat_j per sample",
    "CELogSoftmax": "-sum_j y_j log softmax(yhat)_j per sample",
}


def loss_forward_scenario(student, name: str, batch=5, width=4, seed=3) -> None:
    y, yhat = loss_inputs(name, batch, width, seed)
    value = call(f"{name}().forward(y, yhat)", getattr(student, name)().forward, y, yhat)
    got = check_array(value, (batch,), _("{name}().forward(y, yhat) for y, yhat of shape "
                                         "[{batch}, {width}] (one loss per sample)").format(
                                           name=name, batch=batch, width=width))
    check_close(got, expected_loss(name, y, yhat), f"{name}().forward: {LOSS_FORMULAS[name]}",
                rtol=1e-6, atol=1e-9)


def loss_backward_scenario(student, name: str, batch=5, width=4, seed=3) -> None:
    y, yhat = loss_inputs(name, batch, width, seed)
    check_loss_backward(student, name, y, yhat, f"{name}()")


# -------------------------------------------------------------------- bookkeeping


def one_backward(module, x, delta, doing: str) -> dict:
    """forward(x), zero_grad(), one backward_update_gradient(x, delta): the module's state."""
    call(doing, module.forward, x)
    call(doing, module.zero_grad)
    call(doing, module.backward_update_gradient, x, delta)
    return state(module)


def accumulation_scenario(student, module, x, out_shape, what: str) -> None:
    """Gradients after zero_grad + one backward_update_gradient, after a second one, and after
    zero_grad again: each read straight from the module."""
    delta = randn(*out_shape, seed=4)
    doing = (f"{what}: forward(x), zero_grad(), backward_update_gradient(x, delta) twice, "
             "zero_grad()")
    st = one_backward(module, x, delta, doing)
    call(doing, module.backward_update_gradient, x, delta)
    twice = dict(entries(attribute(module, "_gradient"), f"{what}._gradient"))
    call(doing, module.zero_grad)
    reset = dict(entries(attribute(module, "_gradient"), f"{what}._gradient"))
    once = {k: g for k, _, g in gradient_matches_parameters(st["parameters"], st["gradient"], what)}
    for key, g1 in once.items():
        if not np.any(g1 != 0):
            raise CheckFailure(_("{what}._gradient{label} is still all zeros after "
                                 "backward_update_gradient").format(what=what, label=label(key)))
        g2 = twice[key]
        if np.allclose(g2, g1, rtol=1e-12, atol=0) and not np.allclose(g2, 2 * g1):
            raise known.GRADIENT_OVERWRITTEN.at(f"{what.split('(')[0]}.backward_update_gradient"
                                                ).failure(_("{what}._gradient{label} after two "
                                                            "calls is that of one").format(
                                                              what=what, label=label(key)))
        check_close(g2, 2 * g1, _("{what}._gradient{label} after two backward_update_gradient "
                                  "calls (twice that of one: gradients accumulate)").format(
                                    what=what, label=label(key)), rtol=1e-10, atol=1e-12)
        if np.any(reset[key] != 0):
            raise CheckFailure(_("zero_grad() left {value} non-zero values in "
                                 "{what}._gradient{label}").format(
                                   value=int(np.sum(reset[key] != 0)), what=what,
                                   label=label(key)))


def update_scenario(student, module, x, out_shape, steps, what: str) -> None:
    """Parameters before and after update_parameters(step) for each of ``steps`` (None: the
    default step), with the gradient of one backward_update_gradient(x, delta)."""
    delta = randn(*out_shape, seed=5)
    doing = (f"{what}: forward(x), zero_grad(), backward_update_gradient(x, delta), then "
             "update_parameters(step)")
    st = one_backward(module, x, delta, doing)
    pairs = gradient_matches_parameters(st["parameters"], st["gradient"], what)
    total = 0.0
    for step in steps:
        total += 1e-3 if step is None else step
        done = "update_parameters()" if step is None else f"update_parameters({step:g})"
        if step is None:
            call(f"{what}.{done}", module.update_parameters)
        else:
            call(f"{what}.{done}", module.update_parameters, step)
        now = dict(entries(attribute(module, "_parameters"), f"{what}._parameters"))
        for key, before, grad in pairs:
            if key not in now:
                raise CheckFailure(_("{what}.{done} removed _parameters{label}").format(
                                       what=what, done=done, label=label(key)))
            expected = before - total * grad
            if np.allclose(now[key], before + total * grad, rtol=1e-10, atol=1e-12) and np.any(grad):
                raise known.UPDATE_WRONG_SIGN.failure(_("{what}.{done} moved _parameters{label} "
                                                        "along the gradient").format(
                                                          what=what, done=done, label=label(key)))
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
    """Three modules of the grader's own: scale (d) -> duplicate (d -> 2d) -> scale (2d).
    Returns the modules, the two with parameters, and their parameters [(a1, c1), (a2, c2)]."""
    p1, a1, c1 = probe_scale(student, d, seed)
    dup = recipe(student, "ProbeDuplicate")()
    p2, a2, c2 = probe_scale(student, 2 * d, seed + 1)
    return [p1, dup, p2], [p1, p2], [(a1, c1), (a2, c2)]


def chain_forward(params, x):
    """What the probe chain computes, here (NumPy arrays or tensors)."""
    (a1, c1), (a2, c2) = params
    h = x * a1 + c1
    if isinstance(h, torch.Tensor):
        return torch.cat([h, 2 * h], dim=1) * a2 + c2
    return np.concatenate([h, 2 * h], axis=1) * a2 + c2


def chain_gradients(params, x, delta):
    """dL/dx and dL/d(a, c) of each scale module for L = sum(chain(x) * delta), by autograd."""
    leaves = [(torch.tensor(a, requires_grad=True), torch.tensor(c, requires_grad=True))
              for a, c in params]
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    (chain_forward(leaves, xt) * t(delta)).sum().backward()
    return xt.grad.numpy(), [{"a": a.grad.numpy(), "c": c.grad.numpy()} for a, c in leaves]


CHAIN = ("Sequentiel(scale, duplicate, scale) (modules of the grader's own: an element-wise "
         "affine map, [X, 2X], another affine map)")


def sequentiel_forward_scenario(student, seed=0) -> None:
    modules, _, params = probe_chain(student, seed)
    net = student.Sequentiel(*modules)
    x = randn(5, 3, seed=seed)
    out = check_array(call(f"{CHAIN}.forward(x)", net.forward, x), (5, 6),
                      gettext("{CHAIN}.forward(x) for x of shape [5, 3]").format(CHAIN=CHAIN))
    check_close(out, chain_forward(params, x), gettext("{CHAIN}.forward: the modules applied in order").format(
                                                   CHAIN=CHAIN), rtol=1e-12,
                atol=1e-12)


def sequentiel_backward_scenario(student, net, owners, params, x, out_shape, what,
                                 seed=1) -> None:
    """backward(x, delta) returns dL/dx and fills every module's gradient: both compared with
    the chain rule applied here to the probes' known parameters."""
    delta = randn(*out_shape, seed=seed)
    doing = f"{what}: forward(x), zero_grad() then backward(x, delta)"
    check_array(call(doing, net.forward, x), out_shape, f"{what}.forward(x)")
    call(doing, net.zero_grad)
    raw = call(doing, net.backward, x, delta)
    with recognising(raw, [known.SEQUENTIEL_RETURNS_NOTHING.when(lambda value: value is None)]):
        dx = check_array(raw, x.shape, gettext("{what}.backward(x, delta) (returns dL/dx, shaped "
                                               "like x)").format(what=what))
    expected_dx, expected = chain_gradients(params, x, delta)
    check_gradient(dx, expected_dx, gettext("{what}.backward(x, delta): dL/dx vs the chain rule "
                                      "computed by the grader").format(what=what))
    for position, owner in enumerate(owners):
        st = state(owner)
        for key, _, g in gradient_matches_parameters(st["parameters"], st["gradient"],
                                                     f"module {position}"):
            if not np.any(g) and np.any(expected[position][key]):
                raise CheckFailure(gettext("{what}.backward(x, delta) left the gradient of parameter "
                                     "{key!r} of the module with parameters #{value} at zero: "
                                     "call backward_update_gradient on every module").format(
                                       what=what, key=key, value=position + 1))
            check_gradient(g, expected[position][key], gettext("{what}.backward(x, delta): gradient "
                                                         "of parameter {key!r} of the module "
                                                         "with parameters #{value}, vs the "
                                                         "chain rule computed by the grader").format(
                                                           what=what, key=key, value=position + 1))


def sequentiel_bookkeeping_scenario(student, seed=0) -> None:
    """update_parameters and zero_grad of a Sequentiel reach all its modules."""
    modules, owners, _ = probe_chain(student, seed)
    net = student.Sequentiel(*modules)
    # Gradients set here, module by module, without the Sequentiel's backward.
    for owner, d in zip(owners, (3, 6)):
        owner.backward_update_gradient(randn(4, d, seed=seed + d), randn(4, d, seed=seed + 10 + d))
    before = [state(o) for o in owners]
    call(f"{CHAIN}.update_parameters(0.5)", net.update_parameters, 0.5)
    after = [state(o) for o in owners]
    for position, (b, a) in enumerate(zip(before, after)):
        for key in ("a", "c"):
            expected = b["parameters"][key] - 0.5 * b["gradient"][key]
            if np.array_equal(a["parameters"][key], b["parameters"][key]):
                raise CheckFailure(gettext("{CHAIN}.update_parameters(0.5) did not change the "
                                     "parameters of its module #{value}: call "
                                     "update_parameters on every module").format(
                                       CHAIN=CHAIN, value=[1, 3][position]))
            check_close(a["parameters"][key], expected, gettext("{CHAIN}.update_parameters(0.5): "
                                                          "parameter {key!r} of module "
                                                          "#{value} (parameter - 0.5 · "
                                                          "gradient; the step must be passed "
                                                          "on)").format(
                                                            CHAIN=CHAIN, key=key, value=[1,
                                                            3][position]), rtol=1e-12, atol=1e-12)
    call(f"{CHAIN}.zero_grad()", net.zero_grad)
    for position, s in enumerate(state(o) for o in owners):
        for key in ("a", "c"):
            if np.any(s["gradient"][key] != 0):
                raise CheckFailure(gettext("{CHAIN}.zero_grad() did not reset the gradient of its "
                                     "module #{value}: call zero_grad on every module").format(
                                       CHAIN=CHAIN, value=[1, 3][position]))


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
    final = attribute(net, "_parameters")
    losses, ea, ec = replay(a, c, X, Y, batches, eps)
    what = (gettext("Optim(net, loss, eps={eps:g}).step on batches of 6 then 4 (net: an element-wise "
              "affine module of the grader's own, loss: sum_j y_j yhat_j)").format(eps=eps))
    # The second batch's loss is taken after the first update: a mistaken update shows there.
    summed = replay(a, c, X, Y, batches, eps, mean=False)[0]
    kept = replay(a, c, X, Y, batches, eps, zero=False)[0]
    for k, (value, expected) in enumerate(zip(returned, losses)):
        check_number(value, expected, gettext("{what}: the value returned by step #{value} (the "
                                        "batch's mean loss, before the update)").format(
                                          what=what, value=k + 1), rtol=1e-9, atol=1e-12,
                     known_mistakes=[known.OPTIM_SUMMED_GRADIENT.gives(summed[k]),
                                     known.OPTIM_NO_ZERO_GRAD.gives(kept[k]),
                                     known.OPTIM_RETURNS_SUMMED_LOSS.gives(
                                         expected * len(batches[k]))])
    for name, got, expected in (("a", final["a"], ea), ("c", final["c"], ec)):
        if np.allclose(got, expected, rtol=1e-9, atol=1e-12):
            continue
        def replayed(mean: bool, zero: bool, name=name):
            """The parameter after the two steps, done here the mistaken way."""
            _, xa, xc = replay(a, c, X, Y, batches, eps, mean=mean, zero=zero)
            return xa if name == "a" else xc

        diagnosis = ""
        if np.allclose(got, replayed(False, False), rtol=1e-9, atol=1e-12):
            diagnosis = _(" — no zero_grad and no division by the batch size")
        if np.allclose(got, a if name == "a" else c):
            diagnosis = gettext(" — the parameters did not move: call net.update_parameters(eps)")
        check_close(got, expected, gettext("{what}: parameter {name!r} after the two steps{diagnosis}").format(
                                       what=what, name=name, diagnosis=diagnosis),
                    rtol=1e-9, atol=1e-12, known_mistakes=[
                        known.OPTIM_SUMMED_GRADIENT.gives(lambda: replayed(False, True)),
                        known.OPTIM_NO_ZERO_GRAD.gives(lambda: replayed(True, False))])


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
        ids = as_array(ids, _("batch ids"))
        if not np.all(np.isin(ids, np.arange(n))):
            raise CheckFailure(_("SGD passed the network rows that are not rows of X"))
        batches.append(ids.astype(np.int64))
    return history, batches, (a, c, X, Y)


def split_epochs(batches, n, epochs, batch_size, what):
    """Group the batches by epoch, checking sizes and that each epoch sees every sample once."""
    expected_steps = math.ceil(n / batch_size)
    sizes = [len(b) for b in batches]
    if len(batches) != expected_steps * epochs:
        if len(batches) == epochs and all(s == n for s in sizes):
            raise known.SGD_IGNORES_BATCH_SIZE.failure(_("{what}: one update per epoch on all {n} samples — batch_size "
                                 "is ignored (expected {expected_steps} updates per epoch on "
                                 "batches of {batch_size})").format(
                                   what=what, n=n, expected_steps=expected_steps,
                                   batch_size=batch_size))
        raise CheckFailure(_("{what}: {count} updates with batch sizes {sizes}{value}; "
                             "expected {expected_steps} per epoch ({epochs} epochs, batches of "
                             "{batch_size}, the last one smaller)").format(
                               what=what, count=len(batches), sizes=sizes[:12],
                               value='...' if len(sizes) > 12 else '',
                               expected_steps=expected_steps, epochs=epochs,
                               batch_size=batch_size))
    per_epoch = [batches[e * expected_steps:(e + 1) * expected_steps] for e in range(epochs)]
    want = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    for e, epoch in enumerate(per_epoch):
        got = [len(b) for b in epoch]
        if got != want:
            raise CheckFailure(_("{what}: epoch {e} used batches of sizes {got}, expected "
                                 "{want}").format(what=what, e=e, got=got, want=want))
        ids = np.concatenate(epoch)
        if sorted(ids.tolist()) != list(range(n)):
            missing = sorted(set(range(n)) - set(ids.tolist()))
            raise CheckFailure(_("{what}: epoch {e} did not use every sample exactly once "
                                 "(missing {missing}{value})").format(
                                   what=what, e=e, missing=missing[:10],
                                   value='...' if len(missing) > 10 else ''))
    return per_epoch


# ------------------------------------------------------------------------- training


def usps_arrays(dataset, n):
    """The first n images as float64 rows (n, 256) and their labels."""
    n = min(n, len(dataset))
    x = dataset.images[:n].reshape(n, -1).numpy().astype(np.float64)
    return x, dataset.labels[:n].numpy()


class Layer:
    """A module of a training network as the judge sees it: the student's module (a handle), the
    operation the practical fixes for it, and its parameters read back before training."""

    def __init__(self, module, op: Op, what: str):
        self.module, self.op, self.what = module, op, what
        self.before = attribute(module, "_parameters") if op.spec else None

    def parameters(self, probe_x, when: str) -> tuple[dict, dict, str]:
        """The parameters before and after training in the canonical layout (the reading that
        reproduces the module's own forward on ``probe_x``), and a note when none does."""
        if not self.op.spec:
            return {}, {}, ""
        after = attribute(self.module, "_parameters")
        arrays = {k: v.astype(np.float64) for k, v in entries(after, f"{self.what}._parameters")}
        out = as_array(call(f"{self.what}.forward(x) {when}", self.module.forward, probe_x),
                       f"{self.what}.forward(x) {when}")
        found, matched = matching_readings(after, self.op, probe_x, out, self.what)
        reading = found[0]
        before = {k: v.astype(np.float64)
                  for k, v in entries(self.before, f"{self.what}._parameters")}
        if set(before) != set(arrays) or any(before[k].shape != arrays[k].shape for k in arrays):
            raise CheckFailure(_("{what}: its _parameters changed keys or shapes during "
                                 "training ({describe_layout} before, {describe_layout2} after)").format(
                                   what=self.what, describe_layout=describe_layout(self.before),
                                   describe_layout2=describe_layout(after)))
        note = "" if matched else (_("{what}.forward does not compute {label} of its "
                                     "parameters: the network was scored with the right "
                                     "operation").format(what=self.what, label=self.op.label))
        return reading.canonical(before), reading.canonical(arrays), note


def network_outputs(layers, params, x):
    """The network's output computed here: each layer's operation on its parameters."""
    h = t(x)
    with torch.no_grad():
        for layer, p in zip(layers, params):
            h = layer.op(p, h)
    return h.numpy()


def trained_parameters(layers, x, when: str) -> tuple[list, list, list[str]]:
    """Per layer: parameters before and after training (canonical), and notes. Each module's
    own forward is called on what reaches it (computed here) to find its layout."""
    before, after, notes = [], [], []
    h = t(x)
    for layer in layers:
        b, a, note = layer.parameters(h.numpy(), when)
        before.append(b)
        after.append(a)
        notes += [note] if note else []
        with torch.no_grad():
            h = layer.op(a, h)
    return before, after, notes


def train(student, net, loss_name, x, y, settings, prefix, seed):
    """The student's SGD on the student's network; what it returned (only drawn, below)."""
    return call(_("SGD(net, loss, X, Y, batch_size, epochs, eps, seed)"), student.SGD, net,
                getattr(student, loss_name)(), x, y, int(settings[f"{prefix}_batch_size"]),
                int(settings[f"{prefix}_epochs"]), float(settings[f"{prefix}_eps"]), seed)


def draw_history(score, history, epochs) -> str:
    """Attach what SGD returned as the learning curve when it is one number per epoch; else a
    note (the check "SGD returns the mean loss of each epoch" is about it, not this one)."""
    try:
        curve = training_curve(history, epochs, "SGD(...)")
    except CheckFailure:
        return (_("; SGD returned {describe_value}, not one mean loss per epoch: no learning "
                  "curve drawn (that costs the check about SGD's return value only)").format(
                    describe_value=describe_value(history)))
    if all(math.isfinite(v) for v in curve):
        score.attach("learning_curves", {"train_loss": curve})
    return ""


def ce(logits, labels) -> float:
    """Mean cross-entropy of logits against class indices, computed here."""
    with torch.no_grad():
        return float(F.cross_entropy(t(logits), torch.as_tensor(labels, dtype=torch.int64)))


def untrained_hint(before: list[dict], after: list[dict]) -> str:
    """Why a network may not have learnt, from whether its parameters moved at all."""
    moved = any(not np.array_equal(b[k], a[k]) for b, a in zip(before, after) for k in a)
    if moved:
        return _(" — is the step's sign right (parameter -= eps · gradient), and the step size "
                 "eps?")
    return (_(" — the parameters of the modules given to Sequentiel did not change at all: "
              "does SGD call Optim.step on every batch, does update_parameters change the "
              "arrays of _parameters, and does Sequentiel use the modules it was given (not "
              "copies)?"))


def classifier_scenario(student, score, layers, net, x, y_onehot, x_test, y_test, settings,
                        prefix, seed, what, context, n_classes):
    """Train with the student's SGD; the judge computes the test logits from the trained
    parameters, and the test loss before and after: no decrease, no credit."""
    epochs = int(settings[f"{prefix}_epochs"])
    history = train(student, net, "CELogSoftmax", x, y_onehot, settings, prefix, seed)
    before, after, notes = trained_parameters(layers, x_test, _("after training"))
    logits = network_outputs(layers, after, x_test)
    check_finite(logits, _("the trained network's outputs (computed from its parameters)"))
    loss_before, loss_after = ce(network_outputs(layers, before, x_test), y_test), ce(logits, y_test)
    context += (_("; loss on these images, computed here from the parameters, "
                  "{loss_before:.3f} before training, {loss_after:.3f} after").format(
                    loss_before=loss_before, loss_after=loss_after))
    context += draw_history(score, history, epochs)
    score.award_accuracy(torch.from_numpy(logits), torch.from_numpy(np.asarray(y_test)).to(torch.int64),
                         what=what, context=context,
                         low=float(settings[f"{prefix}_accuracy_low"]),
                         high=float(settings[f"{prefix}_accuracy_high"]), n_classes=n_classes)
    if not loss_after < loss_before:
        score.partial(0.0, f"{what}: the loss did not decrease during training ({loss_before:.4f} "
                      f"before, {loss_after:.4f} after, computed here from the network's "
                      "parameters): no credit for an untrained network"
                      + untrained_hint(before, after))
    if notes:
        score.note(score.message + " (note: " + "; ".join(notes) + ")")


def usps_arrays(dataset, n):
    """The first n images as float64 rows (n, 256) and their labels."""
    n = min(n, len(dataset))
    x = dataset.images[:n].reshape(n, -1).numpy().astype(np.float64)
    return x, dataset.labels[:n].numpy()


def mlp_accuracy_scenario(student, settings, usps, score, seed: int) -> None:
    """An MLP of the student's modules trained by the student's SGD; the judge computes its
    predictions from the trained parameters."""
    train_set, test = usps
    x, labels = usps_arrays(train_set, int(settings["mlp_train_size"]))
    x_test, y_test = usps_arrays(test, int(settings["mlp_test_size"]))
    student.process.reseed(seed)
    hidden = int(settings["mlp_hidden"])
    layers = [Layer(student.Linear(x.shape[1], hidden), linear_op(x.shape[1], hidden),
                    f"Linear({x.shape[1]}, {hidden})"),
              Layer(student.TanH(), OPS["TanH"], "TanH()"),
              Layer(student.Linear(hidden, 10), linear_op(hidden, 10), f"Linear({hidden}, 10)")]
    net = student.Sequentiel(*[layer.module for layer in layers])
    epochs = int(settings["mlp_epochs"])
    classifier_scenario(
        student, score, layers, net, x, one_hot(labels, 10), x_test, y_test, settings, "mlp",
        seed, _("held-out {name} images").format(name=test.name),
        _("after {epochs} epochs of SGD on Linear({shape}, {hidden}) → TanH → Linear({hidden}, "
          "10) with CELogSoftmax").format(epochs=epochs, shape=x.shape[1], hidden=hidden), 10)


def training_curve(history, epochs, what) -> list[float]:
    """One number per epoch (a list, tuple or 1-D array), or a failure saying what came."""
    if isinstance(history, np.ndarray) and history.ndim == 1:
        history = history.tolist()
    if history is None:
        raise known.SGD_RETURNS_NOTHING.failure(_("{what} returned None").format(what=what))
    if not isinstance(history, (list, tuple)) or len(history) != epochs:
        hint = ""
        if isinstance(history, (list, tuple)) and len(history) > epochs and len(history) % epochs == 0:
            # The common way to plot it: one loss appended per mini-batch.
            hint = (_(" — {count} numbers, {value} per epoch: one per mini-batch? Add up each "
                      "epoch's batch losses (times their sizes), divide by the number of "
                      "samples and append that once, after the epoch's loop").format(
                        count=len(history), value=len(history) // epochs))
        raise CheckFailure(_("{what} should return one mean loss per epoch ({epochs} numbers); "
                             "got {describe_value}{hint}").format(
                               what=what, epochs=epochs, describe_value=describe_value(history),
                               hint=hint))
    values = []
    for v in history:
        if isinstance(v, np.ndarray) and v.size == 1:
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise CheckFailure(_("{what} should return a list of numbers; got {describe_value}").format(
                                   what=what, describe_value=describe_value(history)))
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
    """Conv1D(4, 1, 4) → ReLU → MaxPool1D(2, 2) → Flatten → Linear(56, 2), CELogSoftmax; the
    judge computes the predictions from the trained kernel and weights."""
    x, labels = signals(int(settings["conv_train_size"]), seed=2 * seed)
    x_test, y_test = signals(int(settings["conv_test_size"]), seed=2 * seed + 1)
    student.process.reseed(seed)
    layers = [Layer(student.Conv1D(4, 1, 4), conv1d_op(4, 1, 4), "Conv1D(4, 1, 4)"),
              Layer(student.ReLU(), OPS["ReLU"], "ReLU()"),
              Layer(student.MaxPool1D(2, 2), maxpool1d_op(2, 2), "MaxPool1D(2, 2)"),
              Layer(student.Flatten(), OPS["Flatten"], "Flatten()"),
              Layer(student.Linear(56, 2), linear_op(56, 2), "Linear(56, 2)")]
    net = student.Sequentiel(*[layer.module for layer in layers])
    epochs = int(settings["conv_epochs"])
    classifier_scenario(
        student, score, layers, net, x, one_hot(labels, 2), x_test, y_test, settings, "conv",
        seed, _("held-out signals (a flat bump or an oscillation at a random place)"),
        _("after {epochs} epochs of Conv1D(4, 1, 4) → ReLU → MaxPool1D(2, 2) → Flatten → "
          "Linear(56, 2)").format(epochs=epochs), 2)


