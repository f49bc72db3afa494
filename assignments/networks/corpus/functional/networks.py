"""A valid solution written differently from the reference: functional F.relu / F.max_pool2d
in forward, view() instead of reshape, nn.ModuleList, EarlyStopping with best=None."""

import torch
from torch import nn
import torch.nn.functional as F

DEVICE = torch.device("cpu")


class ShallowNet(nn.Module):
    def __init__(self, input_num=784, hidden_num=128, output_num=10):
        super(ShallowNet, self).__init__()
        self.hidden = nn.Linear(input_num, hidden_num)
        self.output = nn.Linear(hidden_num, output_num)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        return self.output(F.relu(self.hidden(x)))


class DeepNet(nn.Module):
    def __init__(self, input_num=784, hidden_sizes=(512, 128), output_num=10):
        super(DeepNet, self).__init__()
        sizes = [input_num] + list(hidden_sizes)
        self.hidden = nn.ModuleList(nn.Linear(sizes[i], sizes[i + 1])
                                    for i in range(len(hidden_sizes)))
        self.last = nn.Linear(sizes[-1], output_num)

    def forward(self, x):
        x = x.view(len(x), -1)
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.last(x)


class Cnn(nn.Module):
    def __init__(self, output_nbr=10):
        super(Cnn, self).__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=6, kernel_size=(5, 5))
        self.conv2 = nn.Conv2d(in_channels=6, out_channels=16, kernel_size=5, padding=0)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, output_nbr)

    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, self.num_flat_features(x))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)

    def num_flat_features(self, x):
        n = 1
        for s in x.size()[1:]:
            n *= s
        return n


class EarlyStopping:
    def __init__(self, patience=2, min_delta=1e-3):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss = None
        self.wait = 0
        self.early_stop = False

    def step(self, valid_loss):
        if self.best_loss is None or valid_loss < self.best_loss - self.min_delta:
            self.best_loss = valid_loss
            self.wait = 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.early_stop = True
        return self.early_stop


if __name__ == "__main__":
    stopper = EarlyStopping()
    net = Cnn().to(DEVICE)
    for epoch in range(100):
        if stopper.step(1.0):
            break
