"""Calibrate the accuracy thresholds: the reference's accuracy in each training check, per seed.

Each practical with accuracy checks declares its calibration hook in
``assignments/<name>/calibration.py``: ``THRESHOLDS`` (check -> the setting holding its
full-marks threshold) and ``calibrate(assignment, seed)`` (check -> the reference's accuracy,
computed the way the check computes the student's). Seed 0 is the public check, seed 1 the
hidden "another split" one; the rest show the spread the thresholds must leave room for.

    .venv/bin/python benchmarks/calibrate_accuracy.py [--seeds 8] [--only NAME]

Prints one line per check: the accuracy per seed, min/mean, the full-marks threshold and the
margin (worst seed minus that threshold), which should stay clearly positive.
"""

from __future__ import annotations

import argparse
import time

from grader.assignment import CALIBRATION_FILE, list_assignments, load_module_file


def hooks():
    """(assignment, calibration module) of every practical that declares one."""
    for assignment in list_assignments():
        path = assignment.folder / CALIBRATION_FILE
        if path.is_file():
            yield assignment, load_module_file(f"grader_calibration_{assignment.name}", path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--only", help="a substring of the check names (or of the practical)")
    args = parser.parse_args()
    for assignment, hook in hooks():
        thresholds = getattr(hook, "THRESHOLDS", {})
        if not thresholds:
            continue
        names = [f"{assignment.name}: {check}" for check in thresholds]
        if args.only and not any(args.only in name for name in names):
            continue
        started = time.perf_counter()
        runs = [hook.calibrate(assignment, seed) for seed in range(args.seeds)]
        each = (time.perf_counter() - started) / len(runs)
        for check, key in thresholds.items():
            scores = [run[check] for run in runs]
            high = float(assignment.settings[key])
            print(f"{assignment.name}: {check}: {', '.join(f'{s:.3f}' for s in scores)} | "
                  f"min {min(scores):.3f} mean {sum(scores) / len(scores):.3f} | full marks from "
                  f"{high:.2f}, margin {min(scores) - high:+.3f} | {each:.1f} s each", flush=True)


if __name__ == "__main__":
    main()
