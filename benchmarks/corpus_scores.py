"""Scores of every corpus submission, reference and starter of every practical, one line each.

Run before and after a change that must not move any score (a practical moved, a check
refactored) and diff the two outputs::

    .venv/bin/python benchmarks/corpus_scores.py > before.txt
    ... change ...
    .venv/bin/python benchmarks/corpus_scores.py > after.txt && diff before.txt after.txt

Each line: practical, submission, total / maximum, and a short hash of every check's
(name, score) so a score moving between two checks shows too. ``--legacy`` reads the corpus
from the per-practical test modules of ``tests/assignments/`` (before the practicals were
folders); without it the corpus comes from each ``assignments/<name>/corpus/``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "assignments"), str(REPO)]

LEGACY_MODULES = {"perceptron": "test_perceptron", "mlp_pixels": "test_mlp_pixels",
                  "networks": "test_networks", "diy": "test_diy_grading",
                  "optim": "test_optim_grading"}


def legacy_corpus(name: str, tmp: Path):
    """(submission name, path) for the reference, the starter, each bug and each variant."""
    from corpus import copy_reference, write_mutant

    module = importlib.import_module(LEGACY_MODULES[name])
    yield "reference", copy_reference(tmp, name)
    shutil.copytree(REPO / "student_template" / name, tmp / "starter")
    yield "starter", tmp / "starter"
    for mutation in module.BUGS:
        yield f"bug {mutation.name}", write_mutant(tmp / "bugs", name, mutation)
    for folder in sorted((REPO / "tests" / "submissions" / name).iterdir()):
        yield f"variant {folder.name}", folder


def folder_corpus(name: str, tmp: Path):
    import practicals

    practical = practicals.practical(name)
    yield "reference", practical.copy_reference(tmp)
    yield "starter", practical.copy_starter(tmp)
    for mutation in practical.bugs:
        yield f"bug {mutation.name}", practical.write_mutant(tmp / "bugs", mutation)
    for variant in practical.variants:
        yield f"variant {variant.name}", variant.path


def line(name: str, submission: str, result) -> str:
    digest = hashlib.sha256(repr(sorted((c.name, round(c.score, 6)) for c in result.checks))
                            .encode()).hexdigest()[:12]
    return (f"{name:<11} {submission:<50} {result.score:7.2f} / {result.max_score:6.2f}  "
            f"{len(result.checks):3d} checks  {digest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("practicals", nargs="*", default=list(LEGACY_MODULES))
    parser.add_argument("--legacy", action="store_true",
                        help="read the corpus from tests/assignments/test_<name>.py")
    args = parser.parse_args()
    from grader.judge import grade

    corpus = legacy_corpus if args.legacy else folder_corpus
    for name in args.practicals:
        with tempfile.TemporaryDirectory() as tmp:
            for submission, path in corpus(name, Path(tmp)):
                print(line(name, submission, grade(path, name, hidden=True)), flush=True)


if __name__ == "__main__":
    main()
