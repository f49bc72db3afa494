# A valid solution written differently from the reference: the MLP keeps its weights as
# w [n_in, n_out] (y = x @ w + b, the perceptron practical's layout) in nn.Parameter lists,
# all weights registered before all biases. The grader matches parameters by shape.
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
    """Weights kept as the perceptron practical kept them, w [n_in, n_out] with y = x @ w + b,
    registered all weights first, then all biases."""

    def __init__(self, input_features=784, hidden=(512, 128), n_classes=10, activation=nn.Sigmoid):
        super().__init__()
        sizes = [input_features, *hidden, n_classes]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(a, b).uniform_(-a ** -0.5, a ** -0.5))
            for a, b in zip(sizes, sizes[1:]))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.empty(b).uniform_(-a ** -0.5, a ** -0.5))
            for a, b in zip(sizes, sizes[1:]))
        self.act = activation()

    def forward(self, x):
        x = x.reshape(len(x), -1)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = x @ w + b
            if i < last:
                x = self.act(x)
        return x


def count_parameters(model):
    """Number (a plain int) of *trainable* parameters: frozen ones do not count."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_loop(dataloader, model, loss_fn, optimizer):
    """One epoch of training; returns the mean of the batch losses (a float)."""
    model.train()
    total = 0.0
    for x, y in dataloader:
        optimizer.zero_grad()          # gradients accumulate in .grad unless reset
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(dataloader)


def valid_loop(dataloader, model, loss_fn):
    """Mean batch loss in eval mode, without gradients and without touching the weights."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in dataloader:
            total += loss_fn(model(x), y).item()
    return total / len(dataloader)


def perf_loop(dataloader, model):
    """Over the **whole** dataloader: (n_correct, n_total, y_pred), y_pred in iteration order."""
    model.eval()
    n_correct, n_total, predictions = 0, 0, []
    with torch.no_grad():
        for x, y in dataloader:
            y_pred = model(x).argmax(dim=1)
            n_correct += (y_pred == y).sum().item()
            n_total += y.shape[0]
            predictions.append(y_pred)
    # Return after the loop: a return inside it would only score the first batch.
    return n_correct, n_total, torch.cat(predictions)


def make_optimizer(name, params, lr):
    """``torch.optim.SGD`` for "SGD", ``torch.optim.Adam`` for "ADAM" (any case); else ValueError."""
    optimizers = {"SGD": torch.optim.SGD, "ADAM": torch.optim.Adam}
    key = name.upper()
    if key not in optimizers:
        raise ValueError(f"unknown optimizer {name!r}: choose SGD or ADAM")
    return optimizers[key](params, lr=lr)


def fit(model, trainloader, validloader, loss_fn, optimizer, epochs, checkpoint):
    """Train for ``epochs`` epochs, saving ``model.state_dict()`` to ``checkpoint`` whenever the
    valid loss beats every earlier epoch (the first epoch always does).

    Returns ``{"train_loss": [...], "valid_loss": [...], "best_epoch": i}``, i 0-based.
    """
    history = {"train_loss": [], "valid_loss": [], "best_epoch": None}
    best = float("inf")
    for epoch in range(epochs):
        history["train_loss"].append(train_loop(trainloader, model, loss_fn, optimizer))
        valid_loss = valid_loop(validloader, model, loss_fn)
        history["valid_loss"].append(valid_loss)
        if valid_loss < best:
            best = valid_loss
            history["best_epoch"] = epoch
            torch.save(model.state_dict(), checkpoint)
    return history
