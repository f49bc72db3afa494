"""The standard training recipes: seeded, single-threaded, with explicit generators.

Used on both sides of the wall: the judge calibrates thresholds by training the reference with
these recipes, and the student process trains a student's model with the very same recipe (or
with the student's own ``train_loop`` plugged in), so the two runs differ only by the student's
code. Nothing here decides a grade.
"""

from __future__ import annotations

import random
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

DEFAULT_THREADS = 1  # 1 vs 2 threads change the weights (max diff 0.02 after 100 Adam steps)


def seed_everything(seed: int, threads: int = DEFAULT_THREADS) -> None:
    """Seed torch, numpy and random, and fix torch's thread count (results depend on it)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def make_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int = 64, shuffle: bool = False,
                seed: int = 0) -> DataLoader:
    """A DataLoader over tensors; shuffling draws from its own seeded generator."""
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle,
                      generator=generator)


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    kinds = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
    if name.lower() not in kinds:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(kinds)}")
    return kinds[name.lower()](params, lr=lr)


def standard_train_loop(dataloader, model, loss_fn, optimizer) -> float:
    """One epoch: zero_grad, forward, loss, backward, step; returns the mean batch loss."""
    model.train()
    total = 0.0
    for x, y in dataloader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / max(1, len(dataloader))


def standard_valid_loop(dataloader, model, loss_fn) -> float:
    """Mean batch loss in eval mode, without gradients."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in dataloader:
            total += loss_fn(model(x), y).item()
    return total / max(1, len(dataloader))


def mean_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn,
              batch_size: int = 1000) -> float:
    """Sample-weighted mean loss in eval mode, without gradients."""
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            total += loss_fn(model(xb), yb).item() * len(xb)
            n += len(xb)
    return total / max(1, n)


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int,
                     lr: float = 1e-3, optimizer: str = "adam", batch_size: int = 64,
                     seed: int = 0, threads: int = DEFAULT_THREADS,
                     train_loop: Callable | None = None,
                     valid: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict:
    """Train ``model`` with cross-entropy on (x, y); returns the per-epoch loss history.

    ``train_loop`` defaults to :func:`standard_train_loop`; pass a student's own to grade it.
    The model's initial weights must already be drawn (seed before building the model).
    """
    seed_everything(seed, threads)
    loader = make_loader(x, y, batch_size=batch_size, shuffle=True, seed=seed)
    loss_fn = nn.CrossEntropyLoss()
    opt = make_optimizer(optimizer, model.parameters(), lr)
    loop = train_loop or standard_train_loop
    history: dict[str, list[float]] = {"train_loss": [], "valid_loss": []}
    for _ in range(epochs):
        history["train_loss"].append(loss_value(loop(loader, model, loss_fn, opt)))
        if valid is not None:
            history["valid_loss"].append(mean_loss(model, valid[0], valid[1], loss_fn))
    return history


def loss_value(value) -> float | None:
    """What a train loop returned, as a float when it is one number (a float, a one-element
    tensor); else None. A loop returning something else still trains: its own check says what
    it should return, the accuracy checks do not depend on it."""
    try:
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            return float(value.detach().item())
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        pass
    return None


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted classes [N] (int64) in eval mode."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(x[start:start + batch_size]).argmax(dim=1))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.int64)
