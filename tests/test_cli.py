"""The `grade` command: exit codes, formats, and one-line errors for bad input."""

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from corpus import REPO, bug, write_mutant
from grader.cli import app

runner = CliRunner()
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "gradescope_results.schema.json").read_text())


def grade(*args):
    return runner.invoke(app, list(map(str, args)), catch_exceptions=False)


@pytest.mark.slow
def test_check_reference_text_output_and_exit_zero(tmp_path):
    result = grade("check", REPO / "reference" / "mlp_pixels.py")
    assert result.exit_code == 0, result.output
    assert "public checks: 17/17 passed — hidden checks run when your instructor grades" in result.output
    assert "isolation:" in result.output


@pytest.mark.slow
def test_check_json_is_gradescope_results(tmp_path):
    mutant = write_mutant(tmp_path, "mlp_pixels", bug("perf", "            predictions.append(y_pred)\n",
                          "            predictions.append(y_pred)\n            return n_correct, n_total, y_pred\n"))
    result = grade("check", mutant, "--format", "json")
    assert result.exit_code == 1  # a check failed
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    failed = [t for t in data["tests"] if t["status"] == "failed"]
    assert [t["name"] for t in failed] == ["perf_loop counts the whole loader"]
    assert "return inside the loop" in failed[0]["output"]
    assert data["score"] == sum(t["score"] for t in data["tests"]) < data["max_score"]


def test_unknown_assignment_is_a_one_line_usage_error(tmp_path):
    (tmp_path / "x.py").write_text("x = 1\n")
    result = grade("check", tmp_path / "x.py", "--assignment", "mlp_pixel")
    assert result.exit_code == 2
    assert "unknown assignment `mlp_pixel`" in result.output and "did you mean `mlp_pixels`?" in result.output
    assert "Traceback" not in result.output


def test_undetectable_assignment_and_missing_path(tmp_path):
    (tmp_path / "homework.py").write_text("x = 1\n")
    result = grade("check", tmp_path)
    assert result.exit_code == 2 and "pass --assignment NAME" in result.output
    result = grade("check", tmp_path / "nope.py")
    assert result.exit_code == 2 and "no such file or folder" in result.output


@pytest.mark.slow
def test_syntax_error_fails_every_check_with_the_students_line(tmp_path):
    path = tmp_path / "mlp_pixels.py"
    path.write_text("import torch\n\nclass MLP(nn.Module:\n    pass\n")
    result = grade("check", path, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["score"] == 0
    assert all("syntax error in mlp_pixels.py, line 3" in t["output"] for t in data["tests"])


def test_list_shows_the_assignments():
    result = grade("list")
    assert result.exit_code == 0 and "mlp_pixels" in result.output
