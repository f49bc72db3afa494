"""The judge-side pytest plugin: fixtures for checks, markers, and one result per check.

Checks are plain pytest tests in ``assignments/<name>/{public,hidden}/test_*.py``::

    @pytest.mark.points(2)
    def test_MLP_parameter_count(student, reference):
        ...

Fixtures: ``student`` (the submission, behind the wall), ``reference`` (the reference module,
here in the judge), ``assignment`` and ``settings`` (from ``assignment.toml``), ``mnist``
(train/test split; the test labels stay here), ``score`` (partial credit, notes, details for
the report). Markers: ``points(n)``, ``time_limit(seconds)`` (per request to the student
process), ``trains`` (the check trains a model: its time counts as training).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from grader import data as datasets
from grader import diagnosis
from grader.assignment import Assignment
from grader.failures import CheckFailure, SubmissionNotLoadable
from grader.results import FAILED, HIDDEN, PASSED, PUBLIC, CheckResult
from grader.sandbox import Isolation
from grader.student_process import StudentModule, StudentProcess

MARKERS = (
    "points(n): points the check is worth",
    "time_limit(seconds_or_setting): time limit of each request this check sends to the "
    "student process (a number, or the name of a setting holding it)",
    "trains: the check trains a model (its time is reported as training time)",
)


class Score:
    """What a check reports besides pass/fail: partial credit, a note, details for reports."""

    def __init__(self) -> None:
        self.fraction: float | None = None
        self.message = ""
        self.details: dict[str, Any] = {}

    def partial(self, fraction: float, message: str) -> None:
        """Award ``fraction`` (0..1) of the check's points, with the reason."""
        self.fraction = float(min(1.0, max(0.0, fraction)))
        self.message = message

    def note(self, message: str) -> None:
        """A message shown even when the check passes (e.g. the accuracy reached)."""
        self.message = message

    def attach(self, key: str, value: Any) -> None:
        """Data for the reports: ``learning_curves``, ``accuracy``, ``confusion_matrix``..."""
        self.details[key] = value

    def award_accuracy(self, predictions: Any, labels, *, low: float, high: float,
                       what: str, context: str = "", history: dict | None = None,
                       n_classes: int = 10) -> float:
        """Score predictions against labels the student process never saw, with linear credit
        between ``low`` and ``high``; attach accuracy, confusion matrix (and learning curves)
        for the report. ``what``: "held-out images"; ``context``: how the model was trained."""
        import torch

        from grader.checks import accuracy, confusion_matrix, linear_credit

        from grader.i18n import _

        acc = accuracy(predictions, labels, _("predictions on the {what}").format(what=what))
        credit = linear_credit(acc, low, high)
        predicted = torch.as_tensor(predictions)
        if predicted.dim() == 2:
            predicted = predicted.argmax(dim=1)
        if history is not None:
            self.attach("learning_curves", history)
        self.attach("accuracy", {"value": acc, "low": low, "high": high, "n_test": len(labels)})
        self.attach("confusion_matrix", confusion_matrix(predicted.reshape(-1), labels, n_classes))
        message = _("accuracy {accuracy:.3f} on {count} {what}{context} (full marks from "
                    "{high:.2f}, none at or below {low:.2f})").format(
            accuracy=acc, count=len(labels), what=what, context=" " + context if context else "",
            high=high, low=low)
        if credit < 1.0:
            message += _(": {credit:.0%} of the points").format(credit=credit)
        self.partial(credit, message)
        return acc


@dataclass
class GradingContext:
    """Everything one grading run needs, prepared by the judge before pytest starts."""

    assignment: Assignment
    process: StudentProcess | None     # None when the submission cannot be loaded
    load_error: str | None
    isolation: Isolation
    hidden: bool
    data_source: str = "offline"
    data_root: str | None = None
    started: float = field(default_factory=time.monotonic)
    _warmup: threading.Thread | None = None

    def warm_up(self) -> None:
        """Spawn the student process here and let it load in the background (it imports torch
        while pytest collects the checks); ``ready`` waits for it."""
        if self.process is not None:
            try:
                self.process.spawn()  # from this long-lived thread: see StudentProcess.spawn
            except CheckFailure:
                return
            self._warmup = threading.Thread(target=self._start_quietly, daemon=True)
            self._warmup.start()

    def _start_quietly(self) -> None:
        try:
            self.process.start()
        except CheckFailure:
            pass  # remembered by the process: the checks that need it will say why

    def ready(self) -> StudentProcess:
        if self._warmup is not None:
            self._warmup.join()
            self._warmup = None
        self.process.start()
        return self.process

    def close(self) -> None:
        if self._warmup is not None:
            self._warmup.join()
        if self.process is not None:
            self.process.close()


class GradingPlugin:
    def __init__(self, context: GradingContext):
        self.context = context
        # The line a known mistake points at is read from the submission's source, statically.
        diagnosis.use_submission(context.process.source if context.process is not None else None)
        self.results: list[CheckResult] = []
        self.collection_errors: list[str] = []
        self.process: StudentProcess | None = None
        self._pending: dict[str, CheckResult] = {}

    # ---------------------------------------------------------------- configuration

    def pytest_configure(self, config):
        for marker in MARKERS:
            config.addinivalue_line("markers", marker)
        # Hidden checks may import hidden-only scenario modules kept next to them (never
        # exported); the judge cleans them from sys.modules after the run.
        hidden_dir = str(self.context.assignment.hidden_dir)
        if self.context.hidden and hidden_dir not in sys.path:
            sys.path.insert(0, hidden_dir)
            self._added_path = hidden_dir

    def pytest_unconfigure(self, config):
        added = getattr(self, "_added_path", None)
        if added in sys.path:
            sys.path.remove(added)

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append(report.longreprtext.strip()[-3000:])

    def pytest_collection_modifyitems(self, session, config, items):
        missing = [item.nodeid for item in items if self._points(item) is None]
        if missing:
            raise pytest.UsageError("checks without points (add @pytest.mark.points(n) or a "
                                    f"[points] entry): {', '.join(missing)}")

    def _points(self, item) -> float | None:
        function = getattr(item, "originalname", item.name)
        if function in self.context.assignment.points:
            return self.context.assignment.points[function]
        marker = item.get_closest_marker("points")
        return float(marker.args[0]) if marker and marker.args else None

    def _time_limit(self, item) -> float:
        """Seconds per request: the marker's number, or the setting it names, or the default."""
        marker = item.get_closest_marker("time_limit")
        if marker is None or not marker.args:
            return self.context.assignment.request_timeout_s
        value = marker.args[0]
        if isinstance(value, str):
            value = self.context.assignment.settings[value]
        return float(value)

    def _visibility(self, item) -> str:
        hidden_dir = self.context.assignment.hidden_dir.resolve()
        return HIDDEN if hidden_dir in item.path.resolve().parents else PUBLIC

    # ---------------------------------------------------------------- fixtures

    @pytest.fixture(scope="session")
    def assignment(self) -> Assignment:
        return self.context.assignment

    @pytest.fixture(scope="session")
    def settings(self) -> dict:
        return self.context.assignment.settings

    @pytest.fixture(scope="session")
    def student(self) -> StudentModule:
        if self.context.load_error:
            raise SubmissionNotLoadable(self.context.load_error)
        self.process = self.context.ready()
        student = StudentModule(self.process)
        # The practical's own child-side module: grader.api.recipe() finds its names there and
        # sends it to the student process on first use.
        side = self.context.assignment.student_side
        if side is not None:
            student.practical_helpers = student_side_names(self.context.assignment)
            student.practical_source = side.read_text()
            student.practical_filename = f"<{self.context.assignment.name} student_side.py>"
        return student

    @pytest.fixture(scope="session")
    def reference(self):
        return self.context.assignment.load_reference()

    @pytest.fixture(scope="session")
    def mnist_pool(self) -> datasets.Dataset:
        """All the MNIST images of the chosen source (offline subset by default)."""
        return datasets.resolve_dataset(self.context.data_source, root=self.context.data_root)

    @pytest.fixture(scope="session")
    def mnist(self, mnist_pool) -> tuple[datasets.Dataset, datasets.Dataset, datasets.Dataset]:
        """(train, valid, test) stratified split of the MNIST pool, sizes from the settings.

        Checks send train and valid labels to the student process, never the test labels.
        """
        return mnist_pool.split(self._split_sizes(), seed=self._split_seed())

    @pytest.fixture(scope="session")
    def mnist_resplit(self, mnist_pool):
        """``mnist_resplit(seed)``: (train, valid, test) with train and valid drawn again with
        ``seed`` and the very test images of ``mnist`` — no check ever sends those with their
        labels to the student process, so a second training is still scored on unseen images."""
        return lambda seed: mnist_pool.resplit(self._split_sizes(), seed=seed,
                                               test_seed=self._split_seed())

    def _split_sizes(self) -> list[int]:
        settings = self.context.assignment.settings
        return [int(settings.get("train_size", 4000)), int(settings.get("valid_size", 500)),
                int(settings.get("test_size", 500))]

    def _split_seed(self) -> int:
        return int(self.context.assignment.settings.get("split_seed", 0))

    @pytest.fixture(scope="session")
    def usps(self) -> tuple[datasets.Dataset, datasets.Dataset]:
        """(train, test) USPS 16x16 digits (real USPS when cached, else MNIST resized)."""
        return datasets.resolve_usps(self.context.data_root)

    @pytest.fixture
    def score(self) -> Score:
        return Score()

    # ---------------------------------------------------------------- running checks

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        budget = self.context.assignment.time_budget_s
        if time.monotonic() - self.context.started > budget:
            raise CheckFailure(f"not run: the grading time budget of {budget:g} s was used up "
                               "by earlier checks")
        if self.process is not None:
            self.process.request_timeout = self._time_limit(item)
            if self.process.running:
                self.process.reseed()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        result = self._pending.get(item.nodeid)
        if result is None:
            result = CheckResult(name=check_name(item, self.context.assignment.required), score=0.0,
                                 max_score=self._points(item) or 0.0, status=PASSED,
                                 visibility=self._visibility(item),
                                 description=_doc(item),
                                 trains=item.get_closest_marker("trains") is not None)
            self._pending[item.nodeid] = result
        result.duration_s += report.duration
        if report.when == "call" and report.passed:
            score: Score | None = item.funcargs.get("score") if hasattr(item, "funcargs") else None
            fraction = 1.0 if score is None or score.fraction is None else score.fraction
            result.score = round(result.max_score * fraction, 4)
            result.status = PASSED if fraction >= 1.0 - 1e-9 else FAILED
            if score is not None:
                result.message, result.details = score.message, score.details
        elif report.failed and result.status == PASSED and result.score == 0.0:
            result.status = FAILED
            result.message, result.grader_error = failure_message(call.excinfo)
            score = item.funcargs.get("score") if hasattr(item, "funcargs") else None
            if score is not None:
                result.details = score.details
            mistake = diagnosis.key_of(call.excinfo.value if call.excinfo else None)
            if mistake:
                result.details = {**result.details, "diagnosis": mistake}
        elif report.skipped:
            result.status = FAILED
            result.message = f"not run: {skip_reason(report)}"
        if report.when == "teardown":
            self.results.append(self._pending.pop(item.nodeid))


def student_side_names(assignment: Assignment) -> frozenset[str]:
    """Top-level names of the practical's ``student_side.py`` (read here, never run here)."""
    import ast

    path = assignment.student_side
    if path is None:
        return frozenset()
    names = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return frozenset(names)


# One check function may check several elements: ``test_element_forward_values`` parametrized
# over ``element`` (the required names) gives ``MSELoss forward values``, ``BCELoss forward
# values``... as if each were its own function.
ELEMENT_PARAMETER = "element"


def check_name(item, elements: list[str]) -> str:
    """``test_train_loop_matches_reference[sgd]`` → ``train_loop matches reference [sgd]``.

    The interface names of the assignment (``elements``) keep their underscores, so a check's
    name starts with the element it checks. A function named ``test_element_...`` and
    parametrized over ``element`` is named after the element of each case.
    """
    base = getattr(item, "originalname", item.name)
    stem = base.removeprefix("test_")
    params = item.name[len(base):]
    callspec = getattr(item, "callspec", None)
    if (callspec is not None and ELEMENT_PARAMETER in callspec.params
            and stem.startswith(ELEMENT_PARAMETER + "_")):
        element = str(callspec.params[ELEMENT_PARAMETER])
        rest = stem[len(ELEMENT_PARAMETER) + 1:].replace("_", " ")
        ids = params.strip("[]").split("-") if params else []
        others = [i for i in ids if i != element]
        suffix = f" [{'-'.join(others)}]" if others else ""
        return f"{element} {rest}{suffix}".strip()
    for element in sorted(elements, key=len, reverse=True):
        if stem == element or stem.startswith(element + "_"):
            name = f"{element} {stem[len(element):].lstrip('_').replace('_', ' ')}".strip()
            break
    else:
        name = stem.replace("_", " ")
    return f"{name} {params}".strip()


def _doc(item) -> str:
    from grader.i18n import check_description  # the folded docstring is the msgid

    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    text = check_description(doc)
    callspec = getattr(item, "callspec", None)
    if callspec is not None and ELEMENT_PARAMETER in callspec.params:
        text = text.replace("{element}", str(callspec.params[ELEMENT_PARAMETER]))
    return text


def failure_message(excinfo) -> tuple[str, bool]:
    """The student-facing message of a failed check, and whether the check itself broke."""
    from grader.i18n import _

    if excinfo is None:
        return _("failed"), False
    exc = excinfo.value
    if isinstance(exc, AssertionError):  # CheckFailure and plain asserts in checks
        text = str(exc).strip()
        return text or _("assertion failed"), False
    return (_("the check itself failed ({error}); this is a grader problem, not your code's — "
              "tell your instructor").format(error=f"{type(exc).__name__}: {exc}"), True)


def skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)
