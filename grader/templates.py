"""Student starter files, generated from the reference solutions.

Every body a student must write is fenced in the reference by ``### BEGIN SOLUTION`` /
``### END SOLUTION`` (nbgrader's convention). The starter ``.py`` keeps everything else —
docstrings, signatures, comments, helpers — and replaces each fenced block by a TODO and
``raise NotImplementedError``; the starter notebook holds the same code, one definition per
cell. ``grade template --regenerate`` rewrites each ``assignments/<name>/starter/``; a test fails
when a committed starter differs from what the reference gives, so the two never drift.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader import experiments
from grader.assignment import MARKER_FILE, REFERENCE_DIR, Assignment, list_assignments

BEGIN = re.compile(r"^(\s*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
HEADER = ("# Starter code for the practical `{name}`: fill in every TODO, then run\n"
          "#     grade check\n"
          "# in this folder. (Generated from the reference solution; do not rename the\n"
          "# functions and classes: the grader looks for these names.)\n")


class TemplateError(Exception):
    """A reference module whose solution fences are broken."""


@dataclass
class StarterFiles:
    assignment: Assignment
    python_name: str
    python: str
    notebook_name: str
    notebook: str


def strip_solutions(source: str, filename: str = "<reference>") -> str:
    """Replace every fenced solution block by a TODO and ``raise NotImplementedError``."""
    out: list[str] = []
    indent: str | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        begin = BEGIN.match(line)
        if begin:
            if indent is not None:
                raise TemplateError(f"{filename}, line {number}: BEGIN SOLUTION inside another")
            indent = begin.group(1)
            out.append(f"{indent}# TODO: your code here")
            out.append(f"{indent}raise NotImplementedError")
        elif END.match(line):
            if indent is None:
                raise TemplateError(f"{filename}, line {number}: END SOLUTION without BEGIN")
            indent = None
        elif indent is None:
            out.append(line)
    if indent is not None:
        raise TemplateError(f"{filename}: BEGIN SOLUTION without END")
    text = "\n".join(out) + "\n"
    try:
        ast.parse(text)
    except SyntaxError as e:
        raise TemplateError(f"{filename}: the template does not parse (line {e.lineno}: {e.msg}); "
                            "fence whole bodies") from None
    return text


def notebook_from_python(text: str, title: str, experiment_cells=()) -> str:
    """One markdown cell with the module docstring, then one code cell per top-level block;
    ``experiment_cells`` ((kind, source) pairs, :func:`grader.experiments.starter_cells`) at
    the end."""
    tree = ast.parse(text)
    lines = text.splitlines()
    doc = ast.get_docstring(tree) or ""
    body = tree.body[1:] if doc else tree.body
    cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{doc}".strip())]
    chunks: list[list[str]] = []
    previous_kind = None
    for node in body:
        start = min([node.lineno - 1] + [d.lineno - 1 for d in getattr(node, "decorator_list", [])])
        # keep comment lines right above a definition with it
        while start > 0 and lines[start - 1].startswith("#"):
            start -= 1
        chunk = lines[start:node.end_lineno]
        kind = "import" if isinstance(node, (ast.Import, ast.ImportFrom)) else "other"
        if kind == "import" and previous_kind == "import":
            chunks[-1].extend(chunk)
        else:
            chunks.append(chunk)
        previous_kind = kind
    for chunk in chunks:
        code = "\n".join(chunk).strip("\n")
        if code and not all(line.startswith("#") for line in chunk if line.strip()):
            cells.append(nbformat.v4.new_code_cell(code))
    cells.append(nbformat.v4.new_markdown_cell(
        "## Check your work\n\nRun the cell below (or, in a terminal in this folder, "
        "`grade check`): it runs the public checks on the definitions above, in a separate "
        "process, and shows the report here. `grader.check(\"name\")` checks one function or class only. "
        "Your own experiments in other cells are not run by the grader."))
    cells.append(nbformat.v4.new_code_cell("import grader\n\ngrader.check()"))
    cells.append(nbformat.v4.new_code_cell("# Your experiments: train, plot, explore."))
    cells += [nbformat.v4.new_markdown_cell(source) if kind == "markdown"
              else nbformat.v4.new_code_cell(source) for kind, source in experiment_cells]
    for number, cell in enumerate(cells):
        cell.id = f"cell-{number}"  # stable ids: regenerating gives the same file
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(nb) + "\n"


def starter_files(assignment: Assignment) -> StarterFiles:
    reference = assignment.reference_path
    if reference is None or not reference.is_file():
        raise TemplateError(f"{assignment.folder / REFERENCE_DIR}: no reference solution "
                            f"`{assignment.module}.py`, so no starter files")
    stripped = strip_solutions(reference.read_text(), str(reference))
    python = HEADER.format(name=assignment.name) + stripped
    notebook_name = next((f for f in assignment.files if f.endswith(".ipynb")),
                         f"{assignment.module}.ipynb")
    return StarterFiles(assignment, f"{assignment.module}.py", python, notebook_name,
                        notebook_from_python(stripped, assignment.title,
                                             experiments.starter_cells(assignment)))


def write_templates(root: Path | None = None) -> list[Path]:
    """(Re)generate ``starter/`` in every assignment folder (of ``root``) from its reference."""
    written = []
    for assignment in list_assignments(root):
        files = starter_files(assignment)
        folder = assignment.starter_dir
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in ((files.python_name, files.python), (files.notebook_name, files.notebook),
                           (MARKER_FILE, assignment.name + "\n")):
            (folder / name).write_text(text)
            written.append(folder / name)
    return written


def copy_template(assignment: Assignment, dest: Path, notebook: bool) -> Path:
    """Give a student the starter file of one assignment (one file: .py or notebook): the
    committed one, or one made from the reference when there is none (authors)."""
    committed = assignment.starter_dir
    notebook_name = next((f for f in assignment.files if f.endswith(".ipynb")),
                         f"{assignment.module}.ipynb")
    name = notebook_name if notebook else f"{assignment.module}.py"
    if (committed / name).is_file():
        text = (committed / name).read_text()
    else:
        files = starter_files(assignment)
        text = files.notebook if notebook else files.python
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / name
    if target.exists():
        raise FileExistsError(f"{target} already exists: not overwriting your work")
    target.write_text(text)
    (dest / MARKER_FILE).write_text(assignment.name + "\n")
    return target
