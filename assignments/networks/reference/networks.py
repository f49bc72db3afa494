"""Practical 3 — networks of the project: a shallow MLP, a deep MLP, LeNet-5, early stopping.

Every network accepts flat rows [B, 784] and images [B, 1, 28, 28] and returns logits
[B, 10] (no softmax: ``nn.CrossEntropyLoss`` applies it). Conventions of the grader's data:
images are float32 in [0, 1]; labels are **class indices**, an int64 tensor [B] — not the
one-hot rows of the course's ``mnist.pkl.gz``; losses are called
``loss_fn(output, target)``, the network's output first.
"""

from torch import nn


class ShallowNet(nn.Module):
    """Linear → ReLU → Linear."""

    def __init__(self, input_num=784, hidden_num=128, output_num=10):
        super().__init__()
        ### BEGIN SOLUTION
        self.fc1 = nn.Linear(input_num, hidden_num)
        self.fc2 = nn.Linear(hidden_num, output_num)
        self.relu = nn.ReLU()
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = x.reshape(x.shape[0], -1)
        return self.fc2(self.relu(self.fc1(x)))
        ### END SOLUTION


class DeepNet(nn.Module):
    """(Linear → ReLU) for each hidden size, then a last Linear."""

    def __init__(self, input_num=784, hidden_sizes=(512, 128), output_num=10):
        super().__init__()
        ### BEGIN SOLUTION
        layers, width = [], input_num
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, output_num))
        self.layers = nn.Sequential(*layers)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.layers(x.reshape(x.shape[0], -1))
        ### END SOLUTION


class Cnn(nn.Module):
    """LeNet-5 on 28×28 images, no padding (44,426 parameters for 10 classes).

    28 —conv5→ 24 —pool2→ 12 —conv5→ 8 —pool2→ 4, so the flattened features are 16·4·4 = 256
    (LeNet's original 16·5·5 assumes 32×32 inputs).
    """

    def __init__(self, output_nbr=10):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, output_nbr)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = x.reshape(x.shape[0], 1, 28, 28)  # flat rows become images
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.flatten(start_dim=1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)
        ### END SOLUTION


class EarlyStopping:
    """Say when to stop: after ``patience`` epochs in a row without a real improvement.

    An epoch improves when its valid loss is below the best so far by more than ``min_delta``;
    an improvement resets the count.
    """

    def __init__(self, patience=2, min_delta=1e-3):
        ### BEGIN SOLUTION
        self.patience = patience
        self.min_delta = min_delta
        self.best = float("inf")
        self.bad_epochs = 0
        ### END SOLUTION

    def step(self, valid_loss):
        """Record one epoch's valid loss; True when training should stop."""
        ### BEGIN SOLUTION
        if valid_loss < self.best - self.min_delta:
            self.best = valid_loss
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience
        ### END SOLUTION
