"""Student templates are generated from the references and never drift from them."""

import ast

import pytest

from grader.assignment import MARKER_FILE, list_assignments
from grader.templates import TemplateError, notebook_from_python, starter_files, strip_solutions

ASSIGNMENTS = list_assignments()


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_committed_templates_are_up_to_date(assignment):
    files = starter_files(assignment)
    folder = assignment.starter_dir
    message = f"{folder} is out of date: run `grade template --regenerate`"
    assert (folder / files.python_name).read_text() == files.python, message
    assert (folder / files.notebook_name).read_text() == files.notebook, message
    assert (folder / MARKER_FILE).read_text().strip() == assignment.name


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_templates_keep_every_required_name_and_no_solution(assignment):
    files = starter_files(assignment)
    tree = ast.parse(files.python)
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert set(assignment.required) <= defined
    assert "### BEGIN SOLUTION" not in files.python
    assert files.python.count("raise NotImplementedError") >= len(assignment.required)


def test_strip_solutions_replaces_fenced_bodies_and_rejects_broken_fences():
    source = ('def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return x\n'
              '    ### END SOLUTION\n')
    assert strip_solutions(source) == ('def f(x):\n    """Doc."""\n    # TODO: your code here\n'
                                       '    raise NotImplementedError\n')
    with pytest.raises(TemplateError, match="without END"):
        strip_solutions("def f():\n    ### BEGIN SOLUTION\n    pass\n")
    with pytest.raises(TemplateError, match="does not parse"):
        strip_solutions("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n  y = 2\n")


def test_notebook_has_one_cell_per_definition():
    import nbformat

    text = '"""Title doc."""\nimport torch\nfrom torch import nn\n\n\ndef f():\n    pass\n\n\nclass A:\n    pass\n'
    nb = nbformat.reads(notebook_from_python(text, "T"), as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code[:3] == ["import torch\nfrom torch import nn", "def f():\n    pass", "class A:\n    pass"]
    assert "Title doc." in nb.cells[0].source
