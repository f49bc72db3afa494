"""Grading speed, as ratios against baselines measured in the same run.

    .venv/bin/python benchmarks/bench_grading.py [--repeat 3]

* sandbox overhead: starting the student process in the strong sandbox vs a plain subprocess
  (both load the same submission; baseline: the plain subprocess);
* notebook slicing: grading the reference as a notebook whose top-level cells would train for
  hours vs grading the .py (baseline: the .py) — should stay close to 1;
* hidden checks: public + hidden vs public only (baseline: public only);
* the child's share: time in the student process start-up vs the whole grading run.

Times are medians over --repeat runs on this machine; only the ratios are meant to travel.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from corpus import as_notebook  # noqa: E402
from grader import sandbox, slicing  # noqa: E402
from grader.judge import grade  # noqa: E402
from grader.student_process import StudentProcess  # noqa: E402
from grader.submission import read_source  # noqa: E402


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def start_child(path: Path, isolation) -> None:
    source = read_source(path, "mlp_pixels")
    plan = slicing.plan(source.text, source.display_name, ["MLP", "train_loop"])
    process = StudentProcess(source, plan, isolation=isolation)
    try:
        process.start()
    finally:
        process.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    reference = REPO / "assignments" / "mlp_pixels" / "reference" / "mlp_pixels.py"
    strong = sandbox.probe()
    basic = sandbox.Isolation("basic", ["rlimits"])
    rows = []
    print(f"{strong.describe()}\n")

    plain = median_time(lambda: start_child(reference, basic), args.repeat)
    boxed = median_time(lambda: start_child(reference, strong), args.repeat)
    rows.append(("student process start-up, sandbox / plain", boxed, plain))

    with tempfile.TemporaryDirectory() as tmp:
        notebook = as_notebook(reference.read_text(), Path(tmp) / "MLP_pixels.ipynb",
                               ["import time\nfor epoch in range(20):\n    time.sleep(3600)"])
        py_time = median_time(lambda: grade(reference, "mlp_pixels"), args.repeat)
        nb_time = median_time(lambda: grade(notebook, "mlp_pixels"), args.repeat)
    rows.append(("grading, notebook with 20 h of top-level training / .py", nb_time, py_time))

    hidden_time = median_time(lambda: grade(reference, "mlp_pixels", hidden=True), args.repeat)
    rows.append(("grading, public + hidden / public only", hidden_time, py_time))

    result = grade(reference, "mlp_pixels", hidden=True)
    t = result.timings
    rows.append(("student start-up / whole hidden grading", t["student_startup_s"], t["total_s"]))
    rows.append(("training checks / whole hidden grading", t["training_s"], t["total_s"]))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}   value s  baseline s   ratio")
    for name, value, base in rows:
        print(f"{name.ljust(width)}  {value:8.2f}  {base:10.2f}  {value / base:6.2f}")


if __name__ == "__main__":
    main()
