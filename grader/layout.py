"""The traps of an assignment folder, each found before it costs anything: one line per problem,
naming the file to fix.

* two Python files of the folder with the same basename (``public/test_x.py`` and
  ``hidden/test_x.py``, or a scenario module shadowing another): their checks or modules
  collide in one grading run;
* no reference solution (``reference/<module>.py``): no starter files, no corpus, no
  calibration;
* a required name that no check checks (no check name starts with it);
* a check whose name does not start with a required name (``grade check --only``, the reports
  and the corpus group checks by that first word).

``grade list`` reports them and refuses to go on; the grader's own tests run them on every
folder (``tests/test_practicals.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.assignment import SETTINGS_FILE, Assignment


def file_problems(assignment: Assignment) -> list[str]:
    """The problems visible without collecting the checks."""
    problems = []
    settings = assignment.folder / SETTINGS_FILE
    if assignment.reference_path is None or not assignment.reference_path.is_file():
        problems.append(f"{settings}: no reference solution {assignment.reference_path} (the starter files, the "
                        f"corpus and the calibration are made from `{assignment.module}.py` there)")
    seen: dict[str, Path] = {}
    for path in _modules(assignment):
        first = seen.setdefault(path.name, path)
        if first != path:
            problems.append(f"{path}: same file name as {first}; rename one (Python imports "
                            "them by that name in the same grading run)")
    return problems


@dataclass
class CollectedCheck:
    name: str
    path: Path
    points: float
    visibility: str


def check_problems(assignment: Assignment, checks: list[CollectedCheck]) -> list[str]:
    """The problems of the collected checks."""
    problems = []
    required = set(assignment.required)
    for check in checks:
        name, path = check.name, check.path
        if name.split()[0] not in required:
            problems.append(f"{path}: check `{name}` does not start with a required name of "
                            f"{assignment.folder / SETTINGS_FILE} ({', '.join(assignment.required)}); "
                            "name the function test_<name>_... (or test_element_... "
                            "parametrized over `element`)")
    checked = {check.name.split()[0] for check in checks}
    for element in assignment.required:
        if element not in checked:
            problems.append(f"{assignment.folder / SETTINGS_FILE}: required name `{element}` is "
                            "checked by no check (no check name starts with it); add a check "
                            "or remove it from `required`")
    return problems


def layout_problems(assignment: Assignment, hidden: bool = True) -> list[str]:
    """Every problem of the folder, its checks collected (public and hidden by default)."""
    problems = file_problems(assignment)
    if problems:  # a clash would make the collection itself fail
        return problems
    return check_problems(assignment, collect_named_checks(assignment, hidden))


def collect_named_checks(assignment: Assignment, hidden: bool = True) -> list[CollectedCheck]:
    """Every check with its file, points and visibility, without grading anything."""
    import pytest

    from grader.assignment import AssignmentError
    from grader.judge import run_pytest
    from grader.plugin import GradingContext, GradingPlugin, check_name
    from grader.sandbox import Isolation

    plugin = GradingPlugin(GradingContext(assignment, None, None, Isolation("basic", []), hidden))

    class Collector:
        checks: list[CollectedCheck] = []

        def pytest_configure(self, config):
            plugin.pytest_configure(config)

        def pytest_unconfigure(self, config):
            plugin.pytest_unconfigure(config)

        def pytest_collectreport(self, report):
            plugin.pytest_collectreport(report)

        def pytest_collection_modifyitems(self, session, config, items):
            self.checks = [CollectedCheck(check_name(item, assignment.required), Path(item.path),
                                          plugin._points(item) or 0.0, plugin._visibility(item))
                           for item in items]

    collector = Collector()
    code = run_pytest(assignment, hidden, collector, extra=["--collect-only"])
    if plugin.collection_errors or code not in (pytest.ExitCode.OK,
                                                 pytest.ExitCode.NO_TESTS_COLLECTED):
        detail = plugin.collection_errors[0].splitlines()[-1] if plugin.collection_errors else (
            f"pytest exit code {int(code)}")
        raise AssignmentError(f"the checks of `{assignment.name}` cannot be collected: {detail}")
    return collector.checks


def _modules(assignment: Assignment) -> list[Path]:
    folders = [assignment.folder, assignment.public_dir, assignment.hidden_dir]
    return [p for folder in folders if folder.is_dir() for p in sorted(folder.glob("*.py"))]
