"""networks: what the shared harness (tests/test_practicals.py) does not cover — learning curves,
the handout networks the checks build from torch's layers (``networks_checks.handout_*``) are
the reference's architecture, the crafted-weight expectations of the ReLU checks, a variant's
skipped code, attacks and a crash message. Its corpus is assignments/networks/corpus/."""

import pytest
import torch

import practicals
from corpus import assert_reports_its_training, bug, losing, write_mutant
from grader.assignment import load_module_file
from grader.judge import grade

pytestmark = pytest.mark.slow

MODULE = "networks"
PRACTICAL = practicals.practical(MODULE)
SHALLOW_ACCURACY = PRACTICAL.corpus.SHALLOW_ACCURACY
CNN_ACCURACY = PRACTICAL.corpus.CNN_ACCURACY


def test_accuracy_checks_report_learning_curves():
    trained = [c for c in PRACTICAL.reference_result().checks if c.trains]
    assert sorted(c.name for c in trained) == sorted(SHALLOW_ACCURACY + CNN_ACCURACY)
    for check in trained:
        assert_reports_its_training(check, epochs=5, n_test=500)


@pytest.fixture(scope="module")
def scenarios():
    folder = PRACTICAL.assignment.folder
    return load_module_file("networks_checks_under_test", folder / "networks_checks.py")


@pytest.mark.parametrize("name,kwargs", [
    ("ShallowNet", {}), ("ShallowNet", {"input_num": 100, "hidden_num": 32, "output_num": 5}),
    ("DeepNet", {}), ("DeepNet", {"input_num": 196, "hidden_sizes": (64, 32, 16), "output_num": 5}),
    ("Cnn", {}), ("Cnn", {"output_nbr": 5})])
def test_handout_networks_are_the_reference(scenarios, name, kwargs):
    ref = PRACTICAL.assignment.load_reference()

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


def test_variant_with_a_main_block_skips_it():
    result = PRACTICAL.variant_result("functional")
    assert any("__main__" in s.reason for s in result.skipped)


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
