"""The strong sandbox, measured from inside: what a submission can and cannot do."""

import os
from pathlib import Path

import pytest

from grader import sandbox

REPO = Path(__file__).resolve().parents[2]

PROBES = '''
import os
import socket

def visible(paths):
    seen = {}
    for path in paths:
        try:
            seen[path] = sorted(os.listdir(path)) if os.path.isdir(path) else open(path).read(10)
        except OSError as e:
            seen[path] = type(e).__name__
    return seen

def write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return "written"
    except OSError as e:
        return type(e).__name__

def fill_scratch(megabytes):
    block = b"0" * 2**20
    try:
        with open("/tmp/fill", "wb") as f:
            for _ in range(megabytes):
                f.write(block)
        return "filled"
    except OSError as e:
        return type(e).__name__

def connect(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return "connected"
    except OSError as e:
        return type(e).__name__

def identity():
    return {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
            "pids": len([p for p in os.listdir("/proc") if p.isdigit()]),
            "env": sorted(os.environ), "cwd": os.getcwd()}

def fork_many(n):
    import time
    started = 0
    for _ in range(n):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        started += 1
    return started
'''
NAMES = ["visible", "write", "fill_scratch", "connect", "identity", "fork_many"]


def test_probe_reports_the_layers():
    isolation = sandbox.probe()
    text = isolation.describe()
    assert text.startswith(f"isolation: {isolation.level} (")
    if isolation.level == "basic":
        assert isolation.missing


def test_drops_root_and_sees_only_itself(spawn, strong):
    student, _ = spawn(PROBES, NAMES, isolation=strong)
    me = student.identity()
    if os.geteuid() == 0:
        assert me["uid"] == me["gid"] == sandbox.NOBODY and me["groups"] == []
    assert me["pids"] <= 3  # its own pid namespace
    assert me["cwd"] == "/tmp"
    assert not any(k.startswith(("GRADER", "PYTEST", "VIRTUAL_ENV")) for k in me["env"])


def test_grader_secrets_and_other_files_are_not_there(spawn, strong):
    from grader.assignment import load_assignment
    from grader.data import mnist5k_path
    from grader.judge import hidden_paths

    student, _ = spawn(PROBES, NAMES, isolation=strong,
                       hidden=hidden_paths(load_assignment("mlp_pixels")))
    paths = [str(REPO / "assignments"), str(REPO / "reference"), str(REPO / "tests"),
             str(REPO.parent / "shared"), "/etc/shadow", str(Path.home() / ".cache"),
             str(mnist5k_path())]
    seen = student.visible(paths + ["/root", str(REPO)])
    for path in paths:
        assert seen[path] in ("FileNotFoundError", "PermissionError", []), (path, seen[path])
    # Only the folders Python needs are mounted (e.g. /root/.pyenv for a pyenv Python).
    python_dirs = {p.parts[2] for p in sandbox.python_paths() if len(p.parts) > 2 and p.parts[1] == "root"}
    assert seen["/root"] in ("FileNotFoundError", "PermissionError") or set(seen["/root"]) <= python_dirs
    if isinstance(seen[str(REPO)], list):
        assert set(seen[str(REPO)]) <= {"grader", ".venv"}
    assert student.visible(["/submission"])["/submission"] == ["student_code.py"]


def test_file_system_is_read_only_and_scratch_is_capped(spawn, strong):
    student, _ = spawn(PROBES, NAMES, isolation=strong)
    assert student.write("/submission/student_code.py") in ("OSError", "PermissionError")
    assert student.write("/usr/evil") in ("OSError", "PermissionError")
    assert student.write("/tmp/ok") == "written"
    assert student.fill_scratch(400) == "OSError"  # 256 MiB scratch (or the 64 MiB fsize limit)


def test_no_network(spawn, strong):
    student, _ = spawn(PROBES, NAMES, isolation=strong)
    assert student.connect("8.8.8.8", 53) != "connected"
    assert student.connect("127.0.0.1", 22) != "connected"


def test_fork_bomb_is_stopped(spawn, strong):
    student, process = spawn(PROBES, NAMES, isolation=strong, request_timeout=60)
    started = student.fork_many(2000)
    assert started < 1000
    process.close()  # the pid namespace goes with it: no process survives


def test_require_isolation_refuses_basic(tmp_path):
    from grader.judge import grade

    (tmp_path / "mlp_pixels.py").write_text("x = 1\n")
    basic = sandbox.Isolation("basic", ["rlimits"], ["bubblewrap"])
    with pytest.raises(sandbox.IsolationUnavailable, match="refusing to grade with isolation: basic"):
        grade(tmp_path, "mlp_pixels", isolation=basic, require_isolation=True)


def test_an_isolation_backend_is_one_class_the_engine_asks(spawn, monkeypatch, tmp_path):
    """A new backend is one subclass in BACKENDS: the student process launches through it,
    the judge asks it whether it meets --require-isolation; no module compares level names."""
    import re

    from grader.judge import grade

    launched = []

    class Recording(sandbox.PlainProcessBackend):
        level = "recording"

        def launch(self, python_argv, submission_root, **kwargs):
            launched.append(submission_root)
            return super().launch(python_argv, submission_root, **kwargs)

    monkeypatch.setitem(sandbox.BACKENDS, "recording", Recording())
    isolation = sandbox.Isolation("recording", ["a test backend"])
    student, _ = spawn("def double(x):\n    return 2 * x\n", ["double"], isolation=isolation)
    assert student.double(21) == 42 and len(launched) == 1
    (tmp_path / "mlp_pixels.py").write_text("x = 1\n")
    with pytest.raises(sandbox.IsolationUnavailable, match="refusing to grade"):
        grade(tmp_path, "mlp_pixels", isolation=isolation, require_isolation=True)
    compared = [f"{path.name}: {m.group(0)}" for path in (REPO / "grader").glob("*.py")
                for m in re.finditer(r"\.level\s*[!=]=\s*['\"]\w+['\"]", path.read_text())]
    assert compared == []


def test_recorded_experiments_read_as_empty_in_the_student_process(tmp_path, strong):
    """The judge compares an experiment's replay with the numbers recorded next to the code:
    the student's code, replaying, must not be able to read them and answer with them."""
    from grader import slicing
    from grader.student_process import StudentModule, StudentProcess
    from grader.submission import read_source

    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "student_code.py").write_text(PROBES)
    (folder / "MLP_pixels.experiments.json").write_text('{"runs": "SECRET"}')
    (folder / "notes.txt").write_text("mine")
    src = read_source(folder / "student_code.py", "student_code")
    process = StudentProcess(src, slicing.plan(src.text, src.display_name, NAMES), isolation=strong,
                             hidden_paths=[REPO / "assignments"])
    try:
        seen = StudentModule(process).visible(["/submission/MLP_pixels.experiments.json",
                                               "/submission/notes.txt"])
    finally:
        process.close()
    # /dev/null bound over it: read as nothing (or refused: the mount is nodev here)
    assert seen["/submission/MLP_pixels.experiments.json"] in ("", "PermissionError")
    assert seen["/submission/notes.txt"] == "mine"  # the rest of the folder is still there
    assert sandbox.judge_only_files(folder) == [(folder / "MLP_pixels.experiments.json").resolve()]
