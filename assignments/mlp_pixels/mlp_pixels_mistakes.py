"""Known mistakes of MLP_pixels: what a failed check most likely means, and the fix.

Each mistake's answer is computed here, in the judge, with torch's own layers on the check's
inputs (public checks do not use the reference: it is not shipped to students). The checks in
``mlp_pixels_checks.py`` and ``public/`` / ``hidden/`` list the mistakes they recognise; see
:mod:`grader.diagnosis`. The course's own handout has three of them: its ``perf_loop``
returns inside the loop, its ``train_loop`` returns the last batch's loss, its ``fit`` never
saves the first epoch.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from grader.api import FIRST_LOOP, RETURN_IN_LOOP, DiagnosedFailure, Mistake, N_  # noqa: F401

# ------------------------------------------------------------------------------------ MLP

SOFTMAX_IN_FORWARD = Mistake(
    "softmax_in_forward",
    N_("forward applies a softmax: MLP returns probabilities instead of logits, and "
       "nn.CrossEntropyLoss applies log-softmax again on top of it"),
    N_("Return the output of the last Linear layer as it is (the logits); leave the softmax to "
       "the loss."),
    element="MLP.forward", find=r"softmax")

LOG_SOFTMAX_IN_FORWARD = Mistake(
    "log_softmax_in_forward",
    N_("forward applies log_softmax: MLP returns log-probabilities instead of logits"),
    N_("Return the output of the last Linear layer as it is; nn.CrossEntropyLoss applies "
       "log-softmax itself."),
    element="MLP.forward", find=r"log_softmax|LogSoftmax")

NO_ACTIVATION = Mistake(
    "no_activation",
    N_("MLP has no activation between its Linear layers, so the whole network is one affine "
       "map"),
    N_("Put `activation()` after each hidden Linear layer: "
       "`layers += [nn.Linear(width, size), activation()]`."),
    element="MLP.__init__", find=r"Linear")

ACTIVATION_IGNORED = Mistake(
    "activation_argument_ignored",
    N_("MLP ignores its `activation` argument: it always uses nn.Sigmoid"),
    N_("Build the hidden layers with the class you are given, `activation()`, not a fixed "
       "`nn.Sigmoid()`."),
    element="MLP.__init__", find=r"Sigmoid\(\)|ReLU\(\)")

HIDDEN_SIZES_IGNORED = Mistake(
    "hidden_sizes_ignored",
    N_("MLP ignores its `hidden` argument: it always builds the default 512-128 network"),
    N_("Loop over the sizes you are given: `for size in hidden:` (one Linear and one activation "
       "per size)."),
    element="MLP.__init__", find=r"512|128")

# ------------------------------------------------------------------------ count_parameters

FROZEN_COUNTED = Mistake(
    "frozen_parameters_counted",
    N_("count_parameters counts the frozen parameters too (those with requires_grad=False)"),
    N_("Count only what trains: `sum(p.numel() for p in model.parameters() if "
       "p.requires_grad)`."),
    element="count_parameters", find=r"parameters\(")

COUNT_IS_A_TENSOR = Mistake(
    "count_returns_a_tensor",
    N_("count_parameters returns a tensor, not a plain int"),
    N_("Return a Python int: sum the `p.numel()` (already ints), or call `.item()` on a "
       "one-element tensor."),
    element="count_parameters", find=r"return")

# ------------------------------------------------------------------------------ train_loop

NO_ZERO_GRAD = Mistake(
    "gradients_never_zeroed",
    N_("train_loop never resets the gradients, so each step uses the sum of the gradients of "
       "every batch so far"),
    N_("Call `optimizer.zero_grad()` at the start of each batch, before `loss.backward()`."),
    element="train_loop", find=FIRST_LOOP)

NO_STEP = Mistake(
    "no_optimizer_step",
    N_("train_loop never calls optimizer.step(): the gradients are computed but the weights "
       "never change"),
    N_("Call `optimizer.step()` after `loss.backward()`, for every batch."),
    element="train_loop", find=r"backward\(")

NLL_ON_LOGITS = Mistake(
    "own_loss_instead_of_loss_fn",
    N_("train_loop computes nll_loss on the logits instead of calling the loss_fn it is given "
       "(nll_loss expects log-probabilities)"),
    N_("Use the loss you are given: `loss = loss_fn(model(x), y)`."),
    element="train_loop", find=r"nll_loss|loss\s*=")

LAST_BATCH_LOSS = Mistake(
    "last_batch_loss",
    N_("{element} returns the loss of the last batch, not the mean over the epoch"),
    N_("Add each batch's `loss.item()` to a total inside the loop and return "
       "`total / len(dataloader)` after it."),
    find=r"return")

FIRST_BATCH_LOSS = Mistake(
    "first_batch_loss",
    N_("{element} returns the loss of the first batch: its `return` is inside the loop"),
    N_("Move the `return` after the loop (one indentation level left), and return the mean "
       "of the batch losses."),
    find=RETURN_IN_LOOP)

SUM_OF_LOSSES = Mistake(
    "sum_of_batch_losses",
    N_("{element} returns the sum of the batch losses, not their mean"),
    N_("Divide the total by the number of batches: `return total / len(dataloader)`."),
    find=r"return")

LIST_OF_LOSSES = Mistake(
    "list_of_batch_losses",
    N_("{element} returns a list (one number per batch), not the epoch's mean loss"),
    N_("Return one float: the mean of the batch losses, `total / len(dataloader)`."),
    find=r"return")

NO_RETURN = Mistake(
    "returns_nothing",
    N_("{element} returns nothing (None): its `return` is missing"),
    N_("End it with `return total / len(dataloader)`, the mean of the batch losses."))


def epoch_losses(start: nn.Module, batches, optimizer_class=None, lr: float = 0.0) -> list[float]:
    """Each batch's loss over one epoch of a copy of ``start`` (trained with ``optimizer_class``
    when given, else evaluated): what a loop that returns the wrong number was looking at."""
    model = copy.deepcopy(start).train(optimizer_class is not None)
    optimizer = optimizer_class(model.parameters(), lr=lr) if optimizer_class else None
    loss_fn, losses = nn.CrossEntropyLoss(), []
    for x, y in batches:
        if optimizer is None:
            with torch.no_grad():
                losses.append(loss_fn(model(x), y).item())
            continue
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def loss_mistakes(element: str, losses) -> list:
    """What a loop (``element``) returned instead of the mean loss; ``losses()`` gives the batch
    losses of that epoch, computed only when the check fails."""
    return [LAST_BATCH_LOSS.at(element).gives(lambda: losses()[-1]),
            FIRST_BATCH_LOSS.at(element).gives(lambda: losses()[0]),
            SUM_OF_LOSSES.at(element).gives(lambda: sum(losses())),
            LIST_OF_LOSSES.at(element).when(
                lambda v: isinstance(v, (list, tuple)) and len(v) == len(losses())),
            NO_RETURN.at(element).when(lambda v: v is None)]


def epoch_weights(start: nn.Module, batches, optimizer_class, lr: float, *, zero_grad: bool = True,
                  loss_fn=None) -> list[torch.Tensor]:
    """The weights after one epoch from a copy of ``start``, done the mistaken way: without
    resetting the gradients, or with another loss."""
    model = copy.deepcopy(start).train()
    optimizer = optimizer_class(model.parameters(), lr=lr)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    for x, y in batches:
        if zero_grad:
            optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


def train_loop_mistakes(start: nn.Module, batches, optimizer_class, lr: float) -> list:
    """The weights a mistaken train_loop leaves after the epoch."""
    return [NO_ZERO_GRAD.gives(lambda: epoch_weights(start, batches, optimizer_class, lr,
                                                     zero_grad=False)),
            NLL_ON_LOGITS.gives(lambda: epoch_weights(start, batches, optimizer_class, lr,
                                                      loss_fn=nn.functional.nll_loss))]

# ------------------------------------------------------------------------------ valid_loop

VALID_IN_TRAIN_MODE = Mistake(
    "validation_in_train_mode",
    N_("valid_loop runs the model in train mode: dropout stays active during validation, so "
       "the loss is noisy and too high"),
    N_("Call `model.eval()` at the start of valid_loop (and `model.train()` at the start of "
       "train_loop)."),
    element="valid_loop")

# ------------------------------------------------------------------------------- perf_loop

RETURN_INSIDE_LOOP = Mistake(
    "return_inside_loop",
    N_("perf_loop returns inside its `for` loop, so only the first batch is scored"),
    N_("Move the `return` after the loop (one indentation level left), so it runs once every "
       "batch has been counted."),
    element="perf_loop", find=RETURN_IN_LOOP)


COUNTS_RESET = Mistake(
    "counts_reset_each_batch",
    N_("perf_loop sets its counts back to 0 inside the loop, so only the last batch is counted"),
    N_("Initialise n_correct and n_total once, before the `for` loop, and only add to them "
       "inside it."),
    element="perf_loop", find=FIRST_LOOP)


def first_batch(model: nn.Module, x, y, batch_size: int) -> tuple[int, int, torch.Tensor]:
    """(n_correct, n_total, y_pred) of the first batch alone: what perf_loop gives when it
    returns inside its loop."""
    with torch.no_grad():
        predicted = model(x[:batch_size]).argmax(dim=1)
    return int((predicted == y[:batch_size]).sum()), len(predicted), predicted


def best_epoch_without_the_first(valid_losses: list[float]) -> int | None:
    """The best_epoch of a fit that only records an epoch beating an earlier one: epoch 0
    sets the bar and is never recorded (None when no later epoch beats it)."""
    bar, best = valid_losses[0], None
    for epoch, loss in enumerate(valid_losses[1:], 1):
        if loss < bar:
            bar, best = loss, epoch
    return best

# -------------------------------------------------------------------------- make_optimizer

ADAM_IS_SGD = Mistake(
    "adam_builds_sgd",
    N_("make_optimizer builds torch.optim.SGD for \"ADAM\""),
    N_("Map \"ADAM\" to `torch.optim.Adam`."),
    element="make_optimizer", find=r"Adam|ADAM")

CASE_SENSITIVE = Mistake(
    "optimizer_name_case_sensitive",
    N_("make_optimizer compares the name as it is given, so \"sgd\" or \"Adam\" is not "
       "recognised"),
    N_("Compare in one case: `key = name.upper()` before looking it up."),
    element="make_optimizer", find=r"if |\[")

UNKNOWN_NAME_ACCEPTED = Mistake(
    "unknown_optimizer_accepted",
    N_("make_optimizer returns an optimizer for a name it does not know instead of raising "
       "ValueError"),
    N_("End with `raise ValueError(f\"unknown optimizer {name!r}\")` when the name is neither "
       "SGD nor ADAM."),
    element="make_optimizer")

# ------------------------------------------------------------------------------------- fit

FIRST_EPOCH_NEVER_SAVED = Mistake(
    "first_epoch_never_saved",
    N_("fit never saves the first epoch: it only saves an epoch that beats an earlier one, so "
       "when the first epoch is the best, no checkpoint (or an old one) is left"),
    N_("Start from `best = float('inf')` and compare every epoch with it, the first one "
       "included: the first epoch always improves on it and is saved."),
    element="fit", find=r"torch\.save")

ONE_BASED_EPOCH = Mistake(
    "best_epoch_one_based",
    N_("fit reports best_epoch counted from 1; the practical counts epochs from 0"),
    N_("Record the loop's own index: `history[\"best_epoch\"] = epoch` with "
       "`for epoch in range(epochs)`."),
    element="fit", find=r"best_epoch")

SAVES_EVERY_EPOCH = Mistake(
    "saves_every_epoch",
    N_("fit saves the weights after every epoch, not only when the valid loss improves, so "
       "the checkpoint holds the last epoch"),
    N_("Call `torch.save(model.state_dict(), checkpoint)` inside the `if valid_loss < best:` "
       "block only."),
    element="fit", find=r"torch\.save")


def count_is_a_tensor(expected: int):
    """count_parameters' right number, in a tensor."""
    return COUNT_IS_A_TENSOR.when(
        lambda v: isinstance(v, torch.Tensor) and v.numel() == 1 and int(v.item()) == expected)
