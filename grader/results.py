"""The one results model every command and report works from.

A :class:`GradingResult` holds one grading run: every check with its points, status and
message, the total, how the submission was loaded (what was skipped), how the student process
was isolated, timings, and what produced the result (grader version, hash of the check files).
Reports (text, JSON, Markdown, HTML, Gradescope's results.json) are all renderings of it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.files import write_atomically
from grader.text import MAX_LINE, safe_line, safe_text

PASSED, FAILED = "passed", "failed"
PUBLIC, HIDDEN = "public", "hidden"


@dataclass
class CheckResult:
    name: str                    # "MLP parameter count [512-128]"
    score: float
    max_score: float
    status: str                  # "passed" | "failed"
    message: str = ""
    visibility: str = PUBLIC     # "public" | "hidden"
    description: str = ""        # the check's docstring: what it verifies
    duration_s: float = 0.0
    trains: bool = False         # the check trains a model (its time counts as training)
    grader_error: bool = False   # the check itself broke: tell the instructor
    details: dict[str, Any] = field(default_factory=dict)  # learning curves, accuracy band...

    def make_safe(self) -> "CheckResult":
        """Messages quote student text: escape control characters, cap the length."""
        self.name = safe_line(self.name)
        self.message = safe_text(self.message)
        self.description = safe_text(self.description, MAX_LINE * 2)
        return self

    @property
    def element(self) -> str:
        """What the check is about: the first word of its name (``MLP``, ``train_loop``)."""
        return self.name.split()[0] if self.name else ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass
class SkippedStatement:
    where: str        # "mlp_pixels.py, line 57" or "MLP_pixels.ipynb, cell 9, line 1"
    code: str         # the statement's first line
    reason: str


@dataclass
class GradingResult:
    assignment: str
    title: str
    submission: str
    checks: list[CheckResult] = field(default_factory=list)
    hidden_included: bool = False
    student: str | None = None
    grader_version: str = ""
    checks_hash: str = ""
    isolation: str = ""
    isolation_level: str = ""
    dataset: str = ""
    skipped: list[SkippedStatement] = field(default_factory=list)
    load_errors: list[str] = field(default_factory=list)
    error: str | None = None            # the submission could not be graded at all
    output: str = ""                    # the student process's stdout/stderr, capped
    timings: dict[str, float] = field(default_factory=dict)
    # check -> student function -> the longest request to it (s): what calibrates the
    # per-request limits when the submission graded is the reference (grader.limits)
    request_costs: dict[str, dict[str, float]] = field(default_factory=dict)
    started_at: str = ""
    execution_time_s: float = 0.0
    notes: list[str] = field(default_factory=list)  # one line each, e.g. experiments not graded

    @staticmethod
    def shown_path(path) -> str:
        """A submission's path as results store it: escaped, but not folded (two students'
        folders may differ by a space)."""
        return safe_text("" if path is None else str(path), 1_000)

    def make_safe(self) -> "GradingResult":
        """Every text that may quote the submission, escaped and capped (see grader.text):
        called when a result is made and when one is read back from a file."""
        for check in self.checks:
            check.make_safe()
        for statement in self.skipped:
            statement.where, statement.code = safe_line(statement.where), safe_line(statement.code)
            statement.reason = safe_line(statement.reason)
        self.load_errors = [safe_text(e) for e in self.load_errors[:50]]
        self.error = None if self.error is None else safe_text(self.error)
        self.student = None if self.student is None else safe_line(self.student)
        self.submission = self.shown_path(self.submission)
        self.output = safe_text(self.output, 100_000)
        self.notes = [safe_line(n) for n in self.notes[:10]]
        return self

    # ---------------------------------------------------------------- totals

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 4)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 4)

    def public(self) -> list[CheckResult]:
        return [c for c in self.checks if c.visibility == PUBLIC]

    def hidden(self) -> list[CheckResult]:
        return [c for c in self.checks if c.visibility == HIDDEN]

    @property
    def all_passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)

    def summary_line(self) -> str:
        """The honest one-liner: what passed, and that hidden checks are still to come."""
        from grader.i18n import _

        public = self.public()
        passed = sum(c.passed for c in public)
        text = _("public checks: {passed}/{total} passed").format(passed=passed, total=len(public))
        if self.hidden_included:
            hidden = self.hidden()
            text += _(", hidden checks: {passed}/{total} passed").format(
                passed=sum(c.passed for c in hidden), total=len(hidden))
        else:
            text += _(" — hidden checks run when your instructor grades")
        return text

    def skipped_summary(self) -> str:
        """One line on the top-level code not run, with the example that matters most: the
        `if __name__ == "__main__":` block, a training loop or a call before an import."""
        if not self.skipped:
            return ""
        from grader.i18n import _

        rank = {"main": 0, "loop": 1, "expression": 2}
        example = min(self.skipped, key=lambda s: next(
            (r for key, r in rank.items() if key in s.reason), len(rank)))
        return _("not run (top-level code the checks do not need): {count} statement(s), e.g. "
                 "{where}: {code}").format(count=len(self.skipped), where=example.where,
                                           code=example.code)

    # ---------------------------------------------------------------- (de)serialisation

    def to_dict(self) -> dict:
        data = asdict(self)
        data["score"], data["max_score"] = self.score, self.max_score
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "GradingResult":
        data = dict(data)
        data.pop("score", None)
        data.pop("max_score", None)
        data["checks"] = [CheckResult(**c) for c in data.get("checks", [])]
        data["skipped"] = [SkippedStatement(**s) for s in data.get("skipped", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known}).make_safe()

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_jsonable)

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically: a crash never leaves half a result behind."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_atomically(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GradingResult":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_gradescope(self) -> dict:
        """Gradescope's results.json: score, execution_time, output, tests[...]."""
        from grader.i18n import _

        tests = []
        for number, check in enumerate(self.checks, start=1):
            tests.append({
                "name": check.name,
                "number": str(number),
                "score": round(check.score, 4),
                "max_score": round(check.max_score, 4),
                "status": check.status,
                # A hidden check's message may quote its hidden inputs (and student code can
                # fill it with them): students get what it verifies, as the reports do.
                "output": check.message if check.visibility != HIDDEN else (
                    check.description or _("hidden check")),
                "tags": [check.element] + (["hidden"] if check.visibility == HIDDEN else []),
                # Hidden checks are shown to students once grades are published: name, points
                # and what they verify; never their message nor their source.
                "visibility": "after_published" if check.visibility == HIDDEN else "visible",
            })
        # What the text output says below its table, said here too: Gradescope shows only this.
        title = _(self.title)  # a msgid from assignment.toml (babel.cfg)
        lines = [f"{title}: {self.score:g} / {self.max_score:g}", self.summary_line(),
                 self.skipped_summary(),
                 *(_("while loading: {error}").format(error=e) for e in self.load_errors),
                 *self.notes,
                 self.isolation]
        if self.error:
            lines.insert(0, _("error: {error}").format(error=self.error))
        return {
            "score": self.score,
            "max_score": self.max_score,
            "execution_time": round(self.execution_time_s, 3),
            "output": "\n".join(line for line in lines if line),
            "output_format": "text",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
            "extra_data": {"grader_version": self.grader_version,
                           "checks_hash": self.checks_hash,
                           "assignment": self.assignment},
        }


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
