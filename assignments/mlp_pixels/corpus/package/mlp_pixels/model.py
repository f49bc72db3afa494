from torch import nn


class MLP(nn.Sequential):
    """The MLP as an nn.Sequential subclass: Flatten, (Linear, activation)..., Linear."""

    def __init__(self, input_features=784, hidden=(512, 128), n_classes=10, activation=nn.Sigmoid):
        layers, width = [nn.Flatten()], input_features
        for size in hidden:
            layers += [nn.Linear(width, size), activation()]
            width = size
        super().__init__(*layers, nn.Linear(width, n_classes))


def count_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
