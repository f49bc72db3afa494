"""GitHub Classroom: `grade check --ci` prints the two annotations its gradebook reads.

Classroom's official reporter (classroom-resources/autograding-grading-reporter,
src/notify-classroom.js) ends a run with @actions/core's ``notice(text, {title})``:
``::notice title=Autograding complete::Points X/Y`` and
``::notice title=Autograding report::{"totalPoints":X,"maxPoints":Y}``. The runner turns each
``::notice`` line into an annotation; Classroom reads the report's JSON. The parser below does
what the runner and Classroom do, so partial credit per check is seen as they would see it.
"""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from notebook_cases import buggy_source
from grader.cli import app, classroom_annotations
from grader.results import CheckResult, GradingResult

COMMAND = re.compile(r"^::(?P<name>[a-z-]+)(?: (?P<props>[^:]*))?::(?P<message>.*)$")


def unescape(text: str) -> str:
    """@actions/core's escapeData/escapeProperty, undone as the runner does."""
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def annotations(stdout: str) -> dict[str, str]:
    """{title: message} of the ``::notice`` workflow commands in a step's output."""
    found = {}
    for line in stdout.splitlines():
        match = COMMAND.match(line)
        if match and match["name"] == "notice":
            props = dict(p.split("=", 1) for p in (match["props"] or "").split(",") if "=" in p)
            found[unescape(props.get("title", ""))] = unescape(match["message"])
    return found


def classroom_points(stdout: str) -> tuple[float, float]:
    """What Classroom's gradebook takes from a run: the report annotation's JSON."""
    report = json.loads(annotations(stdout)["Autograding report"])
    return report["totalPoints"], report["maxPoints"]


def test_ci_prints_classroom_points_annotations(tmp_path, monkeypatch):
    """A buggy submission: the points Classroom reads are the score of the same run, check by
    check (the Gradescope JSON written by that run), and `Points X/Y` says the same."""
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    submission = tmp_path / "perceptron.py"
    submission.write_text(buggy_source())
    out = tmp_path / "results.json"
    result = CliRunner().invoke(app, ["check", str(submission), "--ci", "--no-report",
                                      "--junit", str(tmp_path / "junit.xml"),
                                      "--format", "json", "-o", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output  # the bug fails checks
    graded = json.loads(out.read_text())
    total, most = classroom_points(result.stdout)
    assert total == pytest.approx(sum(t["score"] for t in graded["tests"]))
    assert most == pytest.approx(sum(t["max_score"] for t in graded["tests"]))
    assert 0 < total < most  # partial credit reaches the gradebook
    assert annotations(result.stdout)["Autograding complete"] == f"Points {total:g}/{most:g}"


def test_annotation_numbers_are_written_as_javascript_writes_them():
    """Half points stay half points (``15.5``), whole ones have no ``.0``: the reporter's text is
    `${totalPoints}` of a JavaScript number, and Classroom parses its JSON."""
    checks = [CheckResult("a", 1.5, 2.0, "failed"), CheckResult("b", 14.0, 14.0, "passed")]
    result = GradingResult("perceptron", "Perceptron", "perceptron.py", checks=checks)
    lines = classroom_annotations(result)
    assert lines == ["::notice title=Autograding complete::Points 15.5/16",
                     '::notice title=Autograding report::{"totalPoints":15.5,"maxPoints":16}']
    assert classroom_points("\n".join(lines)) == (15.5, 16)
    # No points at all: the reporter writes nothing, and neither do we.
    assert classroom_annotations(GradingResult("x", "X", "x.py")) == []
