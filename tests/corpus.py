"""Helpers for the validation corpus: submissions made from the reference by one mutation,
and the assertions on their gradings (each bug loses exactly its named checks).

The corpus itself is declared by each practical (``assignments/<name>/corpus/``,
:mod:`grader.corpus`); ``tests/test_practicals.py`` grades it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from grader.assignment import load_assignment
from grader.corpus import Mutation, bug  # noqa: F401 - the tests' way to make one-off bugs

REPO = Path(__file__).resolve().parents[1]


def reference_path(assignment: str) -> Path:
    """The reference solution of an assignment (``assignments/<name>/reference/<module>.py``)."""
    return load_assignment(assignment).reference_path


def write_mutant(tmp: Path, assignment: str, mutation, filename: str | None = None) -> Path:
    text = reference_path(assignment).read_text()
    folder = tmp / mutation.name
    folder.mkdir(parents=True)
    path = folder / (filename or reference_path(assignment).name)
    path.write_text(mutation.apply(text))
    return path


def copy_reference(tmp: Path, assignment: str, filename: str | None = None) -> Path:
    folder = tmp / "reference"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (filename or reference_path(assignment).name)
    shutil.copy(reference_path(assignment), path)
    return path


def as_notebook(source: str, path: Path, extra_cells: list[str] = ()) -> Path:
    """A notebook holding ``source`` split into cells at top-level definitions, then extras."""
    cells, current = [], []
    for line in source.splitlines():
        if (line.startswith(("def ", "class ", "import ", "from ")) and current
                and not current[-1].startswith(("import ", "from ", "@"))):
            cells.append("\n".join(current).strip("\n"))
            current = []
        current.append(line)
    cells.append("\n".join(current).strip("\n"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Practical")] + [
        nbformat.v4.new_code_cell(c) for c in cells + list(extra_cells) if c.strip()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb))
    return path


def losing(result) -> set[str]:
    """Names of the checks that did not get full marks."""
    return {c.name for c in result.checks if c.score < c.max_score - 1e-9}


def assert_loses_exactly(result, mutation: Mutation) -> None:
    """The mutation costs points on its checks (and maybe its accuracy ones), nowhere else."""
    lost = losing(result)
    unexpected = lost - mutation.loses - mutation.maybe
    kept = mutation.loses - lost
    details = {c.name: c.message for c in result.checks if c.name in unexpected | kept}
    assert not unexpected and not kept, (
        f"{mutation.name}: lost points unexpectedly on {sorted(unexpected)}, "
        f"kept points on {sorted(kept)}: {details}")
    for check in result.checks:
        if check.name in lost:
            assert check.message, check.name  # every lost point comes with a reason


def assert_reports_its_training(check, epochs: int, n_test: int) -> None:
    """An accuracy check of the reference reports its learning curves (one point per epoch,
    decreasing), an accuracy above its threshold and a confusion matrix of the scored images."""
    curves = check.details["learning_curves"]
    assert len(curves["train_loss"]) == len(curves["valid_loss"]) == epochs
    assert curves["train_loss"][-1] < curves["train_loss"][0]
    assert check.details["accuracy"]["value"] >= check.details["accuracy"]["high"]
    assert sum(map(sum, check.details["confusion_matrix"])) == n_test


def assert_full_marks(result) -> None:
    """Every check passed, nothing failed to load, public and hidden checks both ran."""
    assert result.error is None and result.load_errors == []
    assert losing(result) == set(), [(c.name, c.message) for c in result.checks if not c.passed]
    assert result.score == result.max_score > 0
    assert result.public() and result.hidden()


def assert_checks_named_by_element(result, elements: set[str], bugs=()) -> None:
    """Every check's name starts with the element it checks and has a description; every check
    a corpus mutation names exists (a renamed check would otherwise fail its bug test)."""
    for check in result.checks:
        assert check.element in elements, check.name
        assert check.description, check.name
    names = {c.name for c in result.checks}
    for mutation in bugs:
        assert mutation.loses | mutation.maybe <= names, mutation.name


def assert_starter_result(result, assignment: str) -> None:
    """The untouched starter: 0 points, one "not implemented yet" line per check."""
    assert result.assignment == assignment
    assert result.score == 0 and result.error is None
    for check in result.checks:
        assert "is not implemented yet" in check.message, (check.name, check.message)
        assert "\n" not in check.message
