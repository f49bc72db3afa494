"""Networks — hidden checks (instructor grading only; never shipped to students).

The same scenarios as the public checks on other inputs, plus the cases a submission tuned to
the public checks tends to miss: sizes other than the defaults (input_num, output_num,
output_nbr), other weights, patience 1 and 3, equal losses, the default arguments, two
stoppers at once, another split and seed for the accuracies.
"""

import pytest
import torch

from grader.api import _

import networks_checks as checks
import networks_hidden_checks as hidden_checks


# ------------------------------------------------------------------------------ ShallowNet

SMALL_SHALLOW = {"input_num": 100, "hidden_num": 32, "output_num": 5}


@pytest.mark.points(1)
def test_ShallowNet_parameter_count_with_other_sizes(student):
    """ShallowNet(input_num=100, hidden_num=32, output_num=5): 3,397 parameters."""
    checks.parameter_count(student, "ShallowNet", SMALL_SHALLOW)


@pytest.mark.points(1)
def test_ShallowNet_matches_reference_with_other_sizes(student):
    """ShallowNet(input_num=100, hidden_num=32, output_num=5) with the handout's weights
    computes the handout's logits on 8 rows of 100 standard-normal values."""
    x = torch.randn(8, 100, generator=torch.Generator().manual_seed(10))
    checks.matches_handout(student, "ShallowNet", SMALL_SHALLOW, x, seed=10)


@pytest.mark.points(2)
@pytest.mark.trains
@pytest.mark.time_limit("accuracy_time_limit_s")
def test_ShallowNet_accuracy_on_another_split(student, settings, mnist_resplit, score):
    """The ShallowNet accuracy check again, trained on another stratified train/valid split with
    another seed, scored on the same held-out images (never sent with their labels)."""
    checks.accuracy_scenario(student, settings, mnist_resplit(1), score, "ShallowNet", seed=1)


# --------------------------------------------------------------------------------- DeepNet

SMALL_DEEP = {"input_num": 196, "hidden_sizes": (64, 32, 16), "output_num": 5}


@pytest.mark.points(1)
def test_DeepNet_parameter_count_with_other_sizes(student):
    """DeepNet(input_num=196, hidden_sizes=(64, 32, 16), output_num=5): 15,301 parameters."""
    checks.parameter_count(student, "DeepNet", SMALL_DEEP)


@pytest.mark.points(1)
def test_DeepNet_matches_reference_with_other_sizes(student):
    """DeepNet(input_num=196, hidden_sizes=(64, 32, 16), output_num=5) with the handout's
    weights computes the handout's logits on 8 rows of 196 standard-normal values."""
    x = torch.randn(8, 196, generator=torch.Generator().manual_seed(11))
    checks.matches_handout(student, "DeepNet", SMALL_DEEP, x, seed=11)


# ------------------------------------------------------------------------------------- Cnn

@pytest.mark.points(1)
def test_Cnn_output_nbr(student):
    """Cnn(output_nbr=5) maps 3 images to logits [3, 5] and has 44,001 parameters."""
    checks.output_shape(student, "Cnn", {"output_nbr": 5}, (3, 1, 28, 28), 5)
    checks.parameter_count(student, "Cnn", {"output_nbr": 5})


@pytest.mark.points(1)
def test_Cnn_matches_reference_with_other_weights(student, mnist):
    """Cnn(output_nbr=5) with other handout weights computes the handout's logits on 16 real
    validation images."""
    _, valid, _ = mnist
    checks.matches_handout(student, "Cnn", {"output_nbr": 5}, valid.images[:16], seed=12)


@pytest.mark.points(3)
@pytest.mark.trains
@pytest.mark.time_limit("accuracy_time_limit_s")
def test_Cnn_accuracy_on_another_split(student, settings, mnist_resplit, score):
    """The Cnn accuracy check again, trained on another stratified train/valid split with
    another seed, scored on the same held-out images (never sent with their labels)."""
    checks.accuracy_scenario(student, settings, mnist_resplit(1), score, "Cnn", seed=1)


# --------------------------------------------------------------------------- EarlyStopping

@pytest.mark.points(1)
@pytest.mark.parametrize("patience", [1, 3])
def test_EarlyStopping_with_another_patience(student, patience):
    """patience=1 stops at the first epoch without improvement; patience=3 after three in a
    row."""
    if patience == 1:
        checks.early_stopping(student, [0.5, 0.4, 0.45, 0.41, 0.39], 2, patience=1,
                              min_delta=0.0, why=_("Epoch 3 (0.45) does not improve on 0.4."))
    else:
        checks.early_stopping(student, [2.0, 1.5, 1.6, 1.7, 1.8, 1.9], 4, patience=3,
                              min_delta=0.0, why=_("The best loss, 1.5, came at epoch 2; "
                                                   "epochs 3, 4 and 5 did not improve on it."))


@pytest.mark.points(1)
def test_EarlyStopping_equal_loss_is_not_an_improvement(student):
    """min_delta=0: a loss equal to the best is not an improvement (a plateau stops)."""
    checks.early_stopping(student, [0.5, 0.5, 0.5, 0.5], 2, patience=2, min_delta=0.0,
                          why=_("An improvement means a loss below the best by more than "
                                "min_delta = 0; equal losses do not count."))


@pytest.mark.points(1)
def test_EarlyStopping_default_arguments(student):
    """EarlyStopping() uses patience=2 and min_delta=1e-3: drops of less than 0.001 from the
    best do not count."""
    checks.early_stopping(student, [1.0, 0.9995, 0.9991, 0.9992, 0.9993], 2, patience=None,
                          why=_("With the defaults (patience=2, min_delta=0.001), 0.9995 and "
                                "0.9991 are not below 1.0 by more than 0.001."))


@pytest.mark.points(1)
def test_EarlyStopping_improvement_beyond_min_delta_resets_the_count(student):
    """patience=3, min_delta=0.05: only a drop of more than 0.05 below the best resets the
    count."""
    checks.early_stopping(student, [1.0, 0.98, 0.97, 0.9, 0.89, 0.88, 0.87, 0.86], 6,
                          patience=3, min_delta=0.05,
                          why=_("Epochs 2-3 do not improve by more than 0.05 (count 2), epoch "
                                "4 does (0.9: count back to 0), epochs 5-7 do not (count 3)."))


@pytest.mark.points(1)
def test_EarlyStopping_instances_are_independent(student):
    """Two stoppers used in turns each keep their own best loss and count."""
    hidden_checks.independent_stoppers(student)
