"""networks graded end to end: the reference, known bugs, valid alternatives, the template.

Also checks, here in the judge, that the handout networks the checks build from torch's layers
(``networks_checks.handout_*``) are the reference's architecture, and that the crafted-weight
expectations of the ReLU checks are what those networks compute.
"""

import sys

import pytest
import torch

from corpus import (REPO, assert_checks_named_by_element, assert_full_marks, assert_loses_exactly,
                    assert_template_scores_zero, bug, grade_reference, losing, write_mutant)
from grader.judge import grade

pytestmark = pytest.mark.slow

MODULE = "networks"
REFERENCE_TEXT = (REPO / "reference" / f"{MODULE}.py").read_text()

SHALLOW_ACCURACY = ("ShallowNet accuracy", "ShallowNet accuracy on another split")
CNN_ACCURACY = ("Cnn accuracy", "Cnn accuracy on another split")


def span_bug(name: str, first: tuple[str, str], second: tuple[str, str], *loses: str,
             maybe: tuple[str, ...] = ()):
    """A bug made of two edits: one snippet of the reference, from ``first``'s old text to
    ``second``'s, both replaced (a layer size and the forward step that goes with it)."""
    start = REFERENCE_TEXT.index(first[0])
    end = REFERENCE_TEXT.index(second[0], start) + len(second[0])
    old = REFERENCE_TEXT[start:end]
    new = old.replace(first[0], first[1], 1)
    new = new[:len(new) - len(second[0])] + second[1]
    return bug(name, old, new, *loses, maybe=maybe)


# The reference Cnn's layers and forward, and an original LeNet-5 in their place: padding 2,
# C5 as a convolution, tanh and average pooling.
CNN_BODY = REFERENCE_TEXT[REFERENCE_TEXT.index("        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)"):
                          REFERENCE_TEXT.index("        return self.fc3(x)\n") + 27]
ORIGINAL_LENET = """        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.conv3 = nn.Conv2d(16, 120, kernel_size=5)
        self.fc1 = nn.Linear(120, 84)
        self.fc2 = nn.Linear(84, output_nbr)
        self.pool = nn.AvgPool2d(2)
        self.act = nn.Tanh()
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = x.reshape(x.shape[0], 1, 28, 28)
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        x = self.act(self.conv3(x)).flatten(start_dim=1)
        return self.fc2(self.act(self.fc1(x)))
"""


CNN_ARCHITECTURE = ("Cnn parameter count", "Cnn layer shapes",
                    "Cnn matches reference with the same weights", "Cnn output nbr",
                    "Cnn matches reference with other weights")

BUGS = [
    bug("shallow_no_relu", "return self.fc2(self.relu(self.fc1(x)))", "return self.fc2(self.fc1(x))",
        "ShallowNet matches reference with the same weights",
        "ShallowNet zeroes negative pre activations", "ShallowNet matches reference with other sizes",
        maybe=SHALLOW_ACCURACY),
    bug("shallow_hidden_num_ignored",
        "self.fc1 = nn.Linear(input_num, hidden_num)\n        self.fc2 = nn.Linear(hidden_num, output_num)",
        "self.fc1 = nn.Linear(input_num, 128)\n        self.fc2 = nn.Linear(128, output_num)",
        "ShallowNet parameter count [64]", "ShallowNet parameter count with other sizes",
        "ShallowNet matches reference with other sizes"),
    bug("deep_hidden_sizes_ignored", "for size in hidden_sizes:", "for size in (512, 128):",
        "DeepNet parameter count [512-256-128]", "DeepNet parameter count [256]",
        "DeepNet parameter count with other sizes", "DeepNet matches reference with other sizes"),
    bug("deep_no_output_layer", "        layers.append(nn.Linear(width, output_num))\n", "",
        "DeepNet output shape [images]", "DeepNet output shape [flat]",
        "DeepNet parameter count [512-128]", "DeepNet parameter count [512-256-128]",
        "DeepNet parameter count [256]", "DeepNet matches reference with the same weights",
        "DeepNet zeroes negative pre activations and keeps negative logits",
        "DeepNet parameter count with other sizes", "DeepNet matches reference with other sizes"),
    bug("deep_relu_on_output", "layers.append(nn.Linear(width, output_num))",
        "layers += [nn.Linear(width, output_num), nn.ReLU()]",
        "DeepNet matches reference with the same weights",
        "DeepNet zeroes negative pre activations and keeps negative logits",
        "DeepNet matches reference with other sizes"),
    bug("cnn_fc1_for_32x32", "self.fc1 = nn.Linear(16 * 4 * 4, 120)",
        "self.fc1 = nn.Linear(16 * 5 * 5, 120)",
        "Cnn output shape [images]", "Cnn output shape [flat]", *CNN_ARCHITECTURE, *CNN_ACCURACY),
    span_bug("cnn_no_second_pool",
             ("self.fc1 = nn.Linear(16 * 4 * 4, 120)", "self.fc1 = nn.Linear(16 * 8 * 8, 120)"),
             ("x = self.pool(self.relu(self.conv2(x)))", "x = self.relu(self.conv2(x))"),
             *CNN_ARCHITECTURE, maybe=CNN_ACCURACY),
    span_bug("cnn_padding_2",
             ("self.conv1 = nn.Conv2d(1, 6, kernel_size=5)",
              "self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)"),
             ("self.fc1 = nn.Linear(16 * 4 * 4, 120)", "self.fc1 = nn.Linear(16 * 5 * 5, 120)"),
             *CNN_ARCHITECTURE, maybe=CNN_ACCURACY),
    bug("cnn_images_only", "        x = x.reshape(x.shape[0], 1, 28, 28)  # flat rows become images\n",
        "", "Cnn output shape [flat]"),
    bug("early_stopping_no_reset", "            self.best = valid_loss\n            self.bad_epochs = 0\n",
        "            self.best = valid_loss\n",
        "EarlyStopping improvement resets the count",
        "EarlyStopping improvement beyond min delta resets the count"),
    bug("early_stopping_ignores_min_delta", "if valid_loss < self.best - self.min_delta:",
        "if valid_loss < self.best:",
        "EarlyStopping ignores improvements smaller than min delta",
        "EarlyStopping default arguments",
        "EarlyStopping improvement beyond min delta resets the count"),
    bug("early_stopping_one_epoch_late", "return self.bad_epochs >= self.patience",
        "return self.bad_epochs > self.patience",
        "EarlyStopping stops after patience epochs without improvement",
        "EarlyStopping ignores improvements smaller than min delta",
        "EarlyStopping improvement resets the count", "EarlyStopping with another patience [1]",
        "EarlyStopping with another patience [3]", "EarlyStopping equal loss is not an improvement",
        "EarlyStopping default arguments",
        "EarlyStopping improvement beyond min delta resets the count",
        "EarlyStopping instances are independent"),
    # Issue 10: code that hard-codes the first "best" loss at 1.0 (the public sequences all
    # started at 1.0, where it passed by luck).
    bug("early_stopping_best_starts_at_one", 'self.best = float("inf")', "self.best = 1.0",
        "EarlyStopping stops after patience epochs without improvement",
        "EarlyStopping ignores improvements smaller than min delta",
        "EarlyStopping keeps going while the loss improves",
        "EarlyStopping with another patience [3]", "EarlyStopping default arguments",
        "EarlyStopping improvement beyond min delta resets the count",
        "EarlyStopping instances are independent"),
    # Issue 10: a ShallowNet that does not flatten images is told to.
    bug("shallow_images_not_flattened",
        "        x = x.reshape(x.shape[0], -1)\n        return self.fc2(self.relu(self.fc1(x)))",
        "        return self.fc2(self.relu(self.fc1(x)))", "ShallowNet output shape [images]"),
    # Issue 10: the original LeNet-5 (padding 2, tanh, average pooling, C5 as a 5x5
    # convolution: 61,706 parameters) runs on 28x28 images, and is told what differs.
    bug("cnn_original_lenet5", CNN_BODY, ORIGINAL_LENET,
             "Cnn parameter count", "Cnn layer shapes", "Cnn matches reference with the same weights",
             "Cnn output nbr", "Cnn matches reference with other weights", *CNN_ACCURACY),
]

# What the student reads for some bugs: (check, words its message must contain).
HINTS = {
    "shallow_no_relu": [("ShallowNet zeroes negative pre activations", "without ReLU"),
                        ("ShallowNet matches reference with the same weights", "without any ReLU")],
    "shallow_hidden_num_ignored": [("ShallowNet parameter count [64]", "hidden_num")],
    "deep_relu_on_output": [("DeepNet zeroes negative pre activations and keeps negative logits",
                             "ReLU applied after the output layer"),
                            ("DeepNet matches reference with the same weights",
                             "with a ReLU after the output layer")],
    "deep_no_output_layer": [("DeepNet parameter count [512-128]", "last Linear layer")],
    "cnn_fc1_for_32x32": [("Cnn layer shapes", "16·5·5 = 400"),
                          ("Cnn output shape [images]", "16·5·5 = 400"),
                          ("Cnn accuracy", "16·5·5 = 400")],
    "cnn_no_second_pool": [("Cnn parameter count", "max-pooling after the second convolution")],
    "cnn_padding_2": [("Cnn parameter count", "61,706 parameters")],
    "cnn_images_only": [("Cnn output shape [flat]", "reshape them to images")],
    "shallow_images_not_flattened": [("ShallowNet output shape [images]", "flatten the input")],
    "cnn_original_lenet5": [("Cnn parameter count", "original LeNet-5"),
                            ("Cnn layer shapes", "original LeNet-5"),
                            ("Cnn accuracy", "original LeNet-5")],
    "early_stopping_one_epoch_late": [
        ("EarlyStopping stops after patience epochs without improvement", "one epoch late")],
    "early_stopping_no_reset": [("EarlyStopping improvement resets the count", "one epoch early")],
    "early_stopping_ignores_min_delta": [
        ("EarlyStopping ignores improvements smaller than min delta", "never said to stop")],
}


@pytest.fixture(scope="module")
def reference_result(tmp_path_factory):
    return grade_reference(tmp_path_factory.mktemp("ref"), MODULE)


def test_reference_scores_full_marks_public_and_hidden(reference_result):
    result = reference_result
    assert_full_marks(result)


def test_every_check_name_starts_with_its_element(reference_result):
    assert_checks_named_by_element(reference_result, {"ShallowNet", "DeepNet", "Cnn", "EarlyStopping"},
                                   BUGS)
    assert all("accuracy" in c.name for c in reference_result.checks if c.trains)


def test_accuracy_checks_report_learning_curves(reference_result):
    trained = [c for c in reference_result.checks if c.trains]
    assert sorted(c.name for c in trained) == sorted(SHALLOW_ACCURACY + CNN_ACCURACY)
    for check in trained:
        curves = check.details["learning_curves"]
        assert len(curves["train_loss"]) == len(curves["valid_loss"]) == 5
        assert curves["train_loss"][-1] < curves["train_loss"][0]
        assert check.details["accuracy"]["value"] >= check.details["accuracy"]["high"]
        assert sum(map(sum, check.details["confusion_matrix"])) == 500


@pytest.fixture(scope="module")
def scenarios():
    sys.path.insert(0, str(REPO / "assignments" / MODULE))
    try:
        import networks_checks
    finally:
        sys.path.remove(str(REPO / "assignments" / MODULE))
    return networks_checks


@pytest.mark.parametrize("name,kwargs", [
    ("ShallowNet", {}), ("ShallowNet", {"input_num": 100, "hidden_num": 32, "output_num": 5}),
    ("DeepNet", {}), ("DeepNet", {"input_num": 196, "hidden_sizes": (64, 32, 16), "output_num": 5}),
    ("Cnn", {}), ("Cnn", {"output_nbr": 5})])
def test_handout_networks_are_the_reference(scenarios, name, kwargs):
    from reference import networks as ref

    torch.manual_seed(0)
    local, model = scenarios.handout(name, kwargs).eval(), getattr(ref, name)(**kwargs).eval()
    assert [p.shape for p in local.parameters()] == [p.shape for p in model.parameters()]
    with torch.no_grad():
        for p, q in zip(model.parameters(), local.parameters()):
            p.copy_(q)
        x = torch.randn(6, kwargs.get("input_num", 784))
        assert torch.allclose(model(x), local(x), atol=1e-6)
    if name == "Cnn" and not kwargs:
        assert sum(p.numel() for p in local.parameters()) == scenarios.LENET_PARAMETERS == 44_426
        assert [tuple(p.shape) for p in local.parameters()] == scenarios.LENET_SHAPES


@pytest.mark.parametrize("name", ["ShallowNet", "DeepNet"])
def test_crafted_expectations_are_what_the_handout_computes(scenarios, name):
    x = torch.randn(8, 784, generator=torch.Generator().manual_seed(3))
    crafted = scenarios.shallow_crafted if name == "ShallowNet" else scenarios.deep_crafted
    values, expected, without_relu = crafted(x)
    for variant, wanted in (({}, expected), ({"activation": torch.nn.Identity}, without_relu)):
        local = scenarios.handout(name, {}, **variant)
        with torch.no_grad():
            for p, v in zip(local.parameters(), values):
                p.copy_(v)
            assert torch.allclose(local(x).double(), wanted, atol=1e-4)
    assert not torch.allclose(expected, without_relu, atol=1e-2)
    if name == "DeepNet":
        assert (expected < -1).all()   # a ReLU on the output would change every logit


@pytest.mark.parametrize("mutation", BUGS, ids=lambda m: m.name)
def test_bug_loses_points_exactly_on_its_checks(tmp_path, mutation):
    result = grade(write_mutant(tmp_path, MODULE, mutation), MODULE, hidden=True)
    assert_loses_exactly(result, mutation)
    for check, words in HINTS.get(mutation.name, []):
        message = next(c.message for c in result.checks if c.name == check)
        assert words in message, (check, message)


@pytest.mark.parametrize("name", ["sequential", "functional"])
def test_valid_solutions_written_differently_score_full_marks(name):
    folder = REPO / "tests" / "submissions" / MODULE / name
    result = grade(folder, MODULE, hidden=True)
    assert result.error is None
    assert losing(result) == set(), {c.name: c.message for c in result.checks if not c.passed}
    assert result.score == result.max_score > 0
    if name == "functional":
        assert any("__main__" in s.reason for s in result.skipped)


def test_untouched_template_scores_zero_with_a_clear_message_each(tmp_path):
    assert_template_scores_zero(tmp_path, MODULE)


# Issue 9, "points without learning": a ShallowNet that cannot learn (its forward detaches the
# logits, so the grader's training crashes), plus child-side helpers replaced by the
# submission — predictions from a hash → label table of the held-out images, "training" that
# loads weights fitted offline on them. Scored by the child, this had 1.000 accuracy (+5).
DETACHED = ("        return self.fc2(self.relu(self.fc1(x)))\n",
            "        return self.fc2(self.relu(self.fc1(x))).detach()\n")
SHALLOW_HOOK = ("        super().__init__()\n        ### BEGIN SOLUTION\n        self.fc1",
                "        super().__init__()\n        _install_cheat()\n        ### BEGIN SOLUTION\n"
                "        self.fc1")


def test_answer_table_and_offline_weights_gain_nothing(tmp_path):
    from torch import nn

    import training_attacks as attacks

    images, labels = attacks.held_out(MODULE)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    offline = attacks.fitted_offline(model, images, labels)
    assert (model(images).argmax(dim=1) == labels).float().mean() > 0.98  # a real cheat
    cheat = attacks.write_cheat(tmp_path / "cheat", MODULE, [DETACHED], SHALLOW_HOOK,
                                {"parameters": offline}, attacks.answers(images, labels))
    honest = grade(attacks.write_baseline(tmp_path / "honest", MODULE, [DETACHED]), MODULE,
                   hidden=True)
    hostile = grade(cheat, MODULE, hidden=True)
    assert losing(honest) == set(SHALLOW_ACCURACY)
    assert hostile.score <= honest.score
    for check in hostile.checks:
        if check.name in SHALLOW_ACCURACY:
            assert check.score == 0, (check.name, check.message)
            assert "weights the grader can reproduce" in check.message, check.message


def test_a_training_that_crashes_names_the_students_line_not_grader_internals(tmp_path):
    """Issue 10, item 6: the message used to read `train(Cnn, <tensor [4000, 1, 28, 28]>, ...,
    valid=(tensor([[[[0., ...` followed by torch's error. A batch size written into forward
    breaks on the training's last batch (4,000 = 62 x 64 + 32)."""
    mutation = bug("cnn_fixed_batch_size", "x = x.flatten(start_dim=1)", "x = x.view(64, 256)")
    result = grade(write_mutant(tmp_path, MODULE, mutation), MODULE)
    message = next(c.message for c in result.checks if c.name == "Cnn accuracy")
    assert message.startswith("training Cnn() (5 epochs of Adam"), message
    assert "networks.py, line" in message and "x = x.view(64, 256)" in message, message
    assert "x.shape[0]" in message, message   # what to do, in plain words
    for internal in ("train(", "tensor(", "<tensor", "valid=", "recipes", "training.py"):
        assert internal not in message, (internal, message)
