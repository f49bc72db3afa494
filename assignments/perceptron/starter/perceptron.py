# Starter code for the practical `perceptron`: fill in every TODO, then run
#     grade check
# in this folder. (Generated from the reference solution; do not rename the
# functions and classes: the grader looks for these names.)
"""Practical 1 — a perceptron with plain tensors (no autograd, no ``torch.nn``).

A single linear layer ``y = x @ w + b`` trained on MNIST with the course's rule, which is one
gradient-descent step on the squared error ½‖t − y‖²:

    ∂/∂w ½‖t − y‖² = −xᵀ (t − y)        ∂/∂b ½‖t − y‖² = −Σ_batch (t − y)

so stepping *against* the gradient adds ``eta · xᵀ (t − y)`` to ``w`` and the batch sum of
``eta · (t − y)`` to ``b``.

Conventions: inputs ``x`` are flat float32 rows [B, 784]; here labels ``t`` are **one-hot**
float32 rows [B, 10], as in the course's ``mnist.pkl.gz`` (the later practicals' data
loaders give class indices instead: an int64 tensor [B]).
"""

import torch


def init_params(n_in, n_out, generator=None):
    """Weights w [n_in, n_out] and bias b [1, n_out], float32, uniform in [-0.001, 0.001].

    ``generator`` (a ``torch.Generator``) makes the draw reproducible.
    """
    # TODO: your code here
    raise NotImplementedError


def forward(x, w, b):
    """Outputs y [B, n_out] of inputs x [B, n_in]: y = x @ w + b (b broadcast over the batch)."""
    # TODO: your code here
    raise NotImplementedError


def update(x, t, w, b, eta):
    """One step of the course's rule, **in place** on w and b; returns None.

    grad = t − forward(x, w, b);  w += eta · xᵀ grad;  b += eta · (grad summed over the batch).
    """
    # TODO: your code here
    raise NotImplementedError


def accuracy(x, t, w, b):
    """Share (a float in [0, 1]) of rows where argmax of the output equals argmax of one-hot t."""
    # TODO: your code here
    raise NotImplementedError


def softmax(z):
    """Row-wise softmax of logits z [B, C]; rows sum to 1, stable for large logits."""
    # TODO: your code here
    raise NotImplementedError


def cross_entropy(z, t):
    """Mean over the batch of −Σ t · log softmax(z), for logits z and one-hot t; stable."""
    # TODO: your code here
    raise NotImplementedError
