"""Rules of the exercise: the DIY framework is NumPy only, the perceptron computes its gradient
by hand. Read in the judge on the code the grader kept, and observed in the student process
for what a static reading misses; a violation fails the rule's own check, nothing else."""

import importlib.util
import tempfile
from pathlib import Path

import pytest

from corpus import as_notebook
from grader import rules, slicing
from grader.assignment import load_assignment
from grader.corpus import reference_text
from grader.judge import grade
from grader.submission import read_source

DIY_RULE = "Module NumPy only (the whole framework)"
PERCEPTRON_RULE = "update gradient by hand (no autograd in any function)"


def practical(name: str):
    assignment = load_assignment(name)
    return assignment, reference_text(assignment.folder / "corpus" / "bugs.py")


def rule_checks(name: str, code: str, filename: str | None = None, records=()):
    """The rule checks of ``code`` as the judge computes them (no grading: static reading)."""
    assignment = load_assignment(name)
    folder = Path(tempfile.mkdtemp())
    path = folder / (filename or f"{assignment.module}.py")
    if filename and filename.endswith(".ipynb"):
        as_notebook(code, path, EXPERIMENTS.get(name, []))
    else:
        path.write_text(code)
    source = read_source(path, assignment.module)
    plan = slicing.plan(source.text, source.display_name, assignment.required)
    return {c.name: c for c in rules.rule_checks(assignment, source, plan, list(records))}


EXPERIMENTS = {"diy": [
    "import torch\nnet = torch.nn.Linear(256, 10)\nopt = torch.optim.SGD(net.parameters(), 0.1)\n"
    "loss = net(torch.randn(4, 256)).sum()\nloss.backward()\nprint(torch.autograd.grad)"]}

TANH = "        return np.tanh(X)\n"
LINEAR_DELTA = '        return delta @ self._parameters["W"].T\n'
AUTOGRAD_DELTA = '''        import torch
        X = torch.tensor(input, requires_grad=True)
        out = X @ torch.tensor(self._parameters["W"])
        out.backward(torch.tensor(delta))
        return X.grad.numpy()
'''
PERCEPTRON_STEP = '''    grad = t - forward(x, w, b)             # [B, n_out]: how far each output is from its target
    w += eta * (x.T @ grad)                 # [n_in, B] @ [B, n_out]
    b += eta * grad.sum(dim=0, keepdim=True)  # every sample of the batch moves the bias
'''
AUTOGRAD_STEP = '''    w.requires_grad_(True)
    b.requires_grad_(True)
    loss = 0.5 * ((t - forward(x, w, b)) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        w -= eta * w.grad
        b -= eta * b.grad
    w.grad = None
    b.grad = None
    w.requires_grad_(False)
    b.requires_grad_(False)
'''


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# ---- the static reading ------------------------------------------------------------------------

def test_diy_autograd_in_one_backward_loses_the_rule():
    assignment, reference = practical("diy")
    check = rule_checks("diy", edit(reference, LINEAR_DELTA, AUTOGRAD_DELTA))[DIY_RULE]
    assert check.status == "failed" and check.score == 0 and check.max_score > 0
    assert check.message.startswith("Linear.backward_delta uses import torch, torch.tensor")
    assert "diy.py, line" in check.message and "by hand with NumPy" in check.message


def test_diy_torch_under_another_name():
    assignment, reference = practical("diy")
    code = edit(edit(reference, "import numpy as np\n", "import numpy as np\nimport torch as xp\n"),
                TANH, "        return xp.tanh(xp.from_numpy(X)).numpy()\n")
    check = rule_checks("diy", code)[DIY_RULE]
    assert check.status == "failed"
    assert check.message.startswith("TanH.forward uses torch.from_numpy, torch.tanh")


@pytest.mark.parametrize("call", [
    'getattr(__import__("torch"), "tanh")(getattr(__import__("torch"), "from_numpy")(X)).numpy()',
    'getattr(__import__("to" + "rch"), "tanh")(getattr(__import__("to" + "rch"), "from_numpy")(X)).numpy()',
    '__import__("importlib").import_module("torch").tanh(X)',
], ids=["getattr", "computed-name", "importlib"])
def test_diy_torch_through_getattr_and_import(call):
    assignment, reference = practical("diy")
    check = rule_checks("diy", edit(reference, TANH, f"        return {call}\n"))[DIY_RULE]
    assert check.status == "failed" and check.message.startswith("TanH.forward uses ")


def test_diy_top_level_experiments_in_a_notebook_do_not_count():
    assignment, reference = practical("diy")
    check = rule_checks("diy", reference, "DIY.ipynb")[DIY_RULE]
    assert check.status == "passed", check.message
    # the same torch code in a helper the framework uses is graded code: it counts
    helper = "def _torch_tanh(X):\n    import torch\n    return torch.tanh(torch.from_numpy(X)).numpy()\n\n\n"
    code = edit(reference, "class Loss:", helper + "class Loss:")
    check = rule_checks("diy", edit(code, TANH, "        return _torch_tanh(X)\n"))[DIY_RULE]
    assert check.status == "failed" and check.message.startswith("_torch_tanh")


def test_perceptron_update_with_backward_loses_the_rule():
    assignment, reference = practical("perceptron")
    check = rule_checks("perceptron", edit(reference, PERCEPTRON_STEP, AUTOGRAD_STEP))[PERCEPTRON_RULE]
    assert check.status == "failed"
    assert check.message.startswith("update uses .requires_grad_, .backward")
    for forbidden in ["torch.nn.functional.softmax(z, dim=1)", "torch.autograd.grad(z.sum(), z)"]:
        code = edit(reference, "    return e / e.sum(dim=1, keepdim=True)\n",
                    f"    return {forbidden}\n")
        assert rule_checks("perceptron", code)[PERCEPTRON_RULE].message.startswith("softmax uses torch.")


def test_no_grad_around_a_hand_made_step_is_allowed():
    assignment, reference = practical("perceptron")
    code = edit(reference, PERCEPTRON_STEP, "    with torch.no_grad():\n" + "".join(
        "    " + line + "\n" for line in PERCEPTRON_STEP.splitlines()))
    assert rule_checks("perceptron", code)[PERCEPTRON_RULE].status == "passed"


@pytest.mark.parametrize("name", ["diy", "perceptron"])
def test_reference_valid_variants_and_every_corpus_bug_keep_the_rule(name):
    """The corpus asserts exact losses: no seeded bug may lose the rule check."""
    assignment, reference = practical(name)
    rule = DIY_RULE if name == "diy" else PERCEPTRON_RULE
    assert rule_checks(name, reference)[rule].status == "passed"
    corpus = assignment.folder / "corpus"
    variants = [p for d in sorted(corpus.iterdir()) if d.is_dir() and not d.name.startswith("_")
                for p in sorted(d.iterdir()) if p.suffix in (".py", ".ipynb")]
    assert variants
    for path in variants:
        source = read_source(path, assignment.module)
        plan = slicing.plan(source.text, source.display_name, assignment.required)
        check = {c.name: c for c in rules.rule_checks(assignment, source, plan, [])}[rule]
        assert check.status == "passed", (path, check.message)
    spec = importlib.util.spec_from_file_location(f"_bugs_{name}", corpus / "bugs.py")
    bugs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bugs)
    for mutation in bugs.BUGS:
        assert rule_checks(name, mutation.apply(reference))[rule].status == "passed", mutation.name


@pytest.mark.parametrize("name", ["diy", "perceptron"])
def test_the_starter_gets_no_rule_points(name):
    assignment = load_assignment(name)
    starter = (assignment.folder / "starter" / f"{assignment.module}.py").read_text()
    check = next(iter(rule_checks(name, starter).values()))
    assert check.score == 0 and "is not implemented yet" in check.message


def test_the_child_can_add_a_violation_never_clear_one():
    assignment, reference = practical("diy")
    bad = edit(reference, LINEAR_DELTA, AUTOGRAD_DELTA)
    # a child reporting nothing, or junk, changes nothing
    assert rule_checks("diy", bad, records=[])[DIY_RULE].status == "failed"

    class Liar:
        running = True

        def request(self, *args, **kwargs):
            return [{"what": "x" * 10_000, "function": 3, "line": "7"}, "junk", {"what": 1}]

    assert rules.runtime_records(Liar()) == []
    # a record inside the graded code adds a violation the static reading did not see
    line = reference.splitlines().index(TANH.rstrip("\n")) + 1
    seen = [{"what": "torch.tanh", "function": "forward", "line": line}]
    check = rule_checks("diy", reference, records=seen)[DIY_RULE]
    assert check.status == "failed" and check.message.startswith("TanH.forward calls torch.tanh when it runs")
    # ... and one outside it (top-level code, the grader's own) adds nothing
    assert rule_checks("diy", reference, records=[{**seen[0], "line": 1}])[DIY_RULE].status == "passed"


# ---- graded: the rule's own check, the element's other checks still run ----------------------

def test_graded_diy_dodge_seen_in_the_student_process(tmp_path):
    """`sys.modules["to" + "rch"]` has no import for the static reading to see: the student
    process sees torch called while TanH.forward runs."""
    assignment, reference = practical("diy")
    code = edit(edit(reference, "import numpy as np\n", "import numpy as np\nimport sys\n"), TANH,
                '        return sys.modules["to" + "rch"].tanh(sys.modules["to" + "rch"].from_numpy(X)).numpy()\n')
    assert rule_checks("diy", code)[DIY_RULE].status == "passed"  # static reading: nothing
    (tmp_path / "diy.py").write_text(code)
    result = grade(tmp_path / "diy.py", "diy", hidden=False)
    failed = {c.name: c for c in result.checks if not c.passed}
    assert set(failed) == {DIY_RULE}, {n: c.message for n, c in failed.items()}
    assert failed[DIY_RULE].message.startswith("TanH.forward calls torch.")
    assert any(c.name.startswith("TanH") and c.passed for c in result.checks)


def test_graded_perceptron_update_with_backward(tmp_path):
    assignment, reference = practical("perceptron")
    (tmp_path / "perceptron.py").write_text(edit(reference, PERCEPTRON_STEP, AUTOGRAD_STEP))
    result = grade(tmp_path / "perceptron.py", "perceptron", hidden=False)
    failed = {c.name: c for c in result.checks if not c.passed}
    assert set(failed) == {PERCEPTRON_RULE}, {n: c.message for n, c in failed.items()}
    assert failed[PERCEPTRON_RULE].score == 0 and failed[PERCEPTRON_RULE].max_score == 2
    assert sum(c.name.startswith("update") and c.passed for c in result.checks) >= 2


def test_an_instructor_rule_with_calls_per_element(tmp_path):
    """A rule added by an instructor: forbidden calls (patterns), one check per element."""
    import shutil

    from grader.assignment import load_folder

    folder = tmp_path / "perceptron"
    shutil.copytree(load_assignment("perceptron").folder, folder,
                    ignore=shutil.ignore_patterns("corpus", "__pycache__"))
    with open(folder / "assignment.toml", "a") as f:
        f.write('\n[[rules]]\ncheck = "without a library solver"\nscope = "each"\n'
                'elements = ["forward", "softmax"]\npoints = 1\n'
                'calls = ["torch.linalg.*", "*.softmax"]\nmessage = "write it with + and @"\n')
    assignment = load_folder(folder)
    reference = practical("perceptron")[1]
    code = edit(reference, "    return e / e.sum(dim=1, keepdim=True)\n",
                "    return z.softmax(dim=1)\n")
    path = tmp_path / "sub" / "perceptron.py"
    path.parent.mkdir()
    path.write_text(code)
    source = read_source(path, assignment.module)
    plan = slicing.plan(source.text, source.display_name, assignment.required)
    checks = {c.name: c for c in rules.rule_checks(assignment, source, plan, [])}
    assert checks["forward without a library solver"].status == "passed"
    softmax = checks["softmax without a library solver"]
    assert softmax.status == "failed" and softmax.max_score == 1
    assert softmax.message.startswith("softmax uses softmax() (perceptron.py, line "), softmax.message
    assert softmax.message.endswith(": write it with + and @")
    assert checks[PERCEPTRON_RULE].status == "passed"  # the practical's own rule is untouched
    assert ("softmax without a library solver", 1.0, "public") in rules.listed_checks(assignment)
