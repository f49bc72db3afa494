"""``grade batch --executor dask --scheduler ADDRESS``: one task per student on a Dask cluster.

The cluster's workers have the grader installed and see the submissions and the assignments at
the same paths (a shared file system, as on a university cluster: see the README for Slurm
with dask-jobqueue). Each task grades one student on a worker exactly as a local batch does —
a warm judge process of that worker (:class:`grader.batch.WorkerPool`, its student processes
forked from a warm zygote in the same sandbox, with the same limits) — and sends back the
result as data. The results are written here, by the batch's own crash-safe, resumable writer
(:func:`grader.batch.run_batch`), as each one arrives.

A worker lost mid-task (killed, out of memory, its node gone): the scheduler gives the task to
another worker (Dask reschedules the tasks of a lost worker), so the student is graded again
elsewhere, never lost; each student is one future whose result is written once, so never
counted twice. A task that keeps killing its workers ends as that student's error row.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

from grader.assignment import Assignment, load_assignment
from grader.batch import BatchError, Submission, WorkerPool, error_result, grade_one
from grader.results import GradingResult

CONNECT_TIMEOUT_S = 30

_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def _worker_pool(calibrated_limits: bool) -> WorkerPool:
    """This Dask worker's warm judges: one per thread the worker runs tasks on."""
    global _pool
    with _pool_lock:
        if _pool is None:
            try:
                from distributed import get_worker

                threads = get_worker().state.nthreads
            except (ImportError, ValueError, AttributeError):
                threads = 1
            workdir = Path(tempfile.mkdtemp(prefix="grader-dask-worker-"))
            _pool = WorkerPool(threads, workdir, calibrated_limits)
        return _pool


def grade_task(assignment_name: str, submission: Submission, options: dict,
               calibrated_limits: bool = True) -> dict:
    """Runs on a Dask worker: grade one student, return the result as data."""
    assignment = load_assignment(assignment_name, hidden_dir=options.get("hidden_dir"))
    scratch = Path(tempfile.mkdtemp(prefix="grader-dask-task-"))
    try:
        result = grade_one(assignment, submission, scratch, pool=_worker_pool(calibrated_limits),
                           **options)
    finally:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    data = result.to_dict()
    data["execution_host"] = os.uname().nodename
    return data


def grade_all(assignment: Assignment, todo: list[Submission], out: Path, *,
              scheduler: str | None, calibrated_limits: bool = True, **options):
    """(submission, result) pairs as the cluster finishes them."""
    try:
        from distributed import Client
    except ImportError:
        raise BatchError("--executor dask needs the `distributed` package "
                         "(pip install 'dask[distributed]')") from None
    if not scheduler:
        raise BatchError("--executor dask needs --scheduler ADDRESS (the Dask scheduler, "
                         "tcp://host:8786)")
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as e:
        raise BatchError(f"no Dask scheduler answers at {scheduler}: {e}") from None
    options = {**options, "hidden_dir": os.path.abspath(options["hidden_dir"])
               if options.get("hidden_dir") else None}
    try:
        def submit(submission: Submission):
            return client.submit(grade_task, assignment.name, _absolute(submission), options,
                                 calibrated_limits, pure=False,
                                 key=f"grade-{assignment.name}-{submission.key}-{uuid.uuid4().hex}")

        pending = {}
        for submission in todo:
            if submission.problem or submission.path is None:  # nothing to send anywhere
                yield submission, error_result(assignment, submission,
                                               submission.problem or "nothing to grade")
                continue
            pending[submit(submission)] = submission
        while pending:
            for future, submission, data in _finished(client, pending, submit):
                if isinstance(data, Exception):  # a task that failed everywhere: a row
                    result = error_result(assignment, submission, "grading failed on the cluster "
                                          f"({type(data).__name__}: {data})")
                else:
                    result = GradingResult.from_dict(data)
                result.student = submission.student
                yield submission, result
    finally:
        client.close()


POLL_S = 5.0
FETCH_TIMEOUT_S = 120.0


def _finished(client, pending: dict, submit):
    """The tasks of ``pending`` that are done, removed from it, as (future, submission, data or
    exception). The scheduler is asked which results it holds, as well as the client's own
    view: when a worker was lost, a notice of completion may never reach this client (seen
    with a worker killed mid-task), and a student must not wait for it forever. A result that
    cannot be fetched is computed again under a new task (its student written once all the
    same: each student's result is taken from the first task that gives it)."""
    deadline = time.monotonic() + POLL_S
    done = {f for f in pending if f.done()}
    while not done and time.monotonic() < deadline:  # (distributed.wait would use the
        time.sleep(0.1)                                # process's default client, not ours)
        done = {f for f in pending if f.done()}
    if not done:
        held = client.who_has(list(pending))
        done = {f for f in pending if held.get(f.key)}
    finished = []
    for future in done:
        submission = pending.pop(future)
        try:
            finished.append((future, submission, future.result(timeout=FETCH_TIMEOUT_S)))
        except TimeoutError:
            future.cancel()
            pending[submit(submission)] = submission
        except Exception as e:  # noqa: BLE001 - the task's own failure
            finished.append((future, submission, e))
    return finished


def _absolute(submission: Submission) -> Submission:
    return Submission(submission.student, submission.key,
                      Path(os.path.abspath(submission.path)), submission.problem)
