"""The late policy: Moodle's dates, the penalty rule, extensions, grades.csv's new columns and
the final grade that goes back into Moodle."""

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from grader.batch import Submission, write_grades, write_student
from grader.late_policy import (LatePolicy, LatePolicyError, apply_policy, load_policy,
                                parse_moodle_date)
from grader.moodle import fill_worksheet
from grader.results import CheckResult, GradingResult

FIXTURES = Path(__file__).parent / "fixtures" / "moodle"
PARIS = ZoneInfo("Europe/Paris")
POLICY = """
[late]
due = "2026-12-01T23:59:00"
timezone = "Europe/Paris"
grace_minutes = 10
unit = "day"
penalty_percent = 10
max_penalty_percent = 30
"""


def test_moodle_dates_in_english_and_french():
    # userdate() with strftimedaydatetime: '%A, %d %B %Y, %I:%M %p' / '%A %d %B %Y, %H:%M'
    assert parse_moodle_date("Wednesday, 2 December 2026, 1:05 AM", PARIS) == \
        datetime(2026, 12, 2, 1, 5, tzinfo=PARIS)
    assert parse_moodle_date("Tuesday, 1 December 2026, 10:15 PM", PARIS) == \
        datetime(2026, 12, 1, 22, 15, tzinfo=PARIS)
    assert parse_moodle_date("Tuesday, 1 December 2026, 12:30 AM", PARIS).hour == 0
    assert parse_moodle_date("mercredi 2 décembre 2026, 01:05", PARIS) == \
        datetime(2026, 12, 2, 1, 5, tzinfo=PARIS)
    assert parse_moodle_date("lundi 3 février 2027, 14:00", PARIS).month == 2
    assert parse_moodle_date("-", PARIS) is None


def test_penalty_rule_grace_units_cap_and_zero():
    due = datetime(2026, 12, 1, 23, 59, tzinfo=PARIS)
    policy = LatePolicy(due=due, zone=PARIS, grace=timedelta(minutes=10), unit="day",
                        penalty_percent=10, max_penalty_percent=30,
                        zero_after=timedelta(days=7))
    assert policy.penalty(due - timedelta(hours=1), due, 40, 41)[1] == 0        # early
    assert policy.penalty(due + timedelta(minutes=9), due, 40, 41)[1] == 0      # grace
    assert policy.penalty(due + timedelta(minutes=11), due, 40, 41)[1] == 4     # day 1 started
    assert policy.penalty(due + timedelta(days=1, minutes=1), due, 40, 41)[1] == 8
    assert policy.penalty(due + timedelta(days=5), due, 40, 41)[1] == 12        # capped at 30 %
    assert policy.penalty(due + timedelta(days=8), due, 40, 41)[1] == 40        # zero after 7 d
    hourly = LatePolicy(due=due, zone=PARIS, unit="hour", penalty_percent=5, of="max")
    assert hourly.penalty(due + timedelta(minutes=61), due, 20, 40)[1] == 4     # 2 h of 5 % of 40


def test_policy_from_the_practicals_toml(tmp_path):
    (tmp_path / "assignment.toml").write_text("[assignment]\nmodule = 'x'\n" + POLICY)
    policy = load_policy(tmp_path)
    assert policy.due == datetime(2026, 12, 1, 23, 59, tzinfo=PARIS)
    assert policy.penalty_percent == 10 and policy.max_penalty_percent == 30
    (tmp_path / "assignment.toml").write_text("[assignment]\nmodule = 'x'\n")
    with pytest.raises(LatePolicyError, match=r"\[late\]"):
        load_policy(tmp_path)
    (tmp_path / "bad.toml").write_text("[late]\ndue = '2026-12-01'\nunit = 'week'\n")
    with pytest.raises(LatePolicyError, match="unit"):
        load_policy(tmp_path, tmp_path / "bad.toml")


def _result(student, passed, failed):
    checks = [CheckResult(f"forward {i}", 1.0, 1.0, "passed") for i in range(passed)]
    checks += [CheckResult(f"update {i}", 0.0, 1.0, "failed", "wrong") for i in range(failed)]
    return GradingResult(assignment="perceptron", title="Perceptron", submission="x.py",
                         checks=checks, student=student)


@pytest.fixture()
def batch(tmp_path):
    out = tmp_path / "results"
    subs = [Submission("Ada Lovelace (1048213)", "1048213", Path("a")),
            Submission("Jean Baptiste Fourier (1048214)", "1048214", Path("b")),
            Submission("Grace Hopper (1048215)", "1048215", Path("c")),
            Submission("bob", "bob", Path("d"))]
    for s, (p, f) in zip(subs, [(40, 0), (30, 10), (20, 20), (40, 0)]):
        write_student(_result(s.student, p, f), out / s.key)
    write_grades(out, subs)
    (tmp_path / "late.toml").write_text(POLICY)
    return out, subs, load_policy(tmp_path, tmp_path / "late.toml")


def _grades(out):
    return list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))


def test_worksheet_times_penalise_the_late_student_only(batch):
    out, subs, policy = batch
    before = (out / "grades.csv").read_text().splitlines()
    data = apply_policy(out, policy, worksheet=FIXTURES / "worksheet_en.csv")
    late = data["students"]
    # Ada 22:15 on the 1st: on time; Jean Baptiste 01:05 on the 2nd: 1 h 06 late, day 1: -10 %;
    # Grace on 30 November: on time; bob is not in Moodle: no time, listed
    assert late["1048213"]["penalty"] == 0 and late["1048215"]["penalty"] == 0
    assert late["1048214"]["penalty"] == 3.0 and late["1048214"]["final"] == 27.0
    assert late["1048214"]["late_by"] == "1 h 6 min"
    assert data["no_time"] == ["bob"]
    rows = _grades(out)
    after = (out / "grades.csv").read_text().splitlines()
    # the existing columns keep their names and places; the late ones come after them
    assert after[0] == before[0] + ",raw,late_by,penalty,final"
    assert all(a.startswith(b) for a, b in zip(after[1:], before[1:]))
    jb = next(r for r in rows if r["id"] == "1048214")
    assert (jb["total"], jb["raw"], jb["penalty"], jb["final"]) == ("30", "30", "3", "27")
    # a batch rerun rewrites grades.csv: the late columns stay
    write_grades(out, subs)
    assert (out / "grades.csv").read_text().splitlines() == after


def test_extension_and_times_csv(batch, tmp_path):
    out, subs, policy = batch
    (tmp_path / "ext.csv").write_text("student,days\n1048214,1\n")
    (tmp_path / "times.csv").write_text("student,submitted\nbob,2026-12-04T09:00:00+01:00\n")
    data = apply_policy(out, policy, worksheet=FIXTURES / "worksheet_en.csv",
                        times=tmp_path / "times.csv", extensions=tmp_path / "ext.csv")
    assert data["students"]["1048214"]["penalty"] == 0       # one day more: on time
    assert data["students"]["bob"]["penalty"] == 12.0        # 2 d 9 h late: 3 days, 30 % of 40
    assert data["no_time"] == []
    (tmp_path / "ext.csv").write_text("student,days\nnobody,1\n")
    data = apply_policy(out, policy, extensions=tmp_path / "ext.csv")
    assert any("nobody" in line for line in data["unmatched"])


def test_the_final_grade_goes_to_moodle(batch, tmp_path):
    out, subs, policy = batch
    apply_policy(out, policy, worksheet=FIXTURES / "worksheet_en.csv")
    upload = tmp_path / "upload.csv"
    fill_worksheet(out, FIXTURES / "worksheet_en.csv", upload)
    rows = {r[0]: r for r in csv.reader(io.StringIO(upload.read_text("utf-8-sig")))}
    assert rows["Participant 1048214"][4] == "13.50"         # 27 / 40 * 20
    assert "Late by 1 h 6 min" in rows["Participant 1048214"][9]
    assert rows["Participant 1048213"][4] == "20.00"
    json.loads((out / "late.json").read_text())


def test_late_command(batch, tmp_path):
    from typer.testing import CliRunner

    from grader.cli import app

    out, subs, policy = batch
    result = CliRunner().invoke(app, ["late", str(out), "--assignment", "perceptron",
                                      "--policy", str(tmp_path / "late.toml"),
                                      "--worksheet", str(FIXTURES / "worksheet_en.csv")])
    assert result.exit_code == 0, result.output
    assert "1 late student(s) penalised" in result.output and "30 - 3 = 27" in result.output
    assert "bob" in result.output  # no submission time: listed
