"""For tests/notebook/: notebooks of the perceptron practical (its checks are the
quickest to run), as the reference, the starter or a buggy version, with extra cells."""

from __future__ import annotations

from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
SOFTMAX = ("def softmax(z):\n    e = torch.exp(z - z.max(dim=1, keepdim=True).values)\n"
           "    return e / e.sum(dim=1, keepdim=True)\n")


def reference_source() -> str:
    return (REPO / "assignments" / "perceptron" / "reference" / "perceptron.py").read_text()


def buggy_source() -> str:
    """The reference with the bias left out of ``forward``: loses the checks that need it."""
    text = reference_source()
    assert text.count("return x @ w + b\n") == 1
    return text.replace("return x @ w + b\n", "return x @ w\n")


def starter_notebook() -> nbformat.NotebookNode:
    from grader.assignment import load_assignment
    from grader.templates import starter_files

    return nbformat.reads(starter_files(load_assignment("perceptron")).notebook, as_version=4)


def notebook_of(source: str) -> nbformat.NotebookNode:
    """A notebook of ``source``, one code cell per top-level block, as a student's looks."""
    from grader.templates import notebook_from_python

    return nbformat.reads(notebook_from_python(source, "Perceptron"), as_version=4)


def write(nb: nbformat.NotebookNode, folder: Path, extra_cells: list[str] = (),
          name: str = "Perceptron.ipynb") -> Path:
    # The starter's own "check your work" cell would grade once more before the test's cells:
    # the tests add the check cell they need.
    nb.cells = [c for c in nb.cells if "grader.check()" not in c.get("source", "")]
    for code in extra_cells:
        nb.cells.append(nbformat.v4.new_code_cell(code))
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(nb, path)
    return path
