"""Helpers the judge asks the student process to run on student objects (torch models).

The engine's helpers, for any PyTorch practical. A practical's own helpers live in its folder
(``assignments/<name>/student_side.py``): the judge sends that module to the student process
(:func:`install_practical`), where it is imported as ``practical``; checks reach both through
``grader.api.recipe``.

This module is imported *in the student process* (``student.lib("grader.recipes.predict")``):
it saves round trips and keeps big intermediate objects (a DataLoader, an optimizer) on the
child's side. It decides nothing: whatever it returns is data the judge checks like any other
reply, so a submission that tampers with it only hurts itself. (A submission can replace
these functions in the child's memory: accuracy checks therefore never take predictions or
trained weights from here on trust — the judge predicts from the parameters itself and
replays the training, see :func:`grader.model_checks.judged_training`.)
"""

from __future__ import annotations

import torch
from torch import nn

from grader import training


def install_practical(name: str, source: str, filename: str) -> None:
    """Import the practical's child-side helpers (their source, sent by the judge) as module
    ``name`` of this process."""
    import linecache
    import sys
    import types

    module = types.ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)


def parameters(model: nn.Module) -> list[dict]:
    """Every parameter in registration order: name, value (a copy), requires_grad."""
    return [{"name": name, "value": p.detach().clone(), "requires_grad": bool(p.requires_grad)}
            for name, p in model.named_parameters()]


def load_parameters(model: nn.Module, values: list[torch.Tensor]) -> None:
    """Copy ``values`` into the model's parameters, in registration order."""
    params = list(model.parameters())
    if len(params) != len(values):
        raise ValueError(f"the model has {len(params)} parameter tensors, {len(values)} given")
    with torch.no_grad():
        for p, v in zip(params, values):
            if p.shape != v.shape:
                raise ValueError(f"parameter of shape {tuple(p.shape)} cannot take {tuple(v.shape)}")
            p.copy_(v)


def state_dict(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def forward(model: nn.Module, x: torch.Tensor, eval_mode: bool = True) -> torch.Tensor:
    """The model's output on x, in eval mode and without gradients by default."""
    if eval_mode:
        model.eval()
    with torch.no_grad():
        return model(x)


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    return training.predict(model, x, batch_size=batch_size)


def loader(x: torch.Tensor, y: torch.Tensor, batch_size: int = 64, shuffle: bool = False,
           seed: int = 0):
    return training.make_loader(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed)


def optimizer(kind: str, model: nn.Module, lr: float):
    return training.make_optimizer(kind, model.parameters(), lr)


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, **kwargs) -> dict:
    """:func:`grader.training.train_classifier` on the student's model (and train_loop)."""
    return training.train_classifier(model, x, y, **kwargs)


def module_types(model: nn.Module) -> list[str]:
    """The class names of all sub-modules, in order (to see which activations are used)."""
    return [type(m).__name__ for m in model.modules()]


def parameter_layout(model: nn.Module) -> list[dict]:
    """Names and shapes only (no values): cheap, for shape and count checks."""
    return [{"name": name, "shape": list(p.shape), "requires_grad": bool(p.requires_grad)}
            for name, p in model.named_parameters()]


def freeze(model: nn.Module, names: list[str]) -> None:
    """Stop training the named parameters (``requires_grad=False``)."""
    wanted = set(names)
    for name, p in model.named_parameters():
        if name in wanted:
            p.requires_grad_(False)


def optimizer_summary(optimizer) -> dict:
    """What an optimizer is, as data: its class, whether it is torch's SGD/Adam, its lr."""
    groups = getattr(optimizer, "param_groups", None) or [{}]
    return {
        "class": type(optimizer).__name__,
        "module": type(optimizer).__module__,
        "is_sgd": isinstance(optimizer, torch.optim.SGD),
        "is_adam": isinstance(optimizer, torch.optim.Adam) and not isinstance(optimizer, torch.optim.AdamW),
        "lr": float(groups[0].get("lr", float("nan"))),
        "n_parameters": int(sum(p.numel() for g in groups for p in g.get("params", []))),
    }


def gradients_present(model: nn.Module) -> list[str]:
    """Names of the parameters whose .grad holds anything non-zero."""
    return [name for name, p in model.named_parameters()
            if p.grad is not None and bool(p.grad.abs().sum() > 0)]


def sequential(*layers) -> nn.Sequential:
    """An ``nn.Sequential`` of library layers the judge specifies (for checks on models that
    are not the student's own)."""
    return nn.Sequential(*layers)


def call_with_module_globals(function, replacements: dict, *args, **kwargs):
    """Call a student's function with some globals of its module replaced during the call.

    Checks of ``fit`` put the grader's standard loops in place of the student's ``train_loop``
    and ``valid_loop``, so a bug in those costs points only in their own checks.
    """
    namespace = function.__globals__
    saved = {k: namespace[k] for k in replacements if k in namespace}
    namespace.update(replacements)
    try:
        return function(*args, **kwargs)
    finally:
        for key in replacements:
            if key in saved:
                namespace[key] = saved[key]
            else:
                namespace.pop(key, None)
