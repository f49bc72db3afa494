"""Perceptron — hidden checks (instructor grading only; never shipped to students).

The same scenarios as the public checks on other inputs — other shapes, other seeds, float64
inputs, a batch of 1, another learning rate, extreme logits in float64 — and the training
check on another split and seed.
"""

import pytest
import torch

import perceptron_checks as checks

F32, F64 = torch.float32, torch.float64


# ------------------------------------------------------------------------------ init_params

@pytest.mark.points(1)
@pytest.mark.parametrize("n_in,n_out", [(3, 7), (50, 1)], ids=["3x7", "50x1"])
def test_init_params_other_shapes_with_a_generator(student, n_in, n_out):
    """init_params(n_in, n_out, generator=g) for other sizes: w [n_in, n_out], b [1, n_out],
    float32."""
    checks.init_shapes(student, n_in, n_out, with_generator=True)


@pytest.mark.points(1)
def test_init_params_values_in_range_other_shape_and_seed(student):
    """Values uniform in [-0.001, 0.001] for init_params(300, 20) with another seed."""
    checks.init_range(student, 300, 20, seed=12345)


@pytest.mark.points(1)
def test_init_params_honours_the_generator_other_seeds(student):
    """Reproducible with equal seeds, different with different seeds, for other sizes and
    seeds."""
    checks.init_generator(student, 30, 4, seed=123, other_seed=124)


# ---------------------------------------------------------------------------------- forward

@pytest.mark.points(1)
@pytest.mark.parametrize("case", ["float64", "batch_of_1", "other_shapes"])
def test_forward_other_inputs(student, case):
    """forward(x, w, b) = x @ w + b in float64, for a batch of 1, for other sizes."""
    shapes = {"float64": {"n": 6, "n_in": 784, "n_out": 10, "dtype": F64},
              "batch_of_1": {"n": 1, "n_in": 784, "n_out": 10, "dtype": F32},
              "other_shapes": {"n": 3, "n_in": 5, "n_out": 7, "dtype": F32}}[case]
    checks.forward_matches(student, seed=11, **shapes)


# ----------------------------------------------------------------------------------- update

UPDATES = {
    "float64": {"n": 6, "n_in": 30, "n_out": 4, "dtype": F64, "eta": 0.05, "seed": 21},
    "batch_of_1": {"n": 1, "n_in": 784, "n_out": 10, "dtype": F32, "eta": 0.01, "seed": 22},
    "other_shapes_and_eta": {"n": 13, "n_in": 9, "n_out": 3, "dtype": F64, "eta": 0.3, "seed": 23},
}


@pytest.mark.points(1)
@pytest.mark.parametrize("case", list(UPDATES))
def test_update_weights_other_inputs(student, case):
    """w after update = w + eta · xᵀ (t − y) in float64, for a batch of 1, for other sizes and
    learning rates (compared with autograd's gradient step)."""
    checks.update_weights(student, **UPDATES[case])


@pytest.mark.points(1)
@pytest.mark.parametrize("case", ["float64", "other_shapes_and_eta"])
def test_update_bias_other_inputs(student, case):
    """b after update = b + eta · (t − y) summed over the batch, in float64, other sizes."""
    checks.update_bias(student, **UPDATES[case])


@pytest.mark.points(1)
def test_update_in_place_in_float64_with_a_batch_of_1(student):
    """update modifies the float64 w and b it is given, also for a batch of 1."""
    checks.update_in_place(student, n=1, n_in=12, n_out=5, dtype=F64, eta=0.1, seed=24)


# --------------------------------------------------------------------------------- accuracy

@pytest.mark.points(1)
@pytest.mark.parametrize("case", ["float64", "batch_of_1_wrong", "all_right"])
def test_accuracy_other_inputs(student, case):
    """accuracy on float64 inputs, on a batch of 1 predicted wrong (0.0), and when every row
    is right (1.0)."""
    setting = {"float64": {"n": 30, "n_in": 8, "n_out": 4, "dtype": F64, "n_right": 11},
               "batch_of_1_wrong": {"n": 1, "n_in": 784, "n_out": 10, "dtype": F32, "n_right": 0},
               "all_right": {"n": 25, "n_in": 16, "n_out": 10, "dtype": F32, "n_right": 25}}[case]
    checks.accuracy_matches(student, seed=31, **setting)


# ---------------------------------------------------------------------------------- softmax

@pytest.mark.points(1)
@pytest.mark.parametrize("case", ["float64_extreme", "batch_of_1", "two_classes"])
def test_softmax_other_inputs(student, case):
    """softmax on ±1000 logits in float64 (exp overflows there too), a batch of 1, two
    classes."""
    z = {"float64_extreme": checks.extreme_logits(12, 10, F64, seed=41),
         "batch_of_1": checks.ordinary_logits(1, 10, F32, seed=42),
         "two_classes": checks.ordinary_logits(9, 2, F32, seed=43)}[case]
    checks.softmax_matches(student, z, "±1000" if "extreme" in case else "ordinary")


# ---------------------------------------------------------------------------- cross_entropy

@pytest.mark.points(1)
@pytest.mark.parametrize("case", ["float64", "float64_extreme", "other_shapes"])
def test_cross_entropy_other_inputs(student, case):
    """cross_entropy in float64 on ordinary and ±1000 logits, and for 7 samples of 3
    classes."""
    z = {"float64": checks.ordinary_logits(10, 10, F64, seed=51),
         "float64_extreme": checks.extreme_logits(12, 10, F64, seed=52),
         "other_shapes": checks.ordinary_logits(7, 3, F32, seed=53)}[case]
    checks.cross_entropy_matches(student, z, "±1000" if "extreme" in case else "ordinary",
                                 seed=50)


# ------------------------------------------------------------------- the trained perceptron

@pytest.mark.points(3)
@pytest.mark.trains
@pytest.mark.time_limit("accuracy_time_limit_s")
def test_update_training_accuracy_on_another_split(student, settings, mnist_pool, score):
    """The training check again, trained on another draw of the training images with another
    seed, scored on the same held-out images (never sent with their labels)."""
    checks.training_accuracy(student, settings, mnist_pool, score, split_seed=1)
