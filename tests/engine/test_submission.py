"""Finding and reading submissions: files, folders, packages, notebooks."""

import nbformat
import pytest

from grader.submission import SubmissionError, find_submission_file, read_source, strip_magics

PATTERNS = ["mlp_pixels.py", "MLP_pixels.ipynb"]


def test_strip_magics_keeps_python_and_line_numbers():
    cell = ("%matplotlib inline\nimport torch\n!pip install x\nfiles = !ls\n"
            "if True:\n    %time y = 2\ntorch.nn?\nx = a if b else c  # not help syntax")
    out = strip_magics(cell).splitlines()
    assert out == ["pass", "import torch", "pass", "pass", "if True:", "    pass", "pass",
                   "x = a if b else c  # not help syntax"]
    assert strip_magics("%%time\nx = 1\ny = 2") == "\nx = 1\ny = 2"
    assert strip_magics("%%bash\necho hi\nrm -rf /").strip() == ""


def test_strip_magics_leaves_lines_that_continue_a_statement():
    # `% (args)` formatting, `!=` and text inside strings start with % or !, but are not magics
    cell = ('for epoch in range(3):\n    print("epoch %d"\n          % (epoch,))\n'
            '    ok = (1\n          != 2)\n    s = """\n!not a magic\n"""\n    !ls\n'
            'a = "x\u2028y"')
    out = strip_magics(cell).split("\n")
    assert out[2] == "          % (epoch,))" and out[4] == "          != 2)"
    assert out[6] == "!not a magic" and out[8] == "    pass"
    assert out[9] == 'a = "x\u2028y"'  # \u2028 is not a newline for Python
    import ast
    ast.parse(strip_magics(cell))


def test_notebooks_too_big_or_malformed_are_one_clear_error(tmp_path, monkeypatch):
    from grader import submission
    path = _notebook(tmp_path / "MLP_pixels.ipynb", "x = 1", "y = 2", "z = 3")
    monkeypatch.setattr(submission, "MAX_CELLS", 3)
    with pytest.raises(SubmissionError, match="4 cells, more than the 3 a notebook may have"):
        read_source(path, "mlp_pixels")
    monkeypatch.setattr(submission, "MAX_CELLS", 5_000)
    nb = nbformat.reads(path.read_text(), as_version=4)
    del nb.cells[1]["source"]
    path.write_text(nbformat.writes(nb, version=4))
    with pytest.raises(SubmissionError, match=r"not a readable notebook \(cell 2 has no source"):
        read_source(path, "mlp_pixels")


def test_a_long_expression_is_analysed_not_a_crash():
    from grader import slicing
    source = "def forward(x):\n    return x\n\nBIG = " + " + ".join(["1"] * 800) + "\n"
    assert slicing.plan(source, "f.py", ["forward"]).kept


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# TP")] + [nbformat.v4.new_code_cell(c) for c in cells]
    path.write_text(nbformat.writes(nb))
    return path


def test_notebook_lines_map_back_to_cells(tmp_path):
    path = _notebook(tmp_path / "MLP_pixels.ipynb", "import torch", "x = 1\ny = 2\nz = 3")
    source = read_source(path, "mlp_pixels")
    assert source.kind == "ipynb"
    lines = source.text.splitlines()
    z_line = next(i for i, line in enumerate(lines, start=1) if line == "z = 3")
    assert source.where(z_line) == "MLP_pixels.ipynb, cell 3, line 3"


def test_unreadable_notebook_is_one_clear_error(tmp_path):
    bad = tmp_path / "MLP_pixels.ipynb"
    bad.write_text("{ this is not json")
    with pytest.raises(SubmissionError, match=r"MLP_pixels.ipynb: not a readable notebook"):
        read_source(bad, "mlp_pixels")


def test_folder_finds_the_file_the_student_worked_on(tmp_path):
    import os

    (tmp_path / "sub").mkdir()
    notebook = _notebook(tmp_path / "sub" / "MLP_pixels.ipynb", "x = 1")
    script = tmp_path / "sub" / "mlp_pixels.py"
    script.write_text("x = 1\n")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "mlp_pixels.py").write_text("old = 1\n")
    os.utime(notebook, (1_000_000, 1_000_000))
    os.utime(script, (1_000_000, 1_000_000))
    assert find_submission_file(tmp_path, "mlp_pixels", PATTERNS) == script  # tie: the .py
    os.utime(notebook, (2_000_000, 2_000_000))  # the notebook was edited last
    assert find_submission_file(tmp_path, "mlp_pixels", PATTERNS) == notebook


def test_folder_without_the_file_says_what_it_found(tmp_path):
    (tmp_path / "mlp_pixel.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(SubmissionError) as e:
        find_submission_file(tmp_path, "mlp_pixels", PATTERNS)
    text = str(e.value)
    assert "no mlp_pixels.py or MLP_pixels.ipynb" in text and "found mlp_pixel.py" in text
    assert "did you mean to name mlp_pixel.py mlp_pixels.py?" in text
    with pytest.raises(SubmissionError, match="the folder has no .py or .ipynb file"):
        find_submission_file(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path,
                             "mlp_pixels", PATTERNS)


def test_package_submission(tmp_path):
    package = tmp_path / "mlp_pixels"
    package.mkdir()
    (package / "__init__.py").write_text("from .model import MLP\n")
    (package / "model.py").write_text("class MLP:\n    pass\n")
    path = find_submission_file(tmp_path, "mlp_pixels", PATTERNS)
    source = read_source(path, "mlp_pixels")
    assert source.is_package and source.root == tmp_path


def test_notebook_lines_map_to_the_line_the_student_sees_in_the_cell(tmp_path):
    import re

    # nbconvert trims the blank lines that open a cell, and a cell may hold a line starting
    # with "# In[" (pasted from an exported script): neither shifts the cell's line numbers
    path = _notebook(tmp_path / "MLP_pixels.ipynb", "",
                     "\n\nimport torch\nx = 1",
                     "# In[3]: copied from my script\ndef f():\n    return 1\n",
                     "y = 2\r\nz = 3", "z = 3")
    src = read_source(path, "mlp_pixels")
    lines = re.split(r"\r\n|\r|\n", src.text)
    where = {line: src.where(n) for n, line in enumerate(lines, start=1) if line.strip()}
    assert where["import torch"] == "MLP_pixels.ipynb, cell 3, line 3"
    assert where["x = 1"] == "MLP_pixels.ipynb, cell 3, line 4"
    assert where["# In[3]: copied from my script"] == "MLP_pixels.ipynb, cell 4, line 1"
    assert where["    return 1"] == "MLP_pixels.ipynb, cell 4, line 3"
    z_lines = [src.where(n) for n, line in enumerate(lines, start=1) if line == "z = 3"]
    assert z_lines == ["MLP_pixels.ipynb, cell 5, line 2", "MLP_pixels.ipynb, cell 6, line 1"]
