# Starter code for the practical `networks`: fill in every TODO, then run
#     grade check
# in this folder. (Generated from the reference solution; do not rename the
# functions and classes: the grader looks for these names.)
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
        # TODO: your code here
        raise NotImplementedError

    def forward(self, x):
        # TODO: your code here
        raise NotImplementedError


class DeepNet(nn.Module):
    """(Linear → ReLU) for each hidden size, then a last Linear."""

    def __init__(self, input_num=784, hidden_sizes=(512, 128), output_num=10):
        super().__init__()
        # TODO: your code here
        raise NotImplementedError

    def forward(self, x):
        # TODO: your code here
        raise NotImplementedError


class Cnn(nn.Module):
    """LeNet-5 on 28×28 images, no padding (44,426 parameters for 10 classes).

    28 —conv5→ 24 —pool2→ 12 —conv5→ 8 —pool2→ 4, so the flattened features are 16·4·4 = 256
    (LeNet's original 16·5·5 assumes 32×32 inputs).
    """

    def __init__(self, output_nbr=10):
        super().__init__()
        # TODO: your code here
        raise NotImplementedError

    def forward(self, x):
        # TODO: your code here
        raise NotImplementedError


class EarlyStopping:
    """Say when to stop: after ``patience`` epochs in a row without a real improvement.

    An epoch improves when its valid loss is below the best so far by more than ``min_delta``;
    an improvement resets the count.
    """

    def __init__(self, patience=2, min_delta=1e-3):
        # TODO: your code here
        raise NotImplementedError

    def step(self, valid_loss):
        """Record one epoch's valid loss; True when training should stop."""
        # TODO: your code here
        raise NotImplementedError
