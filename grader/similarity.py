"""Similarity across a batch: pairs of students to look at, with two signals. It flags; it
never changes a grade.

1. **Code**: the code the grader kept for each student (the imports, the practical's
   definitions and the top-level statements they use — :mod:`grader.slicing`), so a notebook
   and a ``.py`` compare alike and experiments nobody graded do not count. Compared with
   copydetect (winnowed fingerprints of the tokenised code: renamed variables and moved
   comments change nothing; everything stays on this machine). The practical's starter file
   (its given code, signatures and docstrings) is copydetect's boilerplate: what everybody got
   is never a shared region.
2. **Same wrong values**: two students whose *failing* checks report the same numbers (the
   same wrong parameter count, the same wrong loss to 6 digits) on several checks. A common
   mistake gives the same numbers to many students, so only values shared by few students of
   the batch (:data:`RARE_SHARE`) count as evidence.

``grade similarity RESULTS_DIR`` (or ``grade batch --similarity``) writes
``similarity.csv`` (every pair, ranked), ``similarity.html`` (the ranked pairs) and, for each
pair above :data:`REPORT_THRESHOLD`, ``similarity/<a>--<b>.html`` (both codes side by side,
the shared regions marked); ``summary.html`` links to them.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.files import write_atomically
from grader.i18n import _
from grader.results import GradingResult

KEPT_CODE = "kept_code.py"     # in each student's results folder, written by grade batch
RESULT_FILE = "grading.json"
NOISE_TOKENS = 25              # copydetect's defaults: k-grams of 25 filtered characters,
GUARANTEE_TOKENS = 30          # any shared run of 30 is found (window 30 - 25 + 1)
REPORT_THRESHOLD = 0.5         # pairs with their own side-by-side page
FLAG_THRESHOLD = 0.6           # code similarity worth a look
RARE_SHARE = 0.1               # a wrong value held by at most 10 % of the class (and 2 at least)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


# --------------------------------------------------------------------------------------------
# The code the grader kept
# --------------------------------------------------------------------------------------------

def kept_code(path: Path, module: str, files: list[str], required: list[str]) -> str:
    """The statements the grader runs for this submission, in source order (no student code
    runs: the file is only read and sliced)."""
    from grader import slicing
    from grader.submission import find_submission_file, read_source

    source = read_source(find_submission_file(Path(path), module, files), module)
    plan = slicing.plan(source.text, source.display_name, required)
    lines = source.text.splitlines()
    return "\n\n".join("\n".join(lines[plan.statements[i].lineno - 1:
                                       plan.statements[i].end_lineno])
                       for i in plan.kept) + "\n"


def save_kept_code(assignment, submission_path: Path | None, folder: Path) -> None:
    """Keep the graded code next to the results (for `grade similarity`); quietly nothing when
    the submission cannot be read (its result already says why)."""
    if submission_path is None:
        return
    try:
        code = kept_code(submission_path, assignment.module, assignment.files,
                         assignment.required)
    except Exception:  # an unreadable submission: no code to compare, the row says why
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_atomically(Path(folder) / KEPT_CODE, code)


def starter_code(assignment) -> str:
    """The practical's starter file (everything students were given): boilerplate."""
    from grader.assignment import assignments_root

    candidates = [assignment.folder / "starter" / f"{assignment.module}.py",
                  assignments_root().parent / "student_template" / f"{assignment.module}.py"]
    return next((p.read_text() for p in candidates if p.is_file()), "")


# --------------------------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------------------------

@dataclass
class Student:
    key: str
    name: str
    code: str
    result: GradingResult | None
    wrong: dict[str, tuple] = field(default_factory=dict)   # failing check -> its numbers


@dataclass
class Pair:
    a: Student
    b: Student
    code: float = 0.0                 # copydetect: the mean of the two students' shares
    code_max: float = 0.0             # the larger share (copydetect's own report shows both)
    shared_tokens: int = 0
    same_wrong: list[str] = field(default_factory=list)       # checks with the same numbers
    rare_wrong: list[str] = field(default_factory=list)       # ... held by few students
    slices: tuple = ((), ())
    page: str | None = None

    @property
    def rank_score(self) -> float:
        """Code similarity, raised by rare shared wrong values (each 0.1, at most 0.3)."""
        return self.code + min(0.3, 0.1 * len(self.rare_wrong))

    @property
    def flagged(self) -> bool:
        return self.code >= FLAG_THRESHOLD or len(self.rare_wrong) >= 2


def wrong_values(result: GradingResult) -> dict[str, tuple]:
    """Each failing check's numbers as its message states them, rounded to 6 significant
    digits (what the student's code returned, next to what was expected)."""
    out = {}
    for check in result.checks:
        if check.passed or check.grader_error:
            continue
        numbers = tuple(float(f"{float(n):.6g}") for n in NUMBER.findall(check.message))
        if numbers:
            out[check.name] = numbers
    return out


def load_students(results_dir: Path, assignment=None) -> list[Student]:
    students = []
    for folder in sorted(p for p in Path(results_dir).iterdir()
                         if p.is_dir() and not p.name.startswith(".")):
        result = None
        if (folder / RESULT_FILE).is_file():
            try:
                result = GradingResult.load(folder / RESULT_FILE)
            except (OSError, ValueError, TypeError, KeyError):
                result = None
        code = ""
        if (folder / KEPT_CODE).is_file():
            code = (folder / KEPT_CODE).read_text(errors="replace")
        elif result is not None and assignment is not None and result.submission:
            try:  # results of a batch made before kept_code.py was saved
                code = kept_code(Path(result.submission), assignment.module, assignment.files,
                                 assignment.required)
            except Exception:
                code = ""
        if result is None and not code:
            continue
        students.append(Student(folder.name, (result.student if result else None) or folder.name,
                                code, result, wrong_values(result) if result else {}))
    return students


def compare(students: list[Student], boilerplate: str) -> list[Pair]:
    """Every pair, ranked (most similar first)."""
    from copydetect import CodeFingerprint, compare_files

    window = GUARANTEE_TOKENS - NOISE_TOKENS + 1
    base = CodeFingerprint("starter.py", NOISE_TOKENS, window, fp=io.StringIO(boilerplate))
    prints = {}
    for s in students:
        if s.code.strip():
            prints[s.key] = CodeFingerprint(f"{s.key}.py", NOISE_TOKENS, window,
                                            boilerplate=list(base.hashes), fp=io.StringIO(s.code))
    holders: dict[tuple, int] = {}
    for s in students:
        for item in s.wrong.items():
            holders[item] = holders.get(item, 0) + 1
    rare_limit = max(2, math.floor(RARE_SHARE * len(students)))
    pairs = []
    for a, b in itertools.combinations(students, 2):
        pair = Pair(a, b)
        if a.key in prints and b.key in prints:
            overlap, (sim_a, sim_b), slices = compare_files(prints[a.key], prints[b.key])
            # The mean of both shares: a student who wrote three lines, all of them a common
            # idiom, shares "100 %" of their code with half the class (the larger share), but
            # not the other way round.
            pair.code = float(sim_a + sim_b) / 2
            pair.code_max = float(max(sim_a, sim_b))
            pair.shared_tokens = int(overlap)
            pair.slices = slices
        same = sorted(name for name, value in a.wrong.items() if b.wrong.get(name) == value)
        pair.same_wrong = same
        pair.rare_wrong = [n for n in same if holders[(n, a.wrong[n])] <= rare_limit]
        pairs.append(pair)
    pairs.sort(key=lambda p: (-p.rank_score, -p.code, p.a.key, p.b.key))
    return pairs


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------

STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#1f2328}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:.3em .6em;text-align:left}
.num{text-align:right}.flag{background:#fff8c5}.code{display:flex;gap:1em}
.code pre{flex:1;overflow:auto;background:#f6f8fa;padding:.8em;font-size:.85em}
mark{background:#ffd8b5}"""


def _marked(code: str, slices) -> str:
    """The code, HTML-escaped, with copydetect's shared regions in <mark>."""
    out, at = [], 0
    starts, ends = (slices[0], slices[1]) if len(slices) == 2 else ((), ())
    for start, end in sorted(zip(map(int, starts), map(int, ends))):
        if start < at:
            start = at
        out.append(html.escape(code[at:start]))
        out.append("<mark>" + html.escape(code[start:end]) + "</mark>")
        at = max(at, end)
    out.append(html.escape(code[at:]))
    return "".join(out)


def _pair_page(pair: Pair) -> str:
    slices_a, slices_b = pair.slices if len(pair.slices) == 2 else ((), ())
    title = _("{a} and {b}: {share:.0%} of the graded code shared").format(
        a=pair.a.name, b=pair.b.name, share=pair.code)
    wrong = ""
    if pair.same_wrong:
        wrong = "<p>" + html.escape(_("Same wrong values on: {checks}").format(
            checks=", ".join(pair.same_wrong))) + "</p>"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            "<p>" + html.escape(_("Marked: regions found in both (the starter code excluded). A "
                                  "flag to look at, not a verdict.")) + "</p>"
            f"{wrong}<div class='code'><pre><b>{html.escape(pair.a.name)}</b>\n"
            f"{_marked(pair.a.code, _as_pairs(slices_a))}</pre><pre><b>"
            f"{html.escape(pair.b.name)}</b>\n{_marked(pair.b.code, _as_pairs(slices_b))}</pre>"
            "</div></body></html>")


def _as_pairs(slices):
    try:
        return (list(slices[0]), list(slices[1]))
    except (IndexError, TypeError):
        return ((), ())


def _page_name(pair: Pair) -> str:
    safe = lambda k: re.sub(r"[^\w.-]+", "-", k)[:60]  # noqa: E731 - keys are folder names
    return f"similarity/{safe(pair.a.key)}--{safe(pair.b.key)}.html"


def write_reports(results_dir: Path, pairs: list[Pair]) -> dict:
    results_dir = Path(results_dir)
    (results_dir / "similarity").mkdir(exist_ok=True)
    for pair in pairs:
        if pair.code >= REPORT_THRESHOLD or pair.rare_wrong:
            pair.page = _page_name(pair)
            write_atomically(results_dir / pair.page, _pair_page(pair))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["rank", "student_a", "id_a", "student_b", "id_b", "code_similarity",
                     "code_similarity_max", "shared_tokens", "same_wrong_values", "rare_same_wrong_values",
                     "checks_with_same_wrong_values", "flagged", "page"])
    for rank, p in enumerate(pairs, start=1):
        writer.writerow([rank, _cell(p.a.name), _cell(p.a.key), _cell(p.b.name), _cell(p.b.key),
                         f"{p.code:.3f}", f"{p.code_max:.3f}", p.shared_tokens, len(p.same_wrong), len(p.rare_wrong),
                         _cell("; ".join(p.same_wrong)), "yes" if p.flagged else "",
                         p.page or ""])
    write_atomically(results_dir / "similarity.csv", buffer.getvalue())
    rows = []
    for rank, p in enumerate(pairs[:200], start=1):
        side_by_side = html.escape(_("side by side"))
        link = f"<a href='{html.escape(p.page)}'>{side_by_side}</a>" if p.page else ""
        rows.append(f"<tr class='{'flag' if p.flagged else ''}'><td class='num'>{rank}</td>"
                    f"<td>{html.escape(p.a.name)}</td><td>{html.escape(p.b.name)}</td>"
                    f"<td class='num'>{p.code:.0%}</td><td class='num'>{len(p.same_wrong)}"
                    f" ({len(p.rare_wrong)})</td><td>{link}</td></tr>")
    heading = _("Similar pairs")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(heading)}"
            f"</title><style>{STYLE}</style></head><body><h1>{html.escape(heading)}</h1><p>"
            + html.escape(_("Code: share of the graded code found in both (copydetect, the "
                            "starter code excluded). Same wrong values: failing checks where "
                            "both returned the same numbers (in brackets: values few students "
                            "of the class share). Flags to look at, never a verdict: grades "
                            "are unchanged."))
            + "</p><table><thead><tr><th>#</th><th>" + html.escape(_("Student")) + "</th><th>"
            + html.escape(_("Student")) + "</th><th>" + html.escape(_("Code")) + "</th><th>"
            + html.escape(_("Same wrong values")) + "</th><th></th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></body></html>")
    write_atomically(results_dir / "similarity.html", page)
    top = [{"a": p.a.name, "b": p.b.name, "code": p.code, "same_wrong": len(p.same_wrong),
            "rare_wrong": len(p.rare_wrong), "page": p.page}
           for p in pairs if p.flagged][:20]
    data = {"pairs": len(pairs), "flagged": top}
    write_atomically(results_dir / "similarity.json", json.dumps(data, indent=2))
    return data


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def run(results_dir: Path, assignment) -> list[Pair]:
    """`grade similarity`: compare, write the reports, link them from summary.html."""
    students = load_students(results_dir, assignment)
    pairs = compare(students, starter_code(assignment))
    write_reports(results_dir, pairs)
    _link_from_summary(Path(results_dir), assignment)
    return pairs


def summary_section(results_dir: Path) -> dict | None:
    """What summary.html shows of a similarity run (None when none was made)."""
    path = Path(results_dir) / "similarity.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _link_from_summary(results_dir: Path, assignment) -> None:
    """Re-render summary.html from the results folders, with the similarity section."""
    from grader import reports

    rows, results = [], []
    for folder in sorted(p for p in results_dir.iterdir() if p.is_dir()):
        try:
            result = GradingResult.load(folder / RESULT_FILE)
        except (OSError, ValueError, TypeError, KeyError):
            continue
        rows.append({"student": result.student or folder.name, "key": folder.name,
                     "score": result.score, "max_score": result.max_score,
                     "graded": result.error is None,
                     "note": result.error or result.summary_line(),
                     "report": f"{folder.name}/report.html"})
        if result.error is None:
            results.append(result)
    if rows:
        write_atomically(results_dir / "summary.html", reports.render_summary(
            assignment.title, rows, results, similarity=summary_section(results_dir)))
