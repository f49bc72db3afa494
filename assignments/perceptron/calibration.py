"""Calibration of the perceptron's accuracy threshold: the reference trained by the course's
loop (:func:`train_perceptron`), per seed, scored on the held-out images of the settings'
split_seed (see ``benchmarks/calibrate_accuracy.py``). Judge-side only."""

from typing import Callable

import torch

from grader import api

THRESHOLDS = {"update training accuracy": "accuracy_high"}


def train_perceptron(update: Callable, init_params: Callable, x: torch.Tensor, t: torch.Tensor,
                     *, epochs: int, eta: float, batch_size: int = 5, seed: int = 0,
                     threads: int = api.training.DEFAULT_THREADS):
    """The course's perceptron loop: shuffled mini-batches, ``update`` in place; returns (w, b).

    ``x`` flat [N, D] float32, ``t`` one-hot [N, C]. ``update``/``init_params`` are the
    reference's or a student's.
    """
    api.training.seed_everything(seed, threads)
    generator = torch.Generator().manual_seed(seed)
    w, b = init_params(x.shape[1], t.shape[1], generator=generator)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            update(x[idx], t[idx], w, b, eta)
    return w, b


def calibrate(assignment, seed: int) -> dict[str, float]:
    settings, ref = assignment.settings, assignment.load_reference()
    train, test = api.data.calibration_splits(settings, seed, ("train_size", "test_size"))
    w, b = train_perceptron(ref.update, ref.init_params, train.flat(), train.one_hot(),
                            epochs=int(settings["accuracy_epochs"]),
                            eta=float(settings["accuracy_eta"]),
                            batch_size=int(settings["accuracy_batch_size"]), seed=seed)
    return {"update training accuracy": api.accuracy((test.flat() @ w + b).argmax(dim=1),
                                                     test.labels, "predictions")}
