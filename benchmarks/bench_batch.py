"""Batches: 1 vs 2 local workers, and a Dask LocalCluster vs the local pool, measured side by side.

    .venv/bin/python benchmarks/bench_batch.py [--size 40] [--no-dask]

3. a class of ``--size`` mixed ``mlp_pixels`` submissions (the reference and its valid variants,
   the corpus's seeded bugs, two infinite ``train_loop`` loops, a notebook), graded by
   ``grade batch`` with 1 then 2 warm workers: the speed-up (target ≥ 1.8 on 2 free cores) and
   the peak memory each extra worker adds (the batch's whole process tree, sampled);
6. the same class on a ``distributed.LocalCluster`` of 2 worker processes vs the local pool of
   2 workers: the overhead per task (seconds; the cluster's own start-up excluded).

The machine's own ceiling is measured in the same run: the accuracy checks' bare training (the
reference MLP, 5 epochs of Adam on 4,000 images, one thread), 6 times in one process vs 3 times
in each of 2 processes side by side. On a VM whose 2 cores share caches and memory bandwidth
this is well under 2 (1.5-1.8 measured here): the batch's speed-up is to be read against it.

The per-request limits are measured first (once per machine, cached), so that no run pays for
them. The machine's load is printed: on a shared machine the speed-up says little.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from grader import limits  # noqa: E402
from grader.assignment import load_assignment  # noqa: E402
from grader.batch import run_batch  # noqa: E402

LOOP = "\n\ndef train_loop(*args, **kwargs):  # never returns\n    while True:\n        pass\n"


def make_class(folder: Path, size: int, assignment) -> Path:
    """References, valid variants, bugs, two loops and a notebook, cycled up to ``size``."""
    import importlib.util

    from corpus import as_notebook

    reference = limits.reference_file(assignment)
    text = reference.read_text()
    corpus = assignment.folder / "corpus"
    spec = importlib.util.spec_from_file_location("bench_bugs", corpus / "bugs.py")
    bugs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bugs)
    subs = folder / "subs"
    subs.mkdir(parents=True)
    makers = [lambda d: shutil.copy(reference, d / "mlp_pixels.py")]
    for variant in sorted(p for p in corpus.iterdir() if p.is_dir()):
        makers.append(lambda d, v=variant: shutil.copytree(v, d, dirs_exist_ok=True))
    for mutation in bugs.BUGS:
        makers.append(lambda d, m=mutation: (d / "mlp_pixels.py").write_text(m.apply(text)))
    special = [lambda d: (d / "mlp_pixels.py").write_text(text + LOOP)] * 2 + [
        lambda d: as_notebook(text, d / "MLP_pixels.ipynb")]
    chosen = special + [makers[i % len(makers)] for i in range(max(0, size - len(special)))]
    for n, make in enumerate(chosen):
        student = subs / f"student{n:03d}"
        student.mkdir()
        make(student)
    return subs


class PeakMemory:
    """The peak of the summed RSS of this process and all its descendants, sampled."""

    def __init__(self, every: float = 0.5):
        self.every, self.peak, self._stop = every, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()


def bare_trainings(count: int) -> None:
    """``count`` times the accuracy checks' training, without the grader (child mode)."""
    import torch
    from torch import nn

    from grader import data, training

    assignment = load_assignment("mlp_pixels")
    sys.path.insert(0, str(limits.reference_file(assignment).parent))
    import mlp_pixels as reference  # noqa: E402  (the reference module itself)

    train = data.resolve_dataset("offline")
    for n in range(count):
        torch.manual_seed(n)
        model = reference.MLP(activation=nn.ReLU)
        training.train_classifier(model, train.images[:4000], train.labels[:4000], epochs=5,
                                  lr=1e-3, optimizer="adam", batch_size=64, seed=n, threads=1,
                                  train_loop=reference.train_loop)


def machine_ceiling() -> tuple[float, float]:
    """(6 bare trainings in one process, 3 + 3 in two processes side by side), seconds."""
    import subprocess

    def start(count):
        return subprocess.Popen([sys.executable, __file__, "--bare", str(count)],
                                env=dict(os.environ, OMP_NUM_THREADS="1"))

    started = time.perf_counter()
    start(6).wait()
    alone = time.perf_counter() - started
    started = time.perf_counter()
    both = [start(3), start(3)]
    for proc in both:
        proc.wait()
    return alone, time.perf_counter() - started


def timed_batch(assignment, subs, out, **options) -> tuple[float, int]:
    with PeakMemory() as memory:
        started = time.perf_counter()
        summary = run_batch(assignment, subs, out, force=True, **options)
        wall = time.perf_counter() - started
    assert summary.graded > 0
    return wall, memory.peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=40)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.bare:
        return bare_trainings(args.bare)
    assignment = load_assignment("mlp_pixels")
    limits.for_machine(assignment)  # measured once, before any timed run
    print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    rows = []
    try:
        subs = make_class(work, args.size, assignment)
        one, one_peak = timed_batch(assignment, subs, work / "one", workers=1)
        two, two_peak = timed_batch(assignment, subs, work / "two", workers=2)
        rows.append((f"3. batch of {args.size}, 1 worker / 2 workers (speed-up)", one, two))
        alone, side_by_side = machine_ceiling()
        rows.append(("   the machine's ceiling: bare trainings, 1 process / 2 processes",
                     alone, side_by_side))
        extra_gib = (two_peak - one_peak) / 2**30
        if not args.no_dask:
            from distributed import LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                              dashboard_address=None, silence_logs=40) as cluster:
                dask_wall, _ = timed_batch(assignment, subs, work / "dask", executor="dask",
                                           scheduler=cluster.scheduler_address)
            rows.append(("6. Dask LocalCluster (2 workers) / local pool (2 workers)",
                         dask_wall, two))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {os.getloadavg()}\n")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}   value s  baseline s   ratio")
    for name, value, base in rows:
        print(f"{name.ljust(width)}  {value:8.2f}  {base:10.2f}  {value / base:6.2f}")
    print(f"\n3. the batch reaches {(one / two) / (alone / side_by_side):.2f} of the machine's own "
          f"speed-up on the same kind of work")
    print(f"3. peak memory: 1 worker {one_peak / 2**30:.2f} GiB, 2 workers "
          f"{two_peak / 2**30:.2f} GiB: {extra_gib:.2f} GiB for the extra worker")
    if not args.no_dask:
        print(f"6. Dask overhead per task: {(dask_wall - two) / args.size:+.2f} s "
              "(the cluster's start-up excluded; each Dask worker starts its own warm judge)")


if __name__ == "__main__":
    main()
