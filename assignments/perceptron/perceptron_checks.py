"""Scenarios shared by the public and hidden checks of the perceptron practical.

Each scenario runs one function of the student's code on inputs the judge chooses (seeded
generators) and compares what comes back with values computed here: torch's own softmax and
cross-entropy, autograd's gradient of ½‖t − y‖² in float64, the judge's own count of argmax
matches. ``update`` and ``accuracy`` run with the handout's ``forward`` in place of the
student's (``student_side.py``, run in the student process), so a bug in ``forward`` costs points only in the
forward checks. The training check runs the student's update from starting weights the
judge draws, and the judge replays that training with the course's rule to score only
weights it can reproduce.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from grader.api import N_, _
from grader.api import (as_number, as_tensor, call, check_close, check_finite, check_number,
                        check_shape, CheckFailure, describe_value, models as mc, recipe)

import perceptron_mistakes as known

RANGE = 0.001  # init_params draws uniformly from [-RANGE, RANGE]


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def one_hot(labels: torch.Tensor, classes: int, dtype=torch.float32) -> torch.Tensor:
    return F.one_hot(labels, classes).to(dtype)


def pair(value, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(w, b)`` from what init_params returned."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckFailure(_("{what} should return the pair (w, b); got {describe_value}").format(
                               what=what, describe_value=describe_value(value)))
    return as_tensor(value[0], f"{what}'s w"), as_tensor(value[1], f"{what}'s b")


# ------------------------------------------------------------------------------ init_params

def init_shapes(student, n_in: int, n_out: int, with_generator: bool) -> None:
    """init_params(n_in, n_out): w [n_in, n_out] and b [1, n_out], both float32."""
    kwargs = {"generator": student.lib("torch.Generator")()} if with_generator else {}
    what = f"init_params({n_in}, {n_out}{', generator=g' if with_generator else ''})"
    w, b = pair(student.init_params(n_in, n_out, **kwargs), what)
    if n_in != n_out and tuple(w.shape) == (n_out, n_in):
        raise known.W_TRANSPOSED.failure(_("{what}: w has shape {shape}, expected [{n_in}, "
                                           "{n_out}]").format(
                                             what=what, shape=list(w.shape), n_in=n_in,
                                             n_out=n_out))
    check_shape(w, (n_in, n_out), f"{what}: w")
    if tuple(b.shape) == (n_out,):
        raise known.B_FLAT.failure(_("{what}: b has shape [{n_out}], expected [1, {n_out}]").format(
                                       what=what, n_out=n_out))
    check_shape(b, (1, n_out), f"{what}: b")
    for name, value in (("w", w), ("b", b)):
        if value.dtype != torch.float32:
            raise known.NOT_FLOAT32.failure(f"{what}: {name} is "
                                            f"{str(value.dtype).replace('torch.', '')}, expected "
                                            "float32")


def init_range(student, n_in: int, n_out: int, seed: int) -> None:
    """One seeded draw: every value in [-0.001, 0.001], spread over the whole range."""
    what = f"init_params({n_in}, {n_out}, generator=torch.Generator().manual_seed({seed}))"
    draws = recipe(student, "init_draws")
    w, b = pair(call(what, draws, student.init_params, n_in, n_out, [seed], [seed])[0], what)
    for name, value in (("w", w), ("b", b)):
        v = check_finite(value, f"{what}: {name}").to(torch.float64)
        if v.numel() == 0:
            raise CheckFailure(_("{what}: {name} is empty (shape {shape})").format(
                                   what=what, name=name, shape=list(v.shape)))
        low, high = v.min().item(), v.max().item()
        if low < -RANGE * (1 + 1e-6) or high > RANGE * (1 + 1e-6):
            raise known.INIT_TOO_WIDE.failure(_("{what}: {name} holds values in [{low:.3g}, "
                                                "{high:.3g}], outside [-0.001, 0.001]").format(
                                                  what=what, name=name, low=low, high=high))
        if v.numel() > 1 and low == high:
            raise known.INIT_CONSTANT.failure(_("{what}: every value of {name} is {low:g}").format(
                                                  what=what, name=name, low=low))
    v = w.to(torch.float64)
    if v.numel() >= 1000:
        low, high, mean = v.min().item(), v.max().item(), v.mean().item()
        if low >= 0:
            raise known.INIT_POSITIVE_ONLY.failure(
                _("{what}: the {numel:,} values of w lie in [{low:.3g}, {high:.3g}]").format(
                    what=what, numel=v.numel(), low=low, high=high))
        if low > -0.9 * RANGE or high < 0.9 * RANGE or abs(mean) > 0.1 * RANGE:
            raise CheckFailure(
                _("{what}: the {numel:,} values of w lie in [{low:.3g}, {high:.3g}] with mean "
                  "{mean:.3g}; uniform draws from [-0.001, 0.001] cover the whole interval, "
                  "negative values included, with mean ≈ 0").format(
                    what=what, numel=v.numel(), low=low, high=high, mean=mean))


def init_generator(student, n_in: int, n_out: int, seed: int, other_seed: int) -> None:
    """Equal-seeded generators give equal draws (whatever the global RNG), other seeds differ."""
    what = f"init_params({n_in}, {n_out}, generator=...)"
    draws = call(what, recipe(student, "init_draws"), student.init_params, n_in, n_out,
                 [seed, seed, other_seed], [1, 2, 3])
    (w1, b1), (w2, b2), (w3, b3) = (pair(d, what) for d in draws)
    for name, first, second in (("w", w1, w2), ("b", b1, b2)):
        if first.shape != second.shape or not torch.equal(first, second):
            raise known.GENERATOR_IGNORED.failure(
                _("two calls of init_params({n_in}, {n_out}, generator=g) with g = "
                  "torch.Generator().manual_seed({seed}) both times gave different {name}").format(
                    n_in=n_in, n_out=n_out, seed=seed, name=name))
    if w1.shape == w3.shape and b1.shape == b3.shape and torch.equal(w1, w3) and torch.equal(b1, b3):
        raise known.GENERATOR_IGNORED.failure(
            _("init_params({n_in}, {n_out}, generator=g) gave the same w and b for generators "
              "seeded {seed} and {other_seed}").format(
                n_in=n_in, n_out=n_out, seed=seed, other_seed=other_seed))


# ---------------------------------------------------------------------------------- forward

def forward_matches(student, n: int, n_in: int, n_out: int, dtype: torch.dtype, seed: int) -> None:
    """forward(x, w, b) equals x @ w + b computed here (in float64)."""
    g = generator(seed)
    x = torch.rand(n, n_in, generator=g, dtype=torch.float64).to(dtype)
    w = (torch.randn(n_in, n_out, generator=g, dtype=torch.float64) * 0.1).to(dtype)
    b = (torch.randn(1, n_out, generator=g, dtype=torch.float64) + 1.0).to(dtype)
    what = f"forward(x, w, b) for x [{n}, {n_in}], w [{n_in}, {n_out}], b [1, {n_out}] ({_name(dtype)})"
    y = check_shape(student.forward(x, w, b), (n, n_out), what)
    x64, w64, b64 = x.double(), w.double(), b.double()
    tol = _tolerance(dtype)
    expected = x64 @ w64 + b64
    if not _close(y, expected, tol) and _close(y, x64 @ w64, tol):
        raise known.NO_BIAS.failure(f"{what} equals x @ w")
    check_close(y, expected, what, rtol=tol, atol=tol, expected_label="x @ w + b")
    if y.dtype != dtype:
        raise CheckFailure(_("{what} returned {name}: keep the inputs' dtype").format(
                               what=what, name=_name(y.dtype)))


# ----------------------------------------------------------------------------------- update

def update_scenario(student, n: int, n_in: int, n_out: int, dtype: torch.dtype, eta: float,
                    seed: int) -> dict:
    """Run update once on known tensors; the same step here with autograd in float64."""
    g = generator(seed)
    x = torch.rand(n, n_in, generator=g, dtype=torch.float64).to(dtype)
    t = one_hot(torch.randint(0, n_out, (n,), generator=g), n_out, dtype)
    w = (torch.randn(n_in, n_out, generator=g, dtype=torch.float64) * 0.01).to(dtype)
    b = (torch.randn(1, n_out, generator=g, dtype=torch.float64) * 0.01).to(dtype)
    what = _("update(x, t, w, b, eta={eta:g}) for x [{n}, {n_in}], w [{n_in}, {n_out}] ({name})").format(
               eta=eta, n=n, n_in=n_in, n_out=n_out, name=_name(dtype))
    after = call(what, recipe(student, "apply_update"), student.update, x, t, w, b, eta)
    if not isinstance(after, dict) or not {"w", "b"} <= set(after):
        raise CheckFailure(_("{what}: no w and b came back ({describe_value})").format(
                               what=what, describe_value=describe_value(after)))
    # Autograd's gradient of ½‖t − y‖² (summed over the batch), in float64.
    wg = w.double().requires_grad_()
    bg = b.double().requires_grad_()
    (0.5 * ((t.double() - (x.double() @ wg + bg)) ** 2).sum()).backward()
    return {"what": what, "n": n, "dtype": dtype, "eta": eta, "x": x, "t": t, "w": w, "b": b,
            "w_after": check_shape(after["w"], w.shape, _("{what}: w after the call").format(
                                                            what=what)),
            "b_after": check_shape(after["b"], b.shape, _("{what}: b after the call").format(
                                                            what=what)),
            "step_w": -eta * wg.grad, "step_b": -eta * bg.grad}


IN_PLACE_HINT = N_("update must change the tensors it is given, in place: w += ..., w.add_(...) "
                   "or w[...] = ... (and the same for b). `w = w + ...` only rebinds a local "
                   "name: the caller's w never sees the new values.")  # translated where shown


def update_in_place(student, **kwargs) -> None:
    s = update_scenario(student, **kwargs)
    unchanged = [name for name in ("w", "b") if torch.equal(s[f"{name}_after"], s[name])]
    if unchanged:
        raise known.NOT_IN_PLACE.failure(_("{s} left {join} unchanged").format(
                                             s=s['what'], join=' and '.join(unchanged)))
    for name in ("w", "b"):
        if s[f"{name}_after"].dtype != s["dtype"]:
            raise CheckFailure(_("{s}: {name} became {name2}").format(
                                   s=s['what'], name=name, name2=_name(s[f'{name}_after'].dtype)))


def update_weights(student, **kwargs) -> None:
    """w after update equals w − eta · ∂(½‖t − y‖²)/∂w."""
    s = update_scenario(student, **kwargs)
    _compare_step(s, "w", "eta · xᵀ (t − y)")


def update_bias(student, **kwargs) -> None:
    """b after update equals b − eta · ∂(½‖t − y‖²)/∂b: the batch sum of eta · (t − y)."""
    s = update_scenario(student, **kwargs)
    _compare_step(s, "b", _("eta · (t − y) summed over the batch"))


def _compare_step(s: dict, name: str, formula: str) -> None:
    before, after, expected = s[name].double(), s[f"{name}_after"].double(), s[f"step_{name}"]
    what, n = s["what"], s["n"]
    got = after - before
    if torch.equal(after, before):
        raise known.NOT_IN_PLACE.failure(_("{what} left {name} unchanged").format(
                                             what=what, name=name))
    tol = _tolerance(s["dtype"]) * 10
    scale = expected.abs().max().item()

    def matches(candidate):
        return _close(got, candidate, tol, atol=tol * scale)

    if not matches(expected):
        if matches(-expected):
            raise known.WRONG_SIGN.failure(f"{what} moved {name} by −({formula})")
        if n > 1 and matches(expected / n):
            raise known.MEAN_OVER_BATCH.failure(_("{what} moved {name} by the mean over the "
                                                  "batch of {n}, expected the sum ({formula})").format(
                                                    what=what, name=name, n=n, formula=formula))
        if n > 1 and matches(expected * n):
            raise known.TIMES_BATCH.failure(_("{what} moved {name} {n} times too far (the "
                                              "batch has {n} samples): the step is {formula}").format(
                                                what=what, name=name, n=n, formula=formula))
        x, t = s["x"].double(), s["t"].double()
        error = t - (x @ s["w"].double() + s["b"].double())
        eta = s["eta"]
        if name == "w" and n > 1 and matches(eta * x.reshape(x.shape[1], n) @ error):
            raise known.RESHAPE_NOT_TRANSPOSE.failure(_("{what} moved w by eta · "
                                                        "x.reshape(n_in, B) @ (t − y)").format(
                                                          what=what))
        if matches(eta * x.T @ t if name == "w" else eta * t.sum(dim=0, keepdim=True)):
            raise known.ERROR_IS_TARGET.failure(
                _("{what} moved {name} by eta · {value}").format(
                    what=what, name=name, value='xᵀ t' if name == 'w' else 'Σ t'))
        check_close(got, expected, _("{what}: the change of {name} (expected {formula})").format(
                                       what=what, name=name, formula=formula),
                    rtol=tol, atol=tol * scale, expected_label="expected")


# --------------------------------------------------------------------------------- accuracy

def accuracy_matches(student, n: int, n_in: int, n_out: int, dtype: torch.dtype, n_right: int,
                     seed: int) -> None:
    """accuracy(x, t, w, b) equals the share of argmax matches counted here.

    Labels are the true argmax for ``n_right`` rows and another class for the others."""
    g = generator(seed)
    x = torch.randn(n, n_in, generator=g, dtype=torch.float64).to(dtype)
    w = torch.randn(n_in, n_out, generator=g, dtype=torch.float64).to(dtype)
    b = torch.randn(1, n_out, generator=g, dtype=torch.float64).to(dtype)
    predicted = (x.double() @ w.double() + b.double()).argmax(dim=1)
    shift = torch.randint(1, n_out, (n,), generator=g)
    right = torch.zeros(n, dtype=torch.bool)
    right[torch.randperm(n, generator=g)[:n_right]] = True
    labels = torch.where(right, predicted, (predicted + shift) % n_out)
    t = one_hot(labels, n_out, dtype)
    expected = float((predicted == labels).double().mean())
    what = _("accuracy(x, t, w, b) for {n} samples, {n_out} classes ({name})").format(
               n=n, n_out=n_out, name=_name(dtype))
    value = call(what, recipe(student, "with_handout_forward"), student.accuracy, x, t, w, b)
    got = as_number(value, what)
    if n > 1 and math.isclose(got, expected * n, abs_tol=1e-6) and expected not in (0.0, 1.0):
        raise known.COUNT_NOT_SHARE.failure(_("{what} returned {got:g}, the number of correct "
                                              "rows; expected the share {expected:g}").format(
                                                what=what, got=got, expected=expected))
    if math.isclose(got, 100 * expected, abs_tol=1e-4) and expected != 0.0:
        raise known.PERCENTAGE.failure(_("{what} returned {got:g}; expected the share "
                                         "{expected:g}").format(
                                           what=what, got=got, expected=expected))
    by_column = float(((x.double() @ w.double() + b.double()).argmax(dim=0)
                       == t.double().argmax(dim=0)).double().mean())
    check_number(got, expected, _("{what} ({value} of {n} rows have argmax(x @ w + b) = "
                                  "argmax(t))").format(what=what, value=round(expected * n), n=n), rtol=0, atol=1e-6,
                 known_mistakes=[known.ARGMAX_WRONG_AXIS.gives(by_column)])


# -------------------------------------------------------------------- softmax, cross-entropy

def ordinary_logits(n: int, classes: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    return (torch.randn(n, classes, generator=generator(seed), dtype=torch.float64) * 3).to(dtype)


def extreme_logits(n: int, classes: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Logits of ±1000: exp overflows (float32 and float64) and softmax underflows to 0."""
    g = generator(seed)
    z = torch.randn(n, classes, generator=g, dtype=torch.float64) * 3
    z[0::4] += 1000.0                                             # all large
    z[1::4] -= 1000.0                                             # all very negative
    z[2::4] = torch.where(torch.rand(z[2::4].shape, generator=g) < 0.5, 1000.0, -1000.0)
    z[2::4, 0] = -1000.0                                          # mixed, both signs present
    z[2::4, 1] = 1000.0
    z[3::4] *= 300.0                                              # a wide spread
    return z.to(dtype)


def softmax_matches(student, z: torch.Tensor, kind: str) -> None:
    what = _("softmax(z) for {kind} logits z [{shape}, {shape2}] ({name})").format(
               kind=kind, shape=z.shape[0], shape2=z.shape[1], name=_name(z.dtype))
    s = check_shape(student.softmax(z), tuple(z.shape), what)
    hint = (_("exp(z) overflows to inf for logits ~ 1000 (and inf / inf = NaN); softmax(z) = "
              "softmax(z − max): subtract each row's max before exp") if "±1000" in kind else "")
    try:
        check_finite(s, what)
    except CheckFailure as e:
        if hint:
            raise known.SOFTMAX_OVERFLOW.failure(str(e)) from None
        raise
    expected = torch.softmax(z.double(), dim=1)
    # Valid ways (z − max, z − logsumexp) differ by rounding: an error of eps·|z| in log space.
    tol = max(_tolerance(z.dtype), 4 * torch.finfo(z.dtype).eps * z.abs().max().item())
    rows, columns = s.double().sum(dim=1), s.double().sum(dim=0)
    if (z.shape[0] > 1 and not _close(rows, torch.ones_like(rows), tol)
            and _close(columns, torch.ones_like(columns), tol)):
        raise known.SOFTMAX_COLUMNS.failure(_("{what}: its columns sum to 1, its rows do not").format(
                                                what=what))
    check_close(s, expected, what, rtol=tol, atol=tol, expected_label="torch.softmax(z, dim=1)")


def cross_entropy_matches(student, z: torch.Tensor, kind: str, seed: int) -> None:
    n, classes = z.shape
    labels = torch.randint(0, classes, (n,), generator=generator(seed + 1))
    if "±1000" in kind:  # some targets on a logit of -1000 next to a +1000: a loss of ~2000
        labels[2::4] = 0
    t = one_hot(labels, classes, z.dtype)
    what = _("cross_entropy(z, t) for {kind} logits z [{n}, {classes}] ({name})").format(
               kind=kind, n=n, classes=classes, name=_name(z.dtype))
    got = as_number(student.cross_entropy(z, t), what)
    if not math.isfinite(got) and "±1000" in kind:
        raise known.CE_LOG_OF_SOFTMAX.failure(f"{what} is {got}")
    if not math.isfinite(got):
        raise CheckFailure(f"{what} is {got}: " + (
            "softmax underflows to 0 for logits ~ ±1000 and log(0) = -inf (0 · -inf = NaN); "
            "compute log softmax directly: (z − m) − log Σ exp(z − m), with m each row's max"
            if "±1000" in kind else "is there a log of 0 or an overflow?"))
    expected = F.cross_entropy(z.double(), labels).item()
    tol = _tolerance(z.dtype) * 10
    if n > 1 and math.isclose(got, expected * n, rel_tol=tol, abs_tol=tol):
        raise known.CE_SUM.failure(_("{what} = {got:.6g}, the sum over the batch of {n}; "
                                     "expected the mean {expected:.6g}").format(
                                       what=what, got=got, n=n, expected=expected))
    check_number(got, expected, f"{what} (torch's F.cross_entropy gives {expected:.6g})",
                 rtol=tol, atol=tol)


# ---------------------------------------------------------------------- trained perceptron

def training_accuracy(student, settings, pool, score, split_seed: int) -> None:
    """Train with the student's update from starting weights drawn here, then judge it here.

    The judge draws w, b as the handout's init_params does and the mini-batch order of each
    epoch (one seeded generator, as the course's loop), the student process runs the
    student's update (with the handout's forward) on those batches, and the judge replays the
    same loop with the course's rule in closed form: credit only for weights that training
    gives, predictions x @ w + b computed here. The held-out images are those of the
    settings' split_seed whatever ``split_seed``: the student process remembers what earlier
    checks trained it on."""
    train, test = pool.resplit([int(settings["train_size"]), int(settings["test_size"])],
                               seed=split_seed, test_seed=int(settings["split_seed"]),
                               names=("train", "test"))
    epochs, eta = int(settings["accuracy_epochs"]), float(settings["accuracy_eta"])
    batch_size = int(settings["accuracy_batch_size"])
    x, t = train.flat(), train.one_hot()
    g = generator(split_seed)
    w0 = torch.empty(x.shape[1], 10, dtype=torch.float32).uniform_(-RANGE, RANGE, generator=g)
    b0 = torch.empty(1, 10, dtype=torch.float32).uniform_(-RANGE, RANGE, generator=g)
    orders = [torch.randperm(len(x), generator=g) for _ in range(epochs)]
    what = (_("training with your update ({epochs} epochs of mini-batches of {batch_size}, "
              "eta={eta:g}, from w [784, 10] and b [1, 10] drawn uniformly in [-0.001, 0.001])").format(
                epochs=epochs, batch_size=batch_size, eta=eta))
    student.process.reseed(split_seed)
    result = call(what, recipe(student, "train"), student.update, w0.clone(), b0.clone(),
                     x, t, orders, eta, batch_size)
    if not isinstance(result, dict) or not {"w", "b"} <= set(result):
        raise CheckFailure(_("{what}: no w and b came back ({describe_value})").format(
                               what=what, describe_value=describe_value(result)))
    w = check_shape(result["w"], tuple(w0.shape), _("w after training")).to(torch.float64)
    b = check_shape(result["b"], tuple(b0.shape), _("b after training")).to(torch.float64)
    if torch.equal(w, w0.double()) and torch.equal(b, b0.double()):
        raise CheckFailure(_("{what}: w and b are the starting values: the training changed "
                             "nothing. {IN_PLACE_HINT}").format(
                               what=what, IN_PLACE_HINT=_(IN_PLACE_HINT)))
    if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
        raise CheckFailure(_("after training, w or b hold NaN or inf: the updates diverged — "
                             "is the step taken down the gradient (w += eta · xᵀ (t − y))?"))
    with mc.JudgeRun():
        w_replay, b_replay = replay_training(x, t, w0, b0, orders, eta, batch_size)
    scored = test.flat().to(torch.float64)
    predictions = (scored @ w + b).argmax(dim=1)
    expected = (scored @ w_replay.double() + b_replay.double()).argmax(dim=1)
    mc.replay_verdict([w, b], [w0.double(), b0.double()], [w_replay.double(), b_replay.double()],
                      predictions, expected, min_agreement=float(settings["accuracy_min_agreement"]),
                      what=_("w and b after training with your update"),
                      hint=_(" Is update right (see the update checks)? The course's rule: w "
                             "+= eta · xᵀ (t − y), b += eta · Σ (t − y), in place."))
    score.award_accuracy(predictions, test.labels, what=_("held-out images"),
                         context=_("after {epochs} epochs (eta={eta:g}, batches of "
                                   "{batch_size})").format(
                                     epochs=epochs, eta=eta, batch_size=batch_size),
                         low=float(settings["accuracy_low"]), high=float(settings["accuracy_high"]))


def replay_training(x: torch.Tensor, t: torch.Tensor, w0: torch.Tensor, b0: torch.Tensor,
                    orders: list[torch.Tensor], eta: float, batch_size: int):
    """The course's loop with the course's rule, here in the judge (float32, ~0.2 s)."""
    w, b = w0.clone(), b0.clone()
    for order in orders:
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            xb = x[index]
            grad = t[index] - (xb @ w + b)
            w += eta * (xb.T @ grad)
            b += eta * grad.sum(dim=0, keepdim=True)
    return w, b


# ------------------------------------------------------------------------------- internals

def _name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _tolerance(dtype: torch.dtype) -> float:
    return 1e-10 if dtype == torch.float64 else 1e-5


def _close(actual, expected: torch.Tensor, rtol: float, atol: float | None = None) -> bool:
    a = as_tensor(actual, "value").to(torch.float64)
    if a.shape != expected.shape:
        return False
    return bool(torch.allclose(a, expected.to(torch.float64), rtol=rtol,
                               atol=rtol if atol is None else atol))
