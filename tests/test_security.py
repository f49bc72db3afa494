"""Regression tests for what an adversarial review broke (issue 9): each test is the hostile
submission or batch, and the outcome that must hold — no submission code imported by the
judge, no write outside the output folder, one error row and the rest of the class graded,
bounded output, nothing of the student's text reaching a terminal as escapes.

(Engine-level attacks — the wire, time limits, the sandbox's view — are in
tests/engine/test_security_engine.py.)
"""

import json
import os
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus import REPO
from grader import batch, reports
from grader.assignment import MARKER_FILE, AssignmentError, detect_assignment, load_assignment
from grader.cli import app
from grader.files import write_atomically
from grader.judge import grade
from grader.results import CheckResult, GradingResult
from grader.text import MAX_MESSAGE, safe_line, safe_text

runner = CliRunner()
PERCEPTRON = (REPO / "assignments" / "perceptron" / "reference" / "perceptron.py").read_text()


# ------------------------------------------------------------------ 1. student checks in the judge

def _planted_assignment(folder: Path, marker: Path) -> Path:
    """A fake assignment folder inside the submission, whose check writes ``marker`` when the
    judge imports it (as the instructor, outside any sandbox)."""
    fake = folder / ".graderconf"
    (fake / "public").mkdir(parents=True)
    (fake / "assignment.toml").write_text('[assignment]\nname = "x"\nmodule = "perceptron"\n')
    (fake / "public" / "test_pwn.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran in the judge')\n"
        "def test_free_points():\n    pass\n")
    return fake


@pytest.mark.parametrize("how", ["absolute", "relative", "proc"])
def test_a_marker_cannot_point_the_judge_at_the_students_own_checks(tmp_path, how):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "perceptron.py").write_text("def init_params():\n    raise NotImplementedError\n")
    marker = tmp_path / "PWNED"
    fake = _planted_assignment(folder, marker)
    target = {"absolute": str(fake),
              "relative": "../" * 12 + str(fake).lstrip("/"),
              "proc": "../../../../../../proc/self/cwd/.graderconf"}[how]
    (folder / MARKER_FILE).write_text(target + "\n")
    cwd = os.getcwd()
    os.chdir(folder)  # /proc/self/cwd is the student's folder, as when they run `grade check`
    try:
        with pytest.raises(AssignmentError, match="not one of"):
            grade(folder)
        result = runner.invoke(app, ["check", str(folder), "--hidden"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 2 and "not one of" in result.output, result.output
    assert not marker.exists(), "a check file of the submission ran in the judge"


def test_assignment_names_are_names_not_paths(tmp_path):
    for name in ("../assignments/perceptron", "/etc", "perceptron/../perceptron", ".", ""):
        with pytest.raises(AssignmentError):
            load_assignment(name)
    folder = tmp_path / "ok"
    folder.mkdir()
    (folder / MARKER_FILE).write_text("perceptron\n")
    assert detect_assignment(folder).name == "perceptron"  # a real name still works


# ------------------------------------------------------------------ 2. one student, one batch

def _result(student: str, curves) -> GradingResult:
    check = CheckResult("MLP accuracy", 7.0, 7.0, "passed", "accuracy 0.95",
                        details={"learning_curves": curves,
                                 "accuracy": {"value": 0.95, "low": 0.8, "high": 0.9}})
    return GradingResult("mlp_pixels", "MLP", f"/subs/{student}.py", [check], student=student)


HOSTILE_CURVES = [
    {"train_loss": [1e308, -1e308, 1e308], "valid_loss": [1e308, -1e308, 1e308]},
    {"train_loss": [float("inf"), float("nan")]},
    {"train_loss": ["0.5", {"a": 1}], "valid_loss": None},
    {"train_loss": [0.5] * 200_000},
    "not even a dict",
]


@pytest.mark.parametrize("curves", HOSTILE_CURVES, ids=["1e308", "inf-nan", "strings", "huge", "str"])
def test_a_report_never_fails_on_a_students_learning_curve(tmp_path, curves):
    result = _result("mallory", curves)
    html = reports.render(result, "html")
    assert "are not drawn" in html
    assert "accuracy 0.95" in html
    batch.write_student(result, tmp_path / "mallory")
    assert GradingResult.load(tmp_path / "mallory" / batch.RESULT_FILE).score == 7.0


def test_one_students_results_never_stop_the_batch_nor_its_reruns(tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    for name in ("alice", "mallory", "zoe"):
        (subs / name).mkdir(parents=True)
        (subs / name / "mlp_pixels.py").write_text("x = 1\n")

    def fake_grade_one(assignment, submission, out, **kwargs):
        curves = HOSTILE_CURVES[0] if submission.key == "mallory" else {"train_loss": [1.0, 0.5]}
        result = _result(submission.student, curves)
        result.submission = str(submission.path / "mlp_pixels.py")
        return result

    monkeypatch.setattr(batch, "grade_one", fake_grade_one)
    out = tmp_path / "out"
    summary = batch.run_batch(load_assignment("mlp_pixels"), subs, out, workers=1)
    assert summary.graded == 3 and summary.not_written == []
    for name in ("alice", "mallory", "zoe"):
        assert (out / name / batch.RESULT_FILE).is_file(), name
    assert (out / "summary.html").is_file()
    again = batch.run_batch(load_assignment("mlp_pixels"), subs, out, workers=1)
    assert again.skipped == 3 and again.graded == 0


# ------------------------------------------------------------------ 3. links at the report's place

def test_reports_replace_planted_links_and_never_write_through_them(tmp_path):
    victim = tmp_path / "authorized_keys"
    victim.write_text("ssh-ed25519 AAAA the-instructor\n")
    link = tmp_path / "perceptron.report.html"
    link.symlink_to(victim)
    dangling = tmp_path / "grade-report.html"
    target_pth = tmp_path / "site-packages" / "evil.pth"
    target_pth.parent.mkdir()
    dangling.symlink_to(target_pth)
    write_atomically(link, "<html>report</html>")
    write_atomically(dangling, "import os\n")
    assert victim.read_text() == "ssh-ed25519 AAAA the-instructor\n"
    assert not link.is_symlink() and link.read_text() == "<html>report</html>"
    assert not target_pth.exists() and not dangling.is_symlink()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


HOSTILE_PERCEPTRON = '''
import os

class {long_name}:
    pass

def init_params(n_in=784, n_out=10, generator=None):
    seen = ",".join(sorted(os.listdir("/submission")))
    raise ValueError("\\x1b[2J\\x1b]0;owned\\x07\\u202eseen=" + seen + "\\nssh-rsa AAAAB3 attacker@evil")
'''


@pytest.mark.slow
def test_a_hostile_file_graded_alone(tmp_path):
    """One grading, four breaks: a planted link at the report's place (3), classmates in the
    same folder (4), a class name of 1 MB quoted in messages (10; a notebook could hold 32 MiB,
    now refused above 1 MiB of code), terminal escapes in an exception message (11)."""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "bob.py").write_text("SECRET = 'bob'\n")
    submission = folder / "perceptron.py"
    submission.write_text(HOSTILE_PERCEPTRON.format(long_name="A" * 1_000_000))  # under the cap
    victim = tmp_path / "authorized_keys"
    victim.write_text("ssh-ed25519 AAAA the-instructor\n")
    (folder / "perceptron.report.html").symlink_to(victim)

    result = runner.invoke(app, ["check", str(submission), "--assignment", "perceptron"])
    assert result.exit_code == 1, result.output
    out = result.output
    assert "\x1b[2J" not in out and "\x1b]0" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out  # shown, escaped
    assert len(out) < 200_000
    assert victim.read_text() == "ssh-ed25519 AAAA the-instructor\n"
    assert "ssh-rsa AAAAB3" in (folder / "perceptron.report.html").read_text()

    graded = grade(submission, "perceptron")
    assert all(len(c.message) <= MAX_MESSAGE + 40 for c in graded.checks)
    assert len(graded.to_json()) < 400_000  # was 4 messages x 1 MB (32 MiB: 833 MB of reports)
    init = next(c for c in graded.checks if c.name.startswith("init_params"))
    if graded.isolation_level == "strong":
        assert "seen=perceptron.py" in init.message and "bob" not in init.message
    else:
        pytest.skip("LOUD: basic isolation here, the classmate's file is visible by design "
                    f"({graded.isolation})")


# ------------------------------------------------------------------ 10, 11. text from students

def test_safe_text_escapes_controls_and_caps_length():
    text = safe_text("a\x1b[31mb\x07\u202ec\nd\te" + "x" * 10_000)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert text.startswith("a\\x1b[31mb\\x07\\u202ec\nd\te")
    assert len(text) < MAX_MESSAGE + 60 and "more characters" in text
    assert safe_line("a\nb\r\nc\x00") == "a b c\\x00"


def test_saved_results_are_made_safe_when_read_back(tmp_path):
    """`grade report` on a results file someone edited: the same escaping as a fresh grading."""
    result = _result("\x1b]0;mallory\x07", {"train_loss": [1.0]})
    result.checks[0].message = "\x1b[2J" + "y" * 100_000
    path = tmp_path / "grading.json"
    path.write_text(json.dumps(result.to_dict()))
    shown = runner.invoke(app, ["report", str(path), "--format", "text"]).output
    assert "\x1b" not in shown and len(shown) < 10_000


def test_markdown_reports_carry_no_images_or_links_from_student_text():
    result = _result("![x](http://tracker.example/p.png)", {"train_loss": [1.0]})
    result.checks[0].message = ("see [here](https://evil.example) ![t](http://t.example/i.png) "
                                "www.evil.example <img src=x> and `x[0] + y` in code")
    md = reports.render(result, "md")
    assert "](" not in md.replace("`x[0] + y`", "")
    assert "http://" not in md and "https://" not in md and "www.evil" not in md
    assert "<img" not in md and "`x[0] + y`" in md


def test_batch_progress_names_have_no_escapes(tmp_path):
    subs = tmp_path / "subs"
    (subs / "\x1b[2Jmallory").mkdir(parents=True)
    (subs / "\x1b[2Jmallory" / "mlp_pixels.py").write_text("x = 1\n")
    [found] = batch.discover(subs, tmp_path / "work")
    assert "\x1b" not in found.student and found.student.startswith("\\x1b")


# ------------------------------------------------------------------ 12. one bad zip entry

@pytest.mark.parametrize("entry", ["class/mallory/../../../evil.py", "/etc/evil.py", "../evil.py"])
def test_a_zip_entry_leaving_its_folder_costs_one_row_not_the_batch(tmp_path, entry):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("class/alice/perceptron.py", PERCEPTRON)
        z.writestr("class/mallory/perceptron.py", PERCEPTRON)
        z.writestr(entry, "print('escaped')\n")
    found = {s.key: s for s in batch.discover(archive, tmp_path / "work")}
    assert set(found) == {"alice", "mallory"}
    assert not (tmp_path / "evil.py").exists() and not Path("/etc/evil.py").exists()
    if entry.startswith("class/mallory"):
        mallory = batch.grade_one(load_assignment("perceptron"), found["mallory"], tmp_path / "out")
        assert mallory.error and "leads outside" in mallory.error
        assert "is corrupt" not in mallory.error
    else:  # no student's folder holds it: left out, nobody is blamed
        assert batch._corrupt_member(found["mallory"].path) is None
    assert batch._corrupt_member(found["alice"].path) is None


def test_a_public_and_a_hidden_check_file_may_share_a_basename(tmp_path, monkeypatch):
    """Found while adding a practical: with pytest's default import mode the second file of a
    basename is an import error, and `grade list` failed for every assignment."""
    import shutil

    from grader.judge import collect_checks

    root = tmp_path / "assignments"
    shutil.copytree(REPO / "assignments" / "perceptron", root / "perceptron")
    public = root / "perceptron" / "public"
    [first] = sorted(public.glob("test_*.py"))[:1]
    shutil.copy(first, root / "perceptron" / "hidden" / first.name)
    checks = collect_checks(load_assignment("perceptron", root), hidden=True)
    assert sum(1 for c in checks if c[2] == "hidden") > 0


# ------------------------------------------------------------------ review A8: keys across reruns

def test_a_late_student_never_inherits_anothers_grade_on_a_rerun(tmp_path, monkeypatch):
    """Keys were numbered by the listing's order ("Li-Hua", "Li-Hua-2"): a student handing in
    late shifted them, and the rerun skipped the newcomer as "already graded" with a
    classmate's 41/41. Keys now come from each name alone, and a result is only reused for the
    submission it was made from."""
    subs = tmp_path / "subs"

    def hand_in(name: str, points: int) -> None:
        (subs / name).mkdir(parents=True)
        (subs / name / "mlp_pixels.py").write_text(f"POINTS = {points}\n")

    def fake_grade_one(assignment, submission, out, **kwargs):
        points = float((submission.path / "mlp_pixels.py").read_text().split("=")[1])
        check = CheckResult("MLP parameter count", points, 41.0, "failed")
        return GradingResult("mlp_pixels", "MLP", str(submission.path / "mlp_pixels.py"), [check],
                             student=submission.student)

    monkeypatch.setattr(batch, "grade_one", fake_grade_one)
    spec, out = load_assignment("mlp_pixels"), tmp_path / "out"
    hand_in("Li Hua", 41)
    hand_in("Li-Hua", 0)
    first = batch.run_batch(spec, subs, out, workers=1)
    assert first.graded == 2
    hand_in("Li  Hua", 7)  # late, and folds to the same display name
    again = batch.run_batch(spec, subs, out, workers=1)
    assert again.graded == 1 and again.skipped == 2
    rows = {row.split(",")[1]: row.split(",")[2] for row in
            (out / "grades.csv").read_text().splitlines()[1:]}
    found = {s.path.name: s.key for s in batch.discover(subs, tmp_path / "work")}
    assert rows[found["Li Hua"]] == "41" and rows[found["Li-Hua"]] == "0"
    assert rows[found["Li  Hua"]] == "7"


def test_hidden_checks_show_what_they_verify_not_their_message_in_gradescope():
    result = _result("alice", {"train_loss": [1.0]})
    result.checks.append(CheckResult("MLP accuracy on another split", 0.0, 3.0, "failed",
                                     "accuracy 0.41 on images 1203, 877, 4051 (labels 3, 8, 1)",
                                     visibility="hidden", description="The accuracy again."))
    tests = result.to_gradescope()["tests"]
    assert tests[-1]["output"] == "The accuracy again." and "1203" not in json.dumps(tests)


def test_a_students_name_is_shown_in_the_progress_bar_not_read_as_markup(tmp_path, monkeypatch):
    """A file named `[link=https://evil.example]see grades.csv[/link].py` became a clickable link
    (and `[blink]` blinking text) in the instructor's terminal."""
    hostile = "[link=https://evil.example]see grades.csv[/link] [blink]alice"

    def fake_run_batch(spec, source, out, progress=None, **kwargs):
        progress("start", 0, 1)
        progress(hostile, 1, 1)
        return batch.BatchSummary(graded=1, skipped=0, errors=0, out=out)

    monkeypatch.setattr(batch, "run_batch", fake_run_batch)
    shown = runner.invoke(app, ["batch", str(tmp_path), "--assignment", "perceptron", "--out",
                                str(tmp_path / "out")], env={"COLUMNS": "200"}).output
    assert "[link=https://evil.example]" in shown and "[blink]" in shown


# ------------------------------------------------------------------ review A10: a forged layout

FORGED_LAYOUT = '''
def _forge():
    import grader.recipes as recipes
    real = recipes.parameter_layout

    def parameter_layout(model):  # reports the bias fc1 does not have
        if type(model).__name__ == "ShallowNet":
            h, i = model.fc1.weight.shape
            o = model.fc2.weight.shape[0]
            return [{"name": "fc1.weight", "shape": [h, i], "requires_grad": True},
                    {"name": "fc1.bias", "shape": [h], "requires_grad": True},
                    {"name": "fc2.weight", "shape": [o, h], "requires_grad": True},
                    {"name": "fc2.bias", "shape": [o], "requires_grad": True}]
        return real(model)
    recipes.parameter_layout = parameter_layout
    return True


_FORGED = _forge()


class ShallowNet(nn.Module):
    _forged = _FORGED
'''


@pytest.mark.slow
def test_a_forged_parameter_layout_gains_no_parameter_count_points(tmp_path):
    """ShallowNet without fc1's bias (a real bug), plus a replaced child-side layout helper that
    reports the handout's shapes: +3 points before; now each reported tensor must change the
    output when given values, and the forged one cannot be given any."""
    text = (REPO / "assignments" / "networks" / "reference" / "networks.py").read_text()
    honest = text.replace("self.fc1 = nn.Linear(input_num, hidden_num)",
                          "self.fc1 = nn.Linear(input_num, hidden_num, bias=False)")
    forged = honest.replace("\nclass ShallowNet(nn.Module):\n", FORGED_LAYOUT, 1)
    assert honest != text and forged != honest
    scores = {}
    for name, source in (("honest", honest), ("forged", forged)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "networks.py").write_text(source)
        result = grade(tmp_path / name / "networks.py", "networks")
        scores[name] = {c.name: c.score for c in result.checks if "parameter count" in c.name}
    assert scores["forged"] == scores["honest"], scores
    assert scores["honest"]["ShallowNet parameter count [128]"] == 0
