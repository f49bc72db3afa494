"""Warm workers keep students apart: pairs of submissions graded one after the other by one
zygote (grader.zygote), the first trying to leave something behind, the second looking for it.

A cold start gets a new sandbox per student; a warm one forks each student from the same
zygote, so each pair proves that what the first student leaves — a daemon, a file in /tmp or
/dev/shm, an IPC object, a module attribute or a monkeypatched torch function, an open
descriptor — is gone for the second, and that no student sees another's files or the zygote's
memory. One grading per worker-judge pair proves the judge side: check modules start afresh.
"""

import os
import signal
import textwrap
from pathlib import Path

import pytest
import torch

from grader import judge, sandbox, slicing
from grader.assignment import load_folder
from grader.student_process import StudentModule, StudentProcess
from grader.submission import read_source
from grader.worker import WarmJudge
from grader.zygote import Zygote

REPO = Path(__file__).resolve().parents[2]
HIDDEN = [REPO / "assignments", REPO / "reference"]
BASIC = sandbox.Isolation("basic", ["rlimits"], ["bubblewrap (disabled for this test)"])

LEAVER = '''
import ctypes, os, socket, subprocess, sys, time
import numpy, torch
import torch.nn.functional as F

def leave(strong):
    """Everything a student could try to hand to the next one (in the basic sandbox, only what
    stays on this machine's own scratch folder: no daemon, no host /tmp, no host IPC)."""
    left = {}
    # a daemon: double fork, new session, a marked command line, writing a heartbeat
    if strong and os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            try:
                os.execv("/bin/sh", ["/bin/sh", "-c",
                                     "while true; do echo alive > $TMPDIR/heartbeat; sleep 0.05; done # A-DAEMON"])
            finally:
                os._exit(0)
        os._exit(0)
    time.sleep(0.3)
    # files: the scratch folder, /tmp, /dev/shm, an unreadable folder
    for folder in {os.environ["TMPDIR"], "/tmp", "/dev/shm"} if strong else {os.environ["TMPDIR"]}:
        try:
            with open(os.path.join(folder, "a-was-here"), "w") as f:
                f.write("secret of A")
            left[folder] = True
        except OSError:
            left[folder] = False
    locked = os.path.join(os.environ["TMPDIR"], "locked")
    os.mkdir(locked)
    open(os.path.join(locked, "inside"), "w").write("A")
    os.chmod(locked, 0)
    left["home"] = os.environ["HOME"]
    # memory and modules: attributes on torch and numpy, a monkeypatched torch function
    torch.a_was_here = "A"
    numpy.a_was_here = "A"
    F.relu = lambda x: x * 0
    torch.Tensor.sum = lambda self, *a, **k: torch.tensor(42.0)
    # descriptors: a file, a listening socket, a pipe, left open
    global KEPT
    KEPT = [open(os.path.join(os.environ["TMPDIR"], "a-was-here")), socket.socket(socket.AF_UNIX), os.pipe()]
    KEPT[1].bind("\\0a-was-here")
    KEPT[1].listen()
    # System V shared memory, key 4242
    libc = ctypes.CDLL(None, use_errno=True)
    left["shm"] = strong and libc.shmget(4242, 4096, 0o1666) >= 0
    return left

def descriptors():
    kinds = []
    for fd in sorted(os.listdir("/proc/self/fd")):
        try:
            kinds.append(os.readlink(f"/proc/self/fd/{fd}").split(":")[0])
        except OSError:
            pass
    return kinds
'''

LOOKER = '''
import ctypes, os, socket
import numpy, torch
import torch.nn.functional as F

def look(home_of_a):
    """What the second student can find of the first."""
    found = []
    commands = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                commands.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" "))
            except OSError:
                pass
    if any(b"A-DAEMON" in c for c in commands):
        found.append("daemon")
    for folder in {os.environ["TMPDIR"], "/tmp", "/dev/shm", home_of_a}:
        if os.path.isdir(folder) and (os.path.exists(os.path.join(folder, "a-was-here"))
                                      or os.path.exists(os.path.join(folder, "heartbeat"))
                                      or os.path.exists(os.path.join(folder, "locked"))):
            found.append("file in " + folder)
    if hasattr(torch, "a_was_here") or hasattr(numpy, "a_was_here"):
        found.append("module attribute")
    if F.relu(torch.tensor([-1.0, 2.0])).tolist() != [0.0, 2.0]:
        found.append("monkeypatched relu")
    if torch.ones(3).sum().item() != 3.0:
        found.append("monkeypatched Tensor.sum")
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect("\\0a-was-here")
        found.append("listening socket")
    except OSError:
        pass
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.shmget(4242, 0, 0) >= 0:
        found.append("shared memory")
    return found

def read_other(path):
    try:
        return open(path).read()
    except OSError as e:
        return type(e).__name__

def zygote_memory():
    try:
        with open(f"/proc/{os.getppid()}/mem", "rb") as f:
            return "readable"
    except OSError as e:
        return type(e).__name__

def kill_parent():
    os.kill(os.getppid(), 9)
    return os.getppid()

def descriptors():
    kinds = []
    for fd in sorted(os.listdir("/proc/self/fd")):
        try:
            kinds.append(os.readlink(f"/proc/self/fd/{fd}").split(":")[0])
        except OSError:
            pass
    return kinds
'''


def _student(zygote, folder: Path, text: str, names: list[str], isolation):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "student_code.py"
    path.write_text(text)
    source = read_source(path, "student_code")
    plan = slicing.plan(source.text, source.display_name, names)
    process = StudentProcess(source, plan, isolation=isolation, spawner=zygote,
                             hidden_paths=HIDDEN)
    return StudentModule(process), process


@pytest.fixture(scope="module", params=["strong", "basic"])
def pair(request, tmp_path_factory):
    """(what A left, what B found, B's student module, B's process, the zygote)."""
    isolation = sandbox.probe() if request.param == "strong" else BASIC
    if request.param == "strong" and isolation.level != "strong":
        pytest.skip(f"strong isolation is not available here: {isolation.describe()} — CI "
                    "installs bubblewrap so these pairs run there")
    zygote = Zygote(isolation=isolation, limits=sandbox.Limits(), threads=1, hidden_paths=HIDDEN)
    root = tmp_path_factory.mktemp(request.param)
    a, a_process = _student(zygote, root / "alice", LEAVER, ["leave", "descriptors"], isolation)
    baseline = a.descriptors()
    left = a.leave(request.param == "strong")
    a_process.close()
    b, b_process = _student(zygote, root / "bob", LOOKER,
                            ["look", "read_other", "zygote_memory", "kill_parent", "descriptors"],
                            isolation)
    found = b.look(left["home"])
    yield {"isolation": request.param, "left": left, "found": found, "b": b,
           "process": b_process, "zygote": zygote, "baseline": baseline, "root": root}
    b_process.close()
    zygote.close()


def test_what_the_first_student_leaves_the_second_does_not_find(pair):
    left = pair["left"]
    if pair["isolation"] == "strong":
        assert left["/tmp"] and left["/dev/shm"] and left["shm"], left  # it did leave them
        assert pair["found"] == [], pair["found"]
    else:
        # basic mode is what a cold start gives: no pid namespace (a daemon that left the
        # session survives, as it does today), a shared /tmp; but the scratch folder, memory,
        # modules and descriptors are the student's own
        assert not any(f.startswith("file in " + left["home"]) for f in pair["found"])
        assert {"module attribute", "monkeypatched relu", "monkeypatched Tensor.sum",
                "listening socket"}.isdisjoint(pair["found"]), pair["found"]


def test_the_second_student_holds_only_its_own_descriptors(pair):
    """The same kinds of descriptors as a fresh child had before the first student left any."""
    assert pair["b"].descriptors() == pair["baseline"]


def test_a_student_sees_only_its_own_files_and_not_the_zygotes_memory(pair):
    b = pair["b"]
    if pair["isolation"] == "strong":  # (basic: no file system isolation, as a cold start)
        alice = pair["root"] / "alice" / "student_code.py"
        assert b.read_other(str(alice)) == "FileNotFoundError"
    inside = pair["process"]._launch.submission_path
    assert b.read_other(os.path.join(inside, "student_code.py")).startswith("\nimport ctypes")
    assert b.read_other(os.path.join(inside, "..", "alice", "student_code.py")) in (
        "FileNotFoundError", "PermissionError")
    if pair["isolation"] == "strong":  # (basic, run as root here: root may read anything)
        assert pair["zygote"].dumpable == 0
        assert b.zygote_memory() == "PermissionError"  # no /proc/<pid>/mem, no ptrace


def test_a_student_killing_the_zygote_costs_only_the_warm_start(pair, tmp_path):
    zygote, isolation = pair["zygote"], pair["process"].isolation
    starts = zygote.starts
    c, c_process = _student(zygote, tmp_path / "carol", LOOKER, ["kill_parent"], isolation)
    try:
        c.kill_parent()
    finally:
        c_process.close()
    d, d_process = _student(zygote, tmp_path / "dave", LOOKER, ["look"], isolation)
    try:
        assert "monkeypatched relu" not in d.look(str(tmp_path))
    finally:
        d_process.close()
    assert zygote.starts == starts + 1  # a new zygote, a new sandbox


TINY_CHECKS = '''
import pytest

SEEN = []  # module state of the checks: must be empty at the start of every grading

@pytest.mark.points(1)
def test_double_on_fresh_check_state(student):
    assert SEEN == [], f"check module state leaked from an earlier grading: {SEEN}"
    SEEN.append(student.double(21))
    assert SEEN == [42]
'''


def test_a_warm_judge_imports_the_checks_afresh_for_every_student(tmp_path):
    """Two gradings in one warm judge (worker): the check module's state starts empty for
    the second, and the second student is graded by a forked child, not a new sandbox."""
    folder = tmp_path / "tiny"
    (folder / "public").mkdir(parents=True)
    (folder / "assignment.toml").write_text('[assignment]\nname = "tiny"\nmodule = "tiny"\n'
                                            'required = ["double"]\ntime_budget_s = 60\n')
    (folder / "public" / "test_tiny.py").write_text(TINY_CHECKS)
    assignment = load_folder(folder)
    warm = WarmJudge()
    try:
        scores = []
        for name in ("alice", "bob"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "tiny.py").write_text("def double(x):\n    return 2 * x\n")
            isolation = sandbox.probe()
            zygote = warm.zygote_for(assignment, isolation)
            result = judge.grade(tmp_path / name, assignment, isolation=isolation,
                                 spawner=zygote)
            scores.append((result.score, [c.message for c in result.checks]))
        assert scores == [(1.0, [""]), (1.0, [""])], scores
        assert zygote.starts == 1 and zygote.forks == 2
    finally:
        warm.close()


def test_a_warm_student_cannot_read_its_recorded_experiments(tmp_path):
    """The zygote shows a student's folder without the files only the judge reads (the
    recorded experiments an experiment's replay is compared with), as a cold start does."""
    isolation = sandbox.probe()
    if isolation.level != "strong":
        pytest.skip(f"strong isolation is not available here: {isolation.describe()} — CI "
                    "installs bubblewrap so this test runs there")
    zygote = Zygote(isolation=isolation, limits=sandbox.Limits(), threads=1, hidden_paths=HIDDEN)
    folder = tmp_path / "carol"
    folder.mkdir()
    (folder / "MLP_pixels.experiments.json").write_text('{"runs": "SECRET"}')
    reader = "import os\n\ndef listing():\n    return sorted(os.listdir('/submission'))\n"
    student, process = _student(zygote, folder, reader, ["listing"], isolation)
    try:
        assert student.listing() == ["student_code.py"]
    finally:
        process.close()
        zygote.close()
