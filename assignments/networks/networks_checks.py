"""Scenarios shared by the public and hidden checks of Networks.

Each scenario builds one of the student's classes in the student process, runs it on inputs the
judge chooses and fails with a message naming what went wrong. What a network must compute is
the handout's architecture, built here from torch's own layers (``handout_mlp``,
``handout_lenet``): public checks do not use the reference solution, which is not shipped to
students. Weights are matched by order of registration and shape, never by attribute names.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from grader.api import _
from grader.api import (check_close, check_parameter_count, check_parameter_layout, check_shape,
                        CheckFailure, describe_value, models as mc, NotImplementedYet,
                        StudentError)
from grader import api

import networks_mistakes as known

# LeNet-5 on 28×28 images without padding: 28 -conv5-> 24 -pool2-> 12 -conv5-> 8 -pool2-> 4.
LENET_SHAPES = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 256), (120,), (84, 120), (84,),
                (10, 84), (10,)]
LENET_PARAMETERS = 44_426


# ------------------------------------------------------------------------ handout networks

def handout_mlp(input_num: int = 784, hidden: tuple[int, ...] = (128,), output_num: int = 10,
                activation=nn.ReLU, final=None) -> nn.Sequential:
    """Flatten, (Linear → activation) per hidden size, Linear — the handout's ShallowNet
    (one hidden size) and DeepNet. ``activation=nn.Identity`` or ``final=nn.ReLU`` give the
    usual mistakes (same parameters, same order) to recognise them in messages."""
    layers, width = [nn.Flatten()], input_num
    for size in hidden:
        layers += [nn.Linear(width, size), activation()]
        width = size
    layers.append(nn.Linear(width, output_num))
    if final is not None:
        layers.append(final())
    return nn.Sequential(*layers)


class ToImages(nn.Module):
    """[B, 784] or [B, 1, 28, 28] → [B, 1, 28, 28]."""

    def forward(self, x):
        return x.reshape(x.shape[0], 1, 28, 28)


def handout_lenet(output_nbr: int = 10, activation=nn.ReLU, pool=nn.MaxPool2d) -> nn.Sequential:
    """LeNet-5 for 28×28 images, no padding: 44,426 parameters for 10 classes."""
    return nn.Sequential(
        ToImages(),
        nn.Conv2d(1, 6, 5), activation(), pool(2),
        nn.Conv2d(6, 16, 5), activation(), pool(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), activation(),
        nn.Linear(120, 84), activation(),
        nn.Linear(84, output_nbr))


def call(name: str, kwargs: dict) -> str:
    """``ShallowNet(hidden_num=64)``: how a model was built, for messages."""
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def build(student, name: str, kwargs: dict):
    return getattr(student, name)(**kwargs)


def handout(name: str, kwargs: dict, **variant) -> nn.Module:
    """The handout network a student's ``name(**kwargs)`` must match."""
    if name == "ShallowNet":
        return handout_mlp(kwargs.get("input_num", 784), (kwargs.get("hidden_num", 128),),
                           kwargs.get("output_num", 10), **variant)
    if name == "DeepNet":
        return handout_mlp(kwargs.get("input_num", 784), tuple(kwargs.get("hidden_sizes", (512, 128))),
                           kwargs.get("output_num", 10), **variant)
    return handout_lenet(kwargs.get("output_nbr", 10), **variant)


def variants(name: str) -> dict[str, dict]:
    """The usual mistakes, as handout variants with the same parameters."""
    if name == "Cnn":
        return {"without any ReLU": {"activation": nn.Identity},
                "with average pooling instead of max pooling": {"pool": nn.AvgPool2d},
                "with a ReLU after the last layer": {}}
    return {"without any ReLU (the network is affine)": {"activation": nn.Identity},
            "with a ReLU after the output layer": {"final": nn.ReLU},
            "with sigmoid instead of ReLU": {"activation": nn.Sigmoid}}


# ------------------------------------------------------------------------------ scenarios

def output_shape(student, name: str, kwargs: dict, shape: tuple[int, ...], classes: int) -> None:
    """name(**kwargs) maps a batch of the given shape to logits [B, classes]."""
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    model = build(student, name, kwargs)
    layout = "images" if len(shape) == 4 else "flat rows"
    try:
        out = mc.recipe(student, "forward")(model, x)
    except NotImplementedYet:
        raise
    except StudentError as e:
        mistake = lenet_mistake(mc.layout(student, model)) if name == "Cnn" else None
        if mistake is None and len(shape) == 4 and name != "Cnn":
            mistake = known.IMAGES_NOT_FLATTENED.at(f"{name}.forward")
        if mistake is None and len(shape) == 2 and name == "Cnn":
            mistake = known.FLAT_ROWS_NOT_RESHAPED
        if mistake is not None:
            raise mistake.failure(str(e)) from None
        hint = (_("\nEvery network must also accept flat rows [B, 784]: flatten the input at "
                  "the start of forward.") if len(shape) == 2 else "")
        raise CheckFailure(_("{e}{hint}").format(e=e, hint=hint)) from None
    try:
        check_shape(out, (shape[0], classes), _("{call}(x) for x of shape {shape}").format(
                                                  call=call(name, kwargs), shape=list(shape)))
    except CheckFailure as e:
        raise CheckFailure(_("{e} ({layout}: every network must accept flat rows [B, 784] and "
                             "images [B, 1, 28, 28])").format(e=e, layout=layout)) from None


def parameter_count(student, name: str, kwargs: dict) -> None:
    expected = sum(p.numel() for p in handout(name, kwargs).parameters())
    probes = torch.rand((8, 1, 28, 28) if name == "Cnn" else (8, kwargs.get("input_num", 784)),
                        generator=torch.Generator().manual_seed(7))
    layout = mc.counted_layout(student, build(student, name, kwargs), probes, call(name, kwargs))
    try:
        check_parameter_count(layout, expected, call(name, kwargs))
    except CheckFailure as e:
        raise_if_known(e, layout, name, kwargs)
        raise


def mlp_mistake(layout: list[dict], name: str, kwargs: dict) -> api.Mistake | None:
    """The known mistake a ShallowNet or DeepNet with these parameter shapes makes, if any."""
    shapes = [tuple(p["shape"]) for p in layout if len(p["shape"]) == 2]
    wanted = [tuple(p.shape) for p in handout(name, kwargs).parameters() if p.dim() == 2]
    if len(shapes) == len(wanted) - 1 and shapes == wanted[:-1]:
        return known.NO_OUTPUT_LAYER.at(f"{name}.__init__")
    sizes_given = {k: v for k, v in kwargs.items() if k not in ("hidden_num", "hidden_sizes")}
    default = [tuple(p.shape) for p in handout(name, sizes_given).parameters() if p.dim() == 2]
    if shapes and shapes != wanted and (len(shapes) == len(wanted) or shapes == default):
        return known.HIDDEN_SIZES_IGNORED.at(f"{name}.__init__")
    return None


def raise_if_known(failure: CheckFailure, layout: list[dict], name: str, kwargs: dict) -> None:
    """Raise ``failure`` as the known mistake the network's parameter shapes show, if any."""
    mistake = lenet_mistake(layout) if name == "Cnn" else mlp_mistake(layout, name, kwargs)
    if mistake is not None:
        raise mistake.failure(str(failure)) from None


def lenet_mistake(layout: list[dict]) -> api.Mistake | None:
    """The known mistake a Cnn with these parameter shapes makes, if any."""
    shapes = [tuple(p["shape"]) for p in layout]
    if any(len(s) == 4 and s[0] == 120 and s[2:] == (5, 5) for s in shapes):
        return known.ORIGINAL_LENET5
    fc = [s for s in shapes if len(s) == 2]
    if not fc:
        return None
    return {400: known.LENET_FOR_32, 16 * 8 * 8: known.NO_SECOND_POOL,
            16 * 6 * 6: known.LENET_FOR_32}.get(fc[0][1])


def lenet_layout(student) -> None:
    layout = mc.layout(student, build(student, "Cnn", {}))
    try:
        check_parameter_layout(layout, LENET_SHAPES, _("Cnn() in order of registration"))
    except CheckFailure as e:
        raise_if_known(e, layout, "Cnn", {})
        raise CheckFailure(_("{e}\nExpected conv1 6×1×5×5, conv2 16×6×5×5, fc1 120×256, fc2 "
                             "84×120, fc3 10×84, each followed by its bias (layers registered "
                             "in the order they are used).").format(e=e)) from None


def matches_handout(student, name: str, kwargs: dict, x: torch.Tensor, seed: int) -> None:
    """With the handout network's weights (drawn here from ``seed``), the student's network
    computes the handout's logits on ``x``."""
    torch.manual_seed(seed)
    local = handout(name, kwargs).eval()
    what = call(name, kwargs)
    model = build(student, name, kwargs)
    layout = mc.layout(student, model)
    try:
        mc.copy_reference_weights(student, model, local, what)
    except CheckFailure as e:
        raise_if_known(e, layout, name, kwargs)
        raise
    out = mc.recipe(student, "forward")(model, x)
    with torch.no_grad():
        expected = local(x)
    try:
        check_close(out, expected, _("{what} output with the handout network's weights on "
                                     "{shape} inputs of shape {shape2}").format(
                                       what=what, shape=x.shape[0], shape2=list(x.shape[1:])), rtol=1e-4, atol=1e-5,
                    expected_label="handout")
    except CheckFailure as e:
        mistake = explain(out, x, local, name, kwargs)
        if mistake is not None:
            raise mistake.failure(str(e)) from None
        raise


def explain(out, x: torch.Tensor, local: nn.Module, name: str, kwargs: dict) -> api.Mistake | None:
    """The usual mistake whose network gives the student's output, if any."""
    try:
        got = torch.as_tensor(out).to(torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None
    state = local.state_dict()
    for label, variant in variants(name).items():
        if name == "Cnn" and label.startswith("with a ReLU after"):
            with torch.no_grad():
                expected = torch.relu(local(x))
        else:
            other = handout(name, kwargs, **variant).eval()
            other.load_state_dict(state)
            with torch.no_grad():
                expected = other(x)
        mistake = known.variant_mistake(label)
        if mistake is not None and got.shape == expected.shape and torch.allclose(
                got, expected.to(torch.float64), rtol=1e-4, atol=1e-5):
            return mistake.at(mistake.element or f"{name}.forward")
    return None


# ----------------------------------------------------------------- crafted ReLU scenarios

def shallow_crafted(x: torch.Tensor):
    """ShallowNet() weights where hidden units 2i and 2i+1 are x_i and −x_i (i < 64), and
    output k adds the hidden units of the i with i % 10 = k: ReLU(x_i) + ReLU(−x_i) = |x_i|,
    so the output is Σ|x_i|; without ReLU the pairs cancel and it is 0."""
    w1, b1 = torch.zeros(128, 784), torch.zeros(128)
    w2, b2 = torch.zeros(10, 128), torch.zeros(10)
    for i in range(64):
        w1[2 * i, i], w1[2 * i + 1, i] = 1.0, -1.0
        w2[i % 10, 2 * i] = w2[i % 10, 2 * i + 1] = 1.0
    x64 = x.to(torch.float64)
    expected = torch.stack([x64[:, [i for i in range(64) if i % 10 == k]].abs().sum(dim=1)
                            for k in range(10)], dim=1)
    return [w1, b1, w2, b2], expected, torch.zeros_like(expected)


DEEP_C, DEEP_B = 0.8, -20.0


def deep_crafted(x: torch.Tensor):
    """DeepNet() weights: layer 1 gives pairs (x_i, −x_i) (i < 256), so ReLU makes |x_i|;
    layer 2 gives pairs (a_m − c, c − a_m) with a_m = |x_m| (m < 64), so ReLU makes |a_m − c|;
    output k = Σ_{m % 10 = k} |a_m − c| − 20, negative: a ReLU after the output layer would
    make it 0, and without hidden ReLUs every pair cancels (output −20)."""
    w1, b1 = torch.zeros(512, 784), torch.zeros(512)
    for i in range(256):
        w1[2 * i, i], w1[2 * i + 1, i] = 1.0, -1.0
    w2, b2 = torch.zeros(128, 512), torch.zeros(128)
    w3, b3 = torch.zeros(10, 128), torch.full((10,), DEEP_B)
    for m in range(64):
        w2[2 * m, 2 * m] = w2[2 * m, 2 * m + 1] = 1.0
        w2[2 * m + 1, 2 * m] = w2[2 * m + 1, 2 * m + 1] = -1.0
        b2[2 * m], b2[2 * m + 1] = -DEEP_C, DEEP_C
        w3[m % 10, 2 * m] = w3[m % 10, 2 * m + 1] = 1.0
    a = x.to(torch.float64)[:, :64].abs()
    terms = (a - DEEP_C).abs()
    expected = torch.stack([terms[:, [m for m in range(64) if m % 10 == k]].sum(dim=1)
                            for k in range(10)], dim=1) + DEEP_B
    return [w1, b1, w2, b2, w3, b3], expected, torch.full_like(expected, DEEP_B)


def relu_crafted(student, name: str, seed: int) -> None:
    """The default network with crafted weights (see shallow_crafted / deep_crafted) on
    standard-normal inputs: ReLU must zero the negative pre-activations of every hidden layer,
    and (DeepNet) the output layer must stay linear."""
    x = torch.randn(8, 784, generator=torch.Generator().manual_seed(seed))
    values, expected, without_relu = (shallow_crafted if name == "ShallowNet" else deep_crafted)(x)
    what = _("{name}() with crafted weights").format(name=name)
    model = build(student, name, {})
    mapping = mc.match_layout(mc.layout(student, model), handout(name, {}), f"{name}()")
    mc.recipe(student, "load_parameters")(model, mc.to_student_order(values, mapping))
    out = check_shape(mc.recipe(student, "forward")(model, x), (8, 10), f"{what}: output")
    got = out.detach().to(torch.float64)
    if name == "ShallowNet":
        story = (_("hidden units 2i and 2i+1 hold x_i and −x_i, so after ReLU they add up to "
                   "|x_i| and output k is the sum of |x_i| over i < 64 with i % 10 = k"))
    else:
        story = (_("hidden pairs hold ±x_i then ±(|x_m| − 0.8), so after each ReLU they add up "
                   "to absolute values; output k is Σ||x_m| − 0.8| − 20 (m < 64, m % 10 = k), "
                   "negative"))
    if torch.allclose(got, without_relu, atol=1e-4):
        raise known.NO_RELU.at(f"{name}.forward").failure(
            _("{what}: the outputs are {without_relu:g}, what the network gives without ReLU "
              "({story}; without ReLU each pair cancels)").format(
                what=what, without_relu=without_relu[0, 0].item(), story=story))
    if name == "DeepNet" and torch.allclose(got, expected.clamp_min(0), atol=1e-4):
        raise known.RELU_ON_OUTPUT.at(f"{name}.__init__").failure(
            _("{what}: every output is 0 where the logits should be negative (about {mean:.1f})").format(
                what=what, mean=expected.mean().item()))
    check_close(got, expected, f"{what} ({story})", rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- EarlyStopping

def as_bool(value, what: str) -> bool:
    if value is None:
        return False   # `if stopper.step(loss): break` treats None as False too
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype == torch.bool:
        return bool(value.item())
    raise CheckFailure(_("{what} should return True or False, got {describe_value}").format(
                           what=what, describe_value=describe_value(value)))


def early_stopping(student, losses: list[float], expected_stop: int | None, *,
                   patience: int | None = 2, min_delta: float | None = 1e-3, why: str = "") -> None:
    """Feed ``losses`` one per epoch to a fresh stopper; step must return True first at index
    ``expected_stop`` (0-based; None: never)."""
    if patience is None:
        stopper, made = student.EarlyStopping(), "EarlyStopping()"
    else:
        stopper = student.EarlyStopping(patience=patience, min_delta=min_delta)
        made = f"EarlyStopping(patience={patience}, min_delta={min_delta:g})"
    first = None
    for index, loss in enumerate(losses):
        if as_bool(stopper.step(loss), f"step({loss:g})"):
            first = index
            break
    if first == expected_stop:
        return
    shown = ", ".join(f"{v:g}" for v in losses)
    told = ("never said to stop" if first is None
            else f"said to stop at epoch {first + 1} (loss {losses[first]:g})")
    wanted = ("it should never say stop" if expected_stop is None
              else f"it should say stop at epoch {expected_stop + 1} (loss {losses[expected_stop]:g})")
    hint = ""
    if first is not None and expected_stop is not None and first == expected_stop + 1:
        hint = _(" — one epoch late")
    elif first is not None and expected_stop is not None and first == expected_stop - 1:
        hint = _(" — one epoch early")
    found = api.matching(first, known.early_stopping_mistakes(
        losses, 2 if patience is None else patience, 1e-3 if min_delta is None else min_delta),
        lambda got, wrong: got == wrong)
    if found is not None:
        raise found[0].failure(_("{made} fed the valid losses [{shown}], one per epoch: step "
                                 "{told}; {wanted}").format(
                                   made=made, shown=shown, told=told, wanted=wanted) + hint)
    raise CheckFailure(f"{made} fed the valid losses [{shown}], one per epoch: step {told}; "
                       f"{wanted}{hint}. {why}".rstrip())


# -------------------------------------------------------------------------------- accuracy

def accuracy_scenario(student, settings, splits, score, name: str, seed: int) -> None:
    """Train the student's network with the grader's standard loop (Adam) and score it here.

    The judge draws the starting weights (the handout network, seed ``seed``) and loads them
    into the student's network, the student process trains it, and the judge reads the
    trained weights back as data, replays the same training and predicts the held-out images
    itself (they never reach the student process): see
    :func:`grader.model_checks.judged_training`. Linear credit between the thresholds."""
    train, valid, test = splits
    key = "cnn" if name == "Cnn" else "shallow"
    inputs = (lambda d: d.images) if name == "Cnn" else (lambda d: d.flat())
    epochs = int(settings["accuracy_epochs"])
    train_kwargs = dict(epochs=epochs, lr=float(settings["accuracy_lr"]), optimizer="adam",
                        batch_size=int(settings["accuracy_batch_size"]), seed=seed)
    what = _("{name}() trained with the grader's loop").format(name=name)
    student.process.reseed(seed)
    model = build(student, name, {})
    torch.manual_seed(seed)
    local = handout(name, {})
    train_recipe = mc.recipe(student, "train")
    layout = "images [N, 1, 28, 28]" if name == "Cnn" else "flat rows [N, 784]"
    parameters = mc.layout(student, model)
    try:
        mc.match_layout(parameters, local, f"{name}()")
    except CheckFailure as e:
        raise_if_known(e, parameters, name, {})
        raise CheckFailure(_("{e}\nThe accuracy is computed here from your network's parameters "
                             "with the handout's {name}: the layers must be those of the "
                             "handout.").format(e=e, name=name)) from None

    def train_in_child():
        try:
            api.call(_("training {name}() ({epochs} epochs of Adam with the grader's loop, on "
                       "{count} {layout})").format(
                         name=name, epochs=epochs, count=len(train.labels), layout=layout), train_recipe, model, inputs(train),
                    train.labels, **train_kwargs)
        except NotImplementedYet:
            raise
        except StudentError as e:
            hint = training_hint(student, model, name, e, len(train.labels),
                                 train_kwargs["batch_size"])
            raise CheckFailure(_("{e}{hint}").format(e=e, hint=hint)) from None

    shape = (8, 1, 28, 28) if name == "Cnn" else (8, 784)
    probes = torch.rand(shape, generator=torch.Generator().manual_seed(100 + seed))
    predictions, history = mc.judged_training(
        student, model, local, what=what, train_in_child=train_in_child,
        data=(inputs(train), train.labels), valid=(inputs(valid), valid.labels),
        train_kwargs=train_kwargs, scored=inputs(test), probes=probes,
        min_agreement=float(settings["accuracy_min_agreement"]),
        mismatch_hint=_(" Does {name} use layers the handout's network does not have (dropout, "
                        "batch norm), or detach a tensor in forward?").format(name=name),
        probe_hint=f" See the {name} checks.")
    score.award_accuracy(
        predictions, test.labels, what=_("held-out images ({layout})").format(layout=layout),
        context=_("for {name}() after {epochs} epochs of Adam with the grader's training loop").format(
                    name=name, epochs=epochs),
        low=float(settings[f"{key}_accuracy_low"]), high=float(settings[f"{key}_accuracy_high"]),
        history=history)


def training_hint(student, model, name: str, error: StudentError, n: int, batch_size: int) -> str:
    """Plain words for the usual ways a network breaks when the grader trains it."""
    if "is invalid for input of size" in error.message:
        last = n % batch_size
        sizes = (f"the last one fewer ({n:,} = {n // batch_size}·{batch_size} + {last})" if last
                 else "and so may any batch of another loader")
        return (_("\nA shape written into forward does not fit every batch: the batches of the "
                  "training have {batch_size} images, {sizes}. Use the batch's own size, "
                  "x.shape[0] (or -1), for the first dimension.").format(
                    batch_size=batch_size, sizes=sizes))
    if "shapes cannot be multiplied" in error.message or "size mismatch" in error.message:
        mistake = lenet_mistake(mc.layout(student, model)) if name == "Cnn" else None
        if mistake is not None:
            return "\n" + api.mistake_message(mistake)
        return (_("\nThe layer sizes do not fit the input: check the input size of each layer "
                  "against the output size of the one before."))
    return ""
