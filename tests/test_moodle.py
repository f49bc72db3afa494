"""Grades and feedback back into Moodle: the worksheet and the feedback zip, read back the way
Moodle's own importers read them (mod/assign/feedback/offline/importgradeslib.php and
mod/assign/feedback/file/importziplib.php, mirrored below), after a real `grade batch` of a
"download all submissions" zip."""

import csv
import io
import zipfile
from pathlib import Path

import pytest

from grader.assignment import load_assignment
from grader.batch import run_batch, write_student
from grader.moodle import MoodleError, feedback_folder, feedback_zip, fill_worksheet
from grader.results import CheckResult, GradingResult

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "moodle"
ASSIGNMENT = "perceptron"


def reference_source(name: str) -> str:
    """The practical's reference solution, wherever its folder keeps it."""
    assignment = load_assignment(name)
    candidates = [assignment.folder / "reference" / f"{assignment.module}.py",
                  assignment.folder / "reference.py"]
    if assignment.reference:
        candidates.append(REPO / (assignment.reference.replace(".", "/") + ".py"))
    return next(p for p in candidates if p.is_file()).read_text()


# ---- Moodle's importers, mirrored line by line (PHP in the comments) ------------------------

def moodle_import_worksheet(path: Path, participants: set[str], maximum: float,
                            strings: dict) -> dict[str, dict]:
    """importgradeslib.php init() + next(), locallib.php process_import_grades() checks."""
    text = path.read_bytes().decode("utf-8")
    text = text.removeprefix("\ufeff")                       # core_text::trim_utf8_bom
    rows = list(csv.reader(io.StringIO(text, newline="")))   # csv_import_reader, 'comma'
    columns = rows[0]
    # if ($column == $strgrade) ... == $strid ... == $strmodified: exact header names
    grade_i = columns.index(strings["grade"])
    id_i = columns.index(strings["recordid"])
    modified_i = columns.index(strings["lastmodifiedgrade"])
    feedback_i = columns.index(strings["comments"])
    imported = {}
    for record in rows[1:]:
        # $id = substr($idstr, strlen(get_string('hiddenuser', 'assign')));
        uid = record[id_i][len(strings["hiddenuser"]):]
        if uid not in participants:  # get_user_id_for_uniqueid($id) + validusers
            continue
        grade = record[grade_i].replace(strings["decsep"], ".")  # unformat_float
        if grade == "" or float(grade) < 0 or float(grade) > maximum:  # skipped rows
            continue
        imported[uid] = {"grade": float(grade), "modified": record[modified_i],
                         "feedback": record[feedback_i]}
    return imported


def moodle_import_zip(names: list[str], participants: set[str]) -> dict[str, list[str]]:
    """importziplib.php is_valid_filename_for_import(): explode('_', $pathpart, 5) on each
    path part; the id is the second piece, the plugin the third and fourth."""
    imported: dict[str, list[str]] = {}
    for name in names:
        if name.endswith("/") or name.split("/")[-1].startswith((".", "~")):
            continue
        parts = name.split("/")
        while parts:
            info = parts.pop(0).split("_", 4)
            if len(info) < 4 or not info[1].isdigit() or info[1] not in participants:
                continue
            assert (info[2], info[3]) in {("assignfeedback", "file"), ("assignsubmission", "file")}
            rest = info[4] if len(info) == 5 else ""
            imported.setdefault(info[1], []).append("/".join([rest, *parts]))
            break
    return imported


ENGLISH = {"grade": "Grade", "recordid": "Identifier", "lastmodifiedgrade": "Last modified (grade)",
           "comments": "Feedback comments", "hiddenuser": "Participant ", "decsep": "."}
FRENCH = {"grade": "Note", "recordid": "Identifiant", "lastmodifiedgrade": "Dernière modification (note)",
          "comments": "Feedback par commentaires", "hiddenuser": "Participant", "decsep": ","}
PARTICIPANTS = {"1048213", "1048214", "1048215", "1048216"}


# ---- a results folder made without grading (cheap) ------------------------------------------

def _result(student: str, passed: int, failed: int, error: str | None = None) -> GradingResult:
    checks = [CheckResult(f"forward check {i}", 1.0, 1.0, "passed") for i in range(passed)]
    checks += [CheckResult(f"update check {i}", 0.0, 1.0, "failed", "wrong") for i in range(failed)]
    return GradingResult(assignment=ASSIGNMENT, title="Perceptron", submission="x.py",
                         checks=[] if error else checks, student=student, error=error)


@pytest.fixture()
def results(tmp_path) -> Path:
    out = tmp_path / "results"
    write_student(_result("Ada Lovelace (1048213)", 40, 0), out / "1048213")
    write_student(_result("Jean Baptiste Fourier (1048214)", 30, 10), out / "1048214")
    write_student(_result("Grace Hopper (1048215)", 0, 0, error="empty submission folder"),
                  out / "1048215")
    write_student(_result("Late Comer (1048299)", 20, 20), out / "1048299")  # not in the sheet
    write_student(_result("bob", 40, 0), out / "bob")                        # not from Moodle
    return out


def test_worksheet_round_trip_through_moodles_importer(results, tmp_path):
    out = tmp_path / "upload.csv"
    report = fill_worksheet(results, FIXTURES / "worksheet_en.csv", out)
    imported = moodle_import_worksheet(out, PARTICIPANTS, 20.0, ENGLISH)
    # scaled to the worksheet's maximum (20): 40/40 -> 20, 30/40 -> 15
    assert {uid: row["grade"] for uid, row in imported.items()} == {"1048213": 20.0, "1048214": 15.0}
    assert "30 / 40" in imported["1048214"]["feedback"] and "update" in imported["1048214"]["feedback"]
    assert "Every check passed" in imported["1048213"]["feedback"]
    # nobody dropped silently: each one missing on either side is listed by name
    assert report.written == ["1048213", "1048214"]
    assert report.no_result == ["Alan Turing (Participant 1048216)"]
    assert report.not_graded == ["Grace Hopper (Participant 1048215): empty submission folder"]
    assert any("Late Comer" in s for s in report.not_in_worksheet)
    assert any(s.startswith("bob") for s in report.not_in_worksheet)
    # every other cell as downloaded: "Last modified (grade)" decides Moodle's stale check
    original = list(csv.reader(io.StringIO((FIXTURES / "worksheet_en.csv").read_text("utf-8-sig"))))
    written = list(csv.reader(io.StringIO(out.read_text("utf-8-sig"))))
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert written[0] == original[0] and len(written) == len(original)
    for before, after in zip(original[1:], written[1:]):
        assert [c for i, c in enumerate(before) if i not in (4, 9)] == \
               [c for i, c in enumerate(after) if i not in (4, 9)]


def test_french_worksheet_keeps_its_decimal_comma(results, tmp_path):
    out = tmp_path / "upload.csv"
    fill_worksheet(results, FIXTURES / "worksheet_fr.csv", out)
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8-sig"))))
    assert [r[4] for r in rows[1:]] == ["20,00", "15,00"]
    imported = moodle_import_worksheet(out, PARTICIPANTS, 20.0, FRENCH)
    assert {uid: row["grade"] for uid, row in imported.items()} == {"1048213": 20.0, "1048214": 15.0}


def test_a_worksheet_without_moodles_columns_is_refused(results, tmp_path):
    sheet = tmp_path / "grades.csv"
    sheet.write_text("Name,Score\nAda,3\n")
    with pytest.raises(MoodleError, match="Identifier"):
        fill_worksheet(results, sheet, tmp_path / "out.csv")


def test_feedback_zip_names_match_moodles_importer(results, tmp_path):
    out = tmp_path / "feedback.zip"
    report = feedback_zip(results, out, FIXTURES / "worksheet_en.csv")
    names = zipfile.ZipFile(out).namelist()
    imported = moodle_import_zip(names, PARTICIPANTS)
    # Grace's result is an error row: its report says why, and she gets it too
    assert imported == {"1048213": ["/report.html"], "1048214": ["/report.html"],
                        "1048215": ["/report.html"]}
    # a name's own "_" would shift the id out of the second piece: made a space
    assert "Jean Baptiste Fourier_1048214_assignfeedback_file/report.html" in names
    assert report.no_result == ["Alan Turing (Participant 1048216)"]
    assert any("Late Comer" in s for s in report.not_in_worksheet)
    assert any(s.startswith("bob") for s in report.not_in_worksheet)


def test_feedback_folder_never_lets_a_name_move_the_id():
    for name in ["A_B_C", "x/y", "", "Ünïcode Ñame"]:
        info = feedback_folder(name, "77").split("_", 4)
        assert info[1:4] == ["77", "assignfeedback", "file"]


# ---- the real thing: a download-all zip, `grade batch`, both files ---------------------------

@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("moodle")
    reference = reference_source(ASSIGNMENT)
    wrong = reference.replace("return x @ w + b\n", "return x @ w\n")
    assert wrong != reference
    archive = root / "PRAC-Perceptron-4242.zip"   # Moodle >= 4.1 names: no trailing "_"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Ada Lovelace_1048213_assignsubmission_file/perceptron.py", reference)
        z.writestr("Jean Baptiste Fourier_1048214_assignsubmission_file/perceptron.py", wrong)
        z.writestr("Grace Hopper_1048215_assignsubmission_file/perceptron.py",
                   "def init_params(:\n")
        z.writestr("Grace Hopper_1048215_assignsubmission_onlinetext/onlinetext.html", "<p>hi</p>")
    out = root / "results"
    summary = run_batch(load_assignment(ASSIGNMENT), archive, out, workers=2)
    assert summary.graded == 3
    return out


def test_download_all_to_worksheet_and_feedback_zip(graded_class, tmp_path):
    assert sorted(p.name for p in graded_class.iterdir() if p.is_dir() and not
                  p.name.startswith(".")) == ["1048213", "1048214", "1048215"]
    out = tmp_path / "upload.csv"
    report = fill_worksheet(graded_class, FIXTURES / "worksheet_en.csv", out)
    imported = moodle_import_worksheet(out, PARTICIPANTS, 20.0, ENGLISH)
    assert imported["1048213"]["grade"] == 20.0                 # the reference: full marks
    assert 0 < imported["1048214"]["grade"] < 20.0              # forward without its bias
    assert "forward" in imported["1048214"]["feedback"]
    assert report.not_graded and report.not_graded[0].startswith("Grace Hopper (Participant 1048215)")
    assert report.no_result == ["Alan Turing (Participant 1048216)"]
    zipped = tmp_path / "feedback.zip"
    feedback_zip(graded_class, zipped, FIXTURES / "worksheet_en.csv")
    with zipfile.ZipFile(zipped) as z:
        files = moodle_import_zip(z.namelist(), PARTICIPANTS)
        assert set(files) == {"1048213", "1048214", "1048215"}
        html = z.read("Ada Lovelace_1048213_assignfeedback_file/report.html").decode()
        assert "<html" in html.lower()


def test_commands_list_who_is_missing(results, tmp_path):
    from typer.testing import CliRunner

    from grader.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["moodle-worksheet", str(results), str(FIXTURES / "worksheet_en.csv"),
                              "-o", str(tmp_path / "up.csv")])
    assert out.exit_code == 0, out.output
    assert "Alan Turing (Participant 1048216)" in out.output and "Late Comer" in out.output
    out = runner.invoke(app, ["moodle-feedback", str(results), "-o", str(tmp_path / "f.zip"),
                              "--worksheet", str(FIXTURES / "worksheet_en.csv")])
    assert out.exit_code == 0 and (tmp_path / "f.zip").is_file()
    out = runner.invoke(app, ["moodle-worksheet", str(tmp_path / "nowhere"),
                              str(FIXTURES / "worksheet_en.csv"), "-o", str(tmp_path / "x.csv")])
    assert out.exit_code == 2 and "no such results folder" in out.output
