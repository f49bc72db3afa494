"""Hostile and broken mlp_pixels submissions: none gains a point it did not earn, none crashes
or hangs the grader; the same submission always gets the same score."""

import shutil

import pytest

from corpus import REPO, assert_loses_exactly, bug, losing, reference_path, write_mutant
from grader.assignment import load_folder
from grader.judge import grade

pytestmark = pytest.mark.slow

MODULE = "mlp_pixels"
COUNT = ("count_parameters on a small network", "count_parameters counts trainable only",
         "count_parameters on a convolutional network")
ACCURACY = ("MLP accuracy", "MLP accuracy on another split")

COUNT_LINE = "    return sum(p.numel() for p in model.parameters() if p.requires_grad)\n"
TRAIN_START = "    model.train()\n    total = 0.0\n    for x, y in dataloader:\n        optimizer.zero_grad()"
PERF_APPEND = "            predictions.append(y_pred)\n"

ATTACKS = [
    # Top-level code never runs: an exit there costs nothing, and gains nothing.
    bug("exit_at_top_level", "class MLP(nn.Module):", "import sys\nsys.exit(0)\n\n\nclass MLP(nn.Module):"),
    # Killing the student process inside a function fails that function's checks only.
    bug("os_exit_in_count_parameters", COUNT_LINE, "    import os\n    os._exit(0)\n" + COUNT_LINE, *COUNT),
    # Printing a fake results.json (and trying to write one) does not change the score.
    bug("fake_results_json", PERF_APPEND,
        PERF_APPEND + "            print('{\"score\": 1000, \"max_score\": 1, \"tests\": []}')\n"
        "            return n_correct, n_total, torch.cat(predictions)\n",
        "perf_loop counts the whole loader", "perf_loop with batches of seven"),
    # Patching torch's comparisons in the student process cannot fool the judge, which compares
    # in its own process: a model that outputs zeros still fails.
    bug("patched_comparisons", "        return self.layers(self.flatten(x))",
        "        torch.equal = lambda *a, **k: True\n"
        "        torch.allclose = lambda *a, **k: True\n"
        "        torch.testing.assert_close = lambda *a, **k: None\n"
        "        return self.layers(self.flatten(x)) * 0",
        "MLP activation matches reference [Sigmoid]", "MLP activation matches reference [ReLU]",
        "MLP is not linear", *ACCURACY),
    # An answer that is small on the wire but huge once printed (1,000 references to one 10 MB
    # string): the message describes it in a few characters, the judge's memory stays flat.
    bug("repr_bomb_in_count_parameters", COUNT_LINE, '    return ["x" * 10**7] * 1000\n', *COUNT),
    # Using far more memory than allowed kills (or fails) that request only.
    bug("memory_hog_in_count_parameters", COUNT_LINE,
        "    hog = torch.ones(5 * 2**30, dtype=torch.float32)  # 20 GB\n" + COUNT_LINE, *COUNT),
]


@pytest.mark.parametrize("mutation", ATTACKS, ids=lambda m: m.name)
def test_attack_gains_nothing(tmp_path, mutation):
    result = grade(write_mutant(tmp_path, MODULE, mutation), MODULE, hidden=True)
    assert_loses_exactly(result, mutation)
    assert result.score == sum(c.score for c in result.checks) <= result.max_score
    assert all(len(c.message) < 2000 for c in result.checks)


def test_fake_output_is_captured_not_parsed(tmp_path):
    mutation = ATTACKS[2]
    result = grade(write_mutant(tmp_path, MODULE, mutation), MODULE)
    assert '"score": 1000' in result.output
    assert result.to_gradescope()["score"] == result.score < result.max_score


def test_exit_inside_a_function_names_the_exit(tmp_path):
    result = grade(write_mutant(tmp_path, MODULE, ATTACKS[1]), MODULE)
    check = next(c for c in result.checks if c.name == COUNT[0])
    assert "exited with code 0" in check.message


@pytest.fixture
def quick_assignment(tmp_path):
    """mlp_pixels with short time limits, so that time-outs are quick to test."""
    folder = tmp_path / "assignments" / MODULE
    shutil.copytree(REPO / "assignments" / MODULE, folder)
    toml = folder / "assignment.toml"
    text = toml.read_text().replace("request_timeout_s = 30", "request_timeout_s = 4")
    toml.write_text(text.replace("accuracy_time_limit_s = 120", "accuracy_time_limit_s = 6"))
    return load_folder(folder)


def test_infinite_loop_times_out_only_its_checks(tmp_path, quick_assignment):
    mutation = bug("infinite_train_loop", TRAIN_START,
                   "    while True:\n        pass\n" + TRAIN_START,
                   "train_loop matches reference", "train_loop with adam and an uneven last batch",
                   *ACCURACY)
    result = grade(write_mutant(tmp_path, MODULE, mutation), quick_assignment, hidden=True)
    assert_loses_exactly(result, mutation)
    # Each lost check names the time-out: the first one ran into it, the later ones did not
    # call train_loop again and say which check it timed out in.
    lost = [c for c in result.checks if c.name in mutation.loses]
    assert all("timed out" in c.message for c in lost), [(c.name, c.message) for c in lost]
    assert any("timed out after 4 s" in c.message for c in lost)
    assert result.timings["student_startups"] >= 2  # restarted after the time-outs


def test_same_submission_same_score_three_times(tmp_path):
    # A submission with partial credit, so that the scores carry real information.
    mutation = bug("weak", "layers += [nn.Linear(width, size), activation()]",
                   "layers += [nn.Linear(width, size), activation(), nn.Dropout(0.97)]")
    path = write_mutant(tmp_path, MODULE, mutation)
    runs = [grade(path, MODULE) for _ in range(3)]
    scores = [[(c.name, c.score, c.message) for c in r.checks] for r in runs]
    assert scores[0] == scores[1] == scores[2]
    assert 0 < runs[0].score < runs[0].max_score
    assert losing(runs[0])


# A model that never learns (no optimizer.step) but remembers every labelled image it is shown
# — its train_loop's batches, and the validation labels it finds up the call stack — and
# answers from memory in eval mode. The student process keeps its memory between checks, so
# this gained the hidden accuracy check when "another split" re-drew the test images from
# images an earlier check had trained on; now no scored image is ever sent with its label.
REMEMBER = '''
MEMO = {}


def _remember(x, labels):
    for row, label in zip(x.reshape(len(x), -1), labels):
        MEMO[row.numpy().tobytes()] = int(label)


def _recall(x, out):
    for i, row in enumerate(x.reshape(len(x), -1)):
        label = MEMO.get(row.numpy().tobytes())
        if label is not None:
            out[i] = -100.0
            out[i, label] = 100.0
    return out


class MLP(nn.Module):'''
FORWARD_MEMO = '''        out = self.layers(self.flatten(x))
        import sys
        frame = sys._getframe(1)
        while frame is not None:  # the grader's mean_loss(valid) holds the labels in `yb`
            yb = frame.f_locals.get("yb")
            if isinstance(yb, torch.Tensor) and len(yb) == len(x):
                _remember(x.detach(), yb)
                break
            frame = frame.f_back
        return out if self.training else _recall(x.detach(), out.detach().clone())'''


def test_remembering_labels_between_checks_gains_nothing(tmp_path):
    text = reference_path(MODULE).read_text()
    for old, new in [("class MLP(nn.Module):", REMEMBER),
                     ("        return self.layers(self.flatten(x))", FORWARD_MEMO),
                     ("    for x, y in dataloader:\n        optimizer.zero_grad()",
                      "    for x, y in dataloader:\n        _remember(x, y)\n        optimizer.zero_grad()"),
                     ("        optimizer.step()\n", "")]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (tmp_path / f"{MODULE}.py").write_text(text)
    result = grade(tmp_path / f"{MODULE}.py", MODULE, hidden=True)
    # exactly what a model that never learns loses (train_no_step in the corpus)
    assert losing(result) == {"train_loop matches reference",
                              "train_loop with adam and an uneven last batch", *ACCURACY}
    assert all(c.score == 0 for c in result.checks if c.name in ACCURACY)


# Issue 9, "points without learning": a train_loop that never steps, plus child-side helpers
# replaced by the submission — the prediction helper answers from a hash → label table of the
# held-out images, the training helper loads weights fitted offline on them. Scored by the
# child, this had 1.000 accuracy (+7). Now the judge predicts from the parameters itself and
# gives credit only to weights its own replay of the training reproduces.
NO_STEP = ("        optimizer.step()\n        total += loss.item()\n", "        total += loss.item()\n")
MLP_HOOK = ("        super().__init__()\n        ### BEGIN SOLUTION\n        layers = []",
            "        super().__init__()\n        _install_cheat()\n        ### BEGIN SOLUTION\n"
            "        layers = []")


def test_answer_table_and_offline_weights_gain_nothing(tmp_path):
    from torch import nn

    import training_attacks as attacks

    images, labels = attacks.held_out(MODULE)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 128),
                          nn.ReLU(), nn.Linear(128, 10))
    offline = attacks.fitted_offline(model, images, labels)
    assert (model(images).argmax(dim=1) == labels).float().mean() > 0.98  # a real cheat
    cheat = attacks.write_cheat(tmp_path / "cheat", MODULE, [NO_STEP], MLP_HOOK,
                                {"parameters": offline}, attacks.answers(images, labels))
    honest = grade(attacks.write_baseline(tmp_path / "honest", MODULE, [NO_STEP]), MODULE,
                   hidden=True)
    hostile = grade(cheat, MODULE, hidden=True)
    assert losing(honest) == {"train_loop matches reference",
                              "train_loop with adam and an uneven last batch", *ACCURACY}
    assert hostile.score <= honest.score
    for check in hostile.checks:
        if check.name in ACCURACY:
            assert check.score == 0, (check.name, check.message)
            assert "weights the grader can reproduce" in check.message, check.message
