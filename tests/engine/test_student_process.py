"""The student process: requests, handles, errors, time-outs, crashes, restarts."""

import pytest
import torch

from grader.failures import (BadReply, MissingName, NotImplementedYet, StudentCrashed,
                             StudentError, StudentTimeout)

SOURCE = '''
import os
import time
import torch
from torch import nn
import optuna_not_installed_here

SCALE = 2.0

class Net(nn.Module):
    def __init__(self, width=3):
        super().__init__()
        self.fc = nn.Linear(4, width)

    def forward(self, x):
        return self.fc(x) * SCALE

def double(x):
    return x * SCALE

def fails(message):
    raise ValueError(message)

def todo():
    raise NotImplementedError()

def sleeps(seconds):
    time.sleep(seconds)
    return "woke up"

def dies():
    os._exit(3)

def uses_optuna():
    return optuna_not_installed_here.create_study()

def uses_skipped():
    return LATER

def make_generator():
    return (i for i in range(3))

for i in range(10):
    LATER = i
'''
NAMES = ["Net", "double", "fails", "todo", "sleeps", "dies", "uses_optuna", "uses_skipped",
         "make_generator"]


def test_calls_return_data_and_handles(spawn):
    student, process = spawn(SOURCE, NAMES)
    assert student.double(torch.ones(2)).tolist() == [2.0, 2.0]
    net = student.Net(width=5)
    assert net.type_name == "Net"
    out = net(torch.zeros(3, 4))
    assert isinstance(out, torch.Tensor) and out.shape == (3, 5)
    assert net.fc.out_features.fetch() == 5
    same = net.train()  # returns the same object: the same handle
    assert same._path == net._path
    gen = student.make_generator()
    assert gen.type_name == "generator"


def test_missing_names_say_what_was_found(spawn):
    student, _ = spawn(SOURCE, NAMES)
    with pytest.raises(MissingName, match=r"no class `NET`.*did you mean `Net`\?"):
        student.NET


def test_student_exceptions_show_the_students_line(spawn):
    student, _ = spawn(SOURCE, NAMES)
    with pytest.raises(StudentError) as e:
        student.fails("bad input")
    text = str(e.value)
    assert text.startswith("fails('bad input') raised ValueError: bad input")
    assert "student_code.py, line 22, in fails" in text
    assert "raise ValueError(message)" in text
    assert "grader" not in text  # the grader's own frames are trimmed
    with pytest.raises(NotImplementedYet, match=r"`todo` is not implemented yet \(student_code.py, line 25"):
        student.todo()


def test_failed_import_fails_only_where_used(spawn):
    student, process = spawn(SOURCE, NAMES + ["optuna_not_installed_here"])
    assert any(e["import"] for e in process.start().errors)
    assert student.double(torch.ones(1)).item() == 2.0
    with pytest.raises(StudentError, match="`optuna_not_installed_here` .*not available"):
        student.uses_optuna()


def test_name_defined_only_by_skipped_code_gets_a_hint(spawn):
    student, _ = spawn(SOURCE, NAMES)
    with pytest.raises(StudentError, match=r"`LATER` is only defined by the top-level statement "
                                           r"at student_code.py, line 43"):
        student.uses_skipped()


def test_timeout_kills_restarts_and_loses_handles(spawn):
    student, process = spawn(SOURCE, NAMES, request_timeout=2.0)
    net = student.Net()
    with pytest.raises(StudentTimeout, match=r"sleeps\(30\) timed out after 2 s"):
        student.sleeps(30)
    assert student.double(torch.ones(1)).item() == 2.0  # a fresh process
    assert process.stats.startups == 2
    # a function that ran past its limit is not waited for again, whatever its arguments
    with pytest.raises(StudentTimeout, match=r"`sleeps` was not called again: it already timed "
                                             r"out after 2 s"):
        student.sleeps(0)
    assert process.stats.startups == 2
    with pytest.raises(StudentCrashed, match="was lost"):
        net(torch.zeros(1, 4))


def test_crash_is_reported_with_exit_code_and_recovers(spawn):
    student, process = spawn(SOURCE, NAMES)
    with pytest.raises(StudentCrashed, match=r"exited with code 3 during dies\(\)"):
        student.dies()
    assert student.double(3) == 6.0


def test_output_is_captured_and_capped(spawn):
    student, process = spawn("def chatty(n):\n    print('x' * n)\n    return n\n", ["chatty"])
    assert student.chatty(500_000) == 500_000
    text = process.output.text()
    assert text.startswith("x" * 1000) and "more bytes of output dropped" in text
    assert len(text) < 110_000


def test_reply_size_is_capped(spawn):
    student, process = spawn("import torch\ndef big():\n    return torch.zeros(10**6)\n", ["big"],
                             max_reply_bytes=100_000)
    with pytest.raises(BadReply, match="exceeds the cap"):
        student.big()


def test_basic_isolation_still_grades(spawn):
    from engine.conftest import BASIC

    student, process = spawn(SOURCE, NAMES, isolation=BASIC)
    assert student.double(2) == 4.0
    with pytest.raises(StudentError, match="not available to submissions"):
        spawn("def peek():\n    import reference.mlp_pixels\n", ["peek"], isolation=BASIC)[0].peek()


# A child is free to rewrite the grader's code inside itself: these submissions patch the
# child's side of the wire (in the body of a class the assignment requires: loading runs it),
# and the judge must still refuse what they send with a clear message — never hang, crash or
# trust it.
PATCHED_LOAD_REPORT = '''
def _patch():
    import grader.wire as w
    original = w.to_wire
    def to_wire(value, **kw):
        if isinstance(value, dict) and "defined" in value and "errors" in value:
            value = dict(value, errors=[{"lineno": 1}])   # off-schema: no type, no message
        return original(value, **kw)
    w.to_wire = to_wire
    return True

class Evil:
    patched = _patch()

def double(x):
    return 2 * x
'''

PATCHED_ERROR_REPORT = '''
def _patch():
    import grader.student_server as ss
    ss.Server.describe = lambda self, exc: "not a dict"
    return True

class Evil:
    patched = _patch()

def fails():
    raise ValueError("boom")
'''

PATCHED_TENSORS = '''
import torch

def _patch():
    import grader.wire as w
    w._clean_tensor = lambda t: t      # send views as they are
    return True

class Evil:
    patched = _patch()

def predictions(n):
    return torch.zeros(1).expand(n, 10**12)   # 4 bytes on the wire, 5e14 "elements"
'''


def test_malformed_load_report_is_refused(spawn):
    student, process = spawn(PATCHED_LOAD_REPORT, ["Evil", "double"])
    with pytest.raises(BadReply, match="malformed load report"):
        student.double(2)
    with pytest.raises(BadReply, match="malformed load report"):  # not retried: same answer
        student.double(3)


def test_malformed_error_report_is_refused(spawn):
    student, process = spawn(PATCHED_ERROR_REPORT, ["Evil", "fails"])
    with pytest.raises(BadReply, match="malformed error report"):
        student.fails()
    assert not process.running  # stopped: the next request starts a fresh one


def test_crafted_stride_zero_tensor_is_refused_not_computed_on(spawn):
    student, process = spawn(PATCHED_TENSORS, ["Evil", "predictions"])
    with pytest.raises(BadReply, match="non-contiguous tensor of shape \\[500, 1000000000000\\]"):
        student.predictions(500)


def test_error_and_load_reports_are_checked_field_by_field():
    from grader.student_process import error_report, load_report

    good = {"type": "ValueError", "message": "m" * 5000, "frames": [["f.py", 3, "g", "x = 1"]],
            "name": None}
    clean = error_report(good)
    assert clean["type"] == "ValueError" and len(clean["message"]) == 2000
    for bad in ("text", {"type": 1}, {**good, "frames": [["f.py", "3", "g", ""]]},
                {**good, "frames": "x"}, {**good, "message": None}):
        assert error_report(bad) is None, bad
    assert load_report({"defined": ["MLP"], "errors": [{**good, "lineno": 4}]}).defined == ["MLP"]
    for bad in ({"defined": "MLP", "errors": []}, {"defined": [], "errors": [{"lineno": 1}]},
                {"defined": [], "errors": [{**good, "lineno": "1"}]}, ["defined"]):
        assert load_report(bad) is None, bad


def test_a_slow_load_names_the_top_level_code_that_ran(spawn):
    source = ("import time\n\ndef train_model(seconds):\n    time.sleep(seconds)\n    return 2.0\n\n"
              "SCALE = train_model(30)\n\ndef double(x):\n    return x * SCALE\n")
    student, process = spawn(source, ["double"], load_timeout=3.0)
    with pytest.raises(StudentTimeout, match=r"loading the submission timed out after 3 s .* the "
                       r"top-level code the grader runs at load: student_code.py, line 7: "
                       r"`SCALE = train_model\(30\)`"):
        student.double(2)
