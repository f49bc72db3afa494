"""Scenarios shared by the public and hidden checks of the optimisation practical.

Each scenario runs one element of the student's code in the student process, on values the
judge chose (seeded generators), and compares what comes back with torch's own
implementation run here, in the judge: ``torch.optim.SGD`` and ``torch.optim.RMSprop`` step by
step, ``nn.BatchNorm1d`` on the same batches, autograd's gradient of the penalty, the
binomial law of dropout's zeros, and the macro-averaged scores computed from a confusion
matrix. The child-side helpers (``student_side.py``) keep the parameters the student
updates in place and send back values only.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import nn

from grader.api import N_, _
from grader.api import (as_number, as_tensor, call, check_close, check_shape, CheckFailure,
                        describe_value, models as mc, NotImplementedYet, recipe, StudentError)

import optim_mistakes as known

# Tolerances of the comparisons with torch (float32 values; a valid solution that orders its
# operations differently stays within ~1e-6 of torch here).
RTOL, ATOL = 1e-5, 1e-6


LEAF_HINT = ("The parameters are leaf tensors that require gradients, as a model's are: "
             "update them in place inside `with torch.no_grad():`.")


# The hint optimisers need most, when the student's error says so: in-place updates of leaves.
call = functools.partial(call, hints={"leaf Variable that requires grad": LEAF_HINT})


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _describe_kwargs(kwargs: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in kwargs.items())


# ------------------------------------------------------------------------------ optimisers

# Parameters shaped like a small MLP's (Linear(4, 8), Linear(8, 3)): weights and biases.
SHAPES = [(8, 4), (8,), (3, 8), (3,)]


def initial_parameters(seed: int, shapes=SHAPES) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g) * 0.5 for s in shapes]


def gradient_sequence(seed: int, n_steps: int, shapes=SHAPES, tiny: int | None = None
                      ) -> list[list[torch.Tensor]]:
    """``n_steps`` lists of gradients; parameter ``tiny`` gets gradients of order 1e-4 (where
    RMSprop's eps matters)."""
    g = torch.Generator().manual_seed(seed)
    steps = []
    for _ in range(n_steps):
        grads = [torch.randn(s, generator=g) for s in shapes]
        if tiny is not None:
            grads[tiny] = grads[tiny] * 1e-4
        steps.append(grads)
    return steps


def torch_trajectory(kind: str, initial, grads_per_step, kwargs: dict) -> list[list[torch.Tensor]]:
    """The parameters after each step of torch's own optimiser, fed the same gradients."""
    params = [nn.Parameter(p.clone()) for p in initial]
    opt = (torch.optim.SGD(params, **kwargs) if kind == "sgd"
           else torch.optim.RMSprop(params, **kwargs))
    after = []
    for grads in grads_per_step:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
        after.append([p.detach().clone() for p in params])
    return after


def variant_trajectory(kind: str, variant: str, initial, grads_per_step, kwargs: dict):
    """The trajectory a known mistake gives (to name it in the message), in float64."""
    params = [p.double().clone() for p in initial]
    state = [None] * len(params)
    after = []
    lr = kwargs.get("lr", 1e-2)
    for grads in grads_per_step:
        for i, (p, grad) in enumerate(zip(params, grads)):
            grad = grad.double()
            if kind == "sgd":
                m, wd = kwargs.get("momentum", 0.0), kwargs.get("weight_decay", 0.0)
                if variant == "weight_decay_after_momentum":
                    buf = grad.clone() if state[i] is None else m * state[i] + grad
                    state[i] = buf
                    step = (buf if m else grad) + wd * p
                else:  # zero_initial_velocity: the buffer starts at 0, the first step is lost
                    g = grad + wd * p
                    buf = torch.zeros_like(g) if state[i] is None else m * state[i] + g
                    state[i] = buf
                    step = buf if m else g
                p -= lr * step
            else:
                alpha, eps = kwargs.get("alpha", 0.99), kwargs.get("eps", 1e-8)
                avg = torch.zeros_like(p) if state[i] is None else state[i]
                if variant == "alpha_swapped":
                    avg = (1 - alpha) * avg + alpha * grad * grad
                    denom = avg.sqrt() + eps
                else:  # eps_inside_sqrt
                    avg = alpha * avg + (1 - alpha) * grad * grad
                    denom = (avg + eps).sqrt()
                state[i] = avg
                p -= lr * grad / denom
        after.append([p.clone() for p in params])
    return after


KNOWN_VARIANTS = {"weight_decay_after_momentum": known.WEIGHT_DECAY_AFTER_MOMENTUM,
                  "zero_initial_velocity": known.VELOCITY_STARTS_AT_ZERO,
                  "alpha_swapped": known.RMSPROP_ALPHA_SWAPPED,
                  "eps_inside_sqrt": known.RMSPROP_EPS_INSIDE_SQRT}
VARIANTS = {"sgd": ("weight_decay_after_momentum", "zero_initial_velocity"),
            "rmsprop": ("alpha_swapped", "eps_inside_sqrt")}


def _trajectory_matches(got, expected, rtol=RTOL, atol=ATOL) -> bool:
    return all(torch.allclose(g.double(), e.double(), rtol=rtol, atol=atol)
               for gs, es in zip(got, expected) for g, e in zip(gs, es))


def compare_trajectories(got_steps: list, expected: list, initial: list, what: str,
                         label: str) -> None:
    """Compare the parameters after every step; fail at the first step and parameter that
    differ, with how much and, where it is recognisable, the mistake that gives them."""
    n_steps = len(expected)
    if len(got_steps) != n_steps:
        raise CheckFailure(_("{what}: expected {n_steps} steps, got {count}").format(
                               what=what, n_steps=n_steps, count=len(got_steps)))
    for k, (got, exp) in enumerate(zip(got_steps, expected)):
        for i, (g, e) in enumerate(zip(got, exp)):
            where = f"{what}, step {k + 1} of {n_steps}: parameter {i} (shape {list(e.shape)})"
            g = check_shape(g, tuple(e.shape), where)
            bad = ~torch.isclose(g.double(), e.double(), rtol=RTOL, atol=ATOL)
            if not bool(bad.any()):
                continue
            diff = (g.double() - e.double()).abs()
            diff = torch.where(torch.isnan(diff), torch.full_like(diff, math.inf), diff)
            flat = int(torch.where(bad, diff, torch.zeros_like(diff)).reshape(-1).argmax())
            index = tuple(int(j) for j in np.unravel_index(flat, tuple(e.shape))) if e.dim() else ()
            message = (_("{where} differs from {label} in {sum} of {numel} values; largest "
                         "difference {reshape:.3g} at index {index} (got {fmt}, {label} "
                         "{fmt2}; allowed {ATOL:g} + {RTOL:g}·|{label}|)").format(
                           where=where, label=label, sum=int(bad.sum()), numel=e.numel(),
                           reshape=diff.reshape(-1)[flat].item(), index=index,
                           fmt=_fmt(g.reshape(-1)[flat].item()),
                           fmt2=_fmt(e.reshape(-1)[flat].item()), ATOL=ATOL, RTOL=RTOL))
            if _unchanged(got_steps, initial):
                raise known.PARAMETERS_REBOUND.at(what.split("(")[0]).failure(message)
            raise CheckFailure(message + _diagnosis(got_steps, initial, k))


IN_PLACE_HINT = N_("update them in place (p -= lr * g, p.sub_(...) or p.copy_(...) under "
                   "torch.no_grad()); `p = p - lr * g` only rebinds a local name, and the model "
                   "never sees the update.")  # translated where it is shown


def _unchanged(got_steps, initial) -> bool:
    return all(torch.equal(torch.as_tensor(g), p) for step in got_steps for g, p in
               zip(step, initial))


def _diagnosis(got_steps, initial, k) -> str:
    if _unchanged(got_steps, initial):
        return _("\nThe parameters never changed: {IN_PLACE_HINT}").format(
                   IN_PLACE_HINT=_(IN_PLACE_HINT))
    if k > 0:
        first = "The first step matches" if k == 1 else f"The first {k} steps match"
        return (_("\n{first}: check the state carried from one call to the next (what a call "
                  "returns is passed back to the next one).").format(first=first))
    return ""


def optimizer_scenario(student, kind: str, kwargs: dict, *, n_steps: int, seed: int,
                       tiny: int | None = None, pass_state: bool = True,
                       compare: bool = True) -> dict:
    """``n_steps`` calls of the student's step function on parameters that live in the
    student process, against torch's optimiser here on the same values (unless ``compare`` is
    False). ``kwargs`` are the keyword arguments of each call (and of torch's optimiser)."""
    name = "sgd_step" if kind == "sgd" else "rmsprop_step"
    label = "torch.optim.SGD" if kind == "sgd" else "torch.optim.RMSprop"
    initial = initial_parameters(seed)
    grads = gradient_sequence(seed + 1000, n_steps, tiny=tiny)
    what = f"{name}({_describe_kwargs(kwargs) or 'default arguments'})"
    step = getattr(student, name)
    args = ", ".join(["params", "grads"] + (["state"] if kind == "rmsprop" else [])
                     + ([_describe_kwargs(kwargs)] if kwargs else []))
    reply = call(f"{name}({args})", recipe(student, "optimizer_steps"), kind, step, initial, grads,
                 kwargs, pass_state)
    got = [s["params"] for s in reply["steps"]]
    if not compare:
        return {"reply": reply, "grads": grads, "initial": initial}
    expected = torch_trajectory(kind, initial, grads, kwargs)
    try:
        compare_trajectories(got, expected, initial, what, label)
    except CheckFailure as failure:
        for variant in VARIANTS[kind]:
            mistake = variant_trajectory(kind, variant, initial, grads, kwargs)
            if (_trajectory_matches(got, mistake, rtol=1e-4, atol=1e-5)
                    and not _trajectory_matches(expected, mistake, rtol=1e-4, atol=1e-5)):
                raise KNOWN_VARIANTS[variant].failure(str(failure)) from None
        raise
    return {"reply": reply, "grads": grads, "initial": initial}


MODEL = [("Linear", 4, 8), ("Tanh",), ("Linear", 8, 3)]


# ------------------------------------------------------------------------------ decayed_lr

def decayed_lr_values(student, cases: list[tuple[float, float, int]]) -> None:
    for lr0, decay, iteration in cases:
        what = f"decayed_lr({lr0:g}, {decay:g}, {iteration})"
        value = as_number(student.decayed_lr(lr0, decay, iteration), what)
        expected = lr0 / (1 + decay * iteration)
        if not abs(value - expected) <= 1e-9 + 1e-7 * abs(expected):
            if abs(value - lr0 * decay ** iteration) <= 1e-9 + 1e-7 * abs(value):
                raise known.DECAY_EXPONENTIAL.failure(_("{what} = {value:.6g}, expected lr0 / "
                                                        "(1 + decay · iteration) = "
                                                        "{expected:.6g}").format(
                                                          what=what, value=value,
                                                          expected=expected))
            raise CheckFailure(_("{what} = {value:.6g}, expected lr0 / (1 + decay · iteration) "
                                 "= {expected:.6g}").format(
                                   what=what, value=value, expected=expected))


# ------------------------------------------------------------------------------ l2_penalty

def l2_penalty_scenario(student, layers: list[tuple], lam: float, seed: int) -> None:
    """l2_penalty on a model of library layers: value lam · Σ w² over the weights (biases
    excluded) and gradient 2 · lam · w for the weights, 0 for the biases."""
    model, local = mc.library_model(student, layers, seed=seed)
    described = " → ".join(f"{n}({', '.join(map(str, a))})" for n, *a in layers)
    what = _("l2_penalty(model, lam={lam:g}) for model = {described}").format(
               lam=lam, described=described)
    reply = call(what, recipe(student, "penalty_and_gradients"), student.l2_penalty, model, lam)
    named = list(local.named_parameters())
    weights = [(n, p.detach()) for n, p in named if n.endswith("weight")]
    biases = [(n, p.detach()) for n, p in named if not n.endswith("weight")]
    expected = lam * sum(float((w.double() ** 2).sum()) for _, w in weights)

    value = as_number(reply["value"], what)
    if not math.isclose(value, expected, rel_tol=1e-5, abs_tol=1e-9):
        with_biases = lam * sum(float((p.double() ** 2).sum()) for _, p in named)
        no_lam = expected / lam
        detail = _("{what} = {value:.6g}, expected lam · Σ w² over the weights = {expected:.6g}").format(
                     what=what, value=value, expected=expected)
        if math.isclose(value, with_biases, rel_tol=1e-5):
            raise known.L2_WITH_BIASES.failure(detail)
        if math.isclose(value, no_lam, rel_tol=1e-5):
            raise known.L2_WITHOUT_LAMBDA.failure(detail)
        if math.isclose(value, lam * math.sqrt(no_lam), rel_tol=1e-5):
            raise known.L2_SQUARE_ROOT.failure(detail)
        raise CheckFailure(detail)
    if not reply["is_tensor"] or not reply["requires_grad"]:
        raise known.L2_DETACHED.failure(
            _("{what} returned {describe_value}, with requires_grad False").format(
                what=what, describe_value=describe_value(reply['value'])))
    grads = {g["name"]: g["grad"] for g in reply["grads"]}
    for name, w in weights:
        got = grads.get(name)
        if got is None:
            raise CheckFailure(_("{what}: the penalty does not depend on {name}; its gradient "
                                 "should be 2 · lam · {name}").format(what=what, name=name))
        check_close(got, 2 * lam * w, _("{what}: gradient with respect to {name} (expected 2 · "
                                        "lam · w)").format(what=what, name=name), rtol=1e-5, atol=1e-8)
    for name, b in biases:
        got = grads.get(name)
        if got is not None and bool((as_tensor(got, name) != 0).any()):
            raise CheckFailure(_("{what}: the gradient with respect to {name} is not zero: "
                                 "biases must not be penalised").format(what=what, name=name))


# -------------------------------------------------------------------------------- Dropout

def dropout_statistics(student, p: float, seed: int, shape=(400, 500)) -> None:
    """Train mode on a large tensor of ones: the share of zeros is p within 6 binomial
    standard deviations, and every survivor is exactly 1 / (1 - p)."""
    x = torch.ones(shape)
    n = x.numel()
    what = _("Dropout({p:g}) in train mode on torch.ones({join})").format(
               p=p, join=', '.join(map(str, shape)))
    layer = student.Dropout(p)
    y = check_shape(call(what, recipe(student, "module_output"), layer, x, True, seed), shape, what)
    y = y.double()
    zeros = int((y == 0).sum())
    rate = zeros / n
    tolerance = 6 * math.sqrt(p * (1 - p) / n)
    if abs(rate - p) > tolerance:
        hint = ""
        if abs(rate - (1 - p)) <= tolerance:
            raise known.DROPOUT_P_IS_KEEP.failure(
                _("{what}: {rate:.4f} of the outputs are zero ({zeros:,} of {n:,}), expected p "
                  "= {p:g}").format(what=what, rate=rate, zeros=zeros, n=n, p=p))
        if zeros == 0:
            hint = _(": nothing was dropped — is the layer active in train mode?")
        raise CheckFailure(_("{what}: {rate:.4f} of the outputs are zero ({zeros:,} of {n:,}), "
                             "expected p = {p:g} ± {tolerance:.4f} (6 binomial standard "
                             "deviations){hint}").format(
                               what=what, rate=rate, zeros=zeros, n=n, p=p, tolerance=tolerance,
                               hint=hint))
    kept = y[y != 0]
    scale = 1 / (1 - p)
    wrong = ~torch.isclose(kept, torch.full_like(kept, scale), rtol=1e-6, atol=0)
    if bool(wrong.any()):
        value = kept[wrong][0].item()
        detail = (_("{what}: {sum:,} of the {numel:,} elements kept are not 1 / (1 - p) = "
                    "{scale:.6g} (e.g. {value:.6g})").format(
                      what=what, sum=int(wrong.sum()), numel=kept.numel(), scale=scale,
                      value=value))
        if abs(value - 1) < 1e-6:
            raise known.DROPOUT_NOT_RESCALED.failure(detail)
        if abs(value - 1 / p) < 1e-5:
            raise known.DROPOUT_P_IS_KEEP.failure(detail)
        raise CheckFailure(detail)


def dropout_identity(student, p: float, train: bool, seed: int) -> None:
    """Eval mode (or p = 0) returns the input unchanged."""
    x = torch.randn(64, 32, generator=torch.Generator().manual_seed(seed))
    mode = "train" if train else "eval"
    what = f"Dropout({p:g}) in {mode} mode"
    layer = student.Dropout(p)
    y = check_shape(call(what, recipe(student, "module_output"), layer, x, train, seed),
                    tuple(x.shape), what)
    if not torch.equal(y.to(x.dtype), x):
        changed = int((y.to(x.dtype) != x).sum())
        if not train:
            raise known.DROPOUT_IN_EVAL.failure(_("{what} changed {changed:,} of {numel:,} "
                                                  "values").format(
                                                    what=what, changed=changed, numel=x.numel()))
        why = (_("in eval mode (model.eval()) dropout is the identity: check self.training")
               if not train else _("with p = 0 nothing is dropped and 1 / (1 - p) = 1"))
        raise CheckFailure(_("{what} changed {changed:,} of {numel:,} values: {why}").format(
                               what=what, changed=changed, numel=x.numel(), why=why))


# ---------------------------------------------------------------------------- BatchNorm1d

def batchnorm_scenario(student, *, num_features: int, eps: float, momentum: float,
                       batch_sizes: list[int], seed: int, defaults: bool = False) -> dict:
    """The student's BatchNorm1d and nn.BatchNorm1d with the same non-trivial weight and bias,
    trained on the same batches (with the same upstream gradients), then evaluated.

    Returns, for the checks to compare: ``got`` (the child's reply) and ``expected`` (the same
    values from nn.BatchNorm1d here), and ``what``.
    """
    g = torch.Generator().manual_seed(seed)
    weight = torch.linspace(0.5, 2.0, num_features)
    bias = torch.linspace(-1.0, 1.0, num_features)
    xs = [torch.randn(n, num_features, generator=g) * 3 + k for k, n in enumerate(batch_sizes)]
    upstreams = [torch.randn(n, num_features, generator=g) for n in batch_sizes]
    x_eval = torch.randn(10, num_features, generator=g) * 2 + 1

    args = "" if defaults else f", eps={eps:g}, momentum={momentum:g}"
    what = f"BatchNorm1d({num_features}{args})"
    bn = (student.BatchNorm1d(num_features) if defaults
          else student.BatchNorm1d(num_features, eps=eps, momentum=momentum))
    got = call(what, recipe(student, "batchnorm_run"), bn, weight, bias, xs, upstreams, x_eval)
    if got["steps"] is None:
        raise CheckFailure(_("{what} should register its scale and shift as nn.Parameter named "
                             "`weight` and `bias`, like nn.BatchNorm1d; its parameters are "
                             "{got}").format(what=what, got=got['parameters']))

    theirs = nn.BatchNorm1d(num_features, eps=eps, momentum=momentum)
    with torch.no_grad():
        theirs.weight.copy_(weight)
        theirs.bias.copy_(bias)
    steps = []
    for x, up in zip(xs, upstreams):
        theirs.zero_grad()
        x = x.clone().requires_grad_(True)
        out = theirs(x)
        (out * up).sum().backward()
        steps.append({"out": out.detach(), "x_grad": x.grad, "weight_grad": theirs.weight.grad.clone(),
                      "bias_grad": theirs.bias.grad.clone(),
                      "running_mean": theirs.running_mean.clone(),
                      "running_var": theirs.running_var.clone()})
    theirs.eval()
    with torch.no_grad():
        eval_out = theirs(x_eval)
    expected = {"steps": steps, "eval": {"out": eval_out, "running_mean": theirs.running_mean.clone(),
                                         "running_var": theirs.running_var.clone()},
                "variants": running_statistics_variants(xs, momentum)}
    return {"got": got, "expected": expected, "what": what, "batch_sizes": batch_sizes,
            "x_eval": x_eval, "weight": weight, "bias": bias, "eps": eps}


def running_statistics_variants(xs, momentum: float) -> dict:
    """The running statistics after each batch under two known mistakes (to name them)."""
    variants = {}
    n_features = xs[0].shape[1]
    for name in ("biased", "reversed"):
        mean_ = torch.zeros(n_features, dtype=torch.float64)
        var_ = torch.ones(n_features, dtype=torch.float64)
        steps = []
        for x in xs:
            x = x.double()
            batch_var = x.var(dim=0, correction=0) if name == "biased" else x.var(dim=0, correction=1)
            keep = momentum if name == "reversed" else 1 - momentum
            mean_ = keep * mean_ + (1 - keep) * x.mean(dim=0)
            var_ = keep * var_ + (1 - keep) * batch_var
            steps.append({"running_mean": mean_.clone(), "running_var": var_.clone()})
        variants[name] = steps
    return variants


BN_LABELS = {"out": N_("output"), "x_grad": N_("gradient with respect to the input"),
             "weight_grad": N_("gradient with respect to weight"),
             "bias_grad": N_("gradient with respect to bias"),
             "running_mean": "running_mean", "running_var": "running_var"}  # shown with _()


def _running_stat_hint(key: str, got, variants: dict, k: int,
                       momentum: float) -> "str | known.Mistake":
    """The known mistake the running statistic ``got`` is what it gives, else a reminder."""
    rule = _("nn.BatchNorm1d updates running = (1 - momentum) · running + momentum · batch "
             "statistic (momentum = {momentum:g} is the weight of the new batch)").format(
        momentum=momentum)
    unbiased = _("the running variance is fed the unbiased batch variance (divided by n - 1), "
                 "while the batch itself is normalised with the biased one (divided by n)")
    value = as_tensor(got, key).double()

    def matches(name):
        expected = variants[name][k][key]
        return value.shape == expected.shape and torch.allclose(value, expected, rtol=1e-4, atol=1e-5)

    if matches("reversed"):
        return known.MOMENTUM_REVERSED
    if key == "running_var" and matches("biased"):
        return known.RUNNING_VAR_BIASED
    if key == "running_var":
        return _("\nAs a reminder, {rule}, and {unbiased}.").format(rule=rule, unbiased=unbiased)
    return _("\nAs a reminder, {rule}.").format(rule=rule)


def compare_batchnorm_steps(run: dict, keys: tuple[str, ...], momentum: float) -> None:
    """The listed values after every training step match nn.BatchNorm1d's."""
    got, expected, what = run["got"], run["expected"], run["what"]
    n_steps = len(expected["steps"])
    for k, (g, e) in enumerate(zip(got["steps"], expected["steps"])):
        for key in keys:
            label = (_("{what}, training step {value} of {n_steps} (batch of {run}): "
                       "{BN_LABELS}").format(
                         what=what, value=k + 1, n_steps=n_steps, run=run['batch_sizes'][k],
                         BN_LABELS=_(BN_LABELS[key])))
            if g[key] is None:
                raise CheckFailure(f"{label} is missing" + (
                    " (no gradient: is the output computed from the parameters with tensor "
                    "operations?)" if key.endswith("grad") else " (no attribute of that name)"))
            try:
                check_close(g[key], e[key], label, rtol=1e-4, atol=1e-5,
                            expected_label="nn.BatchNorm1d")
            except CheckFailure as failure:
                hint = (_running_stat_hint(key, g[key], expected["variants"], k, momentum)
                        if key.startswith("running") else "")
                if isinstance(hint, known.Mistake):
                    raise hint.failure(str(failure)) from None
                raise CheckFailure(_("{failure}{hint}").format(failure=failure, hint=hint)) from None


def compare_batchnorm_eval(run: dict) -> None:
    """After training, eval mode normalises with the running statistics (and leaves them as
    they were): the output matches nn.BatchNorm1d's given the same running statistics.

    The expected output is computed from the module's *own* running statistics: whether they
    were updated right is the running-statistics checks' business, not this one's."""
    got, expected, what = run["got"], run["expected"], run["what"]
    label = _("{what} in eval mode after {count} training steps: output").format(
                what=what, count=len(expected['steps']))
    wanted, expected_label = expected["eval"]["out"], "nn.BatchNorm1d"
    own = _own_running_statistics(got, run["weight"].shape)
    if own is not None:
        mean, var = own
        wanted = ((run["x_eval"].double() - mean) / torch.sqrt(var + run["eps"])
                  * run["weight"].double() + run["bias"].double())
        expected_label = _("nn.BatchNorm1d with your running statistics")
    x_eval = run["x_eval"].double()
    batch_normalised = ((x_eval - x_eval.mean(dim=0)) / torch.sqrt(
        x_eval.var(dim=0, correction=0) + run["eps"]) * run["weight"].double()
        + run["bias"].double())
    try:
        check_close(got["eval"]["out"], wanted, label, rtol=1e-4, atol=1e-5,
                    expected_label=expected_label,
                    known_mistakes=[known.BATCH_STATISTICS_IN_EVAL.gives(batch_normalised)])
    except known.DiagnosedFailure:
        raise
    except CheckFailure as failure:
        x_stats_hint = (_("\nIn eval mode (model.eval()) batch normalisation uses running_mean "
                          "and running_var, not the statistics of the batch it is given — the "
                          "running statistics themselves are checked separately."))
        raise CheckFailure(_("{failure}{x_stats_hint}").format(
                               failure=failure, x_stats_hint=x_stats_hint)) from None
    for key in ("running_mean", "running_var"):
        before = got["steps"][-1][key]
        after = got["eval"][key]
        if before is not None and after is not None and not torch.equal(
                as_tensor(before, key), as_tensor(after, key)):
            raise CheckFailure(_("{what}: eval mode changed {key}: the running statistics are "
                                 "updated in train mode only").format(what=what, key=key))


def _own_running_statistics(got: dict, shape) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The student's running_mean and running_var after the last training step (float64), or
    None when they are not usable tensors of the right shape."""
    steps = got.get("steps") or []
    if not steps:
        return None
    try:
        mean = as_tensor(steps[-1]["running_mean"], "running_mean").double()
        var = as_tensor(steps[-1]["running_var"], "running_var").double()
    except CheckFailure:
        return None
    if tuple(mean.shape) != tuple(shape) or tuple(var.shape) != tuple(shape):
        return None
    if not (torch.isfinite(mean).all() and torch.isfinite(var).all()) or bool((var < 0).any()):
        return None
    return mean, var


# ------------------------------------------------------------------- precision_recall_f1

def macro_scores(y_true, y_pred, n_classes: int) -> tuple[float, float, float]:
    """Macro precision, recall and F1 from the confusion matrix, computed here (0/0 counts as
    0, every class of range(n_classes) counts in the mean)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    cm = np.zeros((n_classes, n_classes), dtype=np.float64)
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros(n_classes), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(n_classes), where=actual > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(n_classes),
                   where=denominator > 0)
    return float(precision.mean()), float(recall.mean()), float(f1.mean())


def prf_scenario(student, y_true, y_pred, n_classes: int, what: str) -> None:
    answer = student.precision_recall_f1(y_true, y_pred, n_classes)
    if not isinstance(answer, (tuple, list)) or len(answer) != 3:
        raise CheckFailure(_("{what} should return (precision, recall, f1); got "
                             "{describe_value}").format(
                               what=what, describe_value=describe_value(answer)))
    names = ("precision", "recall", "f1")
    got = [as_number(v, f"{what}: {n}") for v, n in zip(answer, names)]
    expected = macro_scores(y_true, y_pred, n_classes)
    bad = [i for i in range(3) if not (math.isfinite(got[i]) and
                                       math.isclose(got[i], expected[i], rel_tol=1e-6, abs_tol=1e-9))]
    if not bad:
        return
    t, p = np.asarray(y_true), np.asarray(y_pred)
    never_predicted = [c for c in range(n_classes) if not (p == c).any()]
    absent = [c for c in range(n_classes) if not (t == c).any()]
    acc = float((t == p).mean())
    lines = [f"{what}: " + ", ".join(f"{names[i]} {got[i]:.6g} (expected {expected[i]:.6g})"
                                     for i in bad)]
    if any(math.isnan(got[i]) for i in bad):
        raise known.PRF_NAN.failure(lines[0] + f" (never predicted: {never_predicted})")
    if bad == [2] and expected[0] + expected[1] > 0 and math.isclose(
            got[2], 2 * expected[0] * expected[1] / (expected[0] + expected[1]), rel_tol=1e-6):
        raise known.PRF_F1_OF_MEANS.failure(lines[0])
    if all(math.isclose(v, acc, rel_tol=1e-6, abs_tol=1e-9) for v in got):
        raise known.PRF_MICRO.failure(lines[0] + f"; accuracy {acc:.6g}")
    lines.append(_("Classes never predicted: {value}; absent from y_true: {value2}; all "
                   "{n_classes} classes count in the mean, with 0 where a ratio is 0/0, and F1 "
                   "is the mean of the per-class F1.").format(
                     value=never_predicted or 'none', value2=absent or 'none',
                     n_classes=n_classes))
    raise CheckFailure("\n".join(lines))
