"""Shared by the experiment tests: one reduced answer key per test process, and MLP_pixels's
experiments run the way a student runs them (grader.experiment_data, the reference's code,
grader.record), on the offline data and the quick profile."""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

KEY_SEEDS = 2


_KEY: dict[str, Path] = {}


def quick_key(base: Path | None = None) -> Path:
    """The quick profile's key of mlp_pixels over seeds 0 and 1, made once per test run
    (~10 s on 2 cores): under pytest-xdist the workers share it through ``base`` (the run's
    temporary folder), one making it while the others wait on a lock."""
    from filelock import FileLock

    from grader import answer_key

    if "key" in _KEY:
        return _KEY["key"]
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="quick-key-"))
        atexit.register(shutil.rmtree, base, True)
    folder = base / "experiments-quick-key"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / "lock")):
        _KEY["key"] = answer_key.generate("mlp_pixels", quick=True, seeds=KEY_SEEDS,
                                          device="cpu", out=folder / "answer_key.json",
                                          say=lambda line: None)
    return _KEY["key"]


def shared_base(tmp_path_factory) -> Path:
    """The folder every xdist worker of this run sees; this session's own one otherwise."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def assignment():
    from grader.assignment import load_assignment

    return load_assignment("mlp_pixels")


def reference_file(found=None) -> Path:
    found = found or assignment()
    path = getattr(found, "reference_path", None)
    if path is not None:
        return Path(path)
    return Path(importlib.util.find_spec(found.reference).origin)


@functools.lru_cache(maxsize=None)
def _reference():
    from grader.answer_key import _load_reference

    return _load_reference(assignment())


def run_like_a_student(results_file: Path, seed: int) -> dict:
    """Every experiment of the key, run as the starter notebook runs it, recorded with
    grader.record into ``results_file``; the answers follow the recorded numbers. Returns the
    results file's content."""
    import torch
    from torch import nn

    import grader
    from grader import experiments as ex

    ref = _reference()
    key = json.loads(quick_key().read_text())
    checkpoint = results_file.with_name("best.pt")
    for experiment_id, entry in key["experiments"].items():
        c = entry["config"]
        train_loader, valid_loader, test_loader = grader.experiment_data(experiment_id, seed=seed)
        model = ref.MLP(hidden=tuple(c["hidden"]), activation=getattr(nn, c["activation"]))
        optimizer = ref.make_optimizer(c["optimizer"], model.parameters(), c["lr"])
        started = time.perf_counter()
        history = ref.fit(model, train_loader, valid_loader, nn.CrossEntropyLoss(), optimizer,
                          entry["epochs"], str(checkpoint))
        model.load_state_dict(torch.load(checkpoint, weights_only=True))
        grader.record(experiment_id, history, ref.perf_loop(test_loader, model), seed=seed,
                      time_s=time.perf_counter() - started, path=results_file)
    declaration = ex.declaration_of(assignment())
    recorded = json.loads(results_file.read_text())["experiments"]
    for q in declaration.questions_for(recorded):
        grader.answer(q.id, ex.decide(q, recorded)[0], path=results_file)
    return json.loads(results_file.read_text())
