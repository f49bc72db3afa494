"""The reference solutions learn: accuracy on held-out real MNIST, reproducibly.

Offline subset (5,000 real MNIST training images), 4,500 train / 500 held out, seed 0,
one thread. Measured budgets and accuracies are in the foundation issue's closing note.
"""

import pytest
import torch
from torch import nn

from grader import data, training
from grader.assignment import load_assignment, load_module_file

mlp_pixels = load_assignment("mlp_pixels").load_reference()
networks = load_assignment("networks").load_reference()
perceptron = load_assignment("perceptron").load_reference()
train_perceptron = load_module_file(
    "perceptron_calibration", load_assignment("perceptron").folder / "calibration.py").train_perceptron

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def split():
    return data.load_mnist_offline().split([4500, 500], seed=0, names=("train", "held-out"))


def _accuracy(model, ds):
    return (training.predict(model, ds.images) == ds.labels).float().mean().item()


def test_mlp_relu_adam_reaches_90_percent(split):
    train, held_out = split
    training.seed_everything(0)
    model = mlp_pixels.MLP(activation=nn.ReLU)
    training.train_classifier(model, train.images, train.labels, epochs=5, lr=1e-3, seed=0)
    assert _accuracy(model, held_out) >= 0.90


def test_cnn_reaches_92_percent(split):
    train, held_out = split
    training.seed_everything(0)
    model = networks.Cnn()
    training.train_classifier(model, train.images, train.labels, epochs=5, lr=1e-3, seed=0)
    assert _accuracy(model, held_out) >= 0.92


def test_perceptron_course_rule_reaches_75_percent(split):
    train, held_out = split
    w, b = train_perceptron(perceptron.update, perceptron.init_params, train.flat(),
                                     train.one_hot(), epochs=3, eta=1e-3, batch_size=5)
    assert perceptron.accuracy(held_out.flat(), held_out.one_hot(), w, b) >= 0.75


def test_same_seed_gives_bit_identical_weights(split):
    train, _ = split
    runs = []
    for _ in range(2):
        training.seed_everything(7)
        model = mlp_pixels.MLP(hidden=(128,), activation=nn.ReLU)
        training.train_classifier(model, train.images[:1000], train.labels[:1000], epochs=2, seed=7)
        runs.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*runs))
