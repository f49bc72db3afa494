"""Every assignment folder follows the conventions the product relies on."""

import ast

import pytest

from grader.assignment import list_assignments
from grader.judge import collect_checks

ASSIGNMENTS = list_assignments()


def test_all_practicals_are_there():
    assert {a.name for a in ASSIGNMENTS} >= {"mlp_pixels"}


def _functions(path):
    tree = ast.parse(path.read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_public_checks_do_not_use_the_reference_solution(assignment):
    """Students get the public checks but not the reference (grade export-student)."""
    files = list(assignment.public_dir.glob("*.py")) + list(assignment.folder.glob("*_checks.py"))
    for path in files:
        text = path.read_text()
        assert "import reference" not in text and "from reference" not in text, path
        for function in _functions(path):
            names = [a.arg for a in function.args.args + function.args.kwonlyargs]
            assert "reference" not in names, f"{path.name}: {function.name} uses `reference`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_check_names_points_and_visibility(assignment):
    checks = collect_checks(assignment, hidden=True)
    visibilities = {v for _, _, v in checks}
    assert visibilities == {"public", "hidden"}, "every assignment has public and hidden checks"
    for name, points, _ in checks:
        assert points > 0, name
        assert name.split()[0] in assignment.required, f"{name!r} does not start with an element"
    for path in assignment.check_files(hidden=True):
        for function in _functions(path):
            if function.name.startswith("test_"):
                assert ast.get_docstring(function), f"{path.name}: {function.name} has no docstring"
