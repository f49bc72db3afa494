"""Child-side helpers for the perceptron practical (functions on plain tensors).

Imported *in the student process* as ``practical`` (``api.recipe(student, "apply_update")``).
They only run the student's functions and send back what came out, as data; every verdict is
the judge's.
"""

from __future__ import annotations

import torch

from grader.recipes import call_with_module_globals


def forward(x, w, b):
    """The handout's forward, ``x @ w + b``: put in place of the student's own ``forward``
    while ``update`` and ``accuracy`` are checked, so a bug in forward costs points only in
    the forward checks."""
    return x @ w + b


def init_draws(init_params, n_in: int, n_out: int, seeds: list[int],
               global_seeds: list[int]) -> list:
    """``init_params(n_in, n_out, generator=torch.Generator().manual_seed(s))`` for each seed,
    with the global RNG reseeded to the matching ``global_seeds`` entry before each call (so an
    ``init_params`` that ignores its generator gives away that it does)."""
    draws = []
    for seed, global_seed in zip(seeds, global_seeds):
        torch.manual_seed(global_seed)
        draws.append(init_params(n_in, n_out, generator=torch.Generator().manual_seed(seed)))
    return draws


def with_handout_forward(function, *args, **kwargs):
    """Call a student's function with the handout's ``forward`` in place of the student's."""
    if not isinstance(getattr(function, "__globals__", None), dict):
        return function(*args, **kwargs)  # not a plain function: nothing to replace
    return call_with_module_globals(function, {"forward": forward}, *args, **kwargs)


def apply_update(update, x, t, w, b, eta) -> dict:
    """Call ``update(x, t, w, b, eta)`` (with the handout's forward) and send back the very
    tensors ``w`` and ``b`` that were passed: an in-place update shows in them, a rebinding
    (``w = w + ...``) does not."""
    w_object, b_object = w, b
    with_handout_forward(update, x, t, w, b, eta)
    return {"w": w_object, "b": b_object}


def train(update, w, b, x, t, orders: list, eta: float, batch_size: int) -> dict:
    """The course's loop from the judge's starting ``w``, ``b``: ``update`` (with the handout's
    forward) in place on every mini-batch of each epoch's ``orders``; sends back w and b.
    The judge replays the same loop with the course's rule and compares."""
    for order in orders:
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            with_handout_forward(update, x[index], t[index], w, b, eta)
    return {"w": w, "b": b}
