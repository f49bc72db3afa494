"""Networks — public checks (what `grade check` runs for students).

Every check talks to the submission through ``student`` (a separate, sandboxed process) and
compares what comes back with the handout's networks built here from torch's layers, or with
values computed here, in the judge. Accuracy checks train the student's network with the
grader's standard training loop and score the predictions here, on images whose labels never
leave the judge.
"""

import pytest

from grader.api import _

import networks_checks as checks

LAYOUTS = {"images": (4, 1, 28, 28), "flat": (4, 784)}


def flat_digits(mnist, n=16):
    """Real digits as flat rows [n, 784]."""
    train, _, _ = mnist
    return train.flat()[:n]


def digit_images(mnist, n=16):
    """Real digits as images [n, 1, 28, 28]."""
    train, _, _ = mnist
    return train.images[:n]


# ------------------------------------------------------------------------------ ShallowNet

@pytest.mark.points(1)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_ShallowNet_output_shape(student, layout):
    """ShallowNet() maps 4 images [4, 1, 28, 28] or 4 flat rows [4, 784] to logits [4, 10]."""
    checks.output_shape(student, "ShallowNet", {}, LAYOUTS[layout], 10)


@pytest.mark.points(1)
@pytest.mark.parametrize("hidden_num", [128, 64])
def test_ShallowNet_parameter_count(student, hidden_num):
    """ShallowNet(hidden_num=...) has 784·h + h + h·10 + 10 parameters (101,770 for h = 128),
    counted here from the tensors the model holds."""
    checks.parameter_count(student, "ShallowNet", {"hidden_num": hidden_num})


@pytest.mark.points(2)
def test_ShallowNet_matches_reference_with_the_same_weights(student, mnist):
    """With the handout network's weights (Linear → ReLU → Linear, loaded in order of
    registration), ShallowNet() computes the same logits on 16 real digits."""
    checks.matches_handout(student, "ShallowNet", {}, flat_digits(mnist), seed=0)


@pytest.mark.points(1)
def test_ShallowNet_zeroes_negative_pre_activations(student):
    """With crafted weights whose hidden pre-activations are x_i and −x_i, the ReLU makes
    their sum |x_i|: the output is Σ|x_i|, not 0 as it would be without ReLU."""
    checks.relu_crafted(student, "ShallowNet", seed=0)


@pytest.mark.points(3)
@pytest.mark.trains
@pytest.mark.time_limit("accuracy_time_limit_s")
def test_ShallowNet_accuracy(student, settings, mnist, score):
    """ShallowNet(), trained by the grader's loop with Adam on flat rows of the training split,
    classifies held-out digits; scored here, linear credit between the thresholds."""
    checks.accuracy_scenario(student, settings, mnist, score, "ShallowNet", seed=0)


# --------------------------------------------------------------------------------- DeepNet

DEEP_SIZES = {"512-128": (512, 128), "512-256-128": (512, 256, 128), "256": (256,)}


@pytest.mark.points(1)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_DeepNet_output_shape(student, layout):
    """DeepNet() maps 4 images [4, 1, 28, 28] or 4 flat rows [4, 784] to logits [4, 10]."""
    checks.output_shape(student, "DeepNet", {}, LAYOUTS[layout], 10)


@pytest.mark.points(1)
@pytest.mark.parametrize("sizes", list(DEEP_SIZES))
def test_DeepNet_parameter_count(student, sizes):
    """DeepNet(hidden_sizes=...) has one Linear per hidden size plus the output one (468,874
    parameters for (512, 128)), counted here."""
    checks.parameter_count(student, "DeepNet", {"hidden_sizes": DEEP_SIZES[sizes]})


@pytest.mark.points(2)
def test_DeepNet_matches_reference_with_the_same_weights(student, mnist):
    """With the handout network's weights ((Linear → ReLU) × 2, then Linear), DeepNet()
    computes the same logits on 16 real digits."""
    checks.matches_handout(student, "DeepNet", {}, flat_digits(mnist), seed=1)


@pytest.mark.points(2)
def test_DeepNet_zeroes_negative_pre_activations_and_keeps_negative_logits(student):
    """With crafted weights, every hidden ReLU turns pairs (v, −v) into |v|, and the output
    layer stays linear: the logits are Σ||x_m| − 0.8| − 20, negative."""
    checks.relu_crafted(student, "DeepNet", seed=1)


# ------------------------------------------------------------------------------------- Cnn

@pytest.mark.points(1)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_Cnn_output_shape(student, layout):
    """Cnn() maps 4 images [4, 1, 28, 28] or 4 flat rows [4, 784] to logits [4, 10]."""
    checks.output_shape(student, "Cnn", {}, LAYOUTS[layout], 10)


@pytest.mark.points(1)
def test_Cnn_parameter_count(student):
    """Cnn() is LeNet-5 for 28×28 images without padding: 44,426 parameters."""
    checks.parameter_count(student, "Cnn", {})


@pytest.mark.points(2)
def test_Cnn_layer_shapes(student):
    """In order of registration: conv1 6×1×5×5, conv2 16×6×5×5, fc1 120×256, fc2 84×120,
    fc3 10×84, each with its bias."""
    checks.lenet_layout(student)


@pytest.mark.points(2)
def test_Cnn_matches_reference_with_the_same_weights(student, mnist):
    """With the handout LeNet-5's weights (conv → ReLU → max-pool twice, then three Linear
    layers with ReLU between), Cnn() computes the same logits on 16 real digit images."""
    checks.matches_handout(student, "Cnn", {}, digit_images(mnist), seed=2)


@pytest.mark.points(4)
@pytest.mark.trains
@pytest.mark.time_limit("accuracy_time_limit_s")
def test_Cnn_accuracy(student, settings, mnist, score):
    """Cnn(), trained by the grader's loop with Adam on the training images, classifies
    held-out digits; scored here, linear credit between the thresholds."""
    checks.accuracy_scenario(student, settings, mnist, score, "Cnn", seed=0)


# --------------------------------------------------------------------------- EarlyStopping

@pytest.mark.points(1)
def test_EarlyStopping_stops_after_patience_epochs_without_improvement(student):
    """patience=2: the best loss comes at epoch 2, epochs 3 and 4 do not beat it, so step
    returns True at epoch 4 — not before, not after."""
    checks.early_stopping(student, [2.4, 2.1, 2.15, 2.16, 2.17, 2.18], 3, patience=2,
                          min_delta=1e-3, why=_("The best loss, 2.1, came at epoch 2; epochs 3 "
                                                "and 4 did not improve on it: 2 epochs in a "
                                                "row = patience."))


@pytest.mark.points(1)
def test_EarlyStopping_ignores_improvements_smaller_than_min_delta(student):
    """min_delta=0.01: losses that go down by less than 0.01 from the best are not
    improvements, so a slow decline stops after patience=2 epochs."""
    checks.early_stopping(student, [1.73, 1.725, 1.722, 1.721, 1.72, 1.719], 2, patience=2,
                          min_delta=0.01, why=_("No loss is below the best (1.73) by more than "
                                                "min_delta = 0.01: epochs 2 and 3 are not "
                                                "improvements."))


@pytest.mark.points(1)
def test_EarlyStopping_improvement_resets_the_count(student):
    """patience=2: a bad epoch, then an improvement (the count starts again from 0), then two
    bad epochs: stop at epoch 5, not at epoch 4."""
    checks.early_stopping(student, [0.62, 0.7, 0.5, 0.55, 0.52, 0.51, 0.49], 4, patience=2,
                          min_delta=1e-3, why=_("Epoch 2 is bad (count 1), epoch 3 improves "
                                                "(0.5: the count goes back to 0), epochs 4 and "
                                                "5 are bad (count 2)."))


@pytest.mark.points(1)
def test_EarlyStopping_keeps_going_while_the_loss_improves(student):
    """patience=1: a loss that improves every epoch never stops training."""
    checks.early_stopping(student, [3.2, 2.9, 2.6, 2.3, 2.0, 1.7], None, patience=1,
                          min_delta=1e-3, why=_("Every epoch improves on the best by 0.3."))
