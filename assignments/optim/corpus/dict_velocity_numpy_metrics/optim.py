"""A valid optim submission written differently from the reference.

sgd_step and rmsprop_step keep their state in dicts keyed by parameter index and update through
``p.data``; Dropout draws its mask with torch.bernoulli; BatchNorm1d uses torch.var_mean;
precision_recall_f1 goes through NumPy and a confusion matrix.
"""

import numpy as np
import torch
from torch import nn


def sgd_step(params, grads, lr, momentum=0.0, velocity=None, weight_decay=0.0):
    state = {} if velocity is None else dict(velocity)
    for index, (param, grad) in enumerate(zip(params, grads)):
        d_p = grad.add(param.data, alpha=weight_decay) if weight_decay else grad
        if momentum:
            if index in state:
                state[index] = state[index].mul(momentum).add(d_p)
            else:
                state[index] = d_p.detach().clone()
            d_p = state[index]
        param.data.add_(d_p, alpha=-lr)
    return state if momentum else None


def rmsprop_step(params, grads, state, lr=1e-2, alpha=0.99, eps=1e-8):
    state = {} if state is None else state
    for index, (param, grad) in enumerate(zip(params, grads)):
        avg = state.get(index, torch.zeros_like(param.data))
        avg = avg * alpha + grad.pow(2) * (1 - alpha)
        state[index] = avg
        param.data.addcdiv_(grad, avg.sqrt().add(eps), value=-lr)
    return state


def decayed_lr(lr0, decay, iteration):
    return lr0 * 1.0 / (1.0 + decay * iteration)


def l2_penalty(model, lam):
    penalty = torch.zeros(())
    for name, param in model.named_parameters():
        if name.split(".")[-1] == "weight":
            penalty = penalty + param.pow(2).sum()
    return penalty * lam


class Dropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError("p must be between 0 and 1")
        self.p = float(p)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        mask = torch.bernoulli(torch.full_like(x, 1.0 - self.p))
        return mask * x * (1.0 / (1.0 - self.p))


class BatchNorm1d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x):
        if self.training:
            var, mean = torch.var_mean(x, dim=0, unbiased=False)
            n = x.size(0)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * (n / (n - 1)), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


def precision_recall_f1(y_true, y_pred, n_classes):
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    cm = np.zeros((n_classes, n_classes))
    for a, b in zip(t, p):
        cm[a, b] += 1
    tp = np.diag(cm)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        recall = np.nan_to_num(tp / cm.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return float(precision.mean()), float(recall.mean()), float(f1.mean())


if __name__ == "__main__":
    print(precision_recall_f1([0, 1, 1], [0, 1, 0], 2))
