# Starter code for the practical `mlp_pixels`: fill in every TODO, then run
#     grade check
# in this folder. (Generated from the reference solution; do not rename the
# functions and classes: the grader looks for these names.)
"""Practical 2 — MLP_pixels: a multi-layer perceptron on MNIST pixels.

The model, a way to count its parameters, the three loops of a training script (train, valid,
performance), the choice of optimiser and a ``fit`` that keeps the best weights (early stopping
without patience).

Conventions of the data loaders the grader (and ``torch.utils.data``) gives your loops:

* each batch is ``(x, y)``: images ``x`` float32 [B, 1, 28, 28] in [0, 1], labels ``y``;
* labels are **class indices**, an int64 tensor [B] such as ``tensor([3, 7, 0, ...])`` —
  not one-hot rows like the labels of the course's ``mnist.pkl.gz``: compare predictions
  with ``model(x).argmax(dim=1) == y``, never ``y.argmax(1)``;
* a loss is called ``loss_fn(output, target)``: the model's output (logits [B, 10]) first,
  the labels second — ``loss_fn(model(x), y)``, not the course's ``loss_func(t, y)`` order.
"""

import torch
from torch import nn


class MLP(nn.Module):
    """784 → hidden... → n_classes, with one ``activation()`` after each hidden Linear.

    Accepts images [B, 1, 28, 28] or flat rows [B, 784] and returns **logits** [B, n_classes]:
    no softmax at the end, ``nn.CrossEntropyLoss`` applies log-softmax itself.
    """

    def __init__(self, input_features=784, hidden=(512, 128), n_classes=10, activation=nn.Sigmoid):
        super().__init__()
        # TODO: your code here
        raise NotImplementedError

    def forward(self, x):
        # TODO: your code here
        raise NotImplementedError


def count_parameters(model):
    """Number (a plain int) of *trainable* parameters: frozen ones do not count."""
    # TODO: your code here
    raise NotImplementedError


def train_loop(dataloader, model, loss_fn, optimizer):
    """One epoch of training; returns the mean of the batch losses (a float)."""
    # TODO: your code here
    raise NotImplementedError


def valid_loop(dataloader, model, loss_fn):
    """Mean batch loss in eval mode, without gradients and without touching the weights."""
    # TODO: your code here
    raise NotImplementedError


def perf_loop(dataloader, model):
    """Over the **whole** dataloader: (n_correct, n_total, y_pred), y_pred in iteration order."""
    # TODO: your code here
    raise NotImplementedError


def make_optimizer(name, params, lr):
    """``torch.optim.SGD`` for "SGD", ``torch.optim.Adam`` for "ADAM" (any case); else ValueError."""
    # TODO: your code here
    raise NotImplementedError


def fit(model, trainloader, validloader, loss_fn, optimizer, epochs, checkpoint):
    """Train for ``epochs`` epochs, saving ``model.state_dict()`` to ``checkpoint`` whenever the
    valid loss beats every earlier epoch (the first epoch always does).

    Returns ``{"train_loss": [...], "valid_loss": [...], "best_epoch": i}``, i 0-based.
    """
    # TODO: your code here
    raise NotImplementedError
