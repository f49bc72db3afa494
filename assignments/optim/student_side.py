"""Child-side helpers for the optimisation and regularisation practical (``optim``).

Imported *in the student process* as ``practical`` (``api.recipe(student, "optimizer_steps")``).
Each helper runs one of the student's functions or modules on values the judge sent, keeps
the objects that must stay put between calls (parameters updated in place, a module's running
statistics) on this side, and sends back what came out as data. Every comparison and every
verdict is the judge's.
"""

from __future__ import annotations

import torch
from torch import nn


def _call_step(kind: str, step, params, grads, state, kwargs: dict, pass_state: bool):
    if kind == "sgd":
        # sgd_step(params, grads, lr, momentum=..., velocity=..., weight_decay=...)
        if pass_state:
            return step(params, grads, velocity=state, **kwargs)
        return step(params, grads, **kwargs)
    if kind == "rmsprop":
        # rmsprop_step(params, grads, state, lr=..., alpha=..., eps=...)
        return step(params, grads, state, **kwargs)
    raise ValueError(f"unknown optimiser kind {kind!r}")


def optimizer_steps(kind: str, step, initial: list, grads_per_step: list, kwargs: dict,
                    pass_state: bool = True) -> dict:
    """Run ``step`` once per entry of ``grads_per_step`` on the same parameters.

    The parameters are leaf tensors that require gradients, as a model's are, and every call
    gets a fresh list holding the very same tensor objects: an update in place shows in them,
    a rebinding (``p = p - lr * g``) or a replaced list item does not. What a call returns is
    passed to the next call (``velocity=`` for SGD, the third argument for RMSprop).

    Returns, per step: the values of the parameters after the step, the gradients after the
    call (the judge checks they were left alone) and the state the call returned.
    """
    params = [nn.Parameter(p.detach().clone()) for p in initial]
    state = None
    steps = []
    for grads in grads_per_step:
        grads = [g.detach().clone() for g in grads]
        state = _call_step(kind, step, list(params), list(grads), state, kwargs, pass_state)
        steps.append({"params": [p.detach().clone() for p in params],
                      "grads": [g.clone() for g in grads],
                      "state": _snapshot(state)})
    return {"steps": steps}


def optimizer_on_model(kind: str, step, model: nn.Module, batches: list, kwargs: dict) -> dict:
    """Train ``model`` (library layers the judge built) with the student's step function the
    way a training loop would: MSE loss on each batch, ``backward``, then
    ``step(list(model.parameters()), [p.grad ...], ...)``. Returns the parameters after each
    step."""
    state = None
    loss_fn = nn.MSELoss()
    after = []
    for x, y in batches:
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        params = list(model.parameters())
        state = _call_step(kind, step, params, [p.grad for p in params], state, kwargs, True)
        after.append([p.detach().clone() for p in model.parameters()])
    return {"params": after}


def _snapshot(value):
    """A copy of what a step returned, taken now (the next step may change it in place)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot(v) for v in value)
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    return value


def penalty_and_gradients(l2_penalty, model: nn.Module, lam: float) -> dict:
    """``l2_penalty(model, lam)`` and its gradient with respect to every parameter (``None``
    where the penalty does not depend on it), or no gradients when the result is not a tensor
    in the autograd graph."""
    model.zero_grad(set_to_none=True)
    penalty = l2_penalty(model, lam)
    reply = {"value": penalty, "is_tensor": isinstance(penalty, torch.Tensor),
             "requires_grad": bool(getattr(penalty, "requires_grad", False)), "grads": None}
    if reply["is_tensor"] and reply["requires_grad"] and penalty.numel() == 1:
        named = list(model.named_parameters())
        grads = torch.autograd.grad(penalty.reshape(()), [p for _, p in named], allow_unused=True)
        reply["grads"] = [{"name": name, "grad": g} for (name, _), g in zip(named, grads)]
    return reply


def module_output(module: nn.Module, x: torch.Tensor, train: bool, seed: int) -> torch.Tensor:
    """``module(x)`` in train or eval mode, without gradients, after ``torch.manual_seed(seed)``."""
    module.train(train)
    torch.manual_seed(seed)
    with torch.no_grad():
        return module(x)


def module_outputs(module: nn.Module, x: torch.Tensor, train: bool, seed: int,
                   repeat: int) -> list:
    """``repeat`` calls of ``module(x)`` in a row after one ``torch.manual_seed(seed)``."""
    module.train(train)
    torch.manual_seed(seed)
    with torch.no_grad():
        return [module(x) for _ in range(repeat)]


def module_gradient(module: nn.Module, x: torch.Tensor, seed: int) -> dict:
    """In train mode after ``torch.manual_seed(seed)``: ``y = module(x)`` and the gradient of
    ``y.sum()`` with respect to ``x`` (``None`` when ``y`` is not part of the graph)."""
    module.train(True)
    torch.manual_seed(seed)
    x = x.detach().clone().requires_grad_(True)
    y = module(x)
    grad = None
    if isinstance(y, torch.Tensor) and y.requires_grad:
        (grad,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    return {"y": y, "grad": grad}


def _clone(value):
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


def batchnorm_run(bn: nn.Module, weight, bias, train_inputs: list, upstreams: list,
                  eval_input: torch.Tensor) -> dict:
    """Train steps then one evaluation of a batch-normalisation module.

    With ``weight`` and ``bias`` (copied into the module's parameters of those names when not
    None), each training step computes ``out = bn(x)``, backpropagates ``(out * upstream).sum()``
    and records the output, the gradients of ``x``, ``weight`` and ``bias``, and the running
    statistics; then ``bn.eval()`` and the output on ``eval_input``.
    """
    parameters = dict(bn.named_parameters())
    reply = {"parameters": sorted(parameters), "buffers": sorted(n for n, _ in bn.named_buffers()),
             "initial": {"weight": _clone(parameters.get("weight")),
                         "bias": _clone(parameters.get("bias")),
                         "running_mean": _clone(getattr(bn, "running_mean", None)),
                         "running_var": _clone(getattr(bn, "running_var", None))},
             "steps": None, "eval": None}
    if "weight" not in parameters or "bias" not in parameters:
        return reply
    with torch.no_grad():
        if weight is not None:
            parameters["weight"].copy_(weight)
        if bias is not None:
            parameters["bias"].copy_(bias)
    bn.train()
    steps = []
    for x, upstream in zip(train_inputs, upstreams):
        bn.zero_grad(set_to_none=True)
        x = x.detach().clone().requires_grad_(True)
        out = bn(x)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            (out * upstream).sum().backward()
        steps.append({"out": _clone(out), "x_grad": x.grad,
                      "weight_grad": _clone(parameters["weight"].grad),
                      "bias_grad": _clone(parameters["bias"].grad),
                      "running_mean": _clone(getattr(bn, "running_mean", None)),
                      "running_var": _clone(getattr(bn, "running_var", None))})
    reply["steps"] = steps
    bn.eval()
    with torch.no_grad():
        out = bn(eval_input)
    reply["eval"] = {"out": _clone(out),
                     "running_mean": _clone(getattr(bn, "running_mean", None)),
                     "running_var": _clone(getattr(bn, "running_var", None))}
    return reply
