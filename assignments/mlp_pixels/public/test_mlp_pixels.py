"""MLP_pixels — public checks (what `grade check` runs for students).

Every check talks to the submission through ``student`` (a separate, sandboxed process) and
compares what comes back with the reference or with values computed here, in the judge.
"""

import pytest
import torch
from torch import nn

from grader.api import _, gettext
from grader.api import (check_close, check_int, check_parameter_count, check_shape, CheckFailure,
                        models as mc)

import mlp_pixels_checks as checks
import mlp_pixels_mistakes as known

ARCHITECTURES = {"512-128": (512, 128), "512-256-128": (512, 256, 128), "256": (256,)}


def flat_batch(mnist, n=16):
    """Real digits as flat rows [n, 784]: MLP checks other than the shape one do not depend on
    the model accepting images."""
    train, _, _ = mnist
    return train.images[:n].reshape(n, -1)


# ------------------------------------------------------------------------------------ MLP

@pytest.mark.points(1)
@pytest.mark.parametrize("layout", ["images", "flat"])
def test_MLP_output_shape(student, layout):
    """MLP() maps a batch of 4 images [4, 1, 28, 28] or flat rows [4, 784] to logits [4, 10]."""
    shape = (4, 1, 28, 28) if layout == "images" else (4, 784)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    check_shape(student.MLP()(x), (4, 10), _("MLP()(x) for x of shape {shape}").format(
                                               shape=list(shape)))


@pytest.mark.points(1)
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_MLP_parameter_count(student, name):
    """MLP(hidden=...) has the handout's number of parameters (468,874 for the default; counted
    here, from the tensors the model holds)."""
    hidden = ARCHITECTURES[name]
    expected = sum(p.numel() for p in checks.handout_mlp(hidden).parameters())
    model = student.MLP(hidden=hidden)
    probes = torch.rand(8, 784, generator=torch.Generator().manual_seed(7))
    layout = mc.counted_layout(student, model, probes, f"MLP(hidden={hidden})")
    default = sum(p.numel() for p in checks.handout_mlp().parameters())
    check_parameter_count(layout, expected, f"MLP(hidden={hidden})",
                          known_mistakes=[known.HIDDEN_SIZES_IGNORED.gives(default)])


@pytest.mark.points(2)
@pytest.mark.parametrize("activation", ["Sigmoid", "ReLU"])
def test_MLP_activation_matches_reference(student, mnist, activation):
    """With the same weights, MLP(activation=nn.Sigmoid / nn.ReLU) computes the same logits as
    the handout's network: the activation argument is honoured."""
    torch.manual_seed(0)
    ref_model = checks.handout_mlp(activation=getattr(nn, activation)).eval()
    what = f"MLP(activation=nn.{activation})"
    model = student.MLP(activation=student.lib(f"torch.nn.{activation}"))
    mc.copy_reference_weights(student, model, ref_model, what)
    x = flat_batch(mnist)
    out = mc.recipe(student, "forward")(model, x)
    with torch.no_grad():
        expected = ref_model(x)
    linear = checks.handout_mlp(activation=nn.Identity).eval()
    linear.load_state_dict(ref_model.state_dict())
    sigmoid = checks.handout_mlp(activation=nn.Sigmoid).eval()
    sigmoid.load_state_dict(ref_model.state_dict())
    mistakes = [known.SOFTMAX_IN_FORWARD.gives(lambda: torch.softmax(expected, dim=1)),
                known.LOG_SOFTMAX_IN_FORWARD.gives(lambda: torch.log_softmax(expected, dim=1)),
                known.NO_ACTIVATION.gives(lambda: linear(x).detach())]
    if activation != "Sigmoid":
        mistakes.append(known.ACTIVATION_IGNORED.gives(lambda: sigmoid(x).detach()))
    check_close(out, expected, _("{what} output with the reference's weights").format(what=what), rtol=1e-4,
                atol=1e-5, expected_label="reference", known_mistakes=mistakes)


@pytest.mark.points(1)
def test_MLP_returns_logits(student, mnist):
    """forward returns logits, not probabilities: nn.CrossEntropyLoss applies log-softmax."""
    out = check_shape(mc.recipe(student, "forward")(student.MLP(), flat_batch(mnist)),
                      (16, 10), "MLP() output")
    out = out.to(torch.float64)
    ones = torch.ones(out.shape[0], dtype=torch.float64)
    if torch.allclose(out.sum(dim=1), ones, atol=1e-4) and (out >= 0).all():
        raise known.SOFTMAX_IN_FORWARD.failure(_("MLP's output rows are probabilities (they "
                                                 "sum to 1)"))
    if torch.allclose(out.exp().sum(dim=1), ones, atol=1e-4):
        raise known.LOG_SOFTMAX_IN_FORWARD.failure(_("MLP's output rows are log-probabilities "
                                                     "(their exp sums to 1)"))


@pytest.mark.points(1)
def test_MLP_is_not_linear(student, mnist):
    """An activation sits between the layers: the network is not an affine map."""
    images = flat_batch(mnist, 2)
    x = torch.cat([images, images.mean(dim=0, keepdim=True)])  # a, b and their midpoint
    out = mc.recipe(student, "forward")(student.MLP(), x).to(torch.float64)
    midpoint = (out[0] + out[1]) / 2
    gap = (out[2] - midpoint).abs().max().item()
    scale = max(1e-12, (out[0] - out[1]).abs().max().item())
    if gap <= 1e-6 * scale + 1e-9:
        raise known.NO_ACTIVATION.failure(
            _("MLP behaves as an affine map: f((a + b) / 2) = (f(a) + f(b)) / 2 for two images "
              "(gap {gap:.2g}). Is the activation applied after each hidden Linear layer?").format(
                gap=gap))


# ------------------------------------------------------------------------ count_parameters

@pytest.mark.points(1)
def test_count_parameters_on_a_small_network(student):
    """count_parameters on nn.Sequential(Linear(784, 128), ReLU, Linear(128, 10)) = 101,770,
    as a plain int."""
    model, local = mc.library_model(student, [("Linear", 784, 128), ("ReLU",), ("Linear", 128, 10)])
    expected = sum(p.numel() for p in local.parameters())
    check_int(student.count_parameters(model), expected,
              "count_parameters(Linear(784, 128) → ReLU → Linear(128, 10))",
              known_mistakes=[known.count_is_a_tensor(expected)])


# ------------------------------------------------------------------------------ train_loop

@pytest.mark.points(3)
def test_train_loop_matches_reference(student, mnist):
    """One epoch with SGD from known weights gives the reference's weights and mean loss
    (catches a missing zero_grad, a missing step, a wrong loss)."""
    checks.train_loop_scenario(student, mnist, "sgd", 0.1, 96, 32)


# ------------------------------------------------------------------------------ valid_loop

@pytest.mark.points(2)
def test_valid_loop_mean_loss_and_weights_unchanged(student, mnist):
    """valid_loop returns the mean loss and leaves the weights as they were."""
    _, valid, _ = mnist
    x, y = valid.images[:100], valid.labels[:100]
    model, local = mc.library_model(
        student, [("Flatten",), ("Linear", 784, 32), ("ReLU",), ("Linear", 32, 10)], seed=1)
    loader = mc.recipe(student, "loader")(x, y, batch_size=32)
    loss = student.valid_loop(loader, model, student.lib("torch.nn.CrossEntropyLoss")())
    after = mc.parameters(student, model)
    for (name, p), got in zip(local.named_parameters(), after):
        if not torch.equal(got, p.detach()):
            raise CheckFailure(gettext("valid_loop changed the weights (parameter {name}): "
                                 "validation must not train — no optimizer step, no backward").format(
                                   name=name))
    batch_mean, sample_mean = mc.reference_epoch(local, mc.batches(x, y, 32), nn.CrossEntropyLoss())
    mc.mean_loss_matches(loss, batch_mean, sample_mean, gettext("valid_loop's return value"),
                         known_mistakes=known.loss_mistakes(
                             "valid_loop", lambda: known.epoch_losses(local, mc.batches(x, y, 32))))


# ------------------------------------------------------------------------------- perf_loop

@pytest.mark.points(2)
def test_perf_loop_counts_the_whole_loader(student, mnist):
    """perf_loop scores every batch of the loader (130 samples, last batch of 2): counts and
    predictions match those computed here."""
    checks.perf_loop_scenario(student, mnist, 130, 32, seed=2)


# -------------------------------------------------------------------------- make_optimizer

@pytest.mark.points(1)
@pytest.mark.parametrize("name,lr", [("SGD", 0.05), ("ADAM", 0.002)])
def test_make_optimizer_type_and_learning_rate(student, name, lr):
    """make_optimizer("SGD" / "ADAM", params, lr) returns torch's SGD / Adam with that lr over
    all the parameters."""
    model, local = mc.library_model(student, [("Linear", 20, 5)])
    opt = student.make_optimizer(name, model.parameters(), lr)
    summary = mc.optimizer_summary(student, opt)
    wanted = "is_sgd" if name == "SGD" else "is_adam"
    if name == "ADAM" and summary["is_sgd"]:
        raise known.ADAM_IS_SGD.failure(f"make_optimizer({name!r}, ...) returned a "
                                        f"{summary['class']}")
    if not summary[wanted]:
        raise CheckFailure(_("make_optimizer({name!r}, ...) returned a {summary}, expected "
                             "torch.optim.{value}").format(
                               name=name, summary=summary['class'],
                               value='SGD' if name == 'SGD' else 'Adam'))
    if abs(summary["lr"] - lr) > 1e-12:
        raise CheckFailure(_("make_optimizer({name!r}, params, lr={lr}) has lr={summary}").format(
                               name=name, lr=lr, summary=summary['lr']))
    check_int(summary["n_parameters"], sum(p.numel() for p in local.parameters()),
              _("number of parameters make_optimizer({name!r}, ...) updates").format(name=name))


# ------------------------------------------------------------------------------------- fit

@pytest.mark.points(2)
def test_fit_saves_the_best_epoch(student, mnist):
    """fit records one train and valid loss per epoch, reports the best epoch, and saves the
    weights of that epoch (here the last one). Your fit runs with the grader's train/valid
    loops, so only fit itself is checked here."""
    checks.fit_scenario(student, mnist, first_is_best=False)


# ------------------------------------------------------------------------------- accuracy

@pytest.mark.points(4)
@pytest.mark.trains
@pytest.mark.time_limit("accuracy_time_limit_s")
def test_MLP_accuracy(student, settings, mnist, score):
    """MLP(activation=nn.ReLU), trained by your train_loop with Adam on the training split,
    classifies held-out images; scored here, linear credit between the thresholds."""
    checks.accuracy_scenario(student, settings, mnist, score, seed=0)
