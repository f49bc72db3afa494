"""Scenarios shared by the public and hidden checks of MLP_pixels.

Each scenario runs the student's code on inputs the judge chooses and fails with a message
naming what went wrong; the public and hidden checks call them with different inputs.
"""

import torch
from torch import nn

from grader import model_checks as mc
from grader.checks import accuracy, check_close, check_int, confusion_matrix, linear_credit
from grader.failures import CheckFailure


def train_loop_scenario(student, reference, mnist, optimizer: str, lr: float, n: int,
                         batch_size: int):
    """One epoch of the student's train_loop from the reference's weights vs the reference."""
    train, _, _ = mnist
    x, y = train.images[:n], train.labels[:n]
    torch.manual_seed(0)
    ref_model = reference.MLP(hidden=(64,), activation=nn.ReLU)
    model = student.MLP(hidden=(64,), activation=student.lib("torch.nn.ReLU"))
    what = "MLP(hidden=(64,), activation=nn.ReLU)"
    mc.copy_reference_weights(student, model, ref_model, what)
    before = [p.detach().clone() for p in ref_model.parameters()]
    loader = mc.recipe(student, "loader")(x, y, batch_size=batch_size)
    opt = mc.recipe(student, "optimizer")(optimizer, model, lr)
    loss = student.train_loop(loader, model, student.lib("torch.nn.CrossEntropyLoss")(), opt)
    after = mc.parameters(student, model)
    ref_opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(ref_model.parameters(), lr=lr)
    batch_mean, sample_mean = mc.reference_epoch(ref_model, mc.batches(x, y, batch_size),
                                                 nn.CrossEntropyLoss(), ref_opt)
    if all(torch.equal(a, b) for a, b in zip(after, before)):
        raise CheckFailure("train_loop did not change the weights: is optimizer.step() called "
                           "after loss.backward()?")
    mc.compare_parameters(after, ref_model, f"weights after one epoch of train_loop "
                          f"({optimizer.upper()}, lr={lr:g}, {n} samples in batches of {batch_size})")
    mc.mean_loss_matches(loss, batch_mean, sample_mean, "train_loop's return value")


def perf_loop_scenario(student, mnist, n: int, batch_size: int, seed: int):
    _, valid, _ = mnist
    x, y = valid.images[:n], valid.labels[:n]
    model, local = mc.library_model(student, [("Flatten",), ("Linear", 784, 10)], seed=seed)
    loader = mc.recipe(student, "loader")(x, y, batch_size=batch_size)
    answer = student.perf_loop(loader, model)
    with torch.no_grad():
        expected = local(x).argmax(dim=1)
    if not isinstance(answer, (tuple, list)) or len(answer) != 3:
        raise CheckFailure(f"perf_loop should return (n_correct, n_total, y_pred); got "
                           f"{type(answer).__name__}" + (f" of {len(answer)}" if isinstance(answer, (tuple, list)) else ""))
    n_correct, n_total, y_pred = answer
    last = n % batch_size or batch_size
    if n_total in (batch_size, last) and n_total != n:
        raise CheckFailure(f"perf_loop counted {n_total} samples out of {n} ({n} in batches of "
                           f"{batch_size}): does it return inside the loop, after the first "
                           "batch? Accumulate over the whole dataloader, then return.")
    check_int(n_total, n, f"perf_loop's n_total ({n} samples in batches of {batch_size})")
    check_int(n_correct, int((expected == y).sum()), "perf_loop's n_correct")
    preds = torch.as_tensor(y_pred.numpy() if hasattr(y_pred, "numpy") else y_pred).reshape(-1)
    check_close(preds.to(torch.int64), expected, "perf_loop's y_pred (predicted classes in "
                "iteration order)", rtol=0, atol=0)


def fit_scenario(student, mnist, first_is_best: bool, epochs: int = 4):
    """fit on a small problem where the first epoch is (or is not) the best one."""
    train, _, _ = mnist
    x, y = train.images[:128], train.labels[:128]
    # Validating on labels shifted by one: the better the model fits y, the worse it does on
    # y + 1, so the first epoch is the best. Validating on y itself, the last epoch is.
    y_valid = (y + 1) % 10 if first_is_best else y
    layers = [("Flatten",), ("Linear", 784, 32), ("ReLU",), ("Linear", 32, 10)]
    model, local = mc.library_model(student, layers, seed=3)
    loader = mc.recipe(student, "loader")
    trainloader, validloader = loader(x, y, batch_size=32), loader(x, y_valid, batch_size=32)
    loss_fn = student.lib("torch.nn.CrossEntropyLoss")()
    opt = mc.recipe(student, "optimizer")("adam", model, 1e-3)
    checkpoint = "best_model.pt"   # relative: the student process's own scratch folder
    history = student.fit(model, trainloader, validloader, loss_fn, opt, epochs, checkpoint)
    if not isinstance(history, dict) or not {"train_loss", "valid_loss", "best_epoch"} <= set(history):
        keys = sorted(history) if isinstance(history, dict) else type(history).__name__
        raise CheckFailure(f"fit should return a dict with train_loss, valid_loss and best_epoch; "
                           f"got {keys}")
    for key in ("train_loss", "valid_loss"):
        if not isinstance(history[key], list) or len(history[key]) != epochs:
            raise CheckFailure(f"fit(..., epochs={epochs}): history[{key!r}] should hold one loss "
                               f"per epoch; got {history[key]!r:.80}")
    valid = [float(v) for v in history["valid_loss"]]
    best = min(range(epochs), key=valid.__getitem__)
    check_int(history["best_epoch"], best, "fit's best_epoch (0-based index of the lowest valid "
              f"loss in {['%.4f' % v for v in valid]})")
    try:
        saved = student.lib("torch.load")(checkpoint, weights_only=True)
    except CheckFailure as e:
        raise CheckFailure(f"fit did not save a readable checkpoint at {checkpoint!r} (the best "
                           f"epoch was {best}; the first epoch counts too): {e}") from None
    if not isinstance(saved, dict):
        raise CheckFailure(f"fit saved a {type(saved).__name__}, expected model.state_dict()")
    # The weights of the best epoch: the final ones when it is the last epoch; otherwise a fresh
    # copy of the model, trained by the student's own train_loop for best + 1 epochs.
    if best == epochs - 1:
        expected = mc.recipe(student, "state_dict")(model)
    else:
        replay, _ = mc.library_model(student, layers, seed=3)
        replay_opt = mc.recipe(student, "optimizer")("adam", replay, 1e-3)
        for _ in range(best + 1):
            student.train_loop(trainloader, replay, loss_fn, replay_opt)
        expected = mc.recipe(student, "state_dict")(replay)
    if sorted(saved) != sorted(expected):
        raise CheckFailure(f"the checkpoint's keys {sorted(saved)} are not model.state_dict()'s "
                           f"{sorted(expected)}")
    for key in expected:
        check_close(saved[key], expected[key], f"checkpoint tensor {key!r} vs the weights of epoch "
                    f"{best}", rtol=1e-5, atol=1e-6, expected_label="expected")
    return best


def accuracy_scenario(student, settings, splits, score, seed: int):
    train, valid, test = splits
    student.process.reseed(seed)
    model = student.MLP(activation=student.lib("torch.nn.ReLU"))
    history = mc.recipe(student, "train")(
        model, train.images, train.labels,
        epochs=int(settings["accuracy_epochs"]), lr=float(settings["accuracy_lr"]),
        optimizer="adam", batch_size=int(settings["accuracy_batch_size"]), seed=seed,
        train_loop=student.train_loop, valid=(valid.images, valid.labels))
    predictions = mc.recipe(student, "predict")(model, test.images)
    acc = accuracy(predictions, test.labels, "predictions on the test images")
    low, high = float(settings["accuracy_low"]), float(settings["accuracy_high"])
    credit = linear_credit(acc, low, high)
    score.attach("learning_curves", history)
    score.attach("accuracy", {"value": acc, "low": low, "high": high, "n_test": len(test)})
    score.attach("confusion_matrix", confusion_matrix(torch.as_tensor(predictions).reshape(-1),
                                                      test.labels, 10))
    message = (f"accuracy {acc:.3f} on {len(test)} held-out images after "
               f"{settings['accuracy_epochs']} epochs (full marks from {high:.2f}, none at or "
               f"below {low:.2f})")
    if credit < 1.0:
        message += f": {credit:.0%} of the points"
    score.partial(credit, message)
