"""`grade batch`: a class of mixed submissions, Moodle names, zips, crash safety and resuming."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from corpus import REPO, as_notebook, bug
from grader.assignment import load_assignment
from grader.batch import BatchError, discover, extract_zip, grade_one, write_grades

MODULE = "mlp_pixels"
REFERENCE = (REPO / "assignments" / MODULE / "reference" / f"{MODULE}.py").read_text()
PERF = bug("perf", "            predictions.append(y_pred)\n",
           "            predictions.append(y_pred)\n            return n_correct, n_total, torch.cat(predictions)\n")
ADAM = bug("adam", '"ADAM": torch.optim.Adam', '"ADAM": torch.optim.SGD')
NO_EVAL = bug("noeval", "    model.eval()\n    total = 0.0\n    with torch.no_grad():\n        for x, y in dataloader:\n            total",
              "    total = 0.0\n    with torch.no_grad():\n        for x, y in dataloader:\n            total")
EXIT = bug("exit", "    return sum(p.numel() for p in model.parameters() if p.requires_grad)\n",
           "    import os\n    os._exit(1)\n")

# student key -> (total expected, status)
EXPECTED = {
    "alice": (41, "graded"), "bob": (41, "graded"), "carol": (41, "graded"), "dave": (38, "graded"),
    "10005": (41, "graded"), "10006": (39, "graded"), "grace": (0, "error"), "heidi": (None, "error"),
    "ivan": (0, "error"), "judy": (None, "error"), "mallory": (38, "graded"), "oscar": (40, "graded"),
}


def _mutant(tmp, mutation, folder: Path, name="mlp_pixels.py"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(mutation.apply(REFERENCE))


def make_class(root: Path) -> Path:
    """Twelve students: references, valid variants, bugs, broken files, Moodle folders."""
    subs = root / "submissions"
    subs.mkdir(parents=True)
    (subs / "alice").mkdir()
    shutil.copy(REPO / "assignments" / "mlp_pixels" / "reference" / "mlp_pixels.py", subs / "alice" / "mlp_pixels.py")
    shutil.copytree(REPO / "assignments" / MODULE / "corpus" / "explicit_layers", subs / "bob")
    shutil.copytree(REPO / "assignments" / MODULE / "corpus" / "package", subs / "carol")
    (subs / "dave.py").write_text(PERF.apply(REFERENCE))
    as_notebook(REFERENCE, subs / "Eve Adams_10005_assignsubmission_file_" / "MLP_pixels.ipynb",
                ["for epoch in range(100):\n    pass"])
    _mutant(root, ADAM, subs / "Frank Moore_10006_assignsubmission_file_")
    (subs / "Frank Moore_10006_assignfeedback_comments_").mkdir()  # Moodle feedback: ignored
    (subs / "grace").mkdir()
    (subs / "grace" / "mlp_pixels.py").write_text("import torch\n\nclass MLP(nn.Module:\n    pass\n")
    (subs / "heidi").mkdir()
    (subs / "ivan").mkdir()
    (subs / "ivan" / "MLP_pixels.ipynb").write_text("{ not a notebook")
    (subs / "judy.py").write_text(REFERENCE)
    as_notebook(REFERENCE, subs / "judy.ipynb")
    _mutant(root, EXIT, subs / "mallory")
    _mutant(root, NO_EVAL, subs / "oscar")
    return subs


def test_discover_names_students_from_folders_files_and_moodle(tmp_path):
    subs = make_class(tmp_path)
    found = {s.key: s for s in discover(subs, tmp_path / "work")}
    assert set(found) == set(EXPECTED)
    assert found["10005"].student == "Eve Adams (10005)"
    assert found["judy"].problem.startswith("two submissions for one student")
    assert found["heidi"].problem == "empty submission folder"


def test_links_leaving_a_submission_are_not_followed(tmp_path):
    """The judge reads submissions as the instructor: a link to /etc/passwd, to the hidden
    checks or to another student's work gets a row with the reason, and nothing is read."""
    subs = tmp_path / "subs"
    for name in ("alice", "eve", "mallory"):
        (subs / name).mkdir(parents=True)
    (subs / "alice" / "mlp_pixels.py").write_text(REFERENCE)
    (subs / "eve" / "mlp_pixels.py").symlink_to("/etc/passwd")
    (subs / "mallory" / "mlp_pixels.py").symlink_to(subs / "alice" / "mlp_pixels.py")
    (subs / "trudy").symlink_to(subs / "alice")               # a whole folder that is a link
    (subs / "oscar.py").symlink_to(subs / "alice" / "mlp_pixels.py")
    (subs / "alice" / "helpers").mkdir()                        # a link inside stays allowed
    (subs / "alice" / "helpers" / "same.py").symlink_to(subs / "alice" / "mlp_pixels.py")
    found = {s.key: s for s in discover(subs, tmp_path / "work")}
    assert found["alice"].problem is None and found["alice"].path == subs / "alice"
    for key in ("eve", "mallory", "trudy", "oscar"):
        assert found[key].path is None and "is a link to a file outside" in found[key].problem, key
    # `grade check` refuses the same link with a one-line error
    from grader.submission import SubmissionError, find_submission_file
    with pytest.raises(SubmissionError, match="is a link to a file outside the submission folder"):
        find_submission_file(subs / "eve", MODULE, [])


def test_every_student_gets_their_own_key_and_a_spreadsheet_safe_row(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("李华", "王小明", "Li Hua", "Li-Hua", "li_hua", "=HYPERLINK(evil)", "-2+3"):
        (subs / name).mkdir()
        (subs / name / "mlp_pixels.py").write_text(REFERENCE)
    found = discover(subs, tmp_path / "work")
    keys = [s.key for s in found]
    assert len(set(k.lower() for k in keys)) == len(keys) == 7, keys  # one results folder each
    assert {"李华", "王小明"} <= set(keys)
    assert "Li-Hua" in keys and any(k.startswith("Li-Hua-") for k in keys)  # "Li Hua", hashed
    (tmp_path / "out").mkdir()
    rows = list(csv.reader(write_grades(tmp_path / "out", found).open()))
    students = {row[0] for row in rows[1:]}
    assert "'=HYPERLINK(evil)" in students and "'-2+3" in students
    assert not any(cell[:1] in "=+-@" for row in rows for cell in row[:2] if cell)


def test_a_student_file_named_like_a_module_never_runs_in_the_judge(tmp_path, monkeypatch):
    """Instructors run batches from the submissions folder; `python -m` would put it first on
    the judge's sys.path, and a student's pytest.py would run there, unsandboxed."""
    subs = tmp_path / "subs"
    subs.mkdir()
    marker = tmp_path / "PWNED"
    (subs / "pytest.py").write_text(f"open({str(marker)!r}, 'w').write('judge')\n")
    (subs / "alice.py").write_text((REPO / "assignments" / "perceptron" / "reference" / "perceptron.py").read_text())
    (subs / "grades.csv.py").write_text("x = 1\n")
    monkeypatch.chdir(subs)
    found = {s.student: s for s in discover(Path("."), tmp_path / "work")}
    assert found["grades.csv"].key.startswith("student-grades.csv-")  # never the class's file
    out = tmp_path / "out"
    result = grade_one(load_assignment("perceptron"), found["alice"], out)
    assert result.error is None and result.score == result.max_score
    assert not marker.exists()


def test_zip_with_a_corrupt_member_gets_a_row_with_the_reason(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("class/alice/mlp_pixels.py", REFERENCE)
        z.writestr("class/bob/mlp_pixels.py", REFERENCE)
    data = bytearray(archive.read_bytes())
    start = data.find(b"class/bob/mlp_pixels.py") + len("class/bob/mlp_pixels.py")
    data[start + 10:start + 60] = b"\x00" * 50  # corrupt bob's compressed bytes
    archive.write_bytes(bytes(data))
    found = {s.key: s for s in discover(archive, tmp_path / "work")}
    assert set(found) == {"alice", "bob"}
    result = grade_one(load_assignment(MODULE), found["bob"], tmp_path / "out")
    assert result.error and "corrupt" in result.error
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../escape.py", "x = 1")
    extract_zip(evil, tmp_path / "x")  # left out, never written (tests/test_security.py)
    assert not (tmp_path / "escape.py").exists() and not list((tmp_path / "x").iterdir())
    (tmp_path / "notzip.zip").write_text("hello")
    with pytest.raises(BatchError, match="expected a folder of submissions or a .zip"):
        discover(tmp_path / "notzip.zip", tmp_path / "work")


def _batch(subs, out, *extra):
    return [sys.executable, "-m", "grader.cli", "batch", str(subs), "--assignment", MODULE,
            "--out", str(out), "--workers", "2", *extra]


def _done(out: Path) -> dict[str, float]:
    return {p.parent.name: p.stat().st_mtime for p in out.glob("*/grading.json")}


@pytest.mark.slow
def test_batch_killed_half_way_resumes_without_regrading(tmp_path):
    subs = make_class(tmp_path)
    out = tmp_path / "out"
    first = subprocess.Popen(_batch(subs, out), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while len(_done(out)) < 6 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    finished = _done(out)
    assert 6 <= len(finished) < len(EXPECTED), "the batch should have been killed half-way"

    second = subprocess.run(_batch(subs, out), capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"skipped {len(finished)} already graded" in second.stdout
    after = _done(out)
    assert set(after) == set(EXPECTED)
    assert all(after[key] == mtime for key, mtime in finished.items())  # not regraded

    rows = {row["id"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert set(rows) == set(EXPECTED)
    for key, (total, status) in EXPECTED.items():
        assert rows[key]["status"] == status, (key, rows[key])
        if total is not None:
            assert float(rows[key]["total"]) == total, (key, rows[key])
        if status == "error":
            assert rows[key]["reason"], key
    assert rows["judy"]["reason"].startswith("two submissions for one student")
    assert "syntax error in mlp_pixels.py, line 3" in rows["grace"]["reason"]
    assert rows["dave"]["perf_loop counts the whole loader"] == "0"
    for key, (_, status) in EXPECTED.items():
        folder = out / key
        assert (folder / "report.html").is_file() and (folder / "results.json").is_file()
    summary = (out / "summary.html").read_text()
    assert "12 submissions" in summary and "data:image/png;base64," in summary


def test_the_dask_executor_needs_a_scheduler_address(tmp_path):
    """`--executor dask` without `--scheduler`: a one-line usage error, nothing graded."""
    from typer.testing import CliRunner

    from grader.cli import app

    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "subs" / "alice" / "mlp_pixels.py").write_text(REFERENCE)
    result = CliRunner().invoke(app, ["batch", str(tmp_path / "subs"), "--assignment", MODULE,
                                      "--out", str(tmp_path / "out"), "--executor", "dask"])
    assert result.exit_code == 2 and "--scheduler" in result.output, result.output
    assert not (tmp_path / "out" / "alice" / "grading.json").exists()
