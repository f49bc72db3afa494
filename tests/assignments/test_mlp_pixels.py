"""mlp_pixels graded end to end: the reference, a notebook, known bugs, attacks, determinism."""

import time

import pytest

from corpus import (REPO, as_notebook, assert_checks_named_by_element, assert_full_marks,
                    assert_loses_exactly, assert_template_scores_zero, bug, copy_reference,
                    grade_reference, losing, write_mutant)
from grader.judge import grade

pytestmark = pytest.mark.slow

MODULE = "mlp_pixels"
ACCURACY = ("MLP accuracy", "MLP accuracy on another split")

BUGS = [
    bug("no_flatten", "return self.layers(self.flatten(x))", "return self.layers(x)",
        "MLP output shape [images]", "MLP accuracy", "MLP accuracy on another split"),
    bug("activation_ignored", "layers += [nn.Linear(width, size), activation()]",
        "layers += [nn.Linear(width, size), nn.Sigmoid()]",
        "MLP activation matches reference [ReLU]", maybe=ACCURACY),
    bug("hidden_sizes_ignored", "for size in hidden:", "for size in (512, 128):",
        "MLP parameter count [512-256-128]", "MLP parameter count [256]"),
    bug("softmax_in_forward", "return self.layers(self.flatten(x))",
        "return torch.softmax(self.layers(self.flatten(x)), dim=1)",
        "MLP returns logits", "MLP activation matches reference [Sigmoid]",
        "MLP activation matches reference [ReLU]", maybe=ACCURACY),
    bug("no_activation", "layers += [nn.Linear(width, size), activation()]",
        "layers += [nn.Linear(width, size)]",
        "MLP is not linear", "MLP activation matches reference [Sigmoid]",
        "MLP activation matches reference [ReLU]", "MLP accuracy", "MLP accuracy on another split"),
    bug("count_frozen_too", "if p.requires_grad)", ")",
        "count_parameters counts trainable only"),
    bug("count_returns_tensor", "return sum(p.numel() for p in model.parameters() if p.requires_grad)",
        "return torch.tensor(sum(p.numel() for p in model.parameters() if p.requires_grad))",
        "count_parameters on a small network", "count_parameters counts trainable only",
        "count_parameters on a convolutional network"),
    bug("train_no_zero_grad", "        optimizer.zero_grad()          # gradients accumulate in .grad unless reset\n", "",
        "train_loop matches reference", "train_loop with adam and an uneven last batch",
        maybe=ACCURACY),
    bug("train_no_step", "        optimizer.step()\n        total += loss.item()\n    return total / len(dataloader)\n    ### END SOLUTION\n\n\ndef valid_loop",
        "        total += loss.item()\n    return total / len(dataloader)\n    ### END SOLUTION\n\n\ndef valid_loop",
        "train_loop matches reference", "train_loop with adam and an uneven last batch",
        "MLP accuracy", "MLP accuracy on another split"),
    bug("train_wrong_loss", "loss = loss_fn(model(x), y)\n        loss.backward()",
        "loss = nn.functional.nll_loss(model(x), y)\n        loss.backward()",
        "train_loop matches reference", "train_loop with adam and an uneven last batch",
        "MLP accuracy", "MLP accuracy on another split"),
    bug("valid_returns_sum", "            total += loss_fn(model(x), y).item()\n    return total / len(dataloader)",
        "            total += loss_fn(model(x), y).item()\n    return total",
        "valid_loop mean loss and weights unchanged", "valid_loop uses eval mode"),
    bug("valid_no_eval", "    model.eval()\n    total = 0.0\n    with torch.no_grad():\n        for x, y in dataloader:\n            total",
        "    total = 0.0\n    with torch.no_grad():\n        for x, y in dataloader:\n            total",
        "valid_loop uses eval mode"),
    bug("perf_return_inside_loop", "            predictions.append(y_pred)\n",
        "            predictions.append(y_pred)\n            return n_correct, n_total, torch.cat(predictions)\n",
        "perf_loop counts the whole loader", "perf_loop with batches of seven"),
    bug("adam_is_sgd", '"ADAM": torch.optim.Adam', '"ADAM": torch.optim.SGD',
        "make_optimizer type and learning rate [ADAM-0.002]", "make_optimizer ignores case [Adam]"),
    bug("optimizer_case_sensitive", "key = name.upper()", "key = name",
        "make_optimizer ignores case [sgd]", "make_optimizer ignores case [Adam]"),
    bug("optimizer_defaults_to_sgd", "    if key not in optimizers:\n        raise ValueError(f\"unknown optimizer {name!r}: choose SGD or ADAM\")\n",
        "    if key not in optimizers:\n        key = \"SGD\"\n",
        "make_optimizer rejects unknown names"),
    bug("fit_skips_first_epoch", "        if valid_loss < best:",
        "        if epoch == 0:\n            best = valid_loss\n            history[\"best_epoch\"] = 0\n        elif valid_loss < best:",
        "fit saves the first epoch when it is the best"),
    bug("fit_best_epoch_one_based", 'history["best_epoch"] = epoch', 'history["best_epoch"] = epoch + 1',
        "fit saves the best epoch", "fit saves the first epoch when it is the best"),
    bug("fit_saves_every_epoch", "            torch.save(model.state_dict(), checkpoint)\n",
        "        torch.save(model.state_dict(), checkpoint)\n",
        "fit saves the first epoch when it is the best"),
    bug("mlp_heavy_dropout", "layers += [nn.Linear(width, size), activation()]",
        "layers += [nn.Linear(width, size), activation(), nn.Dropout(0.97)]",
        "MLP accuracy", "MLP accuracy on another split"),
    # Issue 16: what a student function returns on the way is checked by that function's own
    # checks only. The accuracy checks train with the student's train_loop but never use what
    # it returns (they used to call float() on it, and lost their points on a list or None).
    bug("train_loop_returns_batch_losses",
        "        total += loss.item()\n    return total / len(dataloader)\n    ### END SOLUTION\n\n\ndef valid_loop",
        "        total += loss.item()\n    return [total / len(dataloader)] * len(dataloader)\n"
        "    ### END SOLUTION\n\n\ndef valid_loop",
        "train_loop matches reference", "train_loop with adam and an uneven last batch"),
    bug("train_loop_returns_nothing",
        "    return total / len(dataloader)\n    ### END SOLUTION\n\n\ndef valid_loop",
        "    ### END SOLUTION\n\n\ndef valid_loop",
        "train_loop matches reference", "train_loop with adam and an uneven last batch"),
    # Valid conventions: a one-element tensor for a loss, tensors in fit's history, counts kept
    # in floats (`acc = 0.`, the course's idiom, issue 10) or tensors. They lose nothing.
    bug("train_loop_returns_a_tensor", "    return total / len(dataloader)\n    ### END SOLUTION\n\n\ndef valid_loop",
        "    return torch.tensor(total / len(dataloader))\n    ### END SOLUTION\n\n\ndef valid_loop"),
    bug("fit_history_of_tensors", 'history["valid_loss"].append(valid_loss)',
        'history["valid_loss"].append(torch.tensor(valid_loss))'),
    bug("fit_best_epoch_tensor", 'history["best_epoch"] = epoch', 'history["best_epoch"] = torch.tensor(epoch)'),
    bug("perf_loop_float_counts", "n_correct, n_total, predictions = 0, 0, []",
        "n_correct, n_total, predictions = 0., 0., []"),
    bug("perf_loop_tensor_counts", "n_correct += (y_pred == y).sum().item()",
        "n_correct += (y_pred == y).sum()"),
]


@pytest.fixture(scope="module")
def reference_result(tmp_path_factory):
    return grade_reference(tmp_path_factory.mktemp("ref"), MODULE)


def test_reference_scores_full_marks_public_and_hidden(reference_result):
    result = reference_result
    assert_full_marks(result)
    assert result.isolation_level in ("strong", "basic")
    assert result.grader_version and len(result.checks_hash) == 16
    # One student process for the whole run: nothing killed it (a start-up thread that exits
    # used to, through bwrap's parent-death signal).
    assert result.timings["student_startups"] == 1


def test_every_check_name_starts_with_its_element(reference_result):
    assert_checks_named_by_element(reference_result, {"MLP", "count_parameters", "train_loop",
                                   "valid_loop", "perf_loop", "make_optimizer", "fit"}, BUGS)
    assert all("accuracy" in c.name for c in reference_result.checks if c.trains)


def test_accuracy_checks_report_learning_curves(reference_result):
    trained = [c for c in reference_result.checks if c.trains]
    assert len(trained) == 2
    for check in trained:
        curves = check.details["learning_curves"]
        assert len(curves["train_loss"]) == len(curves["valid_loss"]) == 5
        assert curves["train_loss"][-1] < curves["train_loss"][0]
        assert check.details["accuracy"]["value"] >= check.details["accuracy"]["high"]
        assert sum(map(sum, check.details["confusion_matrix"])) == 500


def test_notebook_with_long_top_level_training_grades_as_fast(tmp_path, reference_result):
    source = (copy_reference(tmp_path, MODULE)).read_text()
    # A top-level cell that would train for hours, a plot and a magic: none of it may run.
    training_cell = (
        "%matplotlib inline\n"
        "import time\n"
        "model = MLP()\n"
        "for epoch in range(20):\n"
        "    time.sleep(3600)\n")
    notebook = as_notebook(source, tmp_path / "nb" / "MLP_pixels.ipynb",
                           [training_cell, "!pip install torchsummary", "plt.plot([1, 2])"])
    started = time.monotonic()
    result = grade(notebook.parent, hidden=True)   # assignment detected from the file name
    elapsed = time.monotonic() - started
    assert result.assignment == MODULE
    assert losing(result) == set(), [(c.name, c.message) for c in result.checks if not c.passed]
    assert any("for epoch in range(20)" in s.code for s in result.skipped)
    assert any("cell" in s.where for s in result.skipped)
    # "about the same time" as the .py file (generous: machines are noisy)
    assert elapsed < 2 * reference_result.timings["measured_s"] + 10


@pytest.mark.parametrize("mutation", BUGS, ids=lambda m: m.name)
def test_bug_loses_points_exactly_on_its_checks(tmp_path, mutation):
    result = grade(write_mutant(tmp_path, MODULE, mutation), MODULE, hidden=True)
    assert_loses_exactly(result, mutation)


@pytest.mark.parametrize("name", ["explicit_layers", "package", "transposed_parameters"])
def test_valid_solutions_written_differently_score_full_marks(name):
    folder = REPO / "tests" / "submissions" / MODULE / name
    result = grade(folder, MODULE, hidden=True)
    assert result.error is None
    assert losing(result) == set(), {c.name: c.message for c in result.checks if not c.passed}
    if name == "explicit_layers":
        assert any("__main__" in s.reason for s in result.skipped)


def test_untouched_template_scores_zero_with_a_clear_message_each(tmp_path):
    assert_template_scores_zero(tmp_path, MODULE)
