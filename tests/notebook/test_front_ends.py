"""How `grader.check()` finds the notebook and its current content, front end by front end.

There is no Colab here: its route is tested against the message format Colab's front end
answers, ``google.colab._message.blocking_request("get_ipynb", request="", timeout_sec=...)``
returning ``{"ipynb": <the notebook as on disk: sources as lists of lines>}`` (private and
undocumented; read from how notebooks call it), by a stand-in ``google.colab`` module. The
JupyterLab / Notebook 7 route (ipylab's ``docmanager:save``) is driven by a stand-in front end
here and by a real one in test_browser.py; VS Code's by the variable it sets in the kernel.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import types

import nbformat
import pytest

from grader import notebook_check as nc
from notebook_cases import notebook_of, reference_source, starter_notebook, write


def fake_kernel(monkeypatch, **namespace):
    kernel = types.SimpleNamespace(user_ns=dict(namespace), execution_count=1)
    monkeypatch.setattr(nc, "_ipython", lambda: kernel)
    return kernel


def fake_colab(monkeypatch, answer):
    """A stand-in for ``google.colab._message``: records the requests, answers ``answer`` (or
    raises it when it is an exception)."""
    calls = []

    def blocking_request(request_type, request="", timeout_sec=5, parent=None):
        calls.append((request_type, request, timeout_sec))
        if isinstance(answer, BaseException):
            raise answer
        return answer

    google = types.ModuleType("google")
    colab = types.ModuleType("google.colab")
    message = types.ModuleType("google.colab._message")
    message.blocking_request = blocking_request
    colab._message = message
    google.colab = colab
    for name, module in (("google", google), ("google.colab", colab),
                         ("google.colab._message", message)):
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def as_colab_sends_it(nb: nbformat.NotebookNode, name: str) -> dict:
    """The notebook as Colab's front end answers it: on-disk JSON, a name in metadata.colab."""
    data = json.loads(nbformat.writes(nb))
    data["metadata"]["colab"] = {"name": name, "provenance": []}
    return data


def test_colab_live_notebook_comes_from_the_front_end(in_tmp, monkeypatch):
    nb = notebook_of(reference_source())
    calls = fake_colab(monkeypatch, {"ipynb": as_colab_sends_it(nb, "Copy of Perceptron.ipynb")})
    found = nc.find_notebook()
    assert calls == [("get_ipynb", "", nc.COLAB_TIMEOUT_S)]
    assert (found.front_end, found.live, found.note, found.path) == ("Colab", True, "", None)
    assert found.name == "Copy of Perceptron.ipynb"
    got = nbformat.reads(found.content.decode(), as_version=4)
    assert [c.source for c in got.cells] == [c.source for c in nb.cells]
    # Colab's "Copy of ..." is still the perceptron practical.
    spec, part = nc.resolve(found, "softmax", None, None)
    assert (spec.name, part) == ("perceptron", "softmax")


@pytest.mark.slow
def test_colab_check_grades_the_live_notebook_without_a_file(in_tmp, monkeypatch):
    """In Colab there is no notebook file: check() grades what the front end sent."""
    nb = notebook_of(reference_source())
    fake_colab(monkeypatch, {"ipynb": as_colab_sends_it(nb, "Perceptron.ipynb")})
    report = nc.check("softmax")
    assert report is not None
    assert (report.score, report.max_score) == (2, 2)
    assert all(c.name.startswith("softmax ") for c in report.result.checks)
    assert report.notebook.live and "dl-grader-note" not in report._repr_html_()
    assert list(in_tmp.iterdir()) == []  # nothing written where the student works


def test_colab_without_an_answer_grades_the_uploaded_file_and_says_so(in_tmp, monkeypatch):
    fake_colab(monkeypatch, TimeoutError("no reply"))
    path = write(starter_notebook(), in_tmp)
    five_minutes_ago = time.time() - 300
    os.utime(path, (five_minutes_ago, five_minutes_ago))
    found = nc.find_notebook()
    assert (found.live, found.path, found.front_end) == (False, path, "Colab")
    assert found.note.startswith("Graded Perceptron.ipynb as saved 5 min ago (Colab did not hand "
                                 "over the notebook (TimeoutError))")
    assert "press Ctrl+S and run this cell again" in found.note


def test_colab_without_an_answer_nor_a_file_says_what_to_do(in_tmp, monkeypatch, capsys):
    fake_colab(monkeypatch, RuntimeError("MessageError"))
    assert nc.check() is None
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert "Colab did not hand over the notebook (RuntimeError)" in message
    assert "Download .ipynb" in message


def test_vscode_notebook_is_the_file_it_names(in_tmp, monkeypatch):
    elsewhere = in_tmp / "course" / "week3"
    path = write(starter_notebook(), elsewhere)
    fake_kernel(monkeypatch, __vsc_ipynb_file__=str(path))
    found = nc.find_notebook()
    assert (found.path, found.front_end, found.live) == (path, "VS Code", False)
    assert found.note.startswith("Graded Perceptron.ipynb as saved just now (VS Code cannot be "
                                 "asked to save from the kernel)")


def fake_ipylab(monkeypatch, on_save):
    """A stand-in for ipylab whose front end runs ``on_save`` when asked to save."""
    commands = []
    monkeypatch.setattr(nc, "_app", None)
    monkeypatch.setattr(nc, "_unanswered", False)

    class Commands:
        def execute(self, command_id, args=None):
            commands.append(command_id)
            threading.Timer(0.2, on_save).start()  # the front end saves asynchronously

    class JupyterFrontEnd:
        def __init__(self):
            self.commands = Commands()

    monkeypatch.setitem(sys.modules, "ipylab", types.SimpleNamespace(JupyterFrontEnd=JupyterFrontEnd))
    return commands


def test_jupyterlab_notebook_is_saved_before_it_is_read(in_tmp, monkeypatch):
    """JupyterLab / Notebook 7: the kernel knows the path (JPY_SESSION_NAME), asks the front
    end to save, waits for the file to change and reads what the student sees."""
    path = write(starter_notebook(), in_tmp)
    edited = notebook_of(reference_source())
    commands = fake_ipylab(monkeypatch, lambda: nbformat.write(edited, path))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    fake_kernel(monkeypatch)
    found = nc.find_notebook(save_timeout=10)
    assert commands == ["docmanager:save"]
    assert (found.live, found.note, found.front_end) == (True, "", "JupyterLab / Notebook 7")
    assert nbformat.reads(found.content.decode(), as_version=4) == edited


def test_jupyterlab_that_does_not_save_is_graded_as_saved_and_said(in_tmp, monkeypatch):
    path = write(starter_notebook(), in_tmp)
    fake_ipylab(monkeypatch, lambda: None)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    fake_kernel(monkeypatch)
    found = nc.find_notebook(save_timeout=0.5)
    assert found.live is False and found.content == path.read_bytes()
    assert "(the front end did not save it within 0.5 s)" in found.note
    assert "press Ctrl+S" in found.note
    # After a save that never came, the next check waits 2 s at most, not the full time.
    started = time.monotonic()
    assert "within 2 s" in nc.find_notebook(save_timeout=60).note
    assert time.monotonic() - started < 10


def test_no_notebook_to_be_found_is_one_line(in_tmp, monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert nc.check() is None
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert "cannot tell which notebook this is" in message
    assert 'grader.check(notebook="path/to/MLP_pixels.ipynb")' in message


def test_an_unknown_part_names_the_parts(in_tmp, monkeypatch, capsys):
    write(starter_notebook(), in_tmp)
    assert nc.check("sofmax") is None
    message = capsys.readouterr().err.strip()
    assert "`sofmax` is not a part of `perceptron`" in message
    assert "did you mean `softmax`?" in message


def test_grade_check_only_a_misspelt_part_is_a_usage_error(in_tmp):
    """`grade check --only` (what check("MLP") runs in the grading process) refuses a part the
    practical does not have, in one line, before starting anything."""
    from typer.testing import CliRunner

    from grader.cli import app

    path = write(starter_notebook(), in_tmp)
    result = CliRunner().invoke(app, ["check", str(path), "--only", "Softmax_", "--no-report"])
    assert result.exit_code == 2
    assert "`Softmax_` is not a part of `perceptron`" in result.output
    assert "did you mean `softmax`?" in result.output and "Traceback" not in result.output


def test_a_renamed_copy_is_still_its_practical(in_tmp):
    """Browsers save "MLP_pixels (1).ipynb"; Colab and Drive make "Copy of ...": the practical's
    name inside the file name is enough (the temporary copy graded keeps the student's name)."""
    path = write(starter_notebook(), in_tmp, name="Perceptron (1).ipynb")
    found = nc.find_notebook(path)
    spec, part = nc.resolve(found, None, None, None)
    assert (spec.name, part, found.name) == ("perceptron", None, "Perceptron (1).ipynb")
