"""A valid optim submission in another style: rebinding-free functional updates through
``copy_``, per-class Python loops for the metrics, BatchNorm1d from explicit sums with its
buffers reassigned (nn.Module keeps them registered)."""

import torch
from torch import nn

_RNG_FREE = None  # a harmless top-level constant


def sgd_step(params, grads, lr, momentum=0.0, velocity=None, weight_decay=0.0):
    buffers = []
    with torch.no_grad():
        for i in range(len(params)):
            direction = grads[i] + params[i] * weight_decay
            if momentum > 0:
                if velocity is not None:
                    direction = velocity[i] * momentum + direction
                buffers.append(direction)
            params[i].copy_(params[i] - lr * direction)
    if momentum > 0:
        return buffers
    return None


def rmsprop_step(params, grads, state, lr=1e-2, alpha=0.99, eps=1e-8):
    new_state = []
    with torch.no_grad():
        for i, p in enumerate(params):
            g = grads[i]
            previous = torch.zeros_like(g) if state is None else state[i]
            sq = torch.addcmul(previous * alpha, g, g, value=1 - alpha)
            p.sub_(lr * g / (torch.sqrt(sq) + eps))
            new_state.append(sq)
    return new_state


def decayed_lr(lr0, decay, iteration):
    denominator = 1 + decay * iteration
    return lr0 / denominator


def l2_penalty(model, lam):
    squares = [torch.sum(w * w) for n, w in model.named_parameters() if n.endswith("weight")]
    return lam * torch.stack(squares).sum()


class Dropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not (0.0 <= p <= 1.0):
            raise ValueError(p)
        self.p = p

    def forward(self, x):
        if self.training and self.p > 0:
            if self.p >= 1:
                return torch.zeros_like(x)
            keep = torch.rand(x.shape) > self.p
            return torch.where(keep, x / (1 - self.p), torch.zeros_like(x))
        return x


class BatchNorm1d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.full((num_features,), 1.0))
        self.bias = nn.Parameter(torch.full((num_features,), 0.0))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x):
        if not self.training:
            centred = x - self.running_mean
            return self.weight * centred / (self.running_var + self.eps).sqrt() + self.bias
        n = x.shape[0]
        mean = x.sum(dim=0) / n
        centred = x - mean
        var = (centred ** 2).sum(dim=0) / n
        m = self.momentum
        self.running_mean = (1 - m) * self.running_mean + m * mean.detach()
        self.running_var = (1 - m) * self.running_var + m * var.detach() * n / (n - 1)
        return self.weight * centred / (var + self.eps).sqrt() + self.bias


def precision_recall_f1(y_true, y_pred, n_classes):
    y_true = [int(v) for v in y_true]
    y_pred = [int(v) for v in y_pred]
    precisions, recalls, f1s = [], [], []
    for c in range(n_classes):
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == c and p == c)
        predicted = sum(1 for p in y_pred if p == c)
        actual = sum(1 for t in y_true if t == c)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(f1)
    return (sum(precisions) / n_classes, sum(recalls) / n_classes, sum(f1s) / n_classes)


# Trying it out (top-level code: the grader does not run it).
layer = Dropout(0.5)
print(layer(torch.ones(4)))
