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
    assert student.sleeps(0) == "woke up"  # a fresh process
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
