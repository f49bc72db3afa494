"""Grades and feedback back into Moodle: the grading worksheet and the feedback-files zip.

Both files are read by Moodle's own importers; what they expect was read from Moodle's source
(moodle/moodle, ``mod/assign``), not guessed:

* **Grading worksheet** ("Download grading worksheet" / "Upload grading worksheet",
  ``feedback/offline/importgradeslib.php``, ``gradingtable.php``). A CSV (comma, UTF-8; the
  download has a byte-order mark) whose header names come from the language strings of the
  instructor's Moodle: ``Identifier`` (``get_string('recordid', 'assign')``), ``Grade``
  (``get_string('grade')``), ``Last modified (grade)`` (``lastmodifiedgrade``), and one column
  per feedback text field, named by its plugin (``Feedback comments``). The importer refuses
  a file without the first three, reads the participant number after the ``Participant ``
  prefix of ``Identifier`` (``get_string('hiddenuser', 'assign')`` . the assignment's unique
  id for the user: the same number as in the download-all folder names), skips a grade
  outside 0..maximum, and skips the row when the grade was changed in Moodle more than 60 s
  after the worksheet's ``Last modified (grade)`` — so that column is written back unchanged.
  A grade is read with ``unformat_float``: the worksheet's own decimal separator is kept.
* **Feedback files zip** ("Upload multiple feedback files in a zip",
  ``feedback/file/importziplib.php``). Each path part is split on ``_`` into at most five
  pieces: ``fullname _ participantid _ plugintype _ pluginname [_ rest]``; the id must be a
  participant's, the plugin one of the assignment's. We write
  ``<Full name>_<id>_assignfeedback_file/report.html`` (a name's own ``_`` become spaces, as
  Moodle's ``downloader.php`` does when it names the download-all folders).
* **Download all submissions** (``classes/downloader.php``): folders
  ``<Full name>_<id>_assignsubmission_file`` (Moodle >= 4.1; ``..._file_`` before);
  :mod:`grader.batch` reads the id from them, and results are stored under it.

The worksheet's column names are recognised in English and French (the French strings of
Moodle's language pack: ``Identifiant``, ``Note``, ``Dernière modification (note)``...).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.files import write_atomically
from grader.i18n import _, ngettext
from grader.results import GradingResult

RESULT_FILE = "grading.json"
LATE_FILE = "late.json"  # written by grader.late_policy: the penalty of each late student

# Header names, by language (Moodle's language strings, see the module docstring).
ID_COLUMNS = ("Identifier", "Identifiant")
NAME_COLUMNS = ("Full name", "Nom complet")
GRADE_COLUMNS = ("Grade", "Note")
MAX_COLUMNS = ("Maximum Grade", "Maximum grade", "Note maximale")
STATUS_COLUMNS = ("Status", "Statut")
SUBMITTED_COLUMNS = ("Last modified (submission)", "Dernière modification (travail remis)")
GRADE_MODIFIED_COLUMNS = ("Last modified (grade)", "Dernière modification (note)")
COMMENT_COLUMNS = ("Feedback comments", "Feedback par commentaires")

PARTICIPANT = re.compile(r"(\d+)\s*$")
STUDENT_WITH_ID = re.compile(r"\((\d+)\)\s*$")  # grader.batch: "Ada Lovelace (12345)"


class MoodleError(Exception):
    """The worksheet cannot be used (not a CSV, a column Moodle needs is missing)."""


@dataclass
class Worksheet:
    header: list[str]
    rows: list[list[str]]
    delimiter: str = ","
    bom: bool = True

    def column(self, names: tuple[str, ...], required: bool = True) -> int | None:
        folded = [h.strip().casefold() for h in self.header]
        for name in names:
            if name.casefold() in folded:
                return folded.index(name.casefold())
        if required:
            raise MoodleError(_("the worksheet has no `{column}` column (its columns: "
                                "{columns}); download it again from the assignment's page: "
                                "View all submissions > Download grading worksheet").format(
                column=names[0], columns=", ".join(self.header)))
        return None

    def participant(self, row: list[str]) -> str | None:
        """The participant number of a row: "Participant 12345" -> "12345"."""
        cell = row[self.column(ID_COLUMNS)] if len(row) > self.column(ID_COLUMNS) else ""
        match = PARTICIPANT.search(cell)
        return match.group(1) if match else None

    def cell(self, row: list[str], names: tuple[str, ...]) -> str:
        index = self.column(names, required=False)
        return row[index] if index is not None and index < len(row) else ""


def read_worksheet(path: Path) -> Worksheet:
    raw = Path(path).read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # re-saved by a spreadsheet on Windows
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if r]
    if not rows:
        raise MoodleError(_("{path}: empty worksheet").format(path=path))
    sheet = Worksheet(header=rows[0], rows=rows[1:], delimiter=delimiter, bom=bom)
    for names in (ID_COLUMNS, GRADE_COLUMNS, GRADE_MODIFIED_COLUMNS):
        sheet.column(names)  # the three the importer requires (importgradeslib.php init())
    return sheet


def _decimal_separator(sheet: Worksheet) -> str:
    """The worksheet's decimal separator: Moodle writes numbers in the user's language
    ("100.00", "100,00") and reads them back with unformat_float."""
    column = sheet.column(MAX_COLUMNS, required=False)
    for row in sheet.rows:
        value = row[column] if column is not None and column < len(row) else ""
        if re.fullmatch(r"\d+,\d+", value.strip()):
            return ","
        if re.fullmatch(r"\d+\.\d+", value.strip()):
            return "."
    return "."


def _number(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Results of a batch, by participant id
# --------------------------------------------------------------------------------------------

@dataclass
class StudentResult:
    key: str                      # the results folder
    participant: str | None       # Moodle's participant id, when the submission came from it
    result: GradingResult
    penalty: dict = field(default_factory=dict)   # from late.json: {"percent":..., "late_by_s":...}

    @property
    def final_fraction(self) -> float | None:
        """The final score as a fraction of the maximum (late penalty applied)."""
        if self.result.error is not None or self.result.max_score <= 0:
            return None
        final = self.penalty.get("final", self.result.score)
        return max(0.0, min(1.0, float(final) / self.result.max_score))


def load_results(results_dir: Path) -> list[StudentResult]:
    """Every student folder of a batch (``<results>/<key>/grading.json``)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise MoodleError(_("{path}: no such results folder (the --out of `grade batch`)").format(
            path=results_dir))
    late = {}
    if (results_dir / LATE_FILE).is_file():
        late = json.loads((results_dir / LATE_FILE).read_text()).get("students", {})
    found = []
    for folder in sorted(p for p in results_dir.iterdir() if p.is_dir()):
        path = folder / RESULT_FILE
        if not path.is_file():
            continue
        try:
            result = GradingResult.load(path)
        except (OSError, ValueError, TypeError, KeyError):
            continue
        participant = folder.name if folder.name.isdigit() else None
        named = STUDENT_WITH_ID.search(result.student or "")
        if participant is None and named:
            participant = named.group(1)
        found.append(StudentResult(folder.name, participant, result, late.get(folder.name, {})))
    return found


# --------------------------------------------------------------------------------------------
# The worksheet, filled in
# --------------------------------------------------------------------------------------------

@dataclass
class RoundTrip:
    """What was written, and who could not be matched: nobody is dropped silently."""
    written: list[str] = field(default_factory=list)            # participant ids with a grade
    not_graded: list[str] = field(default_factory=list)         # "Name (Participant 1): why"
    no_result: list[str] = field(default_factory=list)          # in the worksheet, no result
    not_in_worksheet: list[str] = field(default_factory=list)   # a result, no worksheet row
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [ngettext("{n} student written", "{n} students written",
                        len(self.written)).format(n=len(self.written))]
        for title, names in ((_("in the worksheet but not graded (left blank)"), self.no_result),
                             (_("graded with an error (no grade written)"), self.not_graded),
                             (_("graded but not in the worksheet (not uploaded)"),
                              self.not_in_worksheet)):
            if names:
                out.append(f"{len(names)} {title}: {'; '.join(names)}")
        return out + self.warnings


def feedback_comment(student: StudentResult, grade_text: str, maximum_text: str) -> str:
    """A short comment for Moodle's "Feedback comments": the grade, what to look at first,
    the late penalty; the full report is the feedback file."""
    result = student.result
    parts = [_("{title}: {score} / {max_score} points ({grade} / {maximum}).").format(
        title=result.title, score=f"{result.score:g}", max_score=f"{result.max_score:g}",
        grade=grade_text, maximum=maximum_text)]
    if student.penalty.get("penalty"):
        parts.append(_("Late by {late_by}: -{penalty} points ({raw} -> {final}).").format(
            late_by=student.penalty.get("late_by", "?"),
            penalty=f"{float(student.penalty['penalty']):g}", raw=f"{result.score:g}",
            final=f"{float(student.penalty['final']):g}"))
    failed = [c for c in result.checks if not c.passed]
    if failed:
        elements = list(dict.fromkeys(c.element for c in failed))
        shown = ", ".join(elements[:5]) + (", ..." if len(elements) > 5 else "")
        parts.append(ngettext("{n} check to look at, in: {elements}.",
                              "{n} checks to look at, in: {elements}.", len(failed)).format(
            n=len(failed), elements=shown))
    else:
        parts.append(_("Every check passed."))
    parts.append(_("The full report is in the feedback file report.html."))
    return " ".join(parts)


def fill_worksheet(results_dir: Path, worksheet: Path, out: Path) -> RoundTrip:
    """Write ``out``: the worksheet with each graded student's grade (scaled to the
    worksheet's maximum) and comment; every other cell as downloaded."""
    sheet = read_worksheet(worksheet)
    students = load_results(results_dir)
    by_id = {s.participant: s for s in students if s.participant}
    report = RoundTrip()
    report.not_in_worksheet = []
    grade_col = sheet.column(GRADE_COLUMNS)
    max_col = sheet.column(MAX_COLUMNS, required=False)
    comment_col = sheet.column(COMMENT_COLUMNS, required=False)
    if comment_col is None:
        report.warnings.append(_("the worksheet has no `Feedback comments` column (feedback "
                                 "comments are off for this assignment): grades only"))
    separator = _decimal_separator(sheet)
    seen = set()
    for row in sheet.rows:
        row.extend([""] * (len(sheet.header) - len(row)))
        pid = sheet.participant(row)
        who = f"{sheet.cell(row, NAME_COLUMNS) or '?'} (Participant {pid or '?'})"
        student = by_id.get(pid) if pid else None
        if student is None:
            report.no_result.append(who)
            continue
        seen.add(pid)
        fraction = student.final_fraction
        if fraction is None:
            reason = student.result.error or _("no checks")
            report.not_graded.append(f"{who}: {reason}")
            continue
        maximum = _number(row[max_col]) if max_col is not None else None
        if maximum is None:
            maximum = student.result.max_score
            report.warnings.append(_("{who}: no maximum grade in the worksheet (a scale?); "
                                     "the grade is written out of {maximum}").format(
                who=who, maximum=f"{maximum:g}"))
        grade = round(fraction * maximum, 2)
        grade_text = f"{grade:.2f}".replace(".", separator)
        row[grade_col] = grade_text
        if comment_col is not None:
            row[comment_col] = feedback_comment(student, grade_text,
                                                f"{maximum:.2f}".replace(".", separator))
        report.written.append(pid)
    report.not_in_worksheet = [_("{student} (results folder {key})").format(
        student=s.result.student or s.key, key=s.key) for s in students if s.participant not in seen]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=sheet.delimiter, lineterminator="\n")
    writer.writerow(sheet.header)
    writer.writerows(sheet.rows)
    write_atomically(out, ("\ufeff" if sheet.bom else "") + buffer.getvalue())
    return report


# --------------------------------------------------------------------------------------------
# The feedback files zip
# --------------------------------------------------------------------------------------------

def feedback_folder(fullname: str, participant: str) -> str:
    """``Ada Lovelace_12345_assignfeedback_file``: importziplib.php splits each path part on
    ``_`` and reads the id from the second piece, so a name keeps none of its own ``_`` (nor
    a ``/``, which would make it two path parts)."""
    name = re.sub(r"[_/\\\x00-\x1f]+", " ", fullname).strip() or "Participant"
    return f"{name}_{participant}_assignfeedback_file"


def feedback_zip(results_dir: Path, out: Path, worksheet: Path | None = None) -> RoundTrip:
    """Each graded student's ``report.html`` in the layout of Moodle's "upload multiple
    feedback files in a zip". Names come from the worksheet when given, else from the batch."""
    students = load_results(results_dir)
    names: dict[str, str] = {}
    in_sheet: set[str] | None = None
    if worksheet is not None:
        sheet = read_worksheet(worksheet)
        in_sheet = set()
        for row in sheet.rows:
            pid = sheet.participant(row)
            if pid:
                in_sheet.add(pid)
                names[pid] = sheet.cell(row, NAME_COLUMNS)
    report = RoundTrip()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for student in students:
            shown = student.result.student or student.key
            if student.participant is None:
                report.not_in_worksheet.append(_("{student} (results folder {key}): no Moodle "
                                                 "participant id (not from a Moodle export)")
                                               .format(student=shown, key=student.key))
                continue
            if in_sheet is not None and student.participant not in in_sheet:
                report.not_in_worksheet.append(_("{student} (results folder {key})").format(
                    student=shown, key=student.key))
                continue
            html = Path(results_dir) / student.key / "report.html"
            if not html.is_file():
                report.not_graded.append(_("{student}: no report.html").format(student=shown))
                continue
            fullname = names.get(student.participant) or STUDENT_WITH_ID.sub(
                "", student.result.student or "").strip()
            archive.writestr(f"{feedback_folder(fullname, student.participant)}/report.html",
                             html.read_bytes())
            report.written.append(student.participant)
    if in_sheet is not None:
        graded = {s.participant for s in students}
        report.no_result = [f"{names.get(p) or '?'} (Participant {p})"
                            for p in sorted(in_sheet - graded)]
    write_atomically(out, buffer.getvalue())
    return report
