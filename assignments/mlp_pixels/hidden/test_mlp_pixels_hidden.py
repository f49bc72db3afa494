"""MLP_pixels — hidden checks (instructor grading only; never shipped to students).

The same scenarios as the public checks on other inputs, plus the cases a submission tuned to
the public checks tends to miss: frozen parameters, Adam, eval mode, odd batch sizes, bad
optimizer names, a first epoch that is the best one, another seed for the accuracy.
"""

import pytest
from torch import nn

from grader.api import _, gettext
from grader.api import check_int, CheckFailure, models as mc, NotImplementedYet, StudentError

import mlp_pixels_checks as checks
import mlp_pixels_mistakes as known


@pytest.mark.points(1)
def test_count_parameters_counts_trainable_only(student):
    """count_parameters skips frozen parameters (requires_grad=False)."""
    model, local = mc.library_model(student, [("Linear", 784, 64), ("ReLU",), ("Linear", 64, 10)])
    mc.recipe(student, "freeze")(model, ["0.weight", "0.bias"])
    expected = sum(p.numel() for name, p in local.named_parameters() if not name.startswith("0."))
    everything = sum(p.numel() for p in local.parameters())
    check_int(student.count_parameters(model), expected,
              _("count_parameters with the first Linear frozen (requires_grad=False)"),
              known_mistakes=[known.FROZEN_COUNTED.gives(everything),
                              known.count_is_a_tensor(expected)])


@pytest.mark.points(1)
def test_count_parameters_on_a_convolutional_network(student):
    """count_parameters works for any module, not only Linear layers."""
    model, local = mc.library_model(student, [("Conv2d", 1, 6, 5), ("ReLU",), ("Flatten",),
                                              ("Linear", 6 * 24 * 24, 10)])
    expected = sum(p.numel() for p in local.parameters())
    check_int(student.count_parameters(model), expected,
              "count_parameters(Conv2d(1, 6, 5) → ReLU → Flatten → Linear(3456, 10))",
              known_mistakes=[known.count_is_a_tensor(expected)])


@pytest.mark.points(2)
def test_train_loop_with_adam_and_an_uneven_last_batch(student, mnist):
    """One epoch with Adam over 100 samples in batches of 24 matches the reference."""
    checks.train_loop_scenario(student, mnist, "adam", 1e-3, 100, 24)


@pytest.mark.points(1)
def test_valid_loop_uses_eval_mode(student, mnist):
    """valid_loop puts the model in eval mode: with dropout, its loss is deterministic and
    equals the eval-mode loss."""
    _, valid, _ = mnist
    x, y = valid.images[:64], valid.labels[:64]
    model, local = mc.library_model(student, [("Flatten",), ("Linear", 784, 64), ("ReLU",),
                                              ("Dropout", 0.5), ("Linear", 64, 10)], seed=4)
    # A fresh nn.Sequential is in train mode: valid_loop has to switch it to eval itself.
    loss = student.valid_loop(mc.recipe(student, "loader")(x, y, batch_size=16), model,
                              student.lib("torch.nn.CrossEntropyLoss")())
    batches = mc.batches(x, y, 16)
    batch_mean, sample_mean = mc.reference_epoch(local, batches, nn.CrossEntropyLoss())
    eval_losses = known.loss_mistakes("valid_loop", lambda: known.epoch_losses(local, batches))
    try:
        mc.mean_loss_matches(loss, batch_mean, sample_mean, "valid_loop's loss",
                             known_mistakes=eval_losses)
    except known.DiagnosedFailure:
        raise
    except CheckFailure as e:
        # Dropout draws at random in train mode: no one loss to compare with, but a loss that
        # differs from the eval-mode one with dropout in the model means train mode.
        raise known.VALID_IN_TRAIN_MODE.failure(str(e)) from None
    leftover = mc.recipe(student, "gradients_present")(model)
    if leftover:
        raise CheckFailure(gettext("valid_loop left gradients in {join}: validation must not call "
                             "backward").format(join=', '.join(leftover)))


@pytest.mark.points(1)
def test_perf_loop_with_batches_of_seven(student, mnist):
    """perf_loop on 50 samples in batches of 7 (last batch of 1)."""
    checks.perf_loop_scenario(student, mnist, 50, 7, seed=5)


@pytest.mark.points(1)
@pytest.mark.parametrize("name", ["sgd", "Adam"])
def test_make_optimizer_ignores_case(student, name):
    """make_optimizer accepts any case: "sgd", "Adam"."""
    model, _ = mc.library_model(student, [("Linear", 8, 2)])
    try:
        opt = student.make_optimizer(name, model.parameters(), 0.01)
    except NotImplementedYet:
        raise
    except StudentError as e:
        if e.type_name in ("ValueError", "KeyError"):
            raise known.CASE_SENSITIVE.failure(f"make_optimizer({name!r}, ...) raised "
                                               f"{e.type_name}: {e.message}") from None
        raise
    summary = mc.optimizer_summary(student, opt)
    if name.lower() == "adam" and summary["is_sgd"]:
        raise known.ADAM_IS_SGD.failure(f"make_optimizer({name!r}, ...) returned a "
                                        f"{summary['class']}")
    if not summary["is_sgd" if name.lower() == "sgd" else "is_adam"]:
        raise CheckFailure(gettext("make_optimizer({name!r}, ...) returned a {summary}").format(
                               name=name, summary=summary['class']))


@pytest.mark.points(1)
def test_make_optimizer_rejects_unknown_names(student):
    """make_optimizer("RMSprop", ...) raises ValueError instead of picking something."""
    model, _ = mc.library_model(student, [("Linear", 8, 2)])
    try:
        opt = student.make_optimizer("RMSprop", model.parameters(), 0.01)
    except NotImplementedYet:
        raise
    except StudentError as e:
        if e.type_name != "ValueError":
            raise CheckFailure(gettext("make_optimizer('RMSprop', ...) raised {type_name}, expected "
                                 "ValueError").format(type_name=e.type_name)) from None
        return
    raise known.UNKNOWN_NAME_ACCEPTED.failure(f"make_optimizer('RMSprop', ...) returned {opt!r}")


@pytest.mark.points(2)
def test_fit_saves_the_first_epoch_when_it_is_the_best(student, mnist):
    """When the first epoch has the lowest valid loss, its weights are the checkpoint."""
    checks.fit_scenario(student, mnist, first_is_best=True)


@pytest.mark.points(3)
@pytest.mark.trains
@pytest.mark.time_limit("accuracy_time_limit_s")
def test_MLP_accuracy_on_another_split(student, settings, mnist_resplit, score):
    """The accuracy check again, trained on another stratified train/valid split with another
    seed, scored on the same held-out images (never sent with their labels)."""
    checks.accuracy_scenario(student, settings, mnist_resplit(1), score, seed=1)
