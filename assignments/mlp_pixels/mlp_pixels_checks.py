"""Scenarios shared by the public and hidden checks of MLP_pixels.

Each scenario runs one element of the student's code on inputs the judge chooses and fails
with a message naming what went wrong. Scenarios on loops use models built from torch's own
layers (``mc.library_model``), and ``fit`` runs with the grader's standard loops in place of
the student's: a bug costs points only in the checks of the element that has it.
"""

import copy

import numpy as np
import torch
from torch import nn

from grader.api import _, gettext
from grader.api import (as_number, call, check_close, check_count, CheckFailure, describe_value,
                        models as mc)

import mlp_pixels_mistakes as known

SMALL_MLP = [("Flatten",), ("Linear", 784, 32), ("ReLU",), ("Linear", 32, 10)]


def handout_mlp(hidden=(512, 128), activation=nn.Sigmoid, inputs=784, classes=10) -> nn.Sequential:
    """The MLP the handout describes, built here from torch's layers: what a student's MLP must
    compute. (Public checks do not use the reference solution: it is not shipped to students.)"""
    layers, width = [nn.Flatten()], inputs
    for size in hidden:
        layers += [nn.Linear(width, size), activation()]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, classes))


def train_loop_scenario(student, mnist, optimizer: str, lr: float, n: int, batch_size: int):
    """One epoch of the student's train_loop from known weights vs the same epoch here."""
    train, _, _ = mnist
    x, y = train.images[:n], train.labels[:n]
    model, local = mc.library_model(student, SMALL_MLP, seed=6)
    start = copy.deepcopy(local)
    before = [p.detach().clone() for p in local.parameters()]
    loader = mc.recipe(student, "loader")(x, y, batch_size=batch_size)
    opt = mc.recipe(student, "optimizer")(optimizer, model, lr)
    loss = student.train_loop(loader, model, student.lib("torch.nn.CrossEntropyLoss")(), opt)
    after = mc.parameters(student, model)
    optimizer_class = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
    batches = mc.batches(x, y, batch_size)
    batch_mean, sample_mean = mc.reference_epoch(local, batches, nn.CrossEntropyLoss(),
                                                 optimizer_class(local.parameters(), lr=lr))
    if all(torch.equal(a, b) for a, b in zip(after, before)):
        raise known.NO_STEP.failure(gettext("train_loop did not change the weights"))
    mc.compare_parameters(after, local, gettext("weights after one epoch of train_loop ({upper}, "
                                          "lr={lr:g}, {n} samples in batches of {batch_size})").format(
                                            upper=optimizer.upper(), lr=lr, n=n,
                                            batch_size=batch_size),
                          known_mistakes=known.train_loop_mistakes(start, batches, optimizer_class,
                                                                   lr))
    mc.mean_loss_matches(loss, batch_mean, sample_mean, gettext("train_loop's return value"),
                         known_mistakes=known.loss_mistakes(
                             "train_loop", lambda: known.epoch_losses(start, batches,
                                                                      optimizer_class, lr)))


def perf_loop_scenario(student, mnist, n: int, batch_size: int, seed: int):
    """perf_loop over a whole loader: counts and predictions match those computed here."""
    _, valid, _ = mnist
    x, y = valid.images[:n], valid.labels[:n]
    model, local = mc.library_model(student, [("Flatten",), ("Linear", 784, 10)], seed=seed)
    loader = mc.recipe(student, "loader")(x, y, batch_size=batch_size)
    answer = student.perf_loop(loader, model)
    with torch.no_grad():
        expected = local(x).argmax(dim=1)
    if not isinstance(answer, (tuple, list)) or len(answer) != 3:
        got = type(answer).__name__ + (f" of {len(answer)}" if isinstance(answer, (tuple, list)) else "")
        raise CheckFailure(gettext("perf_loop should return (n_correct, n_total, y_pred); got {got}").format(
                               got=got))
    n_correct, n_total, y_pred = answer
    last = n % batch_size or batch_size
    # Counts in any numeric type: `acc = 0.` (counting in a float) is the course's own idiom.
    total = as_number(n_total, "perf_loop's n_total")
    counted = gettext("perf_loop counted {total:g} samples out of {n} ({n} in batches of "
                "{batch_size})").format(total=total, n=n, batch_size=batch_size)
    if total == batch_size != n:
        raise known.RETURN_INSIDE_LOOP.failure(counted)
    if total == last != n:
        raise known.COUNTS_RESET.failure(counted)
    # The handout's perf_loop counts n_total right (len(dataloader.dataset)) and returns inside
    # the loop: its n_correct and y_pred are those of the first batch.
    first = known.RETURN_INSIDE_LOOP

    def first_batch(part: int):
        return lambda: known.first_batch(local, x, y, batch_size)[part]

    check_count(n_total, n, gettext("perf_loop's n_total ({n} samples in batches of {batch_size})").format(
                                n=n, batch_size=batch_size))
    check_count(n_correct, int((expected == y).sum()), "perf_loop's n_correct",
                known_mistakes=[first.gives(first_batch(0))])
    try:
        preds = torch.as_tensor(y_pred).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise CheckFailure(gettext("perf_loop's y_pred should be the predicted classes (a tensor, "
                             "array or list of ints); got {name}").format(
                               name=type(y_pred).__name__)) from None
    check_close(preds.to(torch.int64), expected, gettext("perf_loop's y_pred (predicted classes in "
                                                   "iteration order)"), rtol=0, atol=0, known_mistakes=[first.gives(first_batch(2))])


def losses(value) -> list[float] | None:
    """One number per epoch from a list or tuple of numbers or one-element tensors, or a 1-D
    tensor or array (how a student may keep them); None when it is none of those."""
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 1:
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        return None
    try:
        return [as_number(v, "loss") for v in value]
    except CheckFailure:
        return None


def fit_scenario(student, mnist, first_is_best: bool, epochs: int = 4) -> int:
    """fit on a small problem where the first epoch is (or is not) the best one.

    The student's fit runs with the grader's standard train/valid loops in place of the
    student's, and the judge replays the same training to know every epoch's weights.
    """
    train, _, _ = mnist
    x, y = train.images[:128], train.labels[:128]
    # Validating on labels shifted by one: the better the model fits y, the worse it does on
    # y + 1, so the first epoch is the best. Validating on y itself, the last epoch is.
    y_valid = (y + 1) % 10 if first_is_best else y
    model, local = mc.library_model(student, SMALL_MLP, seed=3)
    loader = mc.recipe(student, "loader")
    trainloader, validloader = loader(x, y, batch_size=32), loader(x, y_valid, batch_size=32)
    loss_fn = student.lib("torch.nn.CrossEntropyLoss")()
    opt = mc.recipe(student, "optimizer")("adam", model, 1e-3)
    # Relative: the student process's own scratch folder. One name per scenario, so a fit that
    # saves nothing cannot pass with the file an earlier check left.
    checkpoint = f"best_model_{'first' if first_is_best else 'last'}.pt"
    loops = {"train_loop": student.lib("grader.training.standard_train_loop"),
             "valid_loop": student.lib("grader.training.standard_valid_loop")}
    history = mc.recipe(student, "call_with_module_globals")(
        student.fit, loops, model, trainloader, validloader, loss_fn, opt, epochs, checkpoint)

    # The same training here: the weights and valid loss of every epoch.
    local_opt = torch.optim.Adam(local.parameters(), lr=1e-3)
    states, valid_losses = [], []
    for _ in range(epochs):
        mc.reference_epoch(local, mc.batches(x, y, 32), nn.CrossEntropyLoss(), local_opt)
        valid_losses.append(mc.reference_epoch(local, mc.batches(x, y_valid, 32),
                                               nn.CrossEntropyLoss())[0])
        states.append({k: v.detach().clone() for k, v in local.state_dict().items()})
    best = min(range(epochs), key=valid_losses.__getitem__)

    if not isinstance(history, dict) or not {"train_loss", "valid_loss", "best_epoch"} <= set(history):
        keys = sorted(history) if isinstance(history, dict) else type(history).__name__
        raise CheckFailure(gettext("fit should return a dict with train_loss, valid_loss and "
                             "best_epoch; got {keys}").format(keys=keys))
    recorded = {}
    for key in ("train_loss", "valid_loss"):
        recorded[key] = losses(history[key])
        if recorded[key] is None or len(recorded[key]) != epochs:
            raise CheckFailure(gettext("fit(..., epochs={epochs}): history[{key!r}] should hold one "
                                 "loss per epoch; got {describe_value}").format(
                                   epochs=epochs, key=key,
                                   describe_value=describe_value(history[key])))
    check_close(torch.tensor(recorded["valid_loss"]), torch.tensor(valid_losses),
                gettext("fit's history['valid_loss']"), rtol=1e-4, atol=1e-5)
    never_first = known.FIRST_EPOCH_NEVER_SAVED
    check_count(history["best_epoch"], best, gettext("fit's best_epoch (0-based index of the lowest "
                                               "valid loss in {value})").format(
                                                 value=['%.4f' % v for v in valid_losses]), known_mistakes=[
                    known.ONE_BASED_EPOCH.gives(best + 1),
                    never_first.when(lambda v: best == 0 and v is None),
                    never_first.gives(known.best_epoch_without_the_first(valid_losses))])
    try:
        saved = student.lib("torch.load")(checkpoint, weights_only=True)
    except CheckFailure as e:
        if best == 0:
            raise never_first.failure(gettext("fit did not save a readable checkpoint at "
                                        "{checkpoint!r}; the best epoch was 0").format(
                                          checkpoint=checkpoint)) from None
        raise CheckFailure(gettext("fit did not save a readable checkpoint at {checkpoint!r} (the "
                             "best epoch was {best}; the first epoch counts too): {e}").format(
                               checkpoint=checkpoint, best=best, e=e)) from None
    if not isinstance(saved, dict) or sorted(saved) != sorted(states[best]):
        got = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise CheckFailure(gettext("the checkpoint should be model.state_dict() ({sorted}); got {got}").format(
                               sorted=sorted(states[best]), got=got))
    for key, expected in states[best].items():
        if torch.allclose(saved[key], expected, rtol=1e-5, atol=1e-6):
            continue
        other = [e for e, state in enumerate(states)
                 if torch.allclose(saved[key], state[key], rtol=1e-5, atol=1e-6)]
        which = f"those of epoch {other[0]}" if other else "those of no epoch"
        if other == [epochs - 1]:
            raise known.SAVES_EVERY_EPOCH.failure(
                gettext("the checkpoint holds the weights of the last epoch, not those of the best "
                  "epoch {best}").format(best=best))
        raise CheckFailure(gettext("the checkpoint holds the wrong weights: tensor {key!r} matches "
                             "{which}, not those of the best epoch {best} (valid losses "
                             "{value})").format(
                               key=key, which=which, best=best,
                               value=['%.4f' % v for v in valid_losses]))
    return best


def accuracy_scenario(student, settings, splits, score, seed: int):
    """Train the student's MLP(ReLU) with the student's train_loop; score it here.

    The judge draws the starting weights (the handout's MLP, seed ``seed``) and loads them
    into the student's model; the student process trains it with the student's train_loop;
    the judge reads the trained weights back as data, replays the same training with the
    standard loop, and predicts the held-out images itself (they never reach the student
    process): see :func:`grader.model_checks.judged_training`.
    """
    train, valid, test = splits
    epochs = int(settings["accuracy_epochs"])
    train_kwargs = dict(epochs=epochs, lr=float(settings["accuracy_lr"]), optimizer="adam",
                        batch_size=int(settings["accuracy_batch_size"]), seed=seed)
    what = _("MLP(activation=nn.ReLU) trained by your train_loop")
    student.process.reseed(seed)
    model = student.MLP(activation=student.lib("torch.nn.ReLU"))
    torch.manual_seed(seed)
    local = handout_mlp(activation=nn.ReLU)
    train_recipe = mc.recipe(student, "train")

    def train_in_child():
        call(_("training {what} ({epochs} epochs of Adam on {count} images)").format(
                 what=what, epochs=epochs, count=len(train.labels)),
                train_recipe, model, train.images, train.labels, train_loop=student.train_loop,
                **train_kwargs)

    probes = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(100 + seed))
    predictions, history = mc.judged_training(
        student, model, local, what=what, train_in_child=train_in_child,
        data=(train.images, train.labels), valid=(valid.images, valid.labels),
        train_kwargs=train_kwargs, scored=test.images, probes=probes,
        min_agreement=float(settings["accuracy_min_agreement"]),
        mismatch_hint=_(" Is train_loop right (see the train_loop checks)? One epoch is "
                        "zero_grad, forward, loss, backward, step on every batch of the "
                        "dataloader."),
        probe_hint=" See the MLP checks.")
    score.award_accuracy(predictions, test.labels, what=_("held-out images"),
                         context=_("after {epochs} epochs").format(epochs=epochs),
                         low=float(settings["accuracy_low"]), high=float(settings["accuracy_high"]),
                         history=history)
