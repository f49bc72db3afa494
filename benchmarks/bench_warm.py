"""Warm workers and bounded hangs, as ratios against baselines measured in the same run.

    .venv/bin/python benchmarks/bench_warm.py [--students 3]

1. per-student fixed cost in a batch (everything but the checks' own work: judge start-up,
   imports, the student process's start-up and load) — a warm worker (grader.worker + its
   zygote) vs today's cold start (a fresh ``python -m grader.judge`` per student); target ≤ 0.1;
2. grading the reference ``mlp_pixels`` in a warm worker vs the bare training and inference
   its checks contain, same seeds and threads (its two accuracy checks: the training in the
   student process and the predictions; the judge's replay of each training is the same for
   every student, computed once per machine and cached — grader.model_checks.replayed_training
   — so a grading after the first does not contain it; the other checks' small trainings are
   left out, so the ratio is an upper bound); target ≤ 1.3;
4. an ``mlp_pixels`` submission whose ``train_loop`` never returns vs the reference, graded
   with the per-request limits measured on this machine; target: at most one time limit more.

The fixed cost of one grading is its wall time minus the time spent in its checks (pytest's
durations, set-up included) plus the student process's start-up (spawn to loaded, which the
first check's set-up waits for). Medians over --students gradings; the machine's load is
printed: the CPUs may be shared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from grader import limits  # noqa: E402
from grader.assignment import load_assignment  # noqa: E402
from grader.batch import Submission, WorkerPool, grade_one  # noqa: E402

LOOP = "\n\ndef train_loop(*args, **kwargs):  # never returns\n    while True:\n        pass\n"


def fixed_cost(result, wall: float) -> float:
    in_checks = sum(c.duration_s for c in result.checks)
    return wall - in_checks + result.timings.get("student_startup_s", 0.0)


def timed_grading(assignment, submission, out, pool=None):
    started = time.perf_counter()
    result = grade_one(assignment, submission, out, pool=pool)
    wall = time.perf_counter() - started
    if result.error:
        raise SystemExit(f"{submission.student}: {result.error}")
    return result, wall


def bare_training(assignment) -> float:
    """The accuracy checks' own work, without the grader: per check, the student's training
    and its predictions (the judge's replay is cached: see the module's docstring)."""
    import torch
    from torch import nn

    from grader import data, training

    sys.path.insert(0, str(limits.reference_file(assignment).parent))
    import mlp_pixels as reference  # noqa: E402  (the reference module itself)

    settings = assignment.settings
    pool = data.resolve_dataset("offline")
    sizes = [int(settings["train_size"]), int(settings["valid_size"]), int(settings["test_size"])]
    kwargs = dict(epochs=int(settings["accuracy_epochs"]), lr=float(settings["accuracy_lr"]),
                  optimizer="adam", batch_size=int(settings["accuracy_batch_size"]), threads=1)
    started = time.perf_counter()
    for seed in (0, 1):  # the public and the hidden accuracy checks
        train, _, test = pool.resplit(sizes, seed=seed, test_seed=int(settings["split_seed"]))
        torch.manual_seed(seed)
        model = reference.MLP(activation=nn.ReLU)
        training.train_classifier(model, train.images, train.labels, seed=seed,
                                  train_loop=reference.train_loop, **kwargs)
        training.predict(model, test.images)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=3)
    args = parser.parse_args()
    assignment = load_assignment("mlp_pixels")
    reference = limits.reference_file(assignment)
    print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")
    work = Path(tempfile.mkdtemp(prefix="bench-warm-"))
    try:
        folder = work / "subs"
        folder.mkdir()
        shutil.copy(reference, folder / "ref.py")
        (folder / "loop.py").write_text(reference.read_text() + LOOP)
        ref = Submission("ref", "ref", folder / "ref.py")
        loop = Submission("loop", "loop", folder / "loop.py")

        cold = [timed_grading(assignment, ref, work / "cold") for _ in range(args.students)]
        pool = WorkerPool(1, work / "pool", calibrated_limits=True)
        try:
            first = timed_grading(assignment, ref, work / "warm", pool)  # worker + zygote start
            warm = [timed_grading(assignment, ref, work / "warm", pool)
                    for _ in range(args.students)]
            looping, loop_wall = timed_grading(assignment, loop, work / "warm", pool)
        finally:
            pool.close()
        bare = bare_training(assignment)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {os.getloadavg()}\n")

    cold_fixed = statistics.median(fixed_cost(r, w) for r, w in cold)
    warm_fixed = statistics.median(fixed_cost(r, w) for r, w in warm)
    warm_wall = statistics.median(w for _, w in warm)
    ref_wall = warm_wall
    request_limits = limits.cached(assignment)
    loop_limit = (request_limits.limit("train_loop matches reference", "train_loop", 30.0)
                  if request_limits else 30.0)
    rows = [
        ("1. per-student fixed cost, warm worker / cold judge", warm_fixed, cold_fixed),
        ("   (first student of a warm worker: its start-up) / cold", fixed_cost(*first), cold_fixed),
        ("2. grading the reference (warm) / its bare trainings", warm_wall, bare),
        ("4. infinite train_loop / reference (warm, calibrated)", loop_wall, ref_wall),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}   value s  baseline s   ratio")
    for name, value, base in rows:
        print(f"{name.ljust(width)}  {value:8.2f}  {base:10.2f}  {value / base:6.2f}")
    print(f"\n4. the loop cost {loop_wall - ref_wall:.1f} s more than the reference; the time limit "
          f"of train_loop here is {loop_limit:g} s (reference's cost x factor, floor); "
          f"{looping.score:g}/{looping.max_score:g} points")
    timed_out = [c.name for c in looping.checks if "timed out after" in c.message]
    again = [c.name for c in looping.checks if "was not called again" in c.message]
    print(f"   checks that waited for a time limit: {timed_out}; failed at once: {len(again)}")


if __name__ == "__main__":
    main()
