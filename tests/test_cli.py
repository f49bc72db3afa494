"""The `grade` command: exit codes, formats, and one-line errors for bad input."""

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from corpus import REPO, bug, write_mutant
from grader.cli import app

runner = CliRunner()
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "gradescope_results.schema.json").read_text())


def grade(*args):
    return runner.invoke(app, list(map(str, args)), catch_exceptions=False)


@pytest.mark.slow
def test_check_reference_text_output_and_exit_zero(tmp_path):
    result = grade("check", REPO / "assignments" / "mlp_pixels" / "reference" / "mlp_pixels.py")
    assert result.exit_code == 0, result.output
    assert "public checks: 17/17 passed — hidden checks run when your instructor grades" in result.output
    assert "isolation:" in result.output


@pytest.mark.slow
def test_check_json_is_gradescope_results(tmp_path):
    mutant = write_mutant(tmp_path, "mlp_pixels", bug("perf", "            predictions.append(y_pred)\n",
                          "            predictions.append(y_pred)\n            return n_correct, n_total, y_pred\n"))
    result = grade("check", mutant, "--format", "json")
    assert result.exit_code == 1  # a check failed
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    failed = [t for t in data["tests"] if t["status"] == "failed"]
    assert [t["name"] for t in failed] == ["perf_loop counts the whole loader"]
    assert "returns inside its `for` loop" in failed[0]["output"]
    assert data["score"] == sum(t["score"] for t in data["tests"]) < data["max_score"]


def test_unknown_assignment_is_a_one_line_usage_error(tmp_path):
    (tmp_path / "x.py").write_text("x = 1\n")
    result = grade("check", tmp_path / "x.py", "--assignment", "mlp_pixel")
    assert result.exit_code == 2
    assert "unknown assignment `mlp_pixel`" in result.output and "did you mean `mlp_pixels`?" in result.output
    assert "Traceback" not in result.output


def test_undetectable_assignment_and_missing_path(tmp_path):
    (tmp_path / "homework.py").write_text("x = 1\n")
    result = grade("check", tmp_path)
    assert result.exit_code == 2 and "pass --assignment NAME" in result.output
    result = grade("check", tmp_path / "nope.py")
    assert result.exit_code == 2 and "no such file or folder" in result.output


@pytest.mark.slow
def test_syntax_error_fails_every_check_with_the_students_line(tmp_path):
    path = tmp_path / "mlp_pixels.py"
    path.write_text("import torch\n\nclass MLP(nn.Module:\n    pass\n")
    result = grade("check", path, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["score"] == 0
    assert all("syntax error in mlp_pixels.py, line 3" in t["output"] for t in data["tests"])


def test_list_shows_the_assignments():
    from grader.assignment import list_assignments
    from grader.judge import collect_checks

    result = grade("list")
    assert result.exit_code == 0
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}
    for assignment in list_assignments():
        checks = collect_checks(assignment)
        public = sum(1 for c in checks if c[2] == "public")
        cells = [cell.strip() for cell in rows[assignment.name].split("│")[-5:-1]]
        assert cells == [f"{sum(c[1] for c in checks):g}", str(public), str(len(checks) - public),
                         f"{assignment.time_budget_s:g} s"], rows[assignment.name]


def test_template_command_copies_a_starter_and_refuses_to_overwrite(tmp_path):
    result = grade("template", "mlp_pixels", "--dest", tmp_path)
    assert result.exit_code == 0
    assert (tmp_path / "mlp_pixels.py").read_text().count("raise NotImplementedError") >= 7
    assert (tmp_path / ".grader-assignment").read_text().strip() == "mlp_pixels"
    again = grade("template", "mlp_pixels", "--dest", tmp_path)
    assert again.exit_code == 2 and "not overwriting your work" in again.output
    notebook = grade("template", "mlp_pixels", "--dest", tmp_path / "nb", "--notebook")
    assert notebook.exit_code == 0 and (tmp_path / "nb" / "MLP_pixels.ipynb").is_file()
    unknown = grade("template", "mlpp")
    assert unknown.exit_code == 2 and "unknown assignment `mlpp`" in unknown.output


def test_report_command_rerenders_and_rejects_other_files(tmp_path):
    from test_reports import sample_result

    saved = sample_result().save(tmp_path / "grading.json")
    result = grade("report", saved, "--format", "md")
    assert result.exit_code == 0 and "perf_loop counted 32 samples" in result.output
    (tmp_path / "other.json").write_text('{"tests": []}')
    bad = grade("report", tmp_path / "other.json")
    assert bad.exit_code == 2 and "not a saved grading result" in bad.output
    missing = grade("report", tmp_path / "nope.json")
    assert missing.exit_code == 2 and "no such file" in missing.output


@pytest.mark.slow
def test_ci_mode_writes_junit_and_step_summary(tmp_path, monkeypatch):
    import xml.etree.ElementTree as ET

    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    junit = tmp_path / "junit.xml"
    result = grade("check", REPO / "assignments" / "mlp_pixels" / "reference" / "mlp_pixels.py", "--ci", "--junit", junit,
                   "--no-report")
    assert result.exit_code == 0
    assert "**Score: 27 / 27**" in summary.read_text()
    suite = ET.parse(junit).getroot().find("testsuite")
    assert int(suite.get("tests")) == 17 and int(suite.get("failures")) == 0


@pytest.mark.slow
def test_gradescope_command_writes_results_json(tmp_path):
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "mlp_pixels.py").write_text(
        (REPO / "assignments" / "mlp_pixels" / "reference" / "mlp_pixels.py").read_text())
    result = grade("gradescope", "--root", root)
    assert result.exit_code == 0, result.output
    data = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(data, SCHEMA)
    assert data["score"] == data["max_score"] == 41
    assert any(t["visibility"] == "after_published" for t in data["tests"])
    (root / "submission" / "mlp_pixels.py").unlink()
    grade("gradescope", "--root", root)  # nothing to grade: the student sees why
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 0 and "cannot tell which assignment" in data["output"]


@pytest.mark.slow
def test_export_student_has_no_hidden_checks_and_no_solutions(tmp_path):
    import subprocess
    import sys

    dest = tmp_path / "student-dist"
    result = grade("export-student", dest)
    assert result.exit_code == 0, result.output
    files = [p for p in dest.rglob("*") if p.is_file()]
    names = {p.relative_to(dest).as_posix() for p in files}
    assert not any("/hidden/" in n or n.startswith("reference/") or n.startswith("tests/")
                   for n in names), sorted(names)
    import re

    fence = re.compile(r"^\s*### BEGIN SOLUTION\s*$", re.MULTILINE)
    for path in files:
        if path.suffix in (".py", ".ipynb", ".toml"):
            assert not fence.search(path.read_text()), path
    reference_bodies = [line.strip() for line in (REPO / "assignments" / "mlp_pixels" / "reference" / "mlp_pixels.py").read_text()
                        .splitlines() if "torch.cat(predictions)" in line]
    assert reference_bodies and not any(
        reference_bodies[0] in p.read_text() for p in files if p.suffix == ".py")
    assert "grader/_bundled/assignments/mlp_pixels/starter/mlp_pixels.py" in names
    # The distribution grades on its own: public checks need no reference solution.
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("GRADER_")}
    env["PYTHONPATH"] = str(dest)
    run = subprocess.run([sys.executable, "-m", "grader.cli", "check",
                          str(REPO / "assignments" / "mlp_pixels" / "corpus" / "explicit_layers"),
                          "--no-report", "--format", "json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    data = json.loads(run.stdout)
    assert data["score"] == data["max_score"] == 27
    again = grade("export-student", dest)
    assert again.exit_code == 2 and "not empty" in again.output


def test_check_empty_folder_and_unreadable_notebook_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    result = grade("check", tmp_path / "empty", "--assignment", "mlp_pixels")
    assert result.exit_code == 2
    assert "the folder has no .py or .ipynb file" in result.output and "Traceback" not in result.output
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "MLP_pixels.ipynb").write_text("{ broken")
    result = grade("check", tmp_path / "nb")
    assert result.exit_code == 2 and "not a readable notebook" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_data_commands(tmp_path):
    import gzip

    import torch

    shown = grade("data", "show", "--data-dir", tmp_path)
    assert shown.exit_code == 0 and "auto → offline MNIST subset" in shown.output
    out = tmp_path / "mnist.pkl.gz"
    made = grade("data", "course-pickle", out, "--source", "offline", "--data-dir", tmp_path)
    assert made.exit_code == 0, made.output
    (x_train, t_train), (x_test, t_test) = torch.load(gzip.open(out), weights_only=True)
    assert x_train.shape == (4500, 784) and t_test.shape == (500, 10)
    bad = grade("data", "course-pickle", out, "--source", "imagenet")
    assert bad.exit_code == 2 and "unknown dataset source" in bad.output


class Watching:
    """`grade check --watch` in its own process, its output read line by line."""

    def __init__(self, path: Path):
        import queue
        import subprocess
        import sys
        import threading

        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "check", str(path), "--watch", "--no-report",
             "--lang", "en"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
            env={**__import__("os").environ, "COLUMNS": "200"})
        def read():
            for line in self.proc.stdout:
                self.lines.put(line)
            self.lines.put(None)  # the watch ended

        threading.Thread(target=read, daemon=True).start()

    def next_check(self, timeout: float = 180) -> str:
        """The output of the next check, up to its "watching" line."""
        import queue
        import time

        block, deadline = [], time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"the watch did not check within {timeout} s or stopped "
                                     f"(exit code {self.proc.poll()}); its output:\n"
                                     + "".join(self.output))
            block.append(line)
            self.output.append(line)
            if "save it to check again" in line:
                return "".join(block)

    def sandboxes(self) -> set[int]:
        """The bubblewrap processes under the watch (the zygote's sandbox)."""
        import psutil

        return {p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)
                if p.name() == "bwrap"}


@pytest.mark.slow
def test_watch_checks_again_on_each_save_with_one_warm_sandbox(tmp_path):
    """A student saves, the checks run again at once, in a fork of the same warm zygote (no new
    sandbox, no torch import); a syntax error is shown and the watch goes on; SIGTERM (or
    Ctrl-C) stops it and leaves no process behind."""
    import signal

    import psutil

    from grader.corpus import bug as make_bug

    path = tmp_path / "perceptron.py"
    text = (REPO / "assignments" / "perceptron" / "reference" / "perceptron.py").read_text()
    path.write_text(text)

    def save(new_text: str) -> None:
        # truncate then write, as some editors save: the watch must check the whole file
        with open(path, "w") as f:
            f.write(new_text[:100])
            f.flush()
            f.write(new_text[100:])

    watch = Watching(path)
    try:
        first = watch.next_check(timeout=300)
        assert "score: 18 / 18" in first, first
        sandbox = watch.sandboxes()
        if not sandbox:
            pytest.skip("LOUD: no bubblewrap here, the warm sandbox cannot be followed")
        save(make_bug("no_bias", "return x @ w + b\n", "return x @ w\n").apply(text))
        second = watch.next_check()
        assert "perceptron.py changed: checking again" in second, second
        assert "score: 18 / 18" not in second, second
        assert "forward is x times w plus b" in second, second
        save(text.replace("def forward(", "def forward(:"))
        third = watch.next_check()
        assert "syntax error in perceptron.py, line" in third, third
        save(text)
        fourth = watch.next_check()
        assert "score: 18 / 18" in fourth, fourth
        # the same zygote all along: its sandbox's processes are those of the first check
        assert sandbox <= watch.sandboxes()
        everything = watch.sandboxes()
    finally:
        watch.proc.send_signal(signal.SIGTERM)
        code = watch.proc.wait(timeout=30)
    assert code == 0
    assert not [p for p in everything if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert "Traceback" not in "".join(watch.output)


def test_watch_is_for_the_terminal(tmp_path):
    (tmp_path / "perceptron.py").write_text("x = 1\n")
    result = grade("check", tmp_path / "perceptron.py", "--watch", "--format", "json")
    assert result.exit_code == 2
    assert "--watch shows the checks on the terminal" in result.output
