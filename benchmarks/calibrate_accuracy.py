"""Calibrate the accuracy thresholds: the reference's accuracy in each training check, per seed.

Reproduces, in this process and with the reference module, what the accuracy checks of
`mlp_pixels`, `networks` and `perceptron` run in the student process: the same data (the held-out
images of the settings' split_seed; train/valid drawn again per seed with `Dataset.resplit`),
the same recipes from `grader.training`, one thread. Seed 0 is the public check, seed 1 the
hidden "another split" one; the rest show the spread the thresholds must leave room for.

    .venv/bin/python benchmarks/calibrate_accuracy.py [--seeds 8]

Prints one line per check: the accuracy per seed, min/mean, the full-marks threshold and the
margin (worst seed minus that threshold), which should stay clearly positive.
"""

from __future__ import annotations

import argparse
import importlib
import time

import torch

from grader import data, training
from grader.assignment import load_assignment


def mnist_splits(settings, seed: int, sizes_keys=("train_size", "valid_size", "test_size")):
    sizes = [int(settings[k]) for k in sizes_keys]
    names = ("train", "valid", "test")[-len(sizes):] if len(sizes) == 3 else ("train", "test")
    return data.load_mnist_offline().resplit(sizes, seed=seed, test_seed=int(settings["split_seed"]),
                                             names=names)


def mlp_pixels(seed: int) -> float:
    settings = load_assignment("mlp_pixels").settings
    ref = importlib.import_module("reference.mlp_pixels")
    train, valid, test = mnist_splits(settings, seed)
    training.seed_everything(seed)
    model = ref.MLP(activation=torch.nn.ReLU)
    training.train_classifier(model, train.images, train.labels,
                              epochs=int(settings["accuracy_epochs"]),
                              lr=float(settings["accuracy_lr"]), optimizer="adam",
                              batch_size=int(settings["accuracy_batch_size"]), seed=seed,
                              train_loop=ref.train_loop, valid=(valid.images, valid.labels))
    return accuracy(training.predict(model, test.images), test.labels)


def networks(name: str):
    def run(seed: int) -> float:
        settings = load_assignment("networks").settings
        ref = importlib.import_module("reference.networks")
        train, valid, test = mnist_splits(settings, seed)
        inputs = (lambda d: d.images) if name == "Cnn" else (lambda d: d.flat())
        training.seed_everything(seed)
        model = getattr(ref, name)()
        training.train_classifier(model, inputs(train), train.labels,
                                  epochs=int(settings["accuracy_epochs"]),
                                  lr=float(settings["accuracy_lr"]), optimizer="adam",
                                  batch_size=int(settings["accuracy_batch_size"]), seed=seed,
                                  valid=(inputs(valid), valid.labels))
        return accuracy(training.predict(model, inputs(test)), test.labels)
    return run


def perceptron(seed: int) -> float:
    settings = load_assignment("perceptron").settings
    ref = importlib.import_module("reference.perceptron")
    train, test = mnist_splits(settings, seed, ("train_size", "test_size"))
    w, b = training.train_perceptron(ref.update, ref.init_params, train.flat(), train.one_hot(),
                                     epochs=int(settings["accuracy_epochs"]),
                                     eta=float(settings["accuracy_eta"]),
                                     batch_size=int(settings["accuracy_batch_size"]), seed=seed)
    return accuracy((test.flat() @ w + b).argmax(dim=1), test.labels)


def accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    return float((predicted == labels).double().mean())


CHECKS = {  # check -> (run(seed), assignment, full-marks setting)
    "mlp_pixels: MLP accuracy": (mlp_pixels, "mlp_pixels", "accuracy_high"),
    "networks: ShallowNet accuracy": (networks("ShallowNet"), "networks", "shallow_accuracy_high"),
    "networks: Cnn accuracy": (networks("Cnn"), "networks", "cnn_accuracy_high"),
    "perceptron: update training accuracy": (perceptron, "perceptron", "accuracy_high"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--only", help="a substring of the check names to run")
    args = parser.parse_args()
    for name, (run, assignment, key) in CHECKS.items():
        if args.only and args.only not in name:
            continue
        started = time.perf_counter()
        scores = [run(seed) for seed in range(args.seeds)]
        high = float(load_assignment(assignment).settings[key])
        each = (time.perf_counter() - started) / len(scores)
        print(f"{name}: {', '.join(f'{s:.3f}' for s in scores)} | min {min(scores):.3f} "
              f"mean {sum(scores) / len(scores):.3f} | full marks from {high:.2f}, margin "
              f"{min(scores) - high:+.3f} | {each:.1f} s each", flush=True)


if __name__ == "__main__":
    main()
