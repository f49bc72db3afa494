"""The traps of an assignment folder are one-line errors naming the file — from `grade list`
(exit code 2, the other practicals still listed) and from the shared harness's layout test —
never a silent skip: clashing basenames, a missing reference, a required name no check
checks, a check not named after a required name. And the parametrized-check naming rule."""

import shutil

import pytest
from typer.testing import CliRunner

from corpus import REPO
from grader.assignment import load_folder
from grader.cli import app
from grader.layout import layout_problems

runner = CliRunner()


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A copy of two small practicals, as the assignments root."""
    root = tmp_path / "assignments"
    for name in ("optim", "perceptron"):
        shutil.copytree(REPO / "assignments" / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__", "corpus"))
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(root))
    return root


def listed(root):
    result = runner.invoke(app, ["list"], catch_exceptions=False)
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    return result, errors


def test_clashing_basenames(root):
    public = root / "optim" / "public" / "test_optim.py"
    shutil.copy(public, root / "optim" / "hidden" / "test_optim.py")
    result, errors = listed(root)
    assert result.exit_code == 2
    assert errors == [f"error: {root / 'optim' / 'hidden' / 'test_optim.py'}: same file name as "
                      f"{public}; rename one (Python imports them by that name in the same "
                      "grading run)"]
    assert "perceptron" in result.output   # the other practicals are still listed
    assert layout_problems(load_folder(root / "optim")) == [errors[0].removeprefix("error: ")]


def test_missing_reference(root):
    (root / "optim" / "reference" / "optim.py").unlink()
    result, errors = listed(root)
    assert result.exit_code == 2 and len(errors) == 1
    assert errors[0].startswith(f"error: {root / 'optim' / 'assignment.toml'}: no reference "
                                f"solution {root / 'optim' / 'reference' / 'optim.py'}")


def test_required_name_without_checks(root):
    toml = root / "perceptron" / "assignment.toml"
    toml.write_text(toml.read_text().replace('"cross_entropy"]', '"cross_entropy", "predict"]'))
    result, errors = listed(root)
    assert result.exit_code == 2
    assert errors == [f"error: {toml}: required name `predict` is checked by no check (no check "
                      "name starts with it); add a check or remove it from `required`"]


def test_check_not_named_after_a_required_name(root):
    public = root / "perceptron" / "public" / "test_perceptron.py"
    public.write_text(public.read_text() + '''

@pytest.mark.points(1)
def test_weights_are_small(student):
    """A check named after no element."""
''')
    result, errors = listed(root)
    assert result.exit_code == 2 and len(errors) == 1
    assert errors[0].startswith(f"error: {public}: check `weights are small` does not start "
                                "with a required name")


def test_one_check_function_parametrized_over_elements(root):
    """test_element_... parametrized over `element`: one check per element, named after it,
    its docstring's {element} filled in; accepted by the naming rule."""
    from grader.judge import collect_checks

    public = root / "perceptron" / "public" / "test_perceptron.py"
    public.write_text(public.read_text() + '''

@pytest.mark.points(1)
@pytest.mark.parametrize("element", ["softmax", "cross_entropy"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_element_is_defined(student, element, dtype):
    """{element} is defined."""
''')
    names = {name for name, _, _ in collect_checks(load_folder(root / "perceptron"))}
    assert {"softmax is defined [float32]", "softmax is defined [float64]",
            "cross_entropy is defined [float32]", "cross_entropy is defined [float64]"} <= names
    assert layout_problems(load_folder(root / "perceptron")) == []
