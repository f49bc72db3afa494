"""Messages about real student code of this course (issue 10): the real cause, the line.

Each submission here is written the way the course's students write (a relative import left
from a package, `loss_func(t, y)`, one-hot habits, everything under `if __name__`, their own
class names, notebooks): the message must name the real cause and the student's line.
"""

import nbformat
import pytest
import torch

from grader import missing, slicing
from grader.failures import MissingName, NotImplementedYet, StudentError
from grader.student_process import StudentModule, StudentProcess
from grader.submission import read_source

from .conftest import REPO


def notebook(folder, name, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# TP MLP")] + [
        nbformat.v4.new_code_cell(c) for c in cells]
    for number, cell in enumerate(nb.cells):
        cell.id = f"7zVh6kgQqQT{number}"  # ids like Colab's: what the raw JSON showed
    path = folder / name
    path.write_text(nbformat.writes(nb))
    return path


@pytest.fixture
def spawn_file(tmp_path):
    """spawn_file(path, names) for a file already written (a notebook)."""
    processes = []

    def make(path, names, module="mlp_pixels"):
        from grader import sandbox

        src = read_source(path, module)
        plan = slicing.plan(src.text, src.display_name, names)
        process = StudentProcess(src, plan, isolation=sandbox.probe(),
                                 hidden_paths=[REPO / "assignments", REPO / "reference"])
        processes.append(process)
        return StudentModule(process), process

    yield make
    for process in processes:
        process.close()


# ------------------------------------------------------------------ 1: failed relative import

RELATIVE = '''\
import numpy as np
from .base import Module


class Linear(Module):
    def __init__(self, input, output):
        self._parameters = {"W": np.zeros((input, output))}

    def forward(self, X):
        return X @ self._parameters["W"]
'''


def test_a_failed_relative_import_used_as_base_class_names_the_import_and_its_line(spawn):
    student, process = spawn(RELATIVE, ["Linear"], module="diy")
    with pytest.raises(MissingName) as e:
        student.Linear(3, 2)
    text = str(e.value)
    assert text.startswith("`Linear` could not be defined (diy.py, line 5): it needs `Module`, "
                           "imported by `from .base import Module` at diy.py, line 2, which failed")
    assert "a relative import only works inside a package" in text
    assert "`from base import Module`" in text and "define `Module` in your file" in text
    # Before: Python took the placeholder's type as the metaclass, and the message printed the
    # class's __dict__ and a `MissingModule object at 0x...`.
    assert "MissingModule" not in text and "__dict__" not in text and "0x" not in text
    assert "__module__" not in text
    # Once in the run: the same cause, and nothing else about the relative import.
    notes = missing.load_notes(process.source, process.plan, process.start(), "diy")
    assert notes == [text]


# ------------------------------------------------------------------ 2: NotImplementedError

TRAIN = '''\
import torch
from torch import nn


def train_loop(dataloader, model, loss_func, optimizer):
    model.train()
    total = 0.
    for x, t in dataloader:
        y = model(x)
        loss = loss_func(t, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(dataloader)


def todo(x):
    # TODO: your code here
    raise NotImplementedError
'''


def test_a_torch_not_implemented_error_is_not_the_starter_stub(spawn):
    student, _ = spawn(TRAIN, ["train_loop", "todo"], module="mlp_pixels")
    model = student.lib("torch.nn.Linear")(784, 10)
    loader = [(torch.rand(4, 784), torch.tensor([3, 1, 4, 1]))]
    loss = student.lib("torch.nn.CrossEntropyLoss")()
    optimizer = student.lib("torch.optim.SGD")(model.parameters(), lr=0.1)
    with pytest.raises(StudentError) as e:
        student.train_loop(loader, model, loss, optimizer)
    assert not isinstance(e.value, NotImplementedYet)
    text = str(e.value)
    assert "is not implemented yet" not in text
    assert "mlp_pixels.py, line 10, in train_loop\n    loss = loss_func(t, y)" in text
    assert "the arguments are probably in the wrong order" in text
    assert "`loss_fn(output, target)`" in text
    # the starter's own `raise NotImplementedError` still reads as "not implemented yet"
    with pytest.raises(NotImplementedYet, match=r"`todo` is not implemented yet \(mlp_pixels.py, "
                                                r"line 20"):
        student.todo(1)


# ------------------------------------------------------------------ 3: notebook tracebacks

def test_notebook_tracebacks_quote_the_cells_code_not_the_notebooks_json(tmp_path, spawn_file):
    path = notebook(tmp_path, "MLP_pixels.ipynb", [
        "import torch\n%matplotlib inline",
        "def perf_loop(dataloader, model):\n"
        "    n_correct, n_total = 0., 0.\n"
        "    for x, t in dataloader:\n"
        "        y = model(x)\n"
        "        n_correct += (y.argmax(1) == t.argmax(1)).sum().item()\n"
        "        n_total += len(t)\n"
        "    return n_correct, n_total, None",
    ])
    student, _ = spawn_file(path, ["perf_loop"])
    model = student.lib("torch.nn.Flatten")()
    with pytest.raises(StudentError) as e:
        student.perf_loop([(torch.rand(2, 10), torch.tensor([1, 2]))], model)
    text = str(e.value)
    assert ("MLP_pixels.ipynb, cell 3, line 5, in perf_loop\n"
            "    n_correct += (y.argmax(1) == t.argmax(1)).sum().item()") in text
    assert '"id"' not in text and "7zVh6kgQqQT" not in text
    # 10 (generic part): the one-hot habit, recognised and explained
    assert "`y` or `t` is 1-D" in text
    assert text.startswith("perf_loop([(<tensor [2, 10]>, <tensor [2]>)], Flatten) raised IndexError")
    assert "class indices" in text and "one-hot" in text and "mnist.pkl.gz" in text


# ------------------------------------------------------------------ 4: did you mean

NETWORKS = '''\
import torch
from torch import nn
import torch.nn.functional as F

data = torch.zeros(3)


class ShallowNeuralNetwork(nn.Module):
    pass


class DeepNeuralNet(nn.Module):
    pass


class LeNet5(nn.Module):
    pass


def update_weights(x, t, w, b, eta):
    pass


def Data():
    pass
'''


@pytest.mark.parametrize("name,expected", [
    ("Cnn", ["LeNet5"]),  # not the import alias `nn`, as before
    ("ShallowNet", ["ShallowNeuralNetwork"]),
    ("DeepNet", ["DeepNeuralNet"]),  # not `LeNet5`: "net" says nothing
    ("update", ["update_weights"]),  # not the variable `data`
    ("EarlyStopping", []),
    ("Data", []),  # a class is never a function called `Data`, nor the variable `data`
])
def test_did_you_mean_suggests_a_definition_of_the_right_kind_with_the_same_meaning(
        name, expected):
    plan = slicing.plan(NETWORKS, "networks.py", ["ShallowNet", "DeepNet", "Cnn", "EarlyStopping",
                                                  "update"])
    assert plan.suggestions(name)[:1] == expected


def test_did_you_mean_matches_meaning_bearing_words():
    defs = {"CNNModel": "class", "ConvNeuralNet": "class", "nn": "import", "count_params": "def",
            "init_weights": "def", "train_epoch": "def", "evaluate": "def"}
    assert slicing.suggest_definitions("Cnn", ("class",), defs)[:2] == ["CNNModel", "ConvNeuralNet"]
    assert slicing.suggest_definitions("DeepNet", ("class",), {"LeNet5": "class"}) == []
    assert slicing.suggest_definitions("update", ("def",), {"data": "assign"}) == []
    assert slicing.suggest_definitions("count_parameters", ("def",), defs) == ["count_params"]
    assert slicing.suggest_definitions("init_params", ("def",), defs) == ["init_weights"]
    assert slicing.suggest_definitions("valid_loop", ("def",), defs) == ["evaluate"]
    # the practical's other names are never what a missing one is called
    assert slicing.suggest_definitions("valid_loop", ("def",), defs, exclude=["evaluate"]) == []


def test_a_missing_class_is_not_suggested_an_import_alias(spawn):
    student, _ = spawn(NETWORKS, ["Cnn", "ShallowNet"], module="networks")
    with pytest.raises(MissingName) as e:
        student.Cnn
    assert str(e.value) == "no class `Cnn` in networks.py — did you mean `LeNet5`?"


# ------------------------------------------------------------------ 5: the `if __name__` block

GUARDED = '''\
import gzip
import pickle
import torch

if __name__ == "__main__":
    def init_params(n_in, n_out, generator=None):
        w = torch.empty(n_in, n_out).uniform_(-0.001, 0.001, generator=generator)
        return w, torch.zeros(1, n_out)

    def forward(x, w, b):
        return x @ w + b

    with gzip.open("mnist.pkl.gz") as f:
        (data_train, label_train), (data_test, label_test) = pickle.load(f)
    w, b = init_params(784, 10)
'''


def test_work_under_the_main_guard_is_said_once_with_the_block_and_the_fix(spawn):
    student, process = spawn(GUARDED, ["init_params", "forward", "update"], module="perceptron")
    with pytest.raises(MissingName) as e:
        student.init_params(784, 10)
    assert str(e.value) == ('`init_params` is inside the `if __name__ == "__main__":` block '
                            "(perceptron.py, line 5), which the grader does not run: move the "
                            "function to the top level")
    notes = missing.load_notes(process.source, process.plan, process.start(), "perceptron")
    assert len(notes) == 2  # one for the block, one for the name defined nowhere
    assert notes[0].startswith('`init_params`, `forward` are defined inside the `if __name__ == '
                               '"__main__":` block at perceptron.py, line 5')
    assert "Move the functions and classes out of the block, to the top level" in notes[0]
    assert "`grade template perceptron`" in notes[0]
    assert notes[1] == "not defined in perceptron.py: `update`"


def test_a_definition_inside_a_main_function_says_so():
    source = "def main():\n    def forward(x, w, b):\n        return x @ w + b\n    main()\n"
    plan = slicing.plan(source, "perceptron.py", ["forward"])
    src = type("S", (), {"display_name": "perceptron.py", "is_package": False,
                         "where": lambda self, n: f"perceptron.py, line {n}"})()
    assert missing.message("forward", src, plan, None) == (
        "`forward` is defined inside the function `main` (perceptron.py, line 2), so it only "
        "exists while `main` runs: move the function to the top level")


# ------------------------------------------------------------------ 10: the course's conventions

@pytest.mark.parametrize("assignment,module", [("mlp_pixels", "mlp_pixels"),
                                               ("networks", "networks")])
def test_the_starters_state_the_conventions_the_messages_explain(assignment, module):
    text = " ".join((REPO / "assignments" / assignment / "starter" / f"{module}.py").read_text().split())
    assert "labels are **class indices**, an int64 tensor [B]" in text
    assert "one-hot rows" in text and "mnist.pkl.gz" in text
    assert "loss_fn(output, target)" in text
    assert "[B, 1, 28, 28]" in text


def test_the_perceptron_starter_says_its_labels_are_one_hot():
    text = " ".join((REPO / "assignments" / "perceptron" / "starter" / "perceptron.py").read_text().split())
    assert "labels ``t`` are **one-hot** float32 rows [B, 10]" in text


def test_images_fed_to_a_linear_layer_get_the_flatten_hint(spawn):
    source = ("import torch\nfrom torch import nn\n\n\nclass ShallowNet(nn.Module):\n"
              "    def __init__(self):\n        super().__init__()\n"
              "        self.fc1 = nn.Linear(784, 128)\n        self.fc2 = nn.Linear(128, 10)\n\n"
              "    def forward(self, x):\n        return self.fc2(torch.relu(self.fc1(x)))\n")
    student, _ = spawn(source, ["ShallowNet"], module="networks")
    with pytest.raises(StudentError) as e:
        student.ShallowNet()(torch.rand(4, 1, 28, 28))
    text = str(e.value)
    assert "networks.py, line 12, in ShallowNet.forward" in text
    assert "A linear layer expecting 784 features got images" in text
    assert "`nn.Flatten()`" in text


def test_a_renamed_class_gets_one_note_naming_it_and_the_fix(spawn):
    _, process = spawn(NETWORKS, ["ShallowNet", "Cnn"], module="networks")
    notes = missing.load_notes(process.source, process.plan, process.start(), "networks")
    assert notes == [
        "no class `ShallowNet` in networks.py — did you mean `ShallowNeuralNetwork`? The grader "
        "looks for the practical's names (see `grade template networks`): rename yours.",
        "no class `Cnn` in networks.py — did you mean `LeNet5`? The grader looks for the "
        "practical's names (see `grade template networks`): rename yours."]


def test_a_failed_relative_star_import_is_named_when_a_class_misses_what_it_gave(spawn):
    source = RELATIVE.replace("from .base import Module", "from .base import *")
    student, _ = spawn(source, ["Linear"], module="diy")
    with pytest.raises(MissingName) as e:
        student.Linear
    assert str(e.value) == (
        "`Linear` could not be defined (diy.py, line 5): it needs `Module`, imported by "
        "`from .base import *` at diy.py, line 2, which failed — a relative import only works "
        "inside a package, and your file is graded on its own: write `from base import *` (with "
        "base.py next to your file) or define what you need from it in your file")


DIM_1_OF_1D = "Dimension out of range (expected to be in range of [-1, 0], but got 1)"


@pytest.mark.parametrize("code,named", [
    ("correct += (torch.argmax(y, 1) == torch.argmax(t, 1)).sum()", "`y` or `t` is 1-D"),
    ("acc += (y.max(1)[1] == t.max(1)[1]).float().sum()", "`y` or `t` is 1-D"),
    ("n_correct += (pred == labels.argmax(dim=1)).sum().item()", "`labels` is 1-D"),
    ("n_correct += (pred == np.argmax(t, axis=1)).sum()", "`t` is 1-D"),
])
def test_argmax_over_class_index_labels_is_recognised(code, named):
    from grader import mistakes

    hint = mistakes.explain("IndexError", DIM_1_OF_1D, code)
    assert hint.startswith(named) and "class indices" in hint


NUMPY_MATMUL = ("matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc "
                "signature (n?,k),(k,m?)->(n?,m?) (size 4 is different from 3)")


@pytest.mark.parametrize("code", ['return delta @ self._parameters["W"]', "dx = delta @ self.W",
                                  "return np.dot(delta, W)"])
def test_delta_times_an_untransposed_W_is_recognised(code):
    from grader import mistakes

    hint = mistakes.explain("ValueError", NUMPY_MATMUL, code)
    assert hint.key == "weights_not_transposed" and "delta @ self._parameters" in hint


@pytest.mark.parametrize("code", ['return delta @ self._parameters["W"].T', "out = x @ W",
                                  "return delta @ W.T"])
def test_a_matmul_error_elsewhere_gets_no_transpose_hint(code):
    from grader import mistakes

    assert mistakes.explain("ValueError", NUMPY_MATMUL, code) == ""


def test_other_errors_get_no_made_up_hint():
    from grader import mistakes

    assert mistakes.explain("IndexError", DIM_1_OF_1D, "x = x.transpose(0, 1)") == ""
    assert mistakes.explain("IndexError", "list index out of range", "t.argmax(1)") == ""
    assert mistakes.explain("RuntimeError", "mat1 and mat2 shapes cannot be multiplied "
                                            "(4x100 and 784x10)") == ""
    assert mistakes.explain("NotImplementedError", "", "raise NotImplementedError") == ""


def test_a_deliberate_not_implemented_error_with_its_own_message_is_shown_as_it_is(spawn):
    source = '''\
import torch


def make_optimizer(name, params, lr):
    if name.upper() == "SGD":
        return torch.optim.SGD(params, lr=lr)
    else:
        raise NotImplementedError(f"optimizer {name} not supported")


def stub(x):
    raise NotImplementedError("TODO: write stub")
'''
    student, _ = spawn(source, ["make_optimizer", "stub"], module="mlp_pixels")
    with pytest.raises(StudentError) as e:
        student.make_optimizer("ADAM", [torch.zeros(1, requires_grad=True)], 0.1)
    assert not isinstance(e.value, NotImplementedYet)
    assert str(e.value).startswith("make_optimizer('ADAM', [<tensor [1]>], 0.1) raised "
                                   "NotImplementedError: optimizer ADAM not supported\n"
                                   "  mlp_pixels.py, line 8, in make_optimizer")
    with pytest.raises(NotImplementedYet, match="`stub` is not implemented yet"):
        student.stub(1)


def test_a_global_whose_statement_failed_at_load_names_that_statement(spawn):
    source = '''\
import torch
from torch.utils.tensorboard import SummaryWriter

writer = SummaryWriter("runs/mlp")


def train_loop(dataloader, model, loss_fn, optimizer):
    for i, (x, y) in enumerate(dataloader):
        loss = loss_fn(model(x), y)
        writer.add_scalar("loss", loss.item(), i)
    return 0.0
'''
    student, _ = spawn(source, ["train_loop"], module="mlp_pixels")
    with pytest.raises(StudentError) as e:
        student.train_loop([(torch.rand(2, 4), torch.tensor([0, 1]))],
                           student.lib("torch.nn.Linear")(4, 2),
                           student.lib("torch.nn.CrossEntropyLoss")(), None)
    text = str(e.value)
    assert "raised NameError: name 'writer' is not defined" in text
    assert ("`writer` is not defined because `writer = SummaryWriter(\"runs/mlp\")` (mlp_pixels.py, "
            "line 4) failed when the grader loaded your file — it needs `SummaryWriter`, whose "
            "import at mlp_pixels.py, line 2 failed") in text


def test_a_missing_module_of_the_students_own_is_not_called_a_library(spawn):
    source = ("import torch\nfrom tqdm import tqdm\nfrom utils import one_hot  # my helpers\n\n\n"
              "def forward(x, w, b):\n    return x @ w + b\n")
    _, process = spawn(source, ["forward"], module="perceptron")
    # the imports are not needed by `forward`: loaded only when something needs them
    plan = process.plan
    report = type("R", (), {"errors": [
        {"lineno": 2, "import": True, "type": "ModuleNotFoundError",
         "message": "No module named 'tqdm'"},
        {"lineno": 3, "import": True, "type": "ModuleNotFoundError",
         "message": "No module named 'utils'"}], "defined": ["forward"]})()
    notes = missing.load_notes(process.source, plan, report, "perceptron")
    assert notes[0].startswith("perceptron.py, line 2: `from tqdm import tqdm` failed: `tqdm` is "
                               "not installed where the grader runs")
    assert notes[1] == ("perceptron.py, line 3: `from utils import one_hot  # my helpers` failed: "
                        "there is no module `utils` where the grader runs: if it is a file of "
                        "yours, hand in utils.py with your file (the whole folder)")


def test_labels_turned_one_hot_or_float_for_the_loss_are_recognised(spawn):
    source = '''\
import torch
import torch.nn.functional as F


def valid_loop(dataloader, model, loss_fn):
    total = 0.
    with torch.no_grad():
        for x, t in dataloader:
            total += loss_fn(model(x), F.one_hot(t, 10)).item()
    return total / len(dataloader)


def valid_loop_float(dataloader, model, loss_fn):
    total = 0.
    for x, t in dataloader:
        total += loss_fn(model(x), t.float()).item()
    return total / len(dataloader)
'''
    student, _ = spawn(source, ["valid_loop", "valid_loop_float"], module="mlp_pixels")
    loader = [(torch.rand(2, 4), torch.tensor([0, 1]))]
    model, loss = student.lib("torch.nn.Linear")(4, 10), student.lib("torch.nn.CrossEntropyLoss")()
    with pytest.raises(StudentError) as e:
        student.valid_loop(loader, model, loss)
    assert "line 9, in valid_loop" in str(e.value)
    assert "takes the class indices themselves" in str(e.value)
    with pytest.raises(StudentError) as e:
        student.valid_loop_float(loader, model, loss)
    assert "do not convert them with `.float()`" in str(e.value)
