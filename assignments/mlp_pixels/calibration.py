"""Calibration of mlp_pixels's accuracy thresholds: the reference's accuracy per seed, computed
the way the accuracy checks compute the student's (the held-out images of the settings'
split_seed; train/valid drawn again per seed; the course's recipe, one thread).
``benchmarks/calibrate_accuracy.py`` runs it; seed 0 is the public check, seed 1 the hidden
"another split" one. Judge-side only: never exported, never in the student process."""

import torch

from grader import api

THRESHOLDS = {"MLP accuracy": "accuracy_high"}   # check -> its full-marks setting


def calibrate(assignment, seed: int) -> dict[str, float]:
    settings, ref = assignment.settings, assignment.load_reference()
    train, valid, test = api.data.calibration_splits(settings, seed)
    api.training.seed_everything(seed)
    model = ref.MLP(activation=torch.nn.ReLU)
    api.training.train_classifier(model, train.images, train.labels,
                                  epochs=int(settings["accuracy_epochs"]),
                                  lr=float(settings["accuracy_lr"]), optimizer="adam",
                                  batch_size=int(settings["accuracy_batch_size"]), seed=seed,
                                  train_loop=ref.train_loop, valid=(valid.images, valid.labels))
    return {"MLP accuracy": api.accuracy(api.training.predict(model, test.images), test.labels,
                                         "predictions")}
