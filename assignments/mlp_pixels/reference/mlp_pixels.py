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
        ### BEGIN SOLUTION
        layers = []
        width = input_features
        for size in hidden:
            layers += [nn.Linear(width, size), activation()]
            width = size
        layers.append(nn.Linear(width, n_classes))
        self.flatten = nn.Flatten()  # [B, 1, 28, 28] -> [B, 784]; a no-op on [B, 784]
        self.layers = nn.Sequential(*layers)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.layers(self.flatten(x))
        ### END SOLUTION


def count_parameters(model):
    """Number (a plain int) of *trainable* parameters: frozen ones do not count."""
    ### BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
    ### END SOLUTION


def train_loop(dataloader, model, loss_fn, optimizer):
    """One epoch of training; returns the mean of the batch losses (a float)."""
    ### BEGIN SOLUTION
    model.train()
    total = 0.0
    for x, y in dataloader:
        optimizer.zero_grad()          # gradients accumulate in .grad unless reset
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(dataloader)
    ### END SOLUTION


def valid_loop(dataloader, model, loss_fn):
    """Mean batch loss in eval mode, without gradients and without touching the weights."""
    ### BEGIN SOLUTION
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in dataloader:
            total += loss_fn(model(x), y).item()
    return total / len(dataloader)
    ### END SOLUTION


def perf_loop(dataloader, model):
    """Over the **whole** dataloader: (n_correct, n_total, y_pred), y_pred in iteration order."""
    ### BEGIN SOLUTION
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
    ### END SOLUTION


def make_optimizer(name, params, lr):
    """``torch.optim.SGD`` for "SGD", ``torch.optim.Adam`` for "ADAM" (any case); else ValueError."""
    ### BEGIN SOLUTION
    optimizers = {"SGD": torch.optim.SGD, "ADAM": torch.optim.Adam}
    key = name.upper()
    if key not in optimizers:
        raise ValueError(f"unknown optimizer {name!r}: choose SGD or ADAM")
    return optimizers[key](params, lr=lr)
    ### END SOLUTION


def fit(model, trainloader, validloader, loss_fn, optimizer, epochs, checkpoint):
    """Train for ``epochs`` epochs, saving ``model.state_dict()`` to ``checkpoint`` whenever the
    valid loss beats every earlier epoch (the first epoch always does).

    Returns ``{"train_loss": [...], "valid_loss": [...], "best_epoch": i}``, i 0-based.
    """
    ### BEGIN SOLUTION
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
    ### END SOLUTION
