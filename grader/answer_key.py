"""The answer key of a practical's experiments, for instructors: ``grade answer-key NAME``.

Runs the reference solution (trusted: it runs here, in the grader's process; student code
never does) on every experiment the practical declares (:mod:`grader.experiments`), over
several seeds, on the GPU when there is one and the CPU otherwise, and stores per experiment
the range over seeds of each reported quantity (per-epoch bands of the train and valid losses,
final losses, best epoch, test accuracy, time) in a JSON key — by default
``answer_key.json`` in the practical's hidden checks folder, where grading looks for it
(``$GRADER_ANSWER_KEY`` points elsewhere; students never get it: it holds the reference's
curves) — plus ``answer_key.html`` beside it: the reference curves (bands over seeds) and a
table to show in class.

Resumable: each finished (experiment, seed) is written to the key at once and skipped when the
command runs again with the same profile, data and declarations.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

from grader import experiments as ex
from grader.i18n import N_, _

PROFILES = {"quick": N_("reduced"), "handout": N_("the handout's")}

KEY_FORMAT = 1


def fingerprint(experiment: ex.Experiment) -> str:
    """What a saved run depends on: a changed declaration runs again."""
    text = json.dumps({"config": experiment.config, "format": KEY_FORMAT}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pick_device(device: str | None = None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


class Runner:
    """One reference run per (experiment, seed), on prepared data."""

    def __init__(self, assignment, device: str, data_root=None):
        self.assignment = assignment
        self.device = device
        self.reference = _load_reference(assignment)
        self.data_root = data_root
        self._data: dict[str, tuple] = {}

    def data(self, source: str):
        if source not in self._data:
            import torch

            train, valid, test = ex.splits(self.assignment, source, self.data_root)
            self._data[source] = tuple(t.to(self.device) if isinstance(t, torch.Tensor) else t
                                       for part in (train, valid, test)
                                       for t in (part.images, part.labels))
        return self._data[source]

    def run(self, experiment: ex.Experiment, seed: int, epochs: int | None = None) -> dict:
        """The reference on one experiment and seed: the loaders of experiment_data, the model
        built right after seeding, fit, then the test accuracy of the best epoch's weights."""
        import torch
        from torch import nn

        from grader.training import seed_everything

        c = experiment.config
        epochs = experiment.epochs if epochs is None else epochs
        if self.device == "cpu":  # the grader's thread count: the same numbers on every machine
            seed_everything(seed, int(getattr(self.assignment, "threads", 1)))
        x, y, xv, yv, xt, yt = self.data(c["data"])
        loaders = ex.make_loaders(x, y, xv, yv, int(c["batch_size"]), seed, xt, yt)
        torch.manual_seed(seed)
        ref = self.reference
        model = ref.MLP(hidden=tuple(c["hidden"]), activation=getattr(nn, c["activation"]))
        model = model.to(self.device)
        optimizer = ref.make_optimizer(c["optimizer"], model.parameters(), float(c["lr"]))
        with tempfile.TemporaryDirectory(prefix="answer-key-") as scratch:
            checkpoint = os.path.join(scratch, "best.pt")
            started = time.perf_counter()
            history = ref.fit(model, loaders[0], loaders[1], nn.CrossEntropyLoss(), optimizer,
                              epochs, checkpoint)
            elapsed = time.perf_counter() - started
            model.load_state_dict(torch.load(checkpoint, weights_only=True))
        n_correct, n_total, _predicted = ref.perf_loop(loaders[2], model)
        train, valid, best = ex.normalize_history(history)
        return {"train_loss": train, "valid_loss": valid, "best_epoch": best,
                "test_accuracy": n_correct / n_total, "time_s": round(elapsed, 3),
                "parameters": int(ref.count_parameters(model)), "seed": seed}


def _load_reference(assignment):
    loader = getattr(assignment, "load_reference", None)
    if callable(loader):
        return loader()
    import importlib

    return importlib.import_module(assignment.reference)


def _batches(assignment, experiment: ex.Experiment) -> int:
    train = int(assignment.settings.get("train_size", 4000))
    return math.ceil(train / int(experiment.config["batch_size"]))


def generate(name: str, *, seeds: int | None = None, quick: bool = False,
             out: str | os.PathLike | None = None, device: str | None = None,
             data_root=None, say: Callable[[str], None] = print, progress=None) -> Path:
    """Make (or finish) the answer key of ``name``; returns the key's path. ``say`` prints the
    time estimate; ``progress(advance, description)`` follows the runs (weights: epochs times
    batches)."""
    from grader.assignment import load_assignment
    from grader.files import write_atomically

    assignment = load_assignment(name)
    declaration = ex.declaration_of(assignment)
    if declaration is None:
        raise ex.ExperimentError(_("{name} declares no experiments ({file})").format(
            name=name, file=ex.DECLARATION_FILE))
    profile = "quick" if quick else "handout"
    seeds = seeds or (int(declaration.quick.get("seeds", 2)) if quick else 3)
    out = Path(out) if out else ex.key_path(assignment)
    out.parent.mkdir(parents=True, exist_ok=True)
    chosen = declaration.profile(quick)
    device = pick_device(device)
    key = _resume(out, profile)
    key.update(assignment=assignment.name, profile=profile, format=KEY_FORMAT,
               seeds=list(range(seeds)), device=device)
    for e in chosen:
        entry = key["experiments"].get(e.id)
        if not entry or entry.get("fingerprint") != fingerprint(e):
            key["experiments"][e.id] = {"fingerprint": fingerprint(e), "runs": {}}
    # Only this profile's experiments and seeds: a key holds what grading compares with.
    key["experiments"] = {e.id: key["experiments"][e.id] for e in chosen}
    for entry in key["experiments"].values():
        entry["runs"] = {s: run for s, run in entry["runs"].items() if int(s) < seeds}
    todo = [(e, s) for e in chosen for s in range(seeds)
            if str(s) not in key["experiments"][e.id]["runs"]]
    runner = Runner(assignment, device, data_root)
    weight = {e.id: e.epochs * _batches(assignment, e) for e in chosen}
    if todo:
        first = todo[0][0]
        runner.run(first, 0, epochs=1)           # warm-up: data, first calls of torch
        started = time.perf_counter()
        runner.run(first, 0, epochs=1)           # one epoch, timed: the estimate
        per_batch = (time.perf_counter() - started) / _batches(assignment, first)
        total = sum(weight[e.id] for e, _seed in todo)
        done = sum(len(v["runs"]) for v in key["experiments"].values())
        line = _("{runs} runs ({epochs} epochs) of the reference on {device}: about {time} (one "
                 "epoch of {first} took {seconds:.2f} s)").format(
            runs=len(todo), epochs=sum(e.epochs for e, _seed in todo), device=device,
            time=_duration(per_batch * total), first=first.id,
            seconds=per_batch * _batches(assignment, first))
        if done:
            line += "; " + _("{count} runs already done are kept").format(count=done)
        say(line)
    else:
        say(_("every run of the {profile} key is already in {key}: nothing to run").format(
            profile=profile, key=out))
    for e, seed in todo:
        if progress:
            progress(0, f"{e.id}, seed {seed}")
        key["experiments"][e.id]["runs"][str(seed)] = runner.run(e, seed)
        summarise(key, declaration, chosen)
        write_atomically(out, json.dumps(key, indent=1) + "\n")   # at once: resumable
        if progress:
            progress(weight[e.id], f"{e.id}, seed {seed}")
    summarise(key, declaration, chosen)
    write_atomically(out, json.dumps(key, indent=1) + "\n")
    write_atomically(html_path(out), render_html(key, declaration))
    return out


def total_weight(name: str, quick: bool, seeds: int | None) -> int:
    from grader.assignment import load_assignment

    assignment = load_assignment(name)
    declaration = ex.declaration_of(assignment)
    if declaration is None:
        return 0
    seeds = seeds or (int(declaration.quick.get("seeds", 2)) if quick else 3)
    return sum(e.epochs * _batches(assignment, e) for e in declaration.profile(quick)) * seeds


def html_path(key: Path) -> Path:
    return key.with_suffix(".html")


def _resume(out: Path, profile: str) -> dict:
    """The runs already in ``out`` when it is a key of the same profile; else a fresh key."""
    try:
        key = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        key = None
    if not isinstance(key, dict) or key.get("profile") != profile \
            or key.get("format") != KEY_FORMAT or not isinstance(key.get("experiments"), dict):
        return {"experiments": {}}
    return key


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def summarise(key: dict, declaration: ex.Declaration, chosen: list[ex.Experiment]) -> None:
    """Per experiment: the bands and ranges over the seeds run so far; per question: the
    answer of each seed."""
    by_id = {e.id: e for e in chosen}
    for experiment_id, entry in key["experiments"].items():
        e = by_id[experiment_id]
        runs = [entry["runs"][s] for s in sorted(entry["runs"], key=int)]
        entry.update(title=e.title, config=e.config, epochs=e.epochs,
                     declared_parameters=e.parameters)
        if not runs:
            continue
        entry["band"] = {curve: {stat: [f(r[curve][i] for r in runs) for i in range(e.epochs)]
                                 for stat, f in (("min", min), ("max", max), ("mean", _mean))}
                         for curve in ("train_loss", "valid_loss")}
        entry["ranges"] = {name: [min(values), max(values)] for name, values in {
            "final_train_loss": [r["train_loss"][-1] for r in runs],
            "final_valid_loss": [r["valid_loss"][-1] for r in runs],
            "min_valid_loss": [min(r["valid_loss"]) for r in runs],
            "test_accuracy": [r["test_accuracy"] for r in runs],
            "best_epoch": [r["best_epoch"] for r in runs],
            "time_s": [r["time_s"] for r in runs],
            "parameters": [r["parameters"] for r in runs]}.items()}
    answers = {}
    for q in declaration.questions_for(by_id):
        entries = [key["experiments"][exp]["runs"] for exp in q.choices.values()]
        common = sorted(set.intersection(*(set(r) for r in entries)), key=int)
        votes = {s: ex.decide(q, {exp: key["experiments"][exp]["runs"][s]
                                  for exp in q.choices.values()})[0] for s in common}
        answers[q.id] = {"text": q.text, "votes": votes, "choices": list(q.choices)}
    key["answers"] = answers


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


# --------------------------------------------------------------------------------------------
# The HTML page: curves and table for the class
# --------------------------------------------------------------------------------------------



def _span(values, fmt: str) -> str:
    if not values:
        return "—"
    lo, hi = values
    if lo is None or hi is None:
        return "—"
    return format(lo, fmt) if lo == hi else f"{format(lo, fmt)}–{format(hi, fmt)}"


def render_html(key: dict, declaration: ex.Declaration) -> str:
    from markupsafe import Markup

    rows = []
    for experiment_id, entry in key["experiments"].items():
        if "ranges" not in entry:
            continue
        r, c = entry["ranges"], entry["config"]
        config = _("{model} {layers}, {activation}, {optimizer} lr {lr:g}, batch {batch}, "
                   "{epochs} epochs").format(
            model=c["model"], layers="-".join(map(str, [784, *c["hidden"], 10])),
            activation=c["activation"], optimizer=c["optimizer"], lr=c["lr"],
            batch=c["batch_size"], epochs=entry["epochs"])
        # The SVG is drawn here from the reference's own numbers: safe to inline.
        svg = ex.band_svg(_("{title}, {count} epochs").format(title=entry["title"],
                                                             count=entry["epochs"]),
                          entry["band"])
        svg = svg[svg.find("<svg"):]
        rows.append({"id": experiment_id, "title": entry["title"], "config": config,
                     "parameters": _span(r["parameters"], ","),
                     "final_train_loss": _span(r["final_train_loss"], ".3f"),
                     "final_valid_loss": _span(r["final_valid_loss"], ".3f"),
                     "best_epoch": _span(r["best_epoch"], "d"),
                     "test_accuracy": _span(r["test_accuracy"], ".3f"),
                     "time_s": _span(r["time_s"], ".1f"), "svg": Markup(svg)})
    questions = []
    for q in key.get("answers", {}).values():
        votes = list(q["votes"].values())
        if not votes:
            continue
        counts = {c: votes.count(c) for c in q["choices"] if c in votes}
        best = max(counts, key=counts.get)
        split = ", ".join(f"{c}: {n}" for c, n in counts.items()) if len(counts) > 1 else ""
        questions.append({"text": q["text"], "answer": best, "split": split})
    from grader import i18n, reports
    from grader.assignment import load_assignment

    try:
        title = _(load_assignment(key["assignment"]).title)
    except Exception:
        title = key["assignment"]
    return reports.ENV.get_template("answer_key.html.j2").render(
        title=title, seeds=key["seeds"], profile=_(PROFILES[key["profile"]]),
        device=key["device"], rows=rows, questions=questions, lang=i18n.current())
