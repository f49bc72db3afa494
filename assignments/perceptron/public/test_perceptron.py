"""Perceptron — public checks (what `grade check` runs for students).

Every check talks to the submission through ``student`` (a separate, sandboxed process) and
compares what comes back with values computed here, in the judge: x @ w + b, autograd's
gradient of ½‖t − y‖², torch's softmax and cross-entropy, the accuracy of the trained weights.
"""

import pytest
import torch

import perceptron_checks as checks

F32 = torch.float32


# ------------------------------------------------------------------------------ init_params

@pytest.mark.points(1)
def test_init_params_shapes_and_dtype(student):
    """init_params(784, 10) returns w [784, 10] and b [1, 10], both float32."""
    checks.init_shapes(student, 784, 10, with_generator=False)


@pytest.mark.points(1)
def test_init_params_values_in_range(student):
    """The values are drawn uniformly from [-0.001, 0.001]: none outside, not all equal, w
    spread over the whole interval."""
    checks.init_range(student, 784, 10, seed=0)


@pytest.mark.points(1)
def test_init_params_honours_the_generator(student):
    """Two calls with generators seeded alike give the same w and b (whatever the global RNG);
    another seed gives others."""
    checks.init_generator(student, 784, 10, seed=0, other_seed=1)


# ---------------------------------------------------------------------------------- forward

@pytest.mark.points(1)
def test_forward_is_x_times_w_plus_b(student):
    """forward(x, w, b) = x @ w + b for a batch of 8 rows of 784 values, 10 outputs."""
    checks.forward_matches(student, n=8, n_in=784, n_out=10, dtype=F32, seed=0)


# ----------------------------------------------------------------------------------- update

UPDATE = {"n": 8, "n_in": 784, "n_out": 10, "dtype": F32, "eta": 0.01, "seed": 0}


@pytest.mark.points(1)
def test_update_changes_w_and_b_in_place(student):
    """update(x, t, w, b, eta) modifies the w and b it is given (the caller sees the change)."""
    checks.update_in_place(student, **UPDATE)


@pytest.mark.points(2)
def test_update_weights_match_one_gradient_step(student):
    """w after update = w − eta · ∂(½‖t − y‖²)/∂w = w + eta · xᵀ (t − y), compared in float64
    with autograd's gradient (batch of 8; your update runs with the handout's forward)."""
    checks.update_weights(student, **UPDATE)


@pytest.mark.points(1)
def test_update_bias_is_summed_over_the_batch(student):
    """b after update = b + eta · (t − y) summed over the batch of 8 (one gradient step)."""
    checks.update_bias(student, **UPDATE)


# --------------------------------------------------------------------------------- accuracy

@pytest.mark.points(1)
def test_accuracy_counts_argmax_matches(student):
    """accuracy(x, t, w, b) is the share of rows where argmax(x @ w + b) = argmax(t): 23 of 40
    here, counted by the judge (with the handout's forward in place of yours)."""
    checks.accuracy_matches(student, n=40, n_in=20, n_out=10, dtype=F32, n_right=23, seed=0)


# ---------------------------------------------------------------------------------- softmax

@pytest.mark.points(1)
def test_softmax_matches_torch(student):
    """softmax(z) equals torch.softmax(z, dim=1) on ordinary logits; each row sums to 1."""
    checks.softmax_matches(student, checks.ordinary_logits(16, 10, F32, seed=0), "ordinary")


@pytest.mark.points(1)
def test_softmax_is_stable_on_extreme_logits(student):
    """softmax(z) stays finite and right for logits of ±1000 (exp(1000) overflows)."""
    checks.softmax_matches(student, checks.extreme_logits(16, 10, F32, seed=1), "±1000")


# ---------------------------------------------------------------------------- cross_entropy

@pytest.mark.points(1)
def test_cross_entropy_matches_torch(student):
    """cross_entropy(z, t) equals torch's F.cross_entropy: the mean over the batch of
    −Σ t · log softmax(z)."""
    checks.cross_entropy_matches(student, checks.ordinary_logits(16, 10, F32, seed=2),
                                 "ordinary", seed=2)


@pytest.mark.points(1)
def test_cross_entropy_is_stable_on_extreme_logits(student):
    """cross_entropy(z, t) stays finite and right for logits of ±1000 (log(0) = -inf)."""
    checks.cross_entropy_matches(student, checks.extreme_logits(16, 10, F32, seed=3), "±1000",
                                 seed=3)


# ------------------------------------------------------------------- the trained perceptron

@pytest.mark.points(3)
@pytest.mark.trains
@pytest.mark.time_limit("accuracy_time_limit_s")
def test_update_training_accuracy(student, settings, mnist_pool, score):
    """Your update, run by the course's loop (3 epochs, eta 1e-3, batches of 5) on 4,000
    images from weights drawn like init_params does, classifies 1,000 held-out images; the
    training is replayed and scored here, linear credit between the thresholds."""
    checks.training_accuracy(student, settings, mnist_pool, score,
                             split_seed=int(settings["split_seed"]))
