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
    ### BEGIN SOLUTION
    w = torch.empty(n_in, n_out, dtype=torch.float32).uniform_(-0.001, 0.001, generator=generator)
    b = torch.empty(1, n_out, dtype=torch.float32).uniform_(-0.001, 0.001, generator=generator)
    return w, b
    ### END SOLUTION


def forward(x, w, b):
    """Outputs y [B, n_out] of inputs x [B, n_in]: y = x @ w + b (b broadcast over the batch)."""
    ### BEGIN SOLUTION
    return x @ w + b
    ### END SOLUTION


def update(x, t, w, b, eta):
    """One step of the course's rule, **in place** on w and b; returns None.

    grad = t − forward(x, w, b);  w += eta · xᵀ grad;  b += eta · (grad summed over the batch).
    """
    ### BEGIN SOLUTION
    grad = t - forward(x, w, b)             # [B, n_out]: how far each output is from its target
    w += eta * (x.T @ grad)                 # [n_in, B] @ [B, n_out]
    b += eta * grad.sum(dim=0, keepdim=True)  # every sample of the batch moves the bias
    ### END SOLUTION


def accuracy(x, t, w, b):
    """Share (a float in [0, 1]) of rows where argmax of the output equals argmax of one-hot t."""
    ### BEGIN SOLUTION
    predicted = forward(x, w, b).argmax(dim=1)
    return (predicted == t.argmax(dim=1)).float().mean().item()
    ### END SOLUTION


def softmax(z):
    """Row-wise softmax of logits z [B, C]; rows sum to 1, stable for large logits."""
    ### BEGIN SOLUTION
    # softmax(z) = softmax(z − c) for any constant c: subtracting the row max keeps exp() ≤ 1.
    e = torch.exp(z - z.max(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)
    ### END SOLUTION


def cross_entropy(z, t):
    """Mean over the batch of −Σ t · log softmax(z), for logits z and one-hot t; stable."""
    ### BEGIN SOLUTION
    # log softmax(z) = (z − m) − log Σ exp(z − m) with m the row max: no overflow, no log(0).
    shifted = z - z.max(dim=1, keepdim=True).values
    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    return -(t * log_probs).sum(dim=1).mean()
    ### END SOLUTION
