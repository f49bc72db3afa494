"""Same grades whatever runs them: 1 local worker, 2 local workers, a Dask cluster of 2 worker
processes (a real ``distributed.LocalCluster``), and a Dask worker killed in the middle of a
task — the student is graded again elsewhere, never lost, never counted twice."""

import csv
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from grader import limits
from grader.assignment import load_assignment
from grader.batch import run_batch

pytestmark = pytest.mark.slow  # gradings: part of the required suite

ASSIGNMENT = "perceptron"
STEP = "w += eta * (x.T @ grad)"


@pytest.fixture(scope="module")
def assignment():
    return load_assignment(ASSIGNMENT)


@pytest.fixture(scope="module")
def klass(assignment, tmp_path_factory):
    """A reference, a sign bug in update, a syntax error, an empty folder."""
    reference = limits.reference_file(assignment).read_text()
    assert STEP in reference
    subs = tmp_path_factory.mktemp("class") / "subs"
    for name in ("alice", "bob", "carol", "dave"):
        (subs / name).mkdir(parents=True)
    (subs / "alice" / "perceptron.py").write_text(reference)
    (subs / "bob" / "perceptron.py").write_text(reference.replace(STEP, STEP.replace("+=", "-=")))
    (subs / "carol" / "perceptron.py").write_text("def init_params(:\n    pass\n")
    return subs


def _grades(out: Path) -> list[list[str]]:
    return list(csv.reader((out / "grades.csv").open()))


def _batch(assignment, subs, out, **options):
    done = []
    summary = run_batch(assignment, subs, out, force=True,
                        progress=lambda student, n, total: done.append(student), **options)
    return summary, [s for s in done if s != "start"]


@pytest.fixture(scope="module")
def local_one(assignment, klass, tmp_path_factory):
    out = tmp_path_factory.mktemp("one")
    _batch(assignment, klass, out, workers=1)
    return _grades(out)


@pytest.fixture(scope="module")
def cluster():
    import distributed  # in the test extra: a missing one is an error, not a skip
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster:
        yield cluster


def test_the_class_is_graded_as_expected(local_one):
    rows = {row[0]: row for row in local_one[1:]}
    header = local_one[0]
    total, status = header.index("total"), header.index("status")
    assert rows["alice"][status] == "graded" and rows["alice"][total] == rows["alice"][total + 1]
    assert rows["bob"][status] == "graded" and 0 < float(rows["bob"][total]) < float(rows["bob"][total + 1])
    assert rows["carol"][status] == "error" or float(rows["carol"][total]) == 0
    assert rows["dave"][status] == "error" and "empty submission folder" in rows["dave"]


def test_one_worker_two_workers_and_dask_give_identical_grades(assignment, klass, local_one,
                                                               cluster, tmp_path):
    _batch(assignment, klass, tmp_path / "two", workers=2)
    summary, done = _batch(assignment, klass, tmp_path / "dask", executor="dask",
                           scheduler=cluster.scheduler_address)
    assert _grades(tmp_path / "two") == local_one
    assert _grades(tmp_path / "dask") == local_one
    assert sorted(done) == ["alice", "bob", "carol", "dave"] and summary.graded == 4


def test_a_dask_worker_killed_mid_task_loses_no_student(assignment, klass, local_one, cluster,
                                                       tmp_path):
    from distributed import Client

    outcome = {}

    def batch():
        outcome["summary"], outcome["done"] = _batch(
            assignment, klass, tmp_path / "killed", executor="dask",
            scheduler=cluster.scheduler_address)

    runner = threading.Thread(target=batch, daemon=True)
    runner.start()
    killed = None
    with Client(cluster.scheduler_address) as watcher:
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline and runner.is_alive():
            busy = [address for address, keys in watcher.processing().items()
                    if any(str(k).startswith("grade-") for k in keys)]
            if busy:
                time.sleep(1.0)  # well into the task: its judge is grading
                pids = watcher.run(os.getpid, workers=[busy[0]])
                killed = pids[busy[0]]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.05)
    runner.join(600)
    assert killed is not None, "no task was seen running: the kill did not happen"
    assert sorted(outcome["done"]) == ["alice", "bob", "carol", "dave"]  # each once
    assert _grades(tmp_path / "killed") == local_one
