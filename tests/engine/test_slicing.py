"""Slicing the top level: keep what the graded names need, skip (and list) the rest."""

import pytest

from grader import slicing

SOURCE = '''
"""A student's notebook, exported."""
import torch
import optuna
from torch import nn
import matplotlib.pyplot as plt
DEVICE = torch.device("cpu")
EPOCHS = 20

def helper(x):
    return x * SCALE

SCALE = 2

class MLP(nn.Module):
    def forward(self, x):
        return helper(x).to(DEVICE)

def train_loop(dataloader, model, loss_fn, optimizer):
    return 1.0

model = MLP()
for epoch in range(EPOCHS):
    train_loop(None, model, None, None)
plt.plot([1])
if __name__ == "__main__":
    print("hi")
'''


def kept_and_skipped(plan):
    kept = [plan.statements[i].summary for i in plan.kept]
    skipped = {st.summary: reason for st, reason in plan.skipped}
    return kept, skipped


def test_keeps_definitions_and_what_they_use_transitively():
    plan = slicing.plan(SOURCE, "mlp.py", ["MLP", "train_loop", "count_parameters"])
    kept, skipped = kept_and_skipped(plan)
    assert kept == ["import torch", "from torch import nn", 'DEVICE = torch.device("cpu")',
                    "def helper(x):", "SCALE = 2", "class MLP(nn.Module):",
                    "def train_loop(dataloader, model, loss_fn, optimizer):"]
    assert "top-level loop" in skipped["for epoch in range(EPOCHS):"]
    assert "__main__" in skipped['if __name__ == "__main__":']
    assert "expression" in skipped["plt.plot([1])"]
    assert "import optuna" in skipped and "model = MLP()" in skipped
    assert not any("A student's notebook" in s for s in skipped)  # docstrings are not listed
    assert plan.missing == ["count_parameters"]
    assert plan.only_in_skipped["epoch"] == 23


def test_names_used_by_defaults_decorators_and_bases_are_kept():
    source = ("import functools\nBASE = object\nWIDTH = 3\n"
              "def deco(f):\n    return f\n"
              "@deco\ndef f(x=WIDTH):\n    return x\n"
              "class A(BASE):\n    k = WIDTH\n")
    plan = slicing.plan(source, "m.py", ["f", "A"])
    kept, _ = kept_and_skipped(plan)
    assert {"BASE = object", "WIDTH = 3", "def deco(f):"} <= set(kept)
    assert "import functools" not in kept


def test_star_imports_and_compound_statements():
    source = ("from helpers import *\n"
              "try:\n    import optuna\nexcept ImportError:\n    optuna = None\n"
              "if True:\n    GLOBAL = 1\n"
              "def f():\n    return GLOBAL + optuna_used()\n"
              "def optuna_used():\n    return optuna\n")
    plan = slicing.plan(source, "m.py", ["f"])
    kept, _ = kept_and_skipped(plan)
    assert kept == ["from helpers import *", "try:", "if True:", "def f():", "def optuna_used():"]


def test_redefinitions_are_all_kept_in_order():
    source = "def f():\n    return 1\n\nf()\n\ndef f():\n    return 2\n"
    plan = slicing.plan(source, "m.py", ["f"])
    assert [plan.statements[i].lineno for i in plan.kept] == [1, 6]


def test_syntax_error_shows_the_students_line():
    with pytest.raises(slicing.SubmissionSyntaxError) as e:
        slicing.plan("import torch\n\ndef f(x:\n    return x\n", "mlp_pixels.py", ["f"])
    text = str(e.value)
    assert text.startswith("syntax error in mlp_pixels.py, line 3")
    assert "def f(x:" in text and "^" in text


@pytest.mark.parametrize("name,candidates,expected", [
    ("MLP", ["Mlp", "Net"], ["Mlp"]),
    ("train_loop", ["trainloop", "train"], ["trainloop", "train"]),
    ("count_parameters", ["count_params", "perf_loop"], ["count_params"]),
    ("fit", ["perf_loop"], []),
])
def test_did_you_mean(name, candidates, expected):
    assert slicing.did_you_mean(name, candidates) == expected


@pytest.mark.parametrize("name,candidates,expected", [
    ("rmsprop_step", {"rms_prop": "def", "sgd_step": "def"}, ["rms_prop"]),
    ("MaxPool1D", {"MaxPooling1D": "class", "AvgPool2D": "class"}, ["MaxPooling1D"]),
    ("init_params", {"init_weights": "def", "count_params": "def"}, ["init_weights"]),
    ("Sequentiel", {"Sequential": "class", "seq": "assign"}, ["Sequential"]),
    ("EarlyStopping", {"EarlyStopper": "class", "early_stop": "assign"}, ["EarlyStopper"]),
    ("Flatten", {"Flat": "class", "flatten": "import"}, ["Flat"]),
    ("DeepNet", {"LeNet5": "class", "deep": "def"}, []),
])
def test_definitions_suggested_for_the_names_students_of_the_course_use(name, candidates, expected):
    kind = ("class",) if name[0].isupper() else ("def",)
    assert slicing.suggest_definitions(name, kind, candidates) == expected
