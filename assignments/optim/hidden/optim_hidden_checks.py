"""Hidden-only scenarios of optim: used by the hidden checks alone, so kept in hidden/ (never
exported to students, like the checks that use them)."""

from __future__ import annotations

import functools
import math
import numpy as np
import torch
from torch import nn
from grader.api import _
from grader.api import (as_number, as_tensor, check_close, check_shape, CheckFailure,
                        describe_value, models as mc, NotImplementedYet, recipe, StudentError)

import optim_mistakes as known
from optim_checks import (MODEL, _describe_kwargs, call, compare_trajectories)


def batchnorm_initial_state(student, num_features: int) -> None:
    """A fresh BatchNorm1d(num_features): weight ones, bias zeros, running_mean zeros,
    running_var ones — as nn.BatchNorm1d."""
    what = _("BatchNorm1d({num_features}) just built").format(num_features=num_features)
    bn = student.BatchNorm1d(num_features)
    x = torch.zeros(2, num_features)
    got = call(what, recipe(student, "batchnorm_run"), bn, None, None, [], [], x)
    initial = got["initial"]
    expected = {"weight": torch.ones(num_features), "bias": torch.zeros(num_features),
                "running_mean": torch.zeros(num_features), "running_var": torch.ones(num_features)}
    for key, value in expected.items():
        if initial[key] is None:
            raise CheckFailure(_("{what} has no `{key}` (nn.BatchNorm1d has weight, bias, "
                                 "running_mean and running_var)").format(what=what, key=key))
        check_close(initial[key], value, f"{what}: {key}", rtol=0, atol=0)


def dropout_gradient(student, p: float, seed: int) -> None:
    """The gradient of y.sum() with respect to x is the mask of kept elements / (1 - p)."""
    x = torch.randn(2000, generator=torch.Generator().manual_seed(seed)) + 3.0  # no zeros
    what = _("Dropout({p:g}) in train mode").format(p=p)
    reply = call(what, recipe(student, "module_gradient"), student.Dropout(p), x, seed)
    y = check_shape(reply["y"], tuple(x.shape), what)
    if reply["grad"] is None:
        raise CheckFailure(_("{what}: the output is not connected to the input in the autograd "
                             "graph: compute it with tensor operations on x (no .detach(), "
                             "NumPy or torch.no_grad())").format(what=what))
    expected = (y != 0).to(torch.float32) / (1 - p)
    check_close(reply["grad"], expected, _("{what}: gradient of y.sum() with respect to x "
                                           "(expected the mask of kept elements / (1 - p))").format(
                                             what=what), rtol=1e-6, atol=1e-7)


def dropout_new_mask_each_call(student, p: float, seed: int) -> None:
    """Two calls in a row (no reseeding in between) draw different masks."""
    x = torch.ones(100, 100)
    what = _("Dropout({p:g}) called twice in train mode").format(p=p)
    layer = student.Dropout(p)
    reply = call(what, recipe(student, "module_outputs"), layer, x, True, seed, 2)
    first = check_shape(reply[0], tuple(x.shape), what)
    second = check_shape(reply[1], tuple(x.shape), what)
    if torch.equal(first == 0, second == 0):
        raise known.DROPOUT_SAME_MASK.failure(_("{what} dropped exactly the same elements both "
                                                "times").format(what=what))


def gradients_left_alone(name: str, run: dict) -> None:
    """The gradients the step function was given are unchanged after each call (checked only
    on a step function that does update the parameters)."""
    reply, grads = run["reply"], run["grads"]
    if all(torch.equal(as_tensor(g, "parameter"), p) for step in reply["steps"]
           for g, p in zip(step["params"], run["initial"])):
        raise known.PARAMETERS_REBOUND.at(name).failure(
            _("{name} did not change the parameters it was given").format(name=name))
    for k, (step, sent) in enumerate(zip(reply["steps"], grads)):
        for i, (after, before) in enumerate(zip(step["grads"], sent)):
            if not torch.equal(as_tensor(after, f"gradient {i}"), before):
                raise known.GRADIENTS_MODIFIED.at(name).failure(
                    _("{name} changed the gradients it was given (gradient {i} after step "
                      "{value})").format(name=name, i=i, value=k + 1))


def optimizer_on_model_scenario(student, kind: str, kwargs: dict, *, n_steps: int, seed: int):
    """The student's step function trains an nn.Sequential the way a training loop would
    (parameters from ``model.parameters()``, gradients from ``backward``), against torch's
    optimiser on the same model here."""
    name = "sgd_step" if kind == "sgd" else "rmsprop_step"
    label = "torch.optim.SGD" if kind == "sgd" else "torch.optim.RMSprop"
    model, local = mc.library_model(student, MODEL, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    batches = [(torch.randn(16, 4, generator=g), torch.randn(16, 3, generator=g))
               for _ in range(n_steps)]
    state = ", state" if kind == "rmsprop" else ""
    reply = call(f"{name}(list(model.parameters()), grads{state}, {_describe_kwargs(kwargs)})",
                 recipe(student, "optimizer_on_model"), kind, getattr(student, name), model,
                 batches, kwargs)
    initial = [p.detach().clone() for p in local.parameters()]
    opt = (torch.optim.SGD if kind == "sgd" else torch.optim.RMSprop)(local.parameters(), **kwargs)
    expected = []
    for x, y in batches:
        opt.zero_grad()
        nn.functional.mse_loss(local(x), y).backward()
        opt.step()
        expected.append([p.detach().clone() for p in local.parameters()])
    compare_trajectories(reply["params"], expected, initial,
                         _("{name}({describe_kwargs}) on the parameters of Linear(4, 8) → Tanh "
                           "→ Linear(8, 3)").format(
                             name=name, describe_kwargs=_describe_kwargs(kwargs)), label)
