"""Checks on PyTorch models that live in the student process.

These helpers talk to a student's model through its handle (``grader.recipes`` runs on the
child's side) and compare what comes back with the reference, here in the judge. Weights are
matched by order of registration and shape, so a student's own layout (``nn.Sequential`` or
named layers, ``fc1`` or ``hidden``) does not matter — only the architecture does.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from grader.checks import as_number, check_close, check_parameter_layout
from grader.failures import CheckFailure
from grader.student_process import Remote, StudentModule


def recipe(student: StudentModule, name: str) -> Remote:
    """A helper of :mod:`grader.recipes`, to run in the student process."""
    return student.lib(f"grader.recipes.{name}")


def layout(student: StudentModule, model: Remote) -> list[dict]:
    """Names, shapes and requires_grad of the model's parameters, as data."""
    return recipe(student, "parameter_layout")(model)


def parameters(student: StudentModule, model: Remote) -> list[torch.Tensor]:
    return [p["value"] for p in recipe(student, "parameters")(model)]


def reference_shapes(model: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in model.parameters()]


def copy_reference_weights(student: StudentModule, model: Remote, reference_model: nn.Module,
                           what: str) -> None:
    """Give the student's model the reference model's weights (same order, same shapes)."""
    check_parameter_layout(layout(student, model), reference_shapes(reference_model), what)
    values = [p.detach().clone() for p in reference_model.parameters()]
    recipe(student, "load_parameters")(model, values)


def compare_parameters(student_values: list[torch.Tensor], reference_model: nn.Module,
                       what: str, *, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    names = [name for name, _ in reference_model.named_parameters()]
    for name, got, expected in zip(names, student_values, reference_model.parameters()):
        check_close(got, expected.detach(), f"{what}: parameter {name}", rtol=rtol, atol=atol,
                    expected_label="reference")


def optimizer_summary(student: StudentModule, optimizer: Remote) -> dict[str, Any]:
    return recipe(student, "optimizer_summary")(optimizer)


def mean_loss_matches(value: Any, batch_mean: float, sample_mean: float, what: str) -> float:
    """The loss a loop returned is the mean of batch losses or the sample-weighted mean."""
    value = as_number(value, f"{what} (the mean loss)")
    for expected in (batch_mean, sample_mean):
        if abs(value - expected) <= 1e-4 * max(1.0, abs(expected)):
            return float(value)
    raise CheckFailure(f"{what}: returned {value:.6g}, expected the mean loss {batch_mean:.6g} "
                       f"(mean of batch losses) or {sample_mean:.6g} (mean over samples)")


def library_model(student: StudentModule, layers: list[tuple], seed: int = 0
                  ) -> tuple[Remote, nn.Sequential]:
    """The same ``nn.Sequential`` of torch layers in the judge and in the student process.

    ``layers`` are (class name, *args) of ``torch.nn`` layers, e.g.
    ``[("Flatten",), ("Linear", 784, 10)]``. The judge draws the weights from ``seed`` and
    sends them over, so checks on a student's *loop* do not depend on the student's *model*.
    """
    torch.manual_seed(seed)
    local = nn.Sequential(*(getattr(nn, name)(*args) for name, *args in layers))
    remote_layers = [student.lib(f"torch.nn.{name}")(*args) for name, *args in layers]
    remote = recipe(student, "sequential")(*remote_layers)
    recipe(student, "load_parameters")(remote, [p.detach().clone() for p in local.parameters()])
    return remote, local


def reference_epoch(model: nn.Module, batches, loss_fn, optimizer=None) -> tuple[float, float]:
    """One epoch in the judge (training when an optimizer is given, else evaluation):
    (mean of batch losses, sample-weighted mean loss)."""
    model.train(optimizer is not None)
    losses, sizes = [], []
    for x, y in batches:
        if optimizer is not None:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                loss = loss_fn(model(x), y)
        losses.append(loss.item())
        sizes.append(len(x))
    batch_mean = sum(losses) / len(losses)
    sample_mean = sum(l * n for l, n in zip(losses, sizes)) / sum(sizes)
    return batch_mean, sample_mean


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int):
    """The batches an unshuffled DataLoader yields, in the judge."""
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
