"""A warm judge: one process that grades student after student, paying its imports once.

A cold ``python -m grader.judge`` per student imports torch and pytest (≈1.5 s) and starts a
student process that imports torch again (≈1.7 s, plus ≈1.5 s for the first optimizer's
dynamo). A worker (``python -P -m grader.worker``) imports them once and keeps a
:class:`grader.zygote.Zygote` per assignment, so each student costs the checks' own work.

Protocol: one JSON job per line on stdin, one JSON line back on stdout per job::

    → {"submission": PATH, "assignment": NAME, "student": NAME, "json_out": PATH,
       "hidden_dir": PATH|null, "data": "offline", "require_isolation": false,
       "calibrated_limits": true}
    ← {"ok": true}                      the result is in json_out
    ← {"error": "one line"}             the student could not be graded (that reason)

    → {"prepare": true, "assignment": NAME, ...}   start the zygote and take the first optimizer
                                                   step now: a batch's workers warm up side by side
    → {"calibrate": true, "assignment": NAME, ...} measure the per-request limits (once per
                                                   machine, grader.limits)

What one student leaves in the judge does not reach the next: the judge never runs student
code; the check modules are imported afresh for every grading (:func:`grader.judge.run_pytest`
removes them after each run), and every grading gets a new GradingContext and plugin. A worker
that dies (a bug, the memory limit) costs the student it was grading a row with the reason; the
batch starts another (:mod:`grader.batch`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grader import data as datasets
from grader import judge, limits, sandbox
from grader.assignment import AssignmentError, load_assignment


class WarmJudge:
    """Grades in this process; keeps one zygote per assignment settings."""

    def __init__(self) -> None:
        self.zygotes: dict[str, object] = {}

    def zygote_for(self, assignment, isolation: sandbox.Isolation):
        from grader.zygote import Zygote

        memory = int(assignment.memory_gib * sandbox.GiB)
        lim = sandbox.Limits(memory_bytes=memory, cpu_seconds=int(assignment.time_budget_s * 2 + 120))
        hidden = judge.hidden_paths(assignment)
        zygote = self.zygotes.get(assignment.name)
        if zygote is not None and not zygote.suits(isolation, lim, assignment.threads, hidden):
            zygote.close()
            zygote = None
        if zygote is None:
            zygote = Zygote(isolation=isolation, limits=lim, threads=assignment.threads,
                            hidden_paths=hidden)
            self.zygotes[assignment.name] = zygote
        return zygote

    def grade(self, job: dict):
        assignment = load_assignment(job["assignment"], hidden_dir=job.get("hidden_dir"))
        isolation = sandbox.probe()
        zygote = self.zygote_for(assignment, isolation)
        options = dict(data_source=job.get("data", "offline"), isolation=isolation)
        request_limits = None
        if job.get("calibrated_limits"):
            request_limits = limits.for_machine(assignment, spawner=zygote, **options)
        return judge.grade(job["submission"], assignment, hidden=job.get("hidden", True),
                           require_isolation=job.get("require_isolation", False),
                           hidden_dir=job.get("hidden_dir"), student=job.get("student"),
                           request_limits=request_limits, spawner=zygote, **options)

    def prepare(self, job: dict) -> None:
        """Pay now what the first student would pay before the checks' own work: the zygote's
        start (torch, dynamo and the child side, in its sandbox) and, meanwhile, this judge's
        first optimizer step (``torch._dynamo``, about 1 s)."""
        import threading

        assignment = load_assignment(job["assignment"], hidden_dir=job.get("hidden_dir"))
        zygote = self.zygote_for(assignment, sandbox.probe())
        warming = threading.Thread(target=_first_optimizer_step, daemon=True)
        warming.start()
        try:
            # From this thread, not a helper one: the sandbox dies with the thread that
            # started it (bubblewrap's --die-with-parent is a per-thread parent-death signal).
            zygote.start()
        except Exception:
            pass  # the first grading starts it again, and its student's row says why
        finally:
            warming.join()

    def calibrate(self, job: dict) -> None:
        """Measure the per-request limits on this machine, unless already cached."""
        assignment = load_assignment(job["assignment"], hidden_dir=job.get("hidden_dir"))
        isolation = sandbox.probe()
        limits.for_machine(assignment, spawner=self.zygote_for(assignment, isolation),
                           data_source=job.get("data", "offline"), isolation=isolation)

    def close(self) -> None:
        for zygote in self.zygotes.values():
            zygote.close()
        self.zygotes.clear()


def _first_optimizer_step() -> None:
    import torch

    with torch.random.fork_rng(devices=[]):  # the gradings' random state stays untouched
        layer = torch.nn.Linear(2, 1)
        optimizer = torch.optim.Adam(layer.parameters())
        layer(torch.ones(1, 2)).sum().backward()
        optimizer.step()


def main() -> int:
    warm = WarmJudge()
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever prints while grading never mixes with the replies
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            job = json.loads(line)
            try:
                if job.get("prepare") or job.get("calibrate"):
                    (warm.prepare if job.get("prepare") else warm.calibrate)(job)
                    out.write(json.dumps({"ok": True}) + "\n")
                    out.flush()
                    continue
                result = warm.grade(job)
                result.save(job["json_out"])
                reply = {"ok": True}
            except (AssignmentError, sandbox.IsolationUnavailable, datasets.DatasetError) as e:
                reply = {"error": str(e).splitlines()[0] if str(e) else type(e).__name__}
            out.write(json.dumps(reply) + "\n")
            out.flush()
    finally:
        warm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
