"""A valid solution written differently from the reference: nn.Sequential blocks with
nn.Flatten / nn.Unflatten, named layers in an OrderedDict, EarlyStopping with a history list."""

from collections import OrderedDict

import torch.nn as nn


class ShallowNet(nn.Module):
    def __init__(self, input_num=784, hidden_num=128, output_num=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(input_num, hidden_num),
            nn.ReLU(),
            nn.Linear(hidden_num, output_num),
        )

    def forward(self, x):
        return self.net(x)


class DeepNet(nn.Module):
    def __init__(self, input_num=784, hidden_sizes=(512, 128), output_num=10):
        super().__init__()
        widths = [input_num, *hidden_sizes]
        blocks = OrderedDict(flatten=nn.Flatten())
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            blocks[f"hidden{i}"] = nn.Linear(a, b)
            blocks[f"relu{i}"] = nn.ReLU(inplace=True)
        blocks["out"] = nn.Linear(widths[-1], output_num)
        self.model = nn.Sequential(blocks)

    def forward(self, x):
        return self.model(x)


class Cnn(nn.Module):
    def __init__(self, output_nbr=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(256, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, output_nbr),
        )

    def forward(self, x):
        return self.classifier(self.features(x.view(x.shape[0], -1)))


class EarlyStopping:
    def __init__(self, patience=2, min_delta=1e-3):
        self.patience = patience
        self.min_delta = min_delta
        self.history = []

    def step(self, valid_loss):
        self.history.append(float(valid_loss))
        best, since_best = float("inf"), 0
        for loss in self.history:
            if best - loss > self.min_delta:
                best, since_best = loss, 0
            else:
                since_best += 1
        return since_best >= self.patience


model = Cnn()
print(sum(p.numel() for p in model.parameters()))
