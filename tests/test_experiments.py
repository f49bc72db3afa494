"""The experiments of MLP_pixels (issue 15): recording, checking against the answer key, the
replay in the sandbox, conclusions against one's own numbers.

Reduced budget on the offline data: the quick profile (4 experiments, 2 epochs each), a key
over 2 seeds made once (experiments_support.quick_key), one student process on the reference
shared by the checks, one full grading run through the judge.
"""

from __future__ import annotations

import copy
import json
import math
import shutil

import pytest

import grader
from grader import experiments as ex
from grader import sandbox, slicing
from grader.student_process import StudentProcess
from grader.submission import read_source

from experiments_support import (assignment, quick_key, reference_file, run_like_a_student,
                                 shared_base)


# ------------------------------------------------------------------------------- recording

def test_record_writes_the_results_file_next_to_the_notebook(tmp_path):
    notebook = tmp_path / "MLP_pixels.ipynb"
    history = {"train_loss": [2.0, 1.5], "valid_loss": [1.9, 1.7], "best_epoch": 1}
    written = grader.record("sgd_b64", history, (430, 500, None), seed=3, path=notebook)
    assert written == tmp_path / "MLP_pixels.experiments.json"
    entry = json.loads(written.read_text())["experiments"]["sgd_b64"]
    assert entry["train_loss"] == [2.0, 1.5] and entry["valid_loss"] == [1.9, 1.7]
    assert entry["test_accuracy"] == 0.86 and entry["best_epoch"] == 1 and entry["seed"] == 3
    # a list of per-epoch (train, valid) pairs and a percentage are accepted too; recording
    # another experiment keeps the first
    grader.record("relu", [(2.0, 1.9), (1.0, 0.8)], 91.2, seed=3, path=notebook)
    grader.answer("sigmoid_or_relu", "relu", path=notebook)   # any case
    data = json.loads(written.read_text())
    assert set(data["experiments"]) == {"sgd_b64", "relu"}
    assert data["experiments"]["relu"]["test_accuracy"] == pytest.approx(0.912)
    assert data["answers"] == {"sigmoid_or_relu": "ReLU"}
    assert not list(tmp_path.glob(".*.tmp"))   # written through write_atomically


@pytest.mark.parametrize("history, accuracy, expected", [
    ({"train_loss": [2.0]}, 0.5, "history has no valid_loss"),
    ({"train_loss": [2.0, 1.0], "valid_loss": [1.0]}, 0.5, "2 train losses and 1 valid"),
    ({"train_loss": [2.0, float("nan")], "valid_loss": [1.0, 1.0]}, 0.5,
     "history['train_loss'][1] is nan"),
    ({"train_loss": [2.0], "valid_loss": [1.0]}, 450.0, "test_accuracy should be a fraction"),
    ("2.0, 1.0", 0.5, "history should be what fit returns"),
])
def test_record_says_what_is_wrong_with_its_input(tmp_path, history, accuracy, expected):
    with pytest.raises(ex.ExperimentError) as error:
        grader.record("sgd_b64", history, accuracy, seed=0, path=tmp_path / "MLP_pixels.ipynb")
    assert expected in str(error.value)
    assert not (tmp_path / "MLP_pixels.experiments.json").exists()


def test_record_and_answer_name_the_known_experiments_and_choices(tmp_path):
    with pytest.raises(ex.ExperimentError, match="its experiments are sgd_b64, sgd_b64_e60"):
        grader.record("sgd_64", {"train_loss": [1.0], "valid_loss": [1.0]}, 0.5, seed=0,
                      path=tmp_path / "a.ipynb", assignment="mlp_pixels")
    with pytest.raises(ex.ExperimentError, match="answer one of 'SGD', 'Adam'"):
        grader.answer("sgd_or_adam_faster", "RMSprop", path=tmp_path / "a.ipynb")


def test_experiment_data_gives_the_loaders_and_seeds_the_model():
    import torch

    first = grader.experiment_data("sgd_b16", seed=4)
    a = torch.nn.Linear(3, 2).weight.detach().clone()
    second = grader.experiment_data("sgd_b16", seed=4)
    b = torch.nn.Linear(3, 2).weight.detach().clone()
    assert torch.equal(a, b)
    assert [len(loader.dataset) for loader in first] == [4000, 500, 500]
    assert first[0].batch_size == 16
    xa, _ = next(iter(first[0]))
    xb, _ = next(iter(second[0]))
    assert torch.equal(xa, xb)   # the same shuffled order for the same seed


# ------------------------------------------------------------------------------- checking

@pytest.fixture(scope="module")
def key(tmp_path_factory):
    """The quick key, where grading looks for it ($GRADER_ANSWER_KEY)."""
    path = quick_key(shared_base(tmp_path_factory))
    mp = pytest.MonkeyPatch()
    mp.setenv(ex.KEY_ENV, str(path))
    yield json.loads(path.read_text())
    mp.undo()


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference-submission")
    shutil.copy(reference_file(), folder / "mlp_pixels.py")
    return folder


@pytest.fixture(scope="module")
def process(student_dir):
    """One student process on the reference solution, shared by the checks below (as the
    judge shares one between all checks of a submission)."""
    found = assignment()
    src = read_source(student_dir / "mlp_pixels.py", "mlp_pixels")
    plan = slicing.plan(src.text, src.display_name, found.required)
    from grader.judge import hidden_paths

    proc = StudentProcess(src, plan, isolation=sandbox.probe(), threads=found.threads,
                          seed=found.seed, request_timeout=60, hidden_paths=hidden_paths(found))
    proc.start()
    yield proc
    proc.close()


@pytest.fixture(scope="module")
def own(key, tmp_path_factory):
    """The reference's own results, recorded with seed 0 (one of the key's seeds)."""
    return run_like_a_student(tmp_path_factory.mktemp("own") / "x.experiments.json", seed=0)


@pytest.fixture(scope="module")
def other_seed(key, tmp_path_factory):
    """The reference's results with seed 7, a seed the key was not made with."""
    return run_like_a_student(tmp_path_factory.mktemp("other") / "x.experiments.json", seed=7)


def graded(results: dict, tmp_path, process) -> dict[str, object]:
    """Grade a results file: {check name: CheckResult}."""
    submission = tmp_path / "mlp_pixels.py"
    (tmp_path / "mlp_pixels.experiments.json").write_text(json.dumps(results))
    out = ex.grade_experiments(assignment(), process, submission)
    return {c.name: c for c in out.checks}


def replayed(checks) -> list:
    return [c for c in checks.values() if "replay" in c.message]


def test_the_references_own_results_score_full_marks(own, tmp_path, process):
    checks = graded(own, tmp_path, process)
    assert sorted(checks) == sorted(
        [f"experiment {e}" for e in ("sgd_b64", "relu", "adam_lr1e-3", "sgd_b16")]
        + [f"conclusion {q}" for q in ("batch16_lower_valid", "sgd_or_adam_faster",
                                       "sigmoid_or_relu")])
    assert {name: c.score for name, c in checks.items() if not c.passed} == {}
    assert sum(c.score for c in checks.values()) == sum(c.max_score for c in checks.values())
    # two experiments were replayed in the sandbox, and matched
    assert [c.message.endswith("replayed: the first 2 epoch(s) match") for c in
            replayed(checks)] == [True, True]


def test_results_from_another_seed_score_full_marks(other_seed, key, tmp_path, process):
    assert other_seed["experiments"]["relu"]["seed"] == 7
    assert other_seed["experiments"]["relu"]["train_loss"] != \
        key["experiments"]["relu"]["runs"]["0"]["train_loss"]
    checks = graded(other_seed, tmp_path, process)
    assert {name: c.message for name, c in checks.items() if not c.passed} == {}
    assert len(replayed(checks)) == 2


def test_a_table_copied_from_another_seed_does_not_replay(other_seed, tmp_path, process):
    """A neighbour's run (seed 7) presented as one's own seed 0: the numbers are real and
    within the key's range, but the student's code with seed 0 does not give them."""
    copied = copy.deepcopy(other_seed)
    for entry in copied["experiments"].values():
        entry["seed"] = 0
    checks = graded(copied, tmp_path, process)
    failed = replayed(checks)
    assert len(failed) == 2
    for check in failed:
        assert check.score == 0 and "does not replay: with seed 0 your code gives" in check.message
    # the experiments not drawn for a replay keep their credit: they are in range
    assert all(c.passed for name, c in checks.items()
               if name.startswith("experiment") and c not in failed)


def test_invented_smooth_curves_fail(own, tmp_path, process):
    invented = copy.deepcopy(own)
    for entry in invented["experiments"].values():
        start = entry["train_loss"][0]
        n = len(entry["train_loss"])
        entry["train_loss"] = [round(start * math.exp(-0.3 * i), 3) for i in range(n)]
        entry["valid_loss"] = [round(0.95 * start * math.exp(-0.3 * i), 3) for i in range(n)]
    checks = graded(invented, tmp_path, process)
    failed = replayed(checks)
    assert len(failed) == 2 and all(c.score == 0 for c in failed)
    assert all("does not replay" in c.message for c in failed)
    # and the curves leave the reference's band where they drop faster than it
    assert any("outside the band" in c.message for c in checks.values())


def test_a_conclusion_contradicting_ones_own_numbers_is_named(own, tmp_path, process):
    flipped = copy.deepcopy(own)
    right = flipped["answers"]["sgd_or_adam_faster"]
    flipped["answers"]["sgd_or_adam_faster"] = "SGD" if right == "Adam" else "Adam"
    checks = graded(flipped, tmp_path, process)
    check = checks["conclusion sgd_or_adam_faster"]
    assert check.score == 0
    assert "contradicts your own results" in check.message
    assert "sgd_b64" in check.message and "adam_lr1e-3" in check.message  # the numbers compared
    # the other conclusions and every experiment are untouched
    assert all(c.passed for name, c in checks.items() if name != "conclusion sgd_or_adam_faster")


def test_a_missing_experiment_is_one_clear_line(own, tmp_path, process):
    partial = copy.deepcopy(own)
    del partial["experiments"]["relu"]
    checks = graded(partial, tmp_path, process)
    check = checks["experiment relu"]
    assert check.score == 0 and "\n" not in check.message
    assert check.message.startswith("experiment relu (ReLU instead of Sigmoid")
    assert 'not recorded in mlp_pixels.experiments.json — run it, then grader.record("relu"' \
        in check.message
    # the question that needs it says so; the other experiments keep their credit
    assert "experiment relu not recorded" in checks["conclusion sigmoid_or_relu"].message
    assert checks["experiment sgd_b64"].passed


def test_self_consistency_best_epoch_and_test_count(own, tmp_path, process):
    broken = copy.deepcopy(own)
    entry = broken["experiments"]["adam_lr1e-3"]
    entry["best_epoch"] = 0            # the valid loss is lowest at the last epoch
    entry["test_accuracy"] = 0.8371    # not k / 500
    checks = graded(broken, tmp_path, process)
    check = checks["experiment adam_lr1e-3"]
    assert "best_epoch 0 is not the epoch of the lowest valid loss (1" in check.message
    assert "is not a count out of the 500 test images" in check.message
    assert 0 < check.score < check.max_score or "does not replay" in check.message


def test_no_results_file_is_one_note_and_no_check(tmp_path, key):
    out = ex.grade_experiments(assignment(), None, tmp_path / "MLP_pixels.ipynb")
    assert out.checks == []
    assert out.note.startswith("experiments not graded: no MLP_pixels.experiments.json")
    assert "\n" not in out.note


@pytest.mark.slow
def test_grading_with_a_results_file_adds_the_experiments_to_the_code_checks(own, student_dir,
                                                                              key):
    """Through the judge: the code checks are those of the reference's usual grading (full
    marks), the experiment checks come after them, the HTML report draws the student's
    curves over the key's band; without the results file, a note and no experiment check."""
    from grader import reports
    from grader.judge import grade

    (student_dir / "mlp_pixels.experiments.json").write_text(json.dumps(own))
    try:
        result = grade(student_dir / "mlp_pixels.py", "mlp_pixels")
    finally:
        (student_dir / "mlp_pixels.experiments.json").unlink()
    names = [c.name for c in result.checks]
    first = names.index("experiment sgd_b64")
    assert all(not n.startswith(("experiment ", "conclusion ")) for n in names[:first])
    assert result.score == result.max_score and result.notes == []
    page = reports.render(result, "html")
    assert page.count('src="data:image/svg+xml;base64,') == 4
    assert 'id="experiments-heading"' in page


def test_the_starter_cells_run_an_experiment_and_record_it(tmp_path, monkeypatch):
    """The starter notebook's experiment cells (generated from experiments.toml): the helper,
    run with the reference's functions, records next to the notebook; every cell parses, one
    call per declared experiment, one commented answer per question."""
    import ast

    import torch
    from torch import nn

    from experiments_support import _reference

    cells = ex.starter_cells(assignment())
    code = [source for kind, source in cells if kind == "code"]
    for source in code:
        ast.parse(source)
    declaration = ex.declaration_of(assignment())
    assert sum(f'run_experiment("{e.id}",' in c for e in declaration.experiments
               for c in code) == len(declaration.experiments)
    assert 'run_experiment("arch_256", epochs=20, optimizer="Adam", lr=0.001, hidden=(256,), ' \
           'activation=nn.ReLU)' in "\n".join(code)
    assert code[-1].count("# grader.answer(") == len(declaration.questions)
    (tmp_path / "MLP_pixels.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path)
    ref = _reference()
    namespace = {"torch": torch, "nn": nn, "grader": grader,
                 **{name: getattr(ref, name) for name in assignment().required}}
    exec(code[0], namespace)
    namespace["run_experiment"]("relu", epochs=1, optimizer="SGD", lr=0.01, activation=nn.ReLU)
    results = json.loads((tmp_path / "MLP_pixels.experiments.json").read_text())
    entry = results["experiments"]["relu"]
    assert len(entry["train_loss"]) == 1 and entry["parameters"] == 468874 and entry["seed"] == 0


def test_grader_check_in_a_notebook_grades_the_recorded_experiments_too(tmp_path):
    """grader.check() grades a copy of the notebook in a private folder: the results file
    written by grader.record goes with it (else the report would say none was recorded)."""
    from grader.notebook_check import Notebook, _copy_experiments

    notebook = tmp_path / "MLP_pixels.ipynb"
    notebook.write_text("{}")
    grader.record("relu", [(2.0, 1.9)], 0.5, seed=1, path=notebook)
    copy_dir = tmp_path / "graded"
    copy_dir.mkdir()
    submission = copy_dir / "MLP_pixels.ipynb"
    _copy_experiments(Notebook(b"{}", notebook.name, notebook, "Jupyter", live=True), submission)
    assert ex.find_results(submission) == copy_dir / "MLP_pixels.experiments.json"
    copied = ex.read_results(copy_dir / "MLP_pixels.experiments.json")
    assert copied["experiments"]["relu"]["seed"] == 1
    _copy_experiments(Notebook(b"{}", "Untitled.ipynb", None, "Colab", live=True),
                      copy_dir / "Untitled.ipynb")   # no file on disk: nothing to copy
    assert ex.find_results(copy_dir / "Untitled.ipynb") is None


def test_a_grader_bug_fails_only_its_own_check(own, key, tmp_path, monkeypatch):
    def broken(self, entry, band):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(ex._Checker, "_ranges", broken)
    checks = graded(own, tmp_path, None)   # no student process: nothing is replayed
    experiments = [c for name, c in checks.items() if name.startswith("experiment ")]
    assert len(experiments) == 4 and all(c.grader_error and c.score == 0 for c in experiments)
    assert "the check itself failed (ZeroDivisionError: division by zero)" in experiments[0].message
    assert all(c.passed for name, c in checks.items() if name.startswith("conclusion "))


def test_without_a_key_the_handouts_experiments_are_checked_against_themselves(tmp_path,
                                                                              monkeypatch):
    """No answer key (a student's own grade check): every experiment of the handout is
    expected, ranges are not compared (one note says so), the parameter count of an
    architecture is checked against the handout's."""
    monkeypatch.setenv(ex.KEY_ENV, str(tmp_path / "no-key.json"))
    results = {"experiments": {"arch_256": {
        "seed": 0, "train_loss": [1.0] * 20, "valid_loss": [0.5] * 19 + [0.4],
        "test_accuracy": 0.932, "best_epoch": 19, "parameters": 203_000}}, "answers": {}}
    (tmp_path / "MLP_pixels.experiments.json").write_text(json.dumps(results))
    out = ex.grade_experiments(assignment(), None, tmp_path / "MLP_pixels.ipynb")
    assert out.note == ("experiments checked without an answer key (grade answer-key): ranges "
                        "not compared")
    checks = {c.name: c for c in out.checks}
    assert len([n for n in checks if n.startswith("experiment ")]) == 11
    assert "203,000 parameters recorded; this architecture has 203,530" in \
        checks["experiment arch_256"].message
    assert checks["experiment sgd_b64"].message.startswith("experiment sgd_b64 (SGD, batch 64, "
                                                           "lr 1e-2): not recorded in")
