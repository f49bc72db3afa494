"""Engine-level regression tests for what an adversarial review broke (issue 9): a child that
patches its own wire, starves its neighbours, or sends a notebook that costs the judge hours.
Each attack is done the way a submission can do it: from its own code, in its own process."""

import io
import threading
import time
import zipfile

import nbformat
import pytest
import torch

from grader import sandbox, wire
from grader.failures import StudentTimeout
from grader.submission import read_source, strip_magics

# ------------------------------------------------------------------ 6. a zip bomb in a reply


def _deflated(payload: bytes) -> bytes:
    """The same torch.save archive with its records deflated, as a crafted child sends it."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(payload)) as src, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    return out.getvalue()


def test_compressed_reply_records_are_refused_before_loading():
    honest = wire.dumps({"id": 1, "ok": torch.zeros(2**20)})  # 4 MiB of zeros
    bomb = _deflated(honest)
    assert len(bomb) < len(honest) // 50  # what torch.load would inflate behind the size cap
    with pytest.raises(wire.WireError, match="compressed record"):
        wire.loads(bomb)
    assert wire.loads(honest)["ok"].shape == (2**20,)  # stored records still load
    with pytest.raises(wire.WireError, match="not a torch.save archive"):
        wire.loads(b"\x80\x02}q\x00.")  # a legacy pickle


# ------------------------------------------------------------------ 7. a reply trickled byte by byte

TRICKLE = '''
import time
import grader.wire as w

def trickle_replies():
    def send_slowly(sock, payload):
        for byte in w.HEADER.pack(len(payload)) + payload:  # one byte every 0.2 s
            sock.sendall(bytes([byte]))
            time.sleep(0.2)
    w.send_frame = send_slowly
    return 1
'''


@pytest.mark.timeout(60)  # the old per-recv limit kept this request alive for minutes
def test_one_deadline_per_request_however_slowly_the_reply_comes(spawn):
    student, process = spawn(TRICKLE, ["trickle_replies"], request_timeout=3.0)
    with pytest.raises(StudentTimeout, match="timed out after 3 s"):
        student.trickle_replies()
    assert process.stats.request_s < 30


# ------------------------------------------------------------------ 8. a CPU share per sandbox

BUSY = '''
import os
import time

def spin(n_processes, seconds):
    children = []
    for _ in range(n_processes):
        pid = os.fork()
        if pid == 0:
            os.setsid()
            end = time.time() + seconds
            while time.time() < end:
                pass
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return len(children)
'''


def test_many_busy_processes_share_one_sandboxs_cpu_quota(spawn, strong):
    """Six setsid'd busy loops (a hundred, in the review, starved a neighbour in a batch of two
    workers) all run in the sandbox's cpu cgroup: one share, at most `threads` cores together.
    (Whether the kernel then throttles them depends on the machine's load; that the quota is
    enforced is the kernel's part, measured once in the closing note of issue 9.)"""
    if sandbox._cgroup_root("cpu") is None:
        pytest.skip("LOUD: no writable cpu cgroup here; the CPU share of a sandbox is untested")
    student, process = spawn(BUSY, ["spin"], isolation=strong, request_timeout=60)
    process.start()
    [cpu] = [cg for cg in process._launch.cgroups if (cg / "cpu.cfs_quota_us").exists()]
    assert int((cpu / "cpu.cfs_quota_us").read_text()) == sandbox.CPU_PERIOD_US  # one core
    assert int((cpu / "cpu.shares").read_text()) == 1024
    before = len((cpu / "tasks").read_text().split())
    counts = []
    watcher = threading.Thread(target=lambda: [
        counts.append(len((cpu / "tasks").read_text().split())) or time.sleep(0.1)
        for _ in range(15)])
    watcher.start()
    assert student.spin(6, 2.0) == 6
    watcher.join()
    assert max(counts) >= before + 6, (before, counts)


# ------------------------------------------------------------------ 9. notebooks read in linear time

@pytest.mark.timeout(60)  # tokenizing from the top for each magic: 8,000 lines took 183 s
def test_magic_lines_are_stripped_in_linear_time(tmp_path):
    n = 20_000
    bracket = "x = (\n" + "\n".join(f"% {i}" for i in range(n)) + "\n)"
    assert strip_magics(bracket) == bracket  # inside brackets `%` continues the expression
    shell = "\n".join(f"!echo {i}" for i in range(n))
    assert strip_magics(shell) == "\n".join(["pass"] * n)
    nb = nbformat.v4.new_notebook()
    shell = "\n".join(f"!echo {i}" for i in range(15_000))  # under the code size cap
    nb.cells = [nbformat.v4.new_code_cell(shell), nbformat.v4.new_code_cell("def f():\n    return 1")]
    path = tmp_path / "big.ipynb"
    nbformat.write(nb, path)
    source = read_source(path, "mlp_pixels")
    assert "def f():" in source.text
    assert read_source(path, "mlp_pixels").text == source.text  # the second read is the cache's


@pytest.mark.parametrize("code, expected", [
    ("print('%d' \\\n% (3,))", "print('%d' \\\n% (3,))"),
    ('s = """\n!not magic\n"""\n!ls', 's = """\n!not magic\n"""\npass'),
    ("t = 'a # ('\n!ls", "t = 'a # ('\npass"),
    ("y = [  # (\n1,\n]\n%matplotlib inline", "y = [  # (\n1,\n]\npass"),
    ('z = "\\""\n!ls', 'z = "\\""\npass'),
    ("s = '''\\'''\n!ls\n'''\n!pwd", "s = '''\\'''\n!ls\n'''\npass"),
])
def test_magic_stripping_knows_where_statements_continue(code, expected):
    assert strip_magics(code) == expected


# ------------------------------------------------------------------ the budget bounds every request

LOOPS = '''
def train_loop(*args):
    while True:
        pass

def valid_loop(*args):
    while True:
        pass
'''


@pytest.mark.timeout(60)  # each call waited for its own 30 s limit: 60 s for these two
def test_no_request_runs_past_the_grading_budget(spawn):
    student, process = spawn(LOOPS, ["train_loop", "valid_loop"], request_timeout=30.0)
    process.start()
    process.set_budget(4.0)
    with pytest.raises(StudentTimeout, match=r"time budget \(4 s for all checks\) ran out"):
        student.train_loop()
    started = time.monotonic()
    with pytest.raises(StudentTimeout, match="ran out"):
        student.valid_loop()  # nothing left: refused before it starts
    assert time.monotonic() - started < 5


# ------------------------------------------------------------------ review A1: a forged load report

def test_a_load_report_has_at_most_one_error_per_statement_run():
    """A submission can reach the loader's frame and append errors: 28,000 forged errors at one
    line (1 MB) kept the judge's messages busy for half an hour. Errors must be at the lines
    of statements the child was asked to run, as many as it has statements there."""
    from grader.student_process import load_report

    error = {"type": "ImportError", "message": "x", "frames": [], "lineno": 3, "import": True}
    assert load_report({"defined": [], "errors": [error] * 28_000}, [1, 3, 7]) is None
    assert load_report({"defined": [], "errors": [{**error, "lineno": 5}]}, [1, 3, 7]) is None
    two = load_report({"defined": [], "errors": [error, error]}, [3, 3])  # `a = f(); b = g()`
    assert two is not None and len(two.errors) == 2


# ------------------------------------------------------------------ review A2: code analysed in the judge

@pytest.mark.timeout(60)  # 4 MiB of notebook code: 3 minutes and 2.7 GB in the judge before
def test_a_notebook_with_megabytes_of_code_is_refused_before_it_is_analysed(tmp_path):
    from grader.submission import SubmissionError

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("\n".join("x = [1, 2, 3]" for _ in range(300_000)))]
    path = tmp_path / "perceptron.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(SubmissionError, match="more than a practical may have"):
        read_source(path, "perceptron")


@pytest.mark.timeout(60)  # a scan of every scope for every statement: 25 s for 20,000 defs
def test_slicing_many_definitions_is_not_quadratic():
    from grader import slicing

    code = "\n".join(f"def f{i}(a):\n    return g{i}(a)" for i in range(15_000))
    code += "\n" + "\n".join(f"g{i} = abs" for i in range(15_000))
    plan = slicing.plan(code, "p.py", ["f1"])
    assert plan.statement_at(3).summary.startswith("def f1")
