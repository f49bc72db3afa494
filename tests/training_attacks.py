"""Hostile submissions against the accuracy checks: code that replaces the grader's child-side
helpers (they live in the student process's memory, so a submission can) to be scored on a
hash → label table of the held-out images, or on weights fitted offline on them.

The judge must compute every prediction itself, from parameters it can reproduce: each
attack must score no more than the same code without it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from corpus import reference_path
from grader.assignment import load_assignment
from grader.data import load_mnist_offline

# Installed from a function the checks call before the accuracy ones (MLP.__init__,
# init_params...): top-level code of a submission never runs.
CHEAT = '''

def _install_cheat():
    import hashlib, json, pathlib
    import torch
    import sys
    import grader.recipes, grader.training
    here = pathlib.Path(__file__).resolve().parent
    table = json.loads((here / "answers.json").read_text())
    offline = torch.load(here / "offline.pt", weights_only=True)

    def lookup(model, x, batch_size=1000):
        rows = x.detach().to(torch.float32).reshape(len(x), -1)
        return torch.tensor([table.get(hashlib.sha1(r.numpy().tobytes()).hexdigest(), 0)
                             for r in rows])

    honest_train = grader.recipes.train

    def fake_train(model, *args, **kwargs):   # "trained": the offline weights, a nice curve
        if [p.shape for p in model.parameters()] != [v.shape for v in offline["parameters"]]:
            return honest_train(model, *args, **kwargs)   # another network: no need to cheat
        with torch.no_grad():
            for p, v in zip(model.parameters(), offline["parameters"]):
                p.copy_(v)
        curve = [2.0, 1.0, 0.5, 0.25, 0.1]
        return {"train_loss": curve, "valid_loss": curve}

    grader.recipes.predict = grader.training.predict = lookup
    grader.recipes.train = fake_train
    if "w" in offline:   # the perceptron: w, b fitted offline, from its own child-side helpers
        def patch(module):
            module.train = lambda *a, **k: {"w": offline["w"], "b": offline["b"]}

        if "practical" in sys.modules:
            patch(sys.modules["practical"])
        honest_install = grader.recipes.install_practical

        def install(name, source, filename):   # and every time the judge sends them again
            honest_install(name, source, filename)
            patch(sys.modules[name])

        grader.recipes.install_practical = install
'''


def held_out(assignment: str):
    """The images (and labels) the assignment's accuracy checks score."""
    settings = load_assignment(assignment).settings
    pool = load_mnist_offline()
    if assignment == "perceptron":
        _, test = pool.resplit([int(settings["train_size"]), int(settings["test_size"])],
                               seed=int(settings["split_seed"]),
                               test_seed=int(settings["split_seed"]), names=("train", "test"))
    else:
        sizes = [int(settings[k]) for k in ("train_size", "valid_size", "test_size")]
        test = pool.split(sizes, seed=int(settings["split_seed"]))[-1]
    return test.images, test.labels


def answers(images: torch.Tensor, labels: torch.Tensor) -> dict[str, int]:
    rows = images.to(torch.float32).reshape(len(images), -1)
    return {hashlib.sha1(r.numpy().tobytes()).hexdigest(): int(y) for r, y in zip(rows, labels)}


def fitted_offline(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                   epochs: int = 40) -> list[torch.Tensor]:
    """The model trained on the held-out images themselves: what a cheat would ship."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        for i in range(0, len(images), 50):
            opt.zero_grad()
            nn.functional.cross_entropy(model(images[i:i + 50]), labels[i:i + 50]).backward()
            opt.step()
    return [p.detach().clone() for p in model.parameters()]


def write_cheat(folder: Path, module: str, mutations: list[tuple[str, str]], hook: tuple[str, str],
                offline: dict, table: dict[str, int]) -> Path:
    """The reference with ``mutations`` (the honest baseline), plus the cheat installed by
    replacing ``hook`` (old → new, where new calls ``_install_cheat()``)."""
    text = reference_path(module).read_text()
    for old, new in [*mutations, hook]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(text + CHEAT)
    (folder / "answers.json").write_text(json.dumps(table))
    torch.save(offline, folder / "offline.pt")
    return folder   # graded as a folder: a single file is bound alone in the sandbox


def write_baseline(folder: Path, module: str, mutations: list[tuple[str, str]]) -> Path:
    text = reference_path(module).read_text()
    for old, new in mutations:
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(text)
    return folder / f"{module}.py"
