"""Per-request time limits measured on the grading machine, once, and cached.

A check's ``time_limit`` marker is a guess made on the author's machine: too short on a slow
laptop (honest code fails), far too long on a fast server (an infinite loop waits minutes).
Grading the reference solution here records what each of its requests cost
(:attr:`GradingResult.request_costs`); a student's request then gets a multiple of that, with
a floor (:class:`grader.student_process.RequestLimits`). The measure is kept in the user's
cache, keyed by the assignment's checks and the machine, so it is made once per machine:

    ~/.cache/dl-grader/limits/<assignment>-<checks hash>-<machine>.json   ($GRADER_CACHE_DIR)

Where the reference is not available (students' own ``grade check``: it is not shipped), the
markers' limits stay.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
from pathlib import Path

from grader.assignment import Assignment
from grader.files import write_atomically
from grader.student_process import RequestLimits

CACHE_ENV = "GRADER_CACHE_DIR"


def cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dl-grader"


def machine_key() -> str:
    """What makes one machine's timings another's: its CPU, its core count, torch's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = ""
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    text = "|".join([platform.node(), platform.machine(), cpu, str(os.cpu_count()),
                     torch_version])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_path(assignment: Assignment) -> Path:
    return (cache_dir() / "limits" /
            f"{assignment.name}-{assignment.checks_hash(True)[:16]}-{machine_key()}.json")


def reference_file(assignment: Assignment) -> Path | None:
    """The reference solution's file, where this installation has it."""
    path = getattr(assignment, "reference_path", None)
    if path:
        return Path(path) if Path(path).is_file() else None
    if not assignment.reference:
        return None
    try:
        spec = importlib.util.find_spec(assignment.reference)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin and Path(spec.origin).is_file() else None


def cached(assignment: Assignment) -> RequestLimits | None:
    try:
        data = json.loads(cache_path(assignment).read_text())
        return RequestLimits(costs=data["costs"]) if data["costs"] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def measure(assignment: Assignment, **grade_options) -> RequestLimits | None:
    """Grade the reference here (hidden checks too) and cache what its requests cost; None
    when there is no reference or it does not score full marks (its timings would not be
    those of working code)."""
    from grader import judge

    path = reference_file(assignment)
    if path is None:
        return None
    result = judge.grade(path, assignment, hidden=True, request_limits=None, **grade_options)
    # A reference that does not score full marks here measures nothing (its timings would not
    # be those of working code): cached as such, so that it is not graded again and again.
    full_marks = result.error is None and result.score >= result.max_score
    costs = {check: {f: round(s, 4) for f, s in functions.items()}
             for check, functions in result.request_costs.items()} if full_marks else {}
    target = cache_path(assignment)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, json.dumps({"assignment": assignment.name,
                                         "checks_hash": assignment.checks_hash(True),
                                         "machine": machine_key(), "costs": costs}, indent=1))
    return RequestLimits(costs=costs) if costs else None


def measured(assignment: Assignment) -> bool:
    """Whether this machine has measured this assignment's checks (with or without result)."""
    return cache_path(assignment).is_file()


def for_machine(assignment: Assignment, **grade_options) -> RequestLimits | None:
    """The cached limits, else measured now (once per machine), else None (markers' limits)."""
    if measured(assignment):
        return cached(assignment)
    return measure(assignment, **grade_options)
