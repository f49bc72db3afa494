"""The late policy: a due date, per-student extensions, a penalty rule; raw score, penalty and
final grade for every student of a batch.

The rule is the ``[late]`` table of the practical's ``assignment.toml`` (or a TOML file given
with ``--policy``, holding the same table)::

    [late]
    due = "2026-12-01T23:59:00"     # ISO 8601; an offset ("+01:00") wins over `timezone`
    timezone = "Europe/Paris"       # for a due date without offset and Moodle's dates
    grace_minutes = 15              # late by less than this: no penalty
    unit = "day"                    # "day" or "hour": each unit started costs...
    penalty_percent = 10            # ... this share (of `of`)
    max_penalty_percent = 50        # never more than this
    of = "score"                    # "score": of the student's score; "max": of the maximum
    zero_after_days = 7             # optional: later than this, the grade is 0

Submission times come from Moodle's grading worksheet (its "Last modified (submission)"
column, as Moodle writes dates: ``userdate()`` with ``strftimedaydatetime``, "Tuesday, 1
December 2026, 10:15 PM" / "mardi 1 décembre 2026, 22:15", in the timezone of the instructor
who downloaded it: `timezone`), else from a CSV ``student,submitted`` (ISO 8601). Extensions
are a CSV ``student,due`` (a new due date) or ``student,days`` (days added). ``student`` is the
results folder name, the Moodle participant id or the student's name as in ``grades.csv``.

``grade late`` writes ``late.json`` in the results folder; ``grades.csv`` then gains the
columns ``raw``, ``late_by``, ``penalty``, ``final`` (after the others: the existing columns
keep their place), and ``grade moodle-worksheet`` uploads the final grade.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from grader.files import write_atomically
from grader.i18n import _

LATE_FILE = "late.json"
LATE_COLUMNS = ["raw", "late_by", "penalty", "final"]
UNITS = {"day": timedelta(days=1), "hour": timedelta(hours=1)}


class LatePolicyError(Exception):
    """The policy or one of its files cannot be used; the message says which and why."""


@dataclass
class LatePolicy:
    due: datetime
    zone: ZoneInfo
    grace: timedelta = timedelta(0)
    unit: str = "day"
    penalty_percent: float = 0.0
    max_penalty_percent: float = 100.0
    of: str = "score"
    zero_after: timedelta | None = None

    @classmethod
    def from_table(cls, table: dict, where: str) -> "LatePolicy":
        try:
            zone = ZoneInfo(table.get("timezone", "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            raise LatePolicyError(_("{where}: unknown timezone `{zone}` (e.g. Europe/Paris)")
                                  .format(where=where, zone=table.get("timezone"))) from None
        if "due" not in table:
            raise LatePolicyError(_("{where}: [late] needs a `due` date (ISO 8601, e.g. "
                                    "2026-12-01T23:59:00+01:00)").format(where=where))
        unit = table.get("unit", "day")
        if unit not in UNITS:
            raise LatePolicyError(_("{where}: [late] unit must be `day` or `hour`, not `{unit}`")
                                  .format(where=where, unit=unit))
        of = table.get("of", "score")
        if of not in ("score", "max"):
            raise LatePolicyError(_("{where}: [late] of must be `score` or `max`, not `{of}`")
                                  .format(where=where, of=of))
        zero = table.get("zero_after_days")
        return cls(due=parse_iso(table["due"], zone, where), zone=zone,
                   grace=timedelta(minutes=float(table.get("grace_minutes", 0))), unit=unit,
                   penalty_percent=float(table.get("penalty_percent", 0)),
                   max_penalty_percent=float(table.get("max_penalty_percent", 100)), of=of,
                   zero_after=None if zero is None else timedelta(days=float(zero)))

    def penalty(self, submitted: datetime, due: datetime, raw: float, maximum: float
                ) -> tuple[timedelta, float]:
        """(how late, points taken off) for a submission at ``submitted``."""
        late = submitted - due
        if late <= self.grace:
            return max(late, timedelta(0)), 0.0
        if self.zero_after is not None and late > self.zero_after:
            return late, raw
        units = math.ceil(late / UNITS[self.unit])
        percent = min(self.max_penalty_percent, units * self.penalty_percent)
        base = raw if self.of == "score" else maximum
        return late, round(min(raw, base * percent / 100), 4)


def load_policy(assignment_folder: Path, policy_file: Path | None = None) -> LatePolicy:
    path = policy_file or Path(assignment_folder) / "assignment.toml"
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise LatePolicyError(f"{path}: {e}") from None
    table = data.get("late", data if policy_file and "due" in data else None)
    if not table:
        raise LatePolicyError(_("{path} has no [late] table: give the due date and the penalty "
                                "there or in a file passed with --policy").format(path=path))
    return LatePolicy.from_table(table, str(path))


def parse_iso(text: str, zone: ZoneInfo, where: str = "") -> datetime:
    try:
        value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise LatePolicyError(_("{where}: `{text}` is not a date (ISO 8601: "
                                "2026-12-01T23:59:00)").format(where=where, text=text)) from None
    return value if value.tzinfo else value.replace(tzinfo=zone)


# --------------------------------------------------------------------------------------------
# Moodle's dates: userdate($t) with get_string('strftimedaydatetime', 'langconfig')
# en: '%A, %d %B %Y, %I:%M %p'; fr: '%A %d %B %Y, %H:%M' (day and hour without leading zero)
# --------------------------------------------------------------------------------------------

MOODLE_DATE = re.compile(r"(\d{1,2})\s+([^\W\d_]+)\.?\s+(\d{4}),?\s+(?:à\s+)?(\d{1,2})[:h](\d{2})"
                         r"\s*([AaPp][Mm])?")


def _months() -> dict[str, int]:
    from babel.dates import get_month_names

    months = {}
    for locale in ("en", "fr"):
        for width in ("wide", "abbreviated"):
            for number, name in get_month_names(width, locale=locale).items():
                months[name.lower().rstrip(".")] = number
    return months


def parse_moodle_date(text: str, zone: ZoneInfo) -> datetime | None:
    """A date as Moodle writes it in a worksheet; None for "-" (never submitted)."""
    match = MOODLE_DATE.search(text or "")
    if not match:
        return None
    day, month_name, year, hour, minute, ampm = match.groups()
    month = _months().get(month_name.lower())
    if month is None:
        return None
    hour = int(hour)
    if ampm:
        hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
    return datetime(int(year), month, int(day), hour, int(minute), tzinfo=zone)


# --------------------------------------------------------------------------------------------
# Applying the policy to a batch
# --------------------------------------------------------------------------------------------

def _read_csv(path: Path) -> list[dict[str, str]]:
    text = Path(path).read_text(encoding="utf-8-sig")
    return [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            for row in csv.DictReader(io.StringIO(text, newline=""))]


def _human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = ([f"{days} d"] if days else []) + ([f"{hours} h"] if hours else []) + [f"{minutes} min"]
    return " ".join(parts[:2]) if days or hours else parts[-1]


def apply_policy(results_dir: Path, policy: LatePolicy, *, worksheet: Path | None = None,
                 times: Path | None = None, extensions: Path | None = None) -> dict:
    """Compute every student's penalty, write ``late.json`` and the late columns of
    ``grades.csv``; returns what was written, with the students whose time is unknown."""
    from grader.moodle import (NAME_COLUMNS, SUBMITTED_COLUMNS, load_results, read_worksheet)

    students = load_results(results_dir)

    def key_of(who: str) -> str | None:
        who = who.strip()
        for s in students:
            if who in (s.key, s.participant, s.result.student):
                return s.key
        return None

    submitted: dict[str, tuple[datetime, str]] = {}
    unmatched: list[str] = []
    if worksheet is not None:
        sheet = read_worksheet(worksheet)
        if sheet.column(SUBMITTED_COLUMNS, required=False) is None:
            raise LatePolicyError(_("{path}: no `Last modified (submission)` column").format(
                path=worksheet))
        for row in sheet.rows:
            pid, when = sheet.participant(row), sheet.cell(row, SUBMITTED_COLUMNS)
            key = key_of(pid) if pid else None
            date = parse_moodle_date(when, policy.zone)
            if key and date:
                submitted[key] = (date, "worksheet")
            elif key and when.strip() not in ("", "-"):
                unmatched.append(_("{who}: unreadable date `{date}`").format(
                    who=sheet.cell(row, NAME_COLUMNS), date=when))
    if times is not None:  # a CSV given by hand wins over the worksheet
        for row in _read_csv(times):
            key = key_of(row.get("student", ""))
            if key is None:
                unmatched.append(_("{who} (times CSV): no such student in the results").format(
                    who=row.get("student", "")))
                continue
            submitted[key] = (parse_iso(row.get("submitted", ""), policy.zone, str(times)), "csv")
    due_of: dict[str, datetime] = {}
    if extensions is not None:
        for row in _read_csv(extensions):
            key = key_of(row.get("student", ""))
            if key is None:
                unmatched.append(_("{who} (extensions CSV): no such student in the results")
                                 .format(who=row.get("student", "")))
                continue
            if row.get("due"):
                due_of[key] = parse_iso(row["due"], policy.zone, str(extensions))
            else:
                try:
                    due_of[key] = policy.due + timedelta(days=float(row.get("days", "")))
                except ValueError:
                    raise LatePolicyError(_("{path}: each row needs `due` (a date) or `days`")
                                          .format(path=extensions)) from None
    out: dict[str, dict] = {}
    no_time: list[str] = []
    for s in students:
        if s.result.error is not None:
            continue
        raw, maximum = s.result.score, s.result.max_score
        due = due_of.get(s.key, policy.due)
        if s.key not in submitted:
            no_time.append(s.result.student or s.key)
            out[s.key] = {"raw": raw, "penalty": 0.0, "final": raw, "late_by": "",
                          "late_by_s": None, "submitted": None, "due": due.isoformat(),
                          "source": None}
            continue
        when, source = submitted[s.key]
        late, penalty = policy.penalty(when, due, raw, maximum)
        out[s.key] = {"raw": raw, "penalty": penalty, "final": round(raw - penalty, 4),
                      "late_by": _human(late) if late > timedelta(0) else "",
                      "late_by_s": late.total_seconds(), "submitted": when.isoformat(),
                      "due": due.isoformat(), "source": source}
    data = {"due": policy.due.isoformat(), "students": out, "no_time": no_time,
            "unmatched": unmatched}
    write_atomically(Path(results_dir) / LATE_FILE, json.dumps(data, indent=2))
    add_late_columns(Path(results_dir))
    return data


def add_late_columns(results_dir: Path) -> None:
    """Append raw, late_by, penalty and final to ``grades.csv`` (idempotent: columns already
    there are refilled)."""
    path, late = results_dir / "grades.csv", results_dir / LATE_FILE
    if not path.is_file() or not late.is_file():
        return
    students = json.loads(late.read_text()).get("students", {})
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    if not rows:
        return
    header = rows[0]
    if header[-len(LATE_COLUMNS):] == LATE_COLUMNS:
        header = header[:-len(LATE_COLUMNS)]
        rows = [header] + [r[:len(header)] for r in rows[1:]]
    id_col = header.index("id")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header + LATE_COLUMNS)
    for row in rows[1:]:
        entry = students.get(row[id_col].lstrip("'"))
        extra = ["", "", "", ""] if entry is None else [
            f"{entry['raw']:g}", entry["late_by"], f"{entry['penalty']:g}", f"{entry['final']:g}"]
        writer.writerow(row + extra)
    write_atomically(path, buffer.getvalue())
