"""The experiments of a practical: declared, recorded by students, checked when grading.

Most of a handout like MLP_pixels is experiments (SGD with batch 64, then batch 16; Sigmoid vs
ReLU; SGD vs Adam; three architectures), each ending in "Conclusion ?". Three parts:

* **Declarations** — ``assignments/<name>/experiments.toml``: each experiment's configuration
  (model, activation, optimiser, lr, batch size, epochs, data), what the student reports, and
  the handout's questions that have one answer (:class:`Declaration`). A reduced profile
  (``[quick]``: fewer experiments, fewer epochs) serves the grader's tests and
  ``grade answer-key --quick``.
* **Recording, for students** — :func:`record` (``grader.record``) and :func:`answer`
  (``grader.answer``) write ``<notebook stem>.experiments.json`` next to the notebook
  (atomically); :func:`experiment_data` (``grader.experiment_data``) gives the loaders of an
  experiment and seeds torch, so that the grader can replay it. None of this needs the judge or
  the sandbox, and all of it works offline.
* **Checking, in the judge** — :func:`grade_experiments`: each recorded quantity against the
  answer key's range over seeds (:mod:`grader.answer_key`), the curves against themselves
  (best epoch = argmin of the valid curve, a test accuracy that is k / n_test), the conclusions
  against the student's own numbers and the key, and authenticity by replay: the first epochs
  of one or two experiments, drawn from the submission, run again in the student process with
  the student's own ``MLP``, ``make_optimizer`` and ``fit`` and the reported seed; the judge
  compares them with the reported start of the curves. A neighbour's numbers presented under
  one's own seed, or invented curves, do not replay.

The replay (:func:`_replay_in_child`) drives the student process from here, through handles:
the child runs the student's code and the grader's standard loader helper and sends back the
history as data; the judge decides. (A submission that detects the replay in its own process
could forge what it sends back: the replay is evidence against copied or invented numbers, not
a proof against code written to deceive it.)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grader.i18n import N_, _, ngettext

DECLARATION_FILE = "experiments.toml"
RESULTS_SUFFIX = ".experiments.json"
KEY_FILE = "answer_key.json"
KEY_ENV = "GRADER_ANSWER_KEY"      # an answer key elsewhere than assignments/<name>/answer_key.json
RESULTS_FORMAT = 1
MAX_RESULTS_BYTES = 2_000_000      # a results file is a few kB; a bigger one is not read
MAX_EPOCHS = 10_000
QUANTITIES = {"final_train_loss", "final_valid_loss", "min_valid_loss", "mean_train_loss",
              "test_accuracy"}
# How messages name the quantities a question compares.
QUANTITY_NAMES = {"final_train_loss": N_("final train loss"),
                  "final_valid_loss": N_("final valid loss"),
                  "min_valid_loss": N_("lowest valid loss"),
                  "mean_train_loss": N_("mean train loss over the epochs"),
                  "test_accuracy": N_("test accuracy")}
CURVE_LABELS = {"train_loss": (N_("reference train loss (seeds)"), N_("your train loss")),
                "valid_loss": (N_("reference valid loss (seeds)"), N_("your valid loss"))}
CONFIG_KEYS = ("model", "hidden", "activation", "optimizer", "lr", "batch_size", "epochs", "data")


class ExperimentError(ValueError):
    """Something recorded or declared is not what it should be; the message says what and how
    to fix it."""


# --------------------------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------------------------

@dataclass
class Experiment:
    id: str
    title: str
    config: dict[str, Any]           # CONFIG_KEYS
    reports: list[str]
    points: float = 1.0
    parameters: int | None = None    # the handout's parameter count, when it gives one

    @property
    def epochs(self) -> int:
        return int(self.config["epochs"])


@dataclass
class Question:
    id: str
    text: str
    choices: dict[str, str]          # answer -> the experiment that makes it right
    quantity: str
    better: str                      # "lower" | "higher"
    points: float = 1.0


@dataclass
class Declaration:
    assignment: str
    experiments: list[Experiment]
    questions: list[Question]
    tolerance: dict[str, float]
    quick: dict[str, Any] = field(default_factory=dict)

    def experiment(self, experiment_id: str) -> Experiment:
        for e in self.experiments:
            if e.id == experiment_id:
                return e
        known = ", ".join(e.id for e in self.experiments)
        raise ExperimentError(_("`{id}` is not an experiment of {assignment}; its experiments "
                                "are {known}").format(id=str(experiment_id)[:60],
                                                      assignment=self.assignment, known=known))

    def profile(self, quick: bool) -> list[Experiment]:
        """The experiments of the handout's budget, or of the reduced one (``[quick]``)."""
        if not quick:
            return list(self.experiments)
        wanted = self.quick.get("experiments") or [e.id for e in self.experiments]
        divisor = int(self.quick.get("epochs_divisor", 1))
        least = int(self.quick.get("min_epochs", 1))
        chosen = []
        for experiment_id in wanted:
            e = self.experiment(experiment_id)
            config = dict(e.config, epochs=max(least, e.epochs // divisor))
            chosen.append(Experiment(e.id, e.title, config, e.reports, e.points, e.parameters))
        return chosen

    def questions_for(self, experiment_ids) -> list[Question]:
        """The questions whose every choice is among these experiments."""
        ids = set(experiment_ids)
        return [q for q in self.questions if set(q.choices.values()) <= ids]


def load_declaration(folder: str | os.PathLike, name: str | None = None) -> Declaration | None:
    """The experiments declared in ``folder/experiments.toml``; None when there is none."""
    path = Path(folder) / DECLARATION_FILE
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ExperimentError(_("{path}: {error}").format(path=path, error=e)) from None
    defaults = data.get("defaults", {})
    experiments = []
    for entry in data.get("experiment", []):
        merged = {**defaults, **entry}
        missing = [k for k in ("id", *CONFIG_KEYS) if k not in merged]
        if missing:
            raise ExperimentError(_("{path}: experiment {id} lacks {missing}").format(
                path=path, id=entry.get("id", "?"), missing=", ".join(missing)))
        config = {k: merged[k] for k in CONFIG_KEYS}
        config["hidden"] = [int(h) for h in config["hidden"]]
        experiments.append(Experiment(
            merged["id"], merged.get("title", merged["id"]), config,
            list(merged.get("reports", [])), float(merged.get("points", 1)),
            merged.get("parameters")))
    ids = [e.id for e in experiments]
    if len(set(ids)) != len(ids):
        raise ExperimentError(_("{path}: two experiments share an id").format(path=path))
    questions = []
    for entry in data.get("question", []):
        q = Question(entry["id"], entry["text"], dict(entry["choices"]), entry["quantity"],
                     entry.get("better", "lower"), float(entry.get("points", 1)))
        unknown = [v for v in q.choices.values() if v not in ids]
        if unknown or q.quantity not in QUANTITIES or q.better not in ("lower", "higher"):
            raise ExperimentError(_("{path}: question {id}: unknown experiments {unknown}, or a "
                                    "quantity not in {quantities}, or better not lower/higher"
                                    ).format(path=path, id=q.id, unknown=unknown,
                                             quantities=", ".join(sorted(QUANTITIES))))
        questions.append(q)
    return Declaration(name or Path(folder).name, experiments, questions,
                       dict(data.get("tolerance", {})), dict(data.get("quick", {})))


def declaration_of(assignment) -> Declaration | None:
    return load_declaration(assignment.folder, assignment.name)


def _assignment_of(experiment_id: str, assignment: str | None):
    """The assignment declaring ``experiment_id`` (the named one, else the one that has it)."""
    from grader.assignment import list_assignments, load_assignment

    if assignment is not None:
        found = load_assignment(assignment)
        declaration = declaration_of(found)
        if declaration is None:
            raise ExperimentError(_("{name} declares no experiments").format(name=found.name))
        declaration.experiment(experiment_id)
        return found, declaration
    known = []
    for candidate in list_assignments():
        declaration = declaration_of(candidate)
        if declaration is None:
            continue
        if any(e.id == experiment_id for e in declaration.experiments):
            return candidate, declaration
        known += [e.id for e in declaration.experiments]
    raise ExperimentError(_("no practical declares an experiment `{id}`; the experiments are "
                            "{known}").format(id=str(experiment_id)[:60],
                                              known=", ".join(known) or "—"))


# --------------------------------------------------------------------------------------------
# Data: the same loaders in the student's notebook, in the replay and in the answer key
# --------------------------------------------------------------------------------------------

def splits(assignment, data: str = "offline", root=None):
    """(train, valid, test) of an experiment: the practical's split of the data source."""
    from grader import data as datasets

    settings = assignment.settings
    sizes = [int(settings.get("train_size", 4000)), int(settings.get("valid_size", 500)),
             int(settings.get("test_size", 500))]
    pool = datasets.resolve_dataset(data, root=root)
    return pool.split(sizes, seed=int(settings.get("split_seed", 0)))


def make_loaders(x, y, xv, yv, batch_size: int, seed: int, xt=None, yt=None):
    """The train loader shuffled by its own generator seeded with ``seed``; valid (and test)
    in order; all with the experiment's batch size."""
    from grader.training import make_loader

    loaders = [make_loader(x, y, batch_size=batch_size, shuffle=True, seed=seed),
               make_loader(xv, yv, batch_size=batch_size)]
    if xt is not None:
        loaders.append(make_loader(xt, yt, batch_size=batch_size))
    return tuple(loaders)


def experiment_data(experiment_id: str, seed: int = 0, *, assignment: str | None = None,
                    data_dir=None):
    """``train_loader, valid_loader, test_loader = grader.experiment_data("sgd_b64", seed=0)``.

    The loaders of the experiment (the practical's data, the experiment's batch size, the train
    loader shuffled from ``seed``), and torch seeded with ``seed``: build the model right after
    this call, so the grader's replay of your experiment draws the same starting weights."""
    import torch

    found, declaration = _assignment_of(experiment_id, assignment)
    experiment = declaration.experiment(experiment_id)
    seed = _seed(seed)
    train, valid, test = splits(found, experiment.config["data"], data_dir)
    loaders = make_loaders(train.images, train.labels, valid.images, valid.labels,
                           int(experiment.config["batch_size"]), seed, test.images, test.labels)
    torch.manual_seed(seed)
    return loaders


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) and not _is_integral(seed):
        raise ExperimentError(_("seed should be an int (the seed given to experiment_data); "
                                "got {type}").format(type=type(seed).__name__))
    return int(seed)


def _is_integral(value) -> bool:
    try:
        return float(value) == int(value)
    except (TypeError, ValueError, OverflowError):
        return False


# --------------------------------------------------------------------------------------------
# Recording (students)
# --------------------------------------------------------------------------------------------

def _number(value, what: str) -> float:
    """A float from a float, int, numpy scalar or one-element tensor; ExperimentError else."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numel") and callable(value.numel):
        if value.numel() != 1:
            raise ExperimentError(_("{what} should be one number; got a tensor of shape "
                                    "{shape}").format(what=what, shape=tuple(value.shape)))
        value = value.item()
    elif hasattr(value, "item") and getattr(value, "size", 1) == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExperimentError(_("{what} should be a number; got {type}").format(
            what=what, type=type(value).__name__))
    value = float(value)
    if not math.isfinite(value):
        raise ExperimentError(_("{what} is {value}: the training diverged or the value is not "
                                "a loss").format(what=what, value=value))
    return value


def _curve(values, what: str) -> list[float]:
    if hasattr(values, "tolist") and not isinstance(values, (list, tuple)):
        values = values.tolist()
    if not isinstance(values, (list, tuple)):
        raise ExperimentError(_("{what} should be a list with one loss per epoch; got {type}"
                                ).format(what=what, type=type(values).__name__))
    if not 1 <= len(values) <= MAX_EPOCHS:
        raise ExperimentError(_("{what} has {count} values: one loss per epoch expected").format(
            what=what, count=len(values)))
    return [_number(v, f"{what}[{i}]") for i, v in enumerate(values)]


def normalize_history(history) -> tuple[list[float], list[float], int | None]:
    """(train_loss, valid_loss, best_epoch or None) from what ``fit`` returns — the handout's
    dict ``{"train_loss": [...], "valid_loss": [...], "best_epoch": i}`` — or a list of
    per-epoch (train_loss, valid_loss) pairs, or a pair of lists."""
    best = None
    if isinstance(history, dict):
        missing = [k for k in ("train_loss", "valid_loss") if k not in history]
        if missing:
            raise ExperimentError(_("history has no {missing} (its keys: {keys}): pass what fit "
                                    "returns, {{'train_loss': [...], 'valid_loss': [...], "
                                    "'best_epoch': i}}").format(
                missing=", ".join(missing), keys=", ".join(sorted(map(str, history))[:8])))
        train = _curve(history["train_loss"], "history['train_loss']")
        valid = _curve(history["valid_loss"], "history['valid_loss']")
        if history.get("best_epoch") is not None:
            best = _epoch(history["best_epoch"], "history['best_epoch']")
    elif isinstance(history, (list, tuple)) and len(history) == 2 and all(
            isinstance(h, (list, tuple)) or hasattr(h, "tolist") for h in history) and not all(
            isinstance(h, (list, tuple)) and len(h) == 2 for h in history):
        train, valid = _curve(history[0], "history[0] (train losses)"), _curve(
            history[1], "history[1] (valid losses)")
    elif isinstance(history, (list, tuple)) and history and all(
            isinstance(h, (list, tuple)) and len(h) == 2 for h in history):
        train = [_number(h[0], f"history[{i}][0] (train loss)") for i, h in enumerate(history)]
        valid = [_number(h[1], f"history[{i}][1] (valid loss)") for i, h in enumerate(history)]
    else:
        raise ExperimentError(_("history should be what fit returns (a dict with train_loss and "
                                "valid_loss) or a list of (train_loss, valid_loss) per epoch; "
                                "got {type}").format(type=type(history).__name__))
    if len(train) != len(valid):
        raise ExperimentError(_("history has {n_train} train losses and {n_valid} valid losses: "
                                "one of each per epoch expected").format(n_train=len(train),
                                                                         n_valid=len(valid)))
    return train, valid, best


def _epoch(value, what: str) -> int:
    number = _number(value, what)
    if number != int(number) or number < 0:
        raise ExperimentError(_("{what} should be an epoch index (an int >= 0); got {value}"
                                ).format(what=what, value=repr(value)[:60]))
    return int(number)


def normalize_accuracy(value) -> float:
    """A fraction in [0, 1] from a fraction, a percentage, or what perf_loop returns
    ((n_correct, n_total, y_pred) or (n_correct, n_total))."""
    if isinstance(value, (list, tuple)) and len(value) in (2, 3):
        correct, total = _number(value[0], "n_correct"), _number(value[1], "n_total")
        if total <= 0:
            raise ExperimentError(_("test_accuracy: n_total is 0 — did perf_loop see the test "
                                    "loader?"))
        value = correct / total
    value = _number(value, "test_accuracy")
    if 1.0 < value <= 100.0:
        value /= 100.0  # a percentage
    if not 0.0 <= value <= 1.0:
        raise ExperimentError(_("test_accuracy should be a fraction in [0, 1] (or a "
                                "percentage); got {value:g}").format(value=value))
    return value


def results_path(path=None, assignment: str | None = None) -> Path:
    """Where :func:`record` writes: ``path`` itself when it ends in ``.experiments.json``,
    ``<stem>.experiments.json`` next to a notebook or script given as ``path``; else next to the
    notebook this kernel runs (VS Code, JupyterLab), or the script being run, or the
    practical's notebook in the working folder (``MLP_pixels.experiments.json``)."""
    if path is not None:
        path = Path(path).expanduser()
        return path if path.name.endswith(RESULTS_SUFFIX) else path.with_name(
            path.stem + RESULTS_SUFFIX)
    running = _running_file()
    if running is not None:
        return running.with_name(running.stem + RESULTS_SUFFIX)
    from grader.assignment import list_assignments

    names = [f for a in list_assignments() if assignment in (None, a.name)
             for f in a.files if f.endswith(".ipynb")]
    here = {p.name.lower(): p for p in Path.cwd().glob("*.ipynb")}
    for name in names:
        if name.lower() in here:
            found = here[name.lower()]
            return found.with_name(found.stem + RESULTS_SUFFIX)
    stem = Path(names[0]).stem if names else "experiments"
    return Path.cwd() / (stem + RESULTS_SUFFIX)


def _running_file() -> Path | None:
    try:
        from IPython import get_ipython

        namespace = getattr(get_ipython(), "user_ns", None) or {}
    except ImportError:
        namespace = {}
    vscode = namespace.get("__vsc_ipynb_file__")
    if vscode and Path(vscode).is_file():
        return Path(vscode)
    session = os.environ.get("JPY_SESSION_NAME") or namespace.get("__session__")
    if session:
        for candidate in (Path(session), Path.cwd() / Path(session).name):
            if candidate.suffix == ".ipynb" and candidate.is_file():
                return candidate
    if not namespace:  # `python mlp_pixels.py`; not a tool's entry point (python -m pytest)
        main = getattr(sys.modules.get("__main__"), "__file__", None)
        if main and Path(main).suffix == ".py" and Path(main).is_file() \
                and Path(main).name != "__main__.py" \
                and Path(sys.prefix).resolve() not in Path(main).resolve().parents:
            return Path(main).resolve()
    return None


def read_results(path: str | os.PathLike) -> dict:
    """A results file as a dict (``{"experiments": {...}, "answers": {...}}``); ExperimentError
    when it cannot be read."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_RESULTS_BYTES:
            raise ExperimentError(_("{file} is {size:,} bytes: a results file is a few kB (was "
                                    "something else written there?)").format(
                file=path.name, size=path.stat().st_size))
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ExperimentError(_("{file} cannot be read ({error}): record your experiments again "
                                "with grader.record(...)").format(file=path.name,
                                                                  error=type(e).__name__)) from None
    if not isinstance(data, dict) or not isinstance(data.get("experiments", {}), dict) \
            or not isinstance(data.get("answers", {}), dict):
        raise ExperimentError(_("{file} is not a results file written by grader.record").format(
            file=path.name))
    data.setdefault("experiments", {})
    data.setdefault("answers", {})
    return data


def _update(path: Path, change) -> Path:
    from grader.files import write_atomically

    data = read_results(path) if path.is_file() else {"format": RESULTS_FORMAT,
                                                      "experiments": {}, "answers": {}}
    change(data)
    return write_atomically(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def record(experiment_id: str, history, test_accuracy, *, seed, best_epoch=None, time_s=None,
           parameters=None, path=None, assignment: str | None = None) -> Path:
    """Record one experiment's results next to your notebook; returns the results file.

    ``history``: what your ``fit`` returned (train and valid loss per epoch);
    ``test_accuracy``: the test accuracy of the best epoch's weights (a fraction, a percentage,
    or perf_loop's (n_correct, n_total, y_pred)); ``seed``: the seed given to
    ``grader.experiment_data``; ``best_epoch`` (0-based) defaults to fit's ``best_epoch``;
    ``time_s``: the training time; ``parameters``: count_parameters(model).
    Recording again replaces the experiment's earlier results."""
    found, declaration = _assignment_of(experiment_id, assignment)
    experiment = declaration.experiment(experiment_id)
    train, valid, fit_best = normalize_history(history)
    entry = {"seed": _seed(seed), "train_loss": train, "valid_loss": valid,
             "test_accuracy": normalize_accuracy(test_accuracy),
             "best_epoch": fit_best if best_epoch is None else _epoch(best_epoch, "best_epoch"),
             "time_s": None if time_s is None else _number(time_s, "time_s"),
             "parameters": None if parameters is None else int(_number(parameters, "parameters")),
             "data": experiment.config["data"],
             "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if entry["best_epoch"] is not None and entry["best_epoch"] >= len(train):
        raise ExperimentError(_("best_epoch {best} is past the last epoch ({count} epochs, "
                                "counted from 0)").format(best=entry["best_epoch"],
                                                          count=len(train)))
    target = results_path(path, found.name)

    def change(data):
        data["assignment"] = found.name
        data["experiments"][experiment_id] = entry

    return _update(target, change)


def answer(question_id: str, choice: str, *, path=None, assignment: str | None = None) -> Path:
    """Record your conclusion to one of the handout's questions, e.g.
    ``grader.answer("sgd_or_adam_faster", "Adam")``; the choices are listed in the practical's
    experiments.toml (and in the error message when a choice is not one of them)."""
    from grader.assignment import list_assignments, load_assignment

    candidates = [load_assignment(assignment)] if assignment else list_assignments()
    for found in candidates:
        declaration = declaration_of(found)
        question = next((q for q in (declaration.questions if declaration else [])
                         if q.id == question_id), None)
        if question is None:
            continue
        if choice not in question.choices:
            same = [c for c in question.choices if str(c).lower() == str(choice).strip().lower()]
            if len(same) != 1:
                raise ExperimentError(_("{id}: {choice} is not a choice; answer one of "
                                        "{choices}").format(
                    id=question.id, choice=repr(str(choice)[:40]),
                    choices=", ".join(map(repr, question.choices))))
            choice = same[0]

        def change(data, found=found):
            data["assignment"] = found.name
            data["answers"][question_id] = choice

        return _update(results_path(path, found.name), change)
    raise ExperimentError(_("no practical asks a question `{id}`").format(
        id=str(question_id)[:60]))


# --------------------------------------------------------------------------------------------
# The answer key: where it is, what it says
# --------------------------------------------------------------------------------------------

def key_path(assignment) -> Path:
    """``$GRADER_ANSWER_KEY`` when set, else ``answer_key.json`` in the practical's hidden
    checks folder (``assignments/<name>/hidden/``, or ``$GRADER_HIDDEN_DIR/<name>/``): with
    what instructors keep to themselves — it holds the reference's own curves, so it is neither
    exported to students (``grade export-student``) nor visible to the student process."""
    explicit = os.environ.get(KEY_ENV)
    return Path(explicit) if explicit else assignment.hidden_dir / KEY_FILE


def load_key(path: str | os.PathLike) -> dict | None:
    path = Path(path)
    if not path.is_file():
        return None
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ExperimentError(_("the answer key {path} cannot be read: {error}").format(
            path=path, error=e)) from None
    return key if isinstance(key, dict) and isinstance(key.get("experiments"), dict) else None


def quantity(entry: dict, name: str) -> float:
    """One of :data:`QUANTITIES` from a recorded (or key) run."""
    if name == "final_train_loss":
        return entry["train_loss"][-1]
    if name == "final_valid_loss":
        return entry["valid_loss"][-1]
    if name == "min_valid_loss":
        return min(entry["valid_loss"])
    if name == "mean_train_loss":
        return sum(entry["train_loss"]) / len(entry["train_loss"])
    return entry["test_accuracy"]


def decide(question: Question, runs: dict[str, dict]) -> tuple[str, dict[str, float]]:
    """The right choice given one run per experiment, and the compared values."""
    values = {choice: quantity(runs[exp], question.quantity)
              for choice, exp in question.choices.items()}
    pick = min if question.better == "lower" else max
    return pick(values, key=values.__getitem__), values


# --------------------------------------------------------------------------------------------
# Checking (the judge)
# --------------------------------------------------------------------------------------------

@dataclass
class Graded:
    checks: list = field(default_factory=list)   # CheckResult
    note: str = ""                               # one line for the report


def find_results(submission_file: Path | None) -> Path | None:
    """``<stem>.experiments.json`` next to the submitted notebook or file (any case)."""
    if submission_file is None:
        return None
    wanted = (submission_file.stem + RESULTS_SUFFIX).lower()
    try:
        for candidate in submission_file.parent.iterdir():
            if candidate.name.lower() == wanted and candidate.is_file() \
                    and not candidate.is_symlink():
                return candidate
    except OSError:
        return None
    return None


def grade_experiments(assignment, process, submission_file: Path | None, *,
                      data_source: str = "offline", data_root=None) -> Graded:
    """The experiment checks of one submission (none when the practical declares none, or when
    no results file was handed in: then a note says so)."""
    declaration = declaration_of(assignment)
    if declaration is None:
        return Graded()
    results_file = find_results(submission_file)
    stem = submission_file.stem if submission_file is not None else assignment.module
    if results_file is None:
        return Graded(note=_("experiments not graded: no {file} next to the submission "
                             "(grader.record(...) in the notebook writes it); the code checks are "
                             "not affected").format(file=stem + RESULTS_SUFFIX))
    try:
        results = read_results(results_file)
        key = load_key(key_path(assignment))
    except ExperimentError as e:
        return Graded(checks=[_check("experiments", 1.0, 0.0, str(e))])
    checker = _Checker(assignment, declaration, key, results, results_file, process,
                       data_source, data_root)
    return Graded(checks=checker.run(), note=checker.note)


# What each kind of check verifies, shown under its name in the reports.
DESCRIPTIONS = {
    "experiment": N_("The results you recorded for this experiment: consistent with themselves "
                     "(best epoch, test accuracy), within the reference's range over seeds, and "
                     "— for one or two experiments drawn at random — replayed with your code "
                     "and seed."),
    "conclusion": N_("Your conclusion to the handout's question, against your own recorded "
                     "numbers and the reference's."),
}


def _check(name: str, points: float, fraction: float, message: str, details=None):
    from grader.results import FAILED, PASSED, CheckResult

    fraction = min(1.0, max(0.0, fraction))
    kind = name.split()[0]
    return CheckResult(name=name, score=round(points * fraction, 4), max_score=points,
                       status=PASSED if fraction >= 1 - 1e-9 else FAILED, message=message,
                       description=_(DESCRIPTIONS[kind]) if kind in DESCRIPTIONS else "",
                       details=details or {})


class _Checker:
    def __init__(self, assignment, declaration: Declaration, key: dict | None, results: dict,
                 results_file: Path, process, data_source: str, data_root):
        self.assignment, self.declaration = assignment, declaration
        self.results, self.file, self.process = results, results_file, process
        self.data_source, self.data_root = data_source, data_root
        self.tolerance = declaration.tolerance
        if key is not None:  # only experiments with runs: an interrupted key has empty ones
            key = dict(key, experiments={i: v for i, v in key["experiments"].items()
                                         if isinstance(v, dict) and "ranges" in v})
            key = key if key["experiments"] else None
        quick = bool(key and key.get("profile") == "quick")
        self.key = key
        self.experiments = [e for e in declaration.profile(quick)
                            if key is None or e.id in key["experiments"]]
        self.note = "" if key else _("experiments checked without an answer key (grade "
                                     "answer-key): ranges not compared")
        self.recorded: dict[str, dict] = {}
        self._splits = None

    def run(self) -> list:
        checks = [self._guarded(self.experiment_check, e, f"experiment {e.id}")
                  for e in self.experiments]
        checks += [self._guarded(self.question_check, q, f"conclusion {q.id}")
                   for q in self.declaration.questions_for(e.id for e in self.experiments)]
        return checks

    def _guarded(self, check, item, name: str):
        """One check; a grader bug in it fails that check with a message for the instructor,
        never the whole grading (as a broken pytest check does)."""
        try:
            return check(item)
        except Exception as error:  # noqa: BLE001 — reported, not swallowed
            result = _check(name, item.points, 0.0, _(
                "the check itself failed ({error}); this is a grader problem, not your code's — "
                "tell your instructor").format(error=f"{type(error).__name__}: {error}"[:300]))
            result.grader_error = True
            return result

    # ------------------------------------------------------------ one experiment

    def experiment_check(self, e: Experiment):
        name = f"experiment {e.id}"
        raw = self.results["experiments"].get(e.id)
        if raw is None:
            return _check(name, e.points, 0.0, _(
                "experiment {id} ({title}): not recorded in {file} — run it, then "
                "grader.record(\"{id}\", history, test_accuracy, seed=SEED)").format(
                id=e.id, title=e.title, file=self.file.name))
        try:
            entry = self._entry(raw)
        except ExperimentError as err:
            return _check(name, e.points, 0.0, _("experiment {id}: {error}").format(
                id=e.id, error=err))
        expected_epochs = int(self.key["experiments"][e.id]["epochs"]) if self.key else e.epochs
        n = len(entry["train_loss"])
        if n != expected_epochs:
            return _check(name, e.points, 0.0, _(
                "experiment {id} ({title}): {count} epochs recorded, the experiment asks for "
                "{expected}").format(id=e.id, title=e.title, count=n, expected=expected_epochs))
        self.recorded[e.id] = entry
        problems, passed, total = [], 0, 0
        # Consistency with itself.
        argmin = min(range(n), key=entry["valid_loss"].__getitem__)
        total += 1
        best = entry["best_epoch"]
        # 0-based (fit's convention) or 1-based (as printed); a tie with the minimum is fine too.
        if best in (None, argmin, argmin + 1) or (
                best < n and entry["valid_loss"][best] == entry["valid_loss"][argmin]):
            passed += 1
        else:
            problems.append(_("best_epoch {best} is not the epoch of the lowest valid loss "
                              "({argmin}, counted from 0: {loss:.4f}) — fit should keep the best "
                              "epoch, and the test accuracy be that epoch's").format(
                best=entry["best_epoch"], argmin=argmin, loss=entry["valid_loss"][argmin]))
        total += 1
        n_test = int(self.assignment.settings.get("test_size", 500))
        k = entry["test_accuracy"] * n_test
        if abs(k - round(k)) <= 0.01:
            passed += 1
        else:
            problems.append(_("test_accuracy {accuracy:.4f} is not a count out of the {n} test "
                              "images (k / {n}): was it measured on the test loader of "
                              "experiment_data, over every batch?").format(
                accuracy=entry["test_accuracy"], n=n_test))
        if e.parameters is not None and entry.get("parameters") is not None:
            total += 1
            if int(entry["parameters"]) == int(e.parameters):
                passed += 1
            else:
                problems.append(_("{count:,} parameters recorded; this architecture has "
                                  "{expected:,}").format(count=entry["parameters"],
                                                         expected=e.parameters))
        consistency = passed / total
        # Against the key's range over seeds.
        details = {"experiment": {"id": e.id, "title": e.title, "train_loss": entry["train_loss"],
                                  "valid_loss": entry["valid_loss"], "seed": entry["seed"]}}
        in_range = None
        if self.key:
            band = self.key["experiments"][e.id]
            in_range, range_problems = self._ranges(entry, band)
            problems += range_problems
            details["experiment"]["band"] = band.get("band", {})
            figure = _figure(e, entry, band)
            if figure:
                details["experiment_figure"] = figure
        fraction = consistency if in_range is None else 0.5 * consistency + 0.5 * in_range
        # Authenticity: is this one of the experiments replayed?
        replayed = ""
        if e.id in self._replay_ids():
            ok, message = self._replay(e, entry)
            replayed = message
            if not ok:
                fraction = 0.0
                problems.insert(0, message)
        head = _("experiment {id} ({title}), seed {seed}").format(id=e.id, title=e.title,
                                                                  seed=entry["seed"])
        if problems:
            message = head + ": " + "; ".join(problems)
        else:
            message = head + ": " + (_("consistent and within the reference's range")
                                     if self.key else _("consistent"))
            if replayed:
                message += f"; {replayed}"
        return _check(name, e.points, fraction, message, details)

    def _entry(self, raw) -> dict:
        if not isinstance(raw, dict):
            raise ExperimentError("not an entry written by grader.record")
        train, valid, _best = normalize_history(raw)
        best = raw.get("best_epoch")
        return {"seed": _seed(raw.get("seed")), "train_loss": train, "valid_loss": valid,
                "test_accuracy": normalize_accuracy(raw.get("test_accuracy")),
                "best_epoch": None if best is None else _epoch(best, "best_epoch"),
                "parameters": raw.get("parameters") if isinstance(raw.get("parameters"), int)
                else None}

    def _ranges(self, entry: dict, band: dict) -> tuple[float, list[str]]:
        problems, passed = [], 0
        curves = band.get("band", {})
        rel = float(self.tolerance.get("loss_rel", 0.05))
        for curve in ("train_loss", "valid_loss"):
            lo, hi = curves[curve]["min"], curves[curve]["max"]
            bad = [i for i, v in enumerate(entry[curve])
                   if not _within(v, lo[i], hi[i], rel * (lo[i] + hi[i]) / 2)]
            if bad:
                i = bad[0]
                problems.append(ngettext(
                    "{curve} at epoch {epoch} is {value:.4f}, the reference's seeds give "
                    "{low:.4f}–{high:.4f} ({count} epoch outside the band)",
                    "{curve} at epoch {epoch} is {value:.4f}, the reference's seeds give "
                    "{low:.4f}–{high:.4f} ({count} epochs outside the band)", len(bad)).format(
                    curve=curve, epoch=i + 1, value=entry[curve][i], low=lo[i], high=hi[i],
                    count=len(bad)))
            else:
                passed += 1
        lo, hi = band["ranges"]["test_accuracy"]
        if _within(entry["test_accuracy"], lo, hi, float(self.tolerance.get("accuracy_abs", .03))):
            passed += 1
        else:
            problems.append(_("test accuracy {accuracy:.3f}, the reference's seeds give "
                              "{low:.3f}–{high:.3f}").format(accuracy=entry["test_accuracy"],
                                                            low=lo, high=hi))
        return passed / 3, problems

    # ------------------------------------------------------------ replay

    def _replay_ids(self) -> list[str]:
        if not hasattr(self, "_chosen"):
            # Drawn from the submission: the same file gets the same draw, and a student cannot
            # know in advance which experiments will be replayed.
            digest = hashlib.sha256(self.file.read_bytes()).hexdigest()
            candidates = sorted(e.id for e in self.experiments
                                if e.id in self.results["experiments"])
            count = min(int(self.tolerance.get("replays", 1)), len(candidates))
            self._chosen = random.Random(digest).sample(candidates, count)
        return self._chosen

    def _replay(self, e: Experiment, entry: dict) -> tuple[bool, str]:
        from grader.failures import CheckFailure
        from grader.student_process import StudentModule

        epochs = min(int(self.tolerance.get("replay_epochs", 1)), len(entry["train_loss"]))
        if self.process is None:
            return False, _("experiment {id} could not be replayed: your code could not be "
                            "loaded").format(id=e.id)
        if self._splits is None:
            self._splits = splits(self.assignment, e.config["data"], self.data_root)
        train, valid, _test = self._splits
        student = StudentModule(self.process)
        c = e.config
        what = _("replaying the first {count} epoch(s) of experiment {id} with seed {seed}"
                 ).format(count=epochs, id=e.id, seed=entry["seed"])
        try:
            if not self.process.running:
                self.process.start()
            got = _replay_in_child(student, c, train, valid, entry["seed"], epochs)
        except CheckFailure as err:
            return False, _("experiment {id} could not be replayed ({what}): {error}").format(
                id=e.id, what=what, error=err)
        try:
            got_train, got_valid, _best = normalize_history(got)
        except ExperimentError as err:
            return False, _("experiment {id} could not be replayed: what your fit returned is "
                            "not a history ({error})").format(id=e.id, error=str(err)[:300])
        if len(got_train) != epochs:
            return False, _("experiment {id} could not be replayed: fit(..., epochs={epochs}) "
                            "returned {count} losses").format(id=e.id, epochs=epochs,
                                                              count=len(got_train))
        got = {"train_loss": got_train, "valid_loss": got_valid}
        rtol = float(self.tolerance.get("replay_rtol", 1e-4))
        atol = float(self.tolerance.get("replay_atol", 1e-5))
        for curve in ("train_loss", "valid_loss"):
            for i in range(epochs):
                mine, again = entry[curve][i], got[curve][i]
                if abs(mine - again) > atol + rtol * abs(again):
                    return False, _(
                        "experiment {id} does not replay: with seed {seed} your code gives "
                        "{curve} {again:.6f} at epoch {epoch}, your results say {mine:.6f} — "
                        "recorded results must come from this code, run with "
                        "experiment_data(..., seed=SEED), that seed and the experiment's "
                        "configuration ({config})").format(
                        id=e.id, seed=entry["seed"], curve=curve, again=again, epoch=i + 1,
                        mine=mine, config=describe_config(c))
        return True, _("replayed: the first {count} epoch(s) match").format(count=epochs)

    # ------------------------------------------------------------ questions

    def question_check(self, q: Question):
        name = f"conclusion {q.id}"
        given = self.results["answers"].get(q.id)
        choices = ", ".join(map(repr, q.choices))
        if given is None:
            return _check(name, q.points, 0.0, _(
                "\"{question}\" not answered: grader.answer(\"{id}\", one of {choices})").format(
                question=q.text, id=q.id, choices=choices))
        if given not in q.choices:
            return _check(name, q.points, 0.0, _("\"{question}\": {given} is not one of "
                                                 "{choices}").format(
                question=q.text, given=repr(str(given)[:40]), choices=choices))
        missing = [exp for exp in q.choices.values() if exp not in self.recorded]
        if missing:
            return _check(name, q.points, 0.0, _(
                "\"{question}\": cannot be checked against your numbers — experiment "
                "{missing} not recorded (or not valid)").format(question=q.text,
                                                                missing=", ".join(missing)))
        own, values = decide(q, self.recorded)
        shown = ", ".join(f"{q.choices[c]} {v:.4f}" for c, v in values.items())
        what = _(QUANTITY_NAMES[q.quantity])
        if given != own:
            return _check(name, q.points, 0.0, _(
                "\"{question}\" you answered {given}, which contradicts your own results "
                "({what}: {shown} → {own})").format(question=q.text, given=repr(given),
                                                    what=what, shown=shown, own=repr(own)))
        votes = self._key_votes(q)
        if votes and len(set(votes)) == 1 and votes[0] != own:
            return _check(name, q.points, 0.5, _(
                "\"{question}\" {given} follows your numbers ({what}: {shown}), but every seed "
                "of the reference gives {reference}: look again at experiments {experiments}"
                ).format(question=q.text, given=repr(given), what=what, shown=shown,
                         reference=repr(votes[0]), experiments=", ".join(q.choices.values())))
        return _check(name, q.points, 1.0, _(
            "\"{question}\" {given}: backed by your results ({what}: {shown})").format(
            question=q.text, given=repr(given), what=what, shown=shown))

    def _key_votes(self, q: Question) -> list[str]:
        """The reference's answer per seed; none when a seed's numbers do not decide (two
        quantities closer than the tolerance: after two epochs of a stuck Sigmoid network,
        batch 16 and batch 64 differ by noise)."""
        if not self.key:
            return []
        runs = [self.key["experiments"][exp].get("runs", {}) for exp in q.choices.values()]
        seeds = set.intersection(*(set(r) for r in runs)) if runs else set()
        absolute = float(self.tolerance.get("answer_margin_abs", 0.01))
        relative = float(self.tolerance.get("answer_margin_rel", 0.01))

        def margin(values: list[float]) -> float:
            if q.quantity == "test_accuracy":
                return absolute
            return relative * sum(values) / len(values)

        votes = []
        for s in sorted(seeds):
            choice, values = decide(q, {exp: self.key["experiments"][exp]["runs"][s]
                                        for exp in q.choices.values()})
            others = [v for c, v in values.items() if c != choice]
            if any(abs(values[choice] - v) <= margin(list(values.values())) for v in others):
                return []
            votes.append(choice)
        return votes


def describe_config(config: dict) -> str:
    """``MLP(hidden=(512, 128), activation=nn.Sigmoid), SGD lr 0.01, batch 64``."""
    return (f"MLP(hidden={tuple(config['hidden'])}, activation=nn.{config['activation']}), "
            f"{config['optimizer']} lr {config['lr']:g}, batch {config['batch_size']}")


def starter_cells(assignment) -> list[tuple[str, str]]:
    """The starter notebook's experiment cells, as (kind, source): a helper that runs one
    experiment the way the grader replays it and records it, one call per declared
    experiment, and the questions to answer. Empty when the practical declares none."""
    declaration = declaration_of(assignment)
    if declaration is None:
        return []
    notebook = next((f for f in assignment.files if f.endswith(".ipynb")),
                    f"{assignment.module}.ipynb")
    cells = [("markdown", (
        "## Experiments\n\nRun each experiment of the handout with the cells below, then write "
        "your conclusions. `grader.record` saves the results in "
        f"`{Path(notebook).stem}{RESULTS_SUFFIX}` next to this notebook: hand it in with the "
        "notebook. The grader compares your numbers with the reference's, runs the first "
        "epochs of one or two experiments again with your code and your seed (numbers that do "
        "not come from your code do not replay), and checks each conclusion against your own "
        "numbers.")),
        ("code", (
            "import time\n\n"
            "SEED = 0  # any seed you like: the grader replays your experiments with it\n\n\n"
            "def run_experiment(experiment_id, epochs, optimizer, lr, **mlp_options):\n"
            "    \"\"\"Train a new MLP with fit on the experiment's data (its batch size "
            "included), test the\n    best epoch's weights and record the results.\"\"\"\n"
            "    train_loader, valid_loader, test_loader = grader.experiment_data(experiment_id, "
            "seed=SEED)\n"
            "    model = MLP(**mlp_options)  # right after experiment_data: seeded weights\n"
            "    started = time.time()\n"
            "    history = fit(model, train_loader, valid_loader, nn.CrossEntropyLoss(),\n"
            "                  make_optimizer(optimizer, model.parameters(), lr), epochs, "
            "f\"{experiment_id}.pt\")\n"
            "    model.load_state_dict(torch.load(f\"{experiment_id}.pt\"))\n"
            "    grader.record(experiment_id, history, perf_loop(test_loader, model), seed=SEED,\n"
            "                  time_s=time.time() - started, parameters=count_parameters(model))\n"
            "    return history"))]
    defaults = {"hidden": [512, 128], "activation": "Sigmoid"}
    for e in declaration.experiments:
        c = e.config
        options = "".join(f", {k}={tuple(c[k]) if k == 'hidden' else 'nn.' + c[k]}"
                          for k in ("hidden", "activation") if c[k] != defaults[k])
        cells.append(("code", f"# {e.title}\nhistory = run_experiment(\"{e.id}\", "
                              f"epochs={e.epochs}, optimizer=\"{c['optimizer']}\", "
                              f"lr={c['lr']:g}{options})"))
    if declaration.questions:
        lines = ["# Your conclusions: uncomment each line with the answer your numbers support."]
        for q in declaration.questions:
            lines.append(f"# {q.text}")
            choices = ", ".join(f'"{c}"' for c in q.choices)
            lines.append(f"# grader.answer(\"{q.id}\", ...)  # one of {choices}")
        cells.append(("code", "\n".join(lines)))
    return cells


def _replay_in_child(student, config: dict, train, valid, seed: int, epochs: int):
    """The student's experiment again, in the student process, for its first ``epochs``: the
    loaders of :func:`experiment_data` (the grader's standard loader helper), torch seeded with
    ``seed`` right before the student's MLP is built, the student's make_optimizer and fit (with
    the student's own loops). What comes back is data; the judge compares it."""
    from grader.student_process import call_as

    loader = student.lib("grader.recipes.loader")
    batch = int(config["batch_size"])
    train_loader = loader(train.images, train.labels, batch_size=batch, shuffle=True, seed=seed)
    valid_loader = loader(valid.images, valid.labels, batch_size=batch)
    student.lib("torch.manual_seed")(seed)
    model = call_as(f"MLP(hidden={tuple(config['hidden'])}, activation=nn.{config['activation']})",
                    student.MLP, hidden=tuple(config["hidden"]),
                    activation=student.lib(f"torch.nn.{config['activation']}"))
    optimizer = call_as(f"make_optimizer({config['optimizer']!r}, model.parameters(), "
                        f"{config['lr']:g})", student.make_optimizer, config["optimizer"],
                        model.parameters(), float(config["lr"]))
    loss_fn = student.lib("torch.nn.CrossEntropyLoss")()
    return call_as(f"fit(..., epochs={epochs})", student.fit, model, train_loader, valid_loader,
                   loss_fn, optimizer, epochs, "replay_checkpoint.pt")


def _within(value: float, lo: float, hi: float, margin: float) -> bool:
    half = (hi - lo) / 2
    return lo - margin - half <= value <= hi + margin + half


def _figure(e: Experiment, entry: dict, band: dict) -> dict | None:
    """The student's curves over the key's band, as an SVG data URI for the HTML report."""
    import base64

    try:
        svg = band_svg(_("{title}, {count} epochs").format(title=e.title, count=e.epochs),
                       band.get("band", {}), entry)
    except Exception:  # a figure that cannot be drawn is left out, never a grading error
        return None
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
    return {"uri": uri, "alt": _("{id}: your train and valid losses over the reference's range "
                                 "over seeds").format(id=e.id),
            "caption": _("{title}: your curves (lines) over the reference's range over seeds "
                         "(bands)").format(title=e.title)}


def band_svg(title: str, band: dict, entry: dict | None = None, width: float = 6.0,
             height: float = 3.0) -> str:
    """An SVG figure of the key's bands (min–max over seeds, mean dashed) for the train and
    valid losses, with a student's curves over them when ``entry`` is given."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"train_loss": "#0550ae", "valid_loss": "#bc4c00"}
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    for curve, colour in colours.items():
        if curve in band:
            lo, hi, mean = band[curve]["min"], band[curve]["max"], band[curve]["mean"]
            epochs = range(1, len(lo) + 1)
            ax.fill_between(epochs, lo, hi, color=colour, alpha=0.2,
                            label=_(CURVE_LABELS[curve][0]))
            ax.plot(epochs, mean, color=colour, linestyle=":", linewidth=1)
        if entry is not None:
            values = entry[curve]
            ax.plot(range(1, len(values) + 1), values, color=colour, marker="o", markersize=3,
                    label=_(CURVE_LABELS[curve][1]))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(_("epoch"))
    ax.set_ylabel(_("loss"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.StringIO()
    # Text as SVG text, not glyph outlines: half the size (a report holds one per experiment).
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()
