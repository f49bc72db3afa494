"""Similarity across a batch: copied code (renamed variables, a notebook copy of a .py) ranks
above everything else, code shared only through the starter file does not, and students whose
failing checks return the same wrong values are paired. It flags and never changes a grade."""

import csv
import io
import re
import shutil
from pathlib import Path

import pytest

from corpus import as_notebook
from grader.assignment import load_assignment
from grader.batch import run_batch, write_student
from grader.results import GradingResult
from grader.similarity import (FLAG_THRESHOLD, KEPT_CODE, compare, load_students, run,
                               save_kept_code, starter_code)

ASSIGNMENT = "perceptron"
FUNCTIONS = ["init_params", "forward", "update", "accuracy", "softmax", "cross_entropy"]

# Five ways students write each function of the perceptron practical (bodies only).
VARIANTS = {
    "init_params": [
        """    w = torch.empty(n_in, n_out, dtype=torch.float32).uniform_(-0.001, 0.001, generator=generator)
    b = torch.empty(1, n_out, dtype=torch.float32).uniform_(-0.001, 0.001, generator=generator)
    return w, b""",
        """    w = (torch.rand(n_in, n_out, generator=generator) * 2 - 1) * 1e-3
    b = (torch.rand(1, n_out, generator=generator) * 2 - 1) * 1e-3
    return w, b""",
        """    def draw(shape):
        return torch.rand(*shape, generator=generator, dtype=torch.float32).mul(0.002).sub(0.001)
    return draw((n_in, n_out)), draw((1, n_out))""",
        """    low, high = -0.001, 0.001
    weights = low + (high - low) * torch.rand((n_in, n_out), generator=generator)
    bias = low + (high - low) * torch.rand((1, n_out), generator=generator)
    return weights, bias""",
        """    params = []
    for shape in [(n_in, n_out), (1, n_out)]:
        tensor = torch.zeros(shape)
        tensor.uniform_(-1e-3, 1e-3, generator=generator)
        params.append(tensor)
    return tuple(params)""",
    ],
    "forward": [
        "    return x @ w + b",
        "    return torch.mm(x, w) + b",
        "    y = torch.matmul(x, w)\n    y = y + b\n    return y",
        "    return torch.addmm(b, x, w)",
        "    out = x.mm(w)\n    out += b\n    return out",
    ],
    "update": [
        """    grad = t - forward(x, w, b)
    w += eta * (x.T @ grad)
    b += eta * grad.sum(dim=0, keepdim=True)""",
        """    error = t - x @ w - b
    w.add_(eta * torch.mm(x.t(), error))
    b.add_(eta * error.sum(0, keepdim=True))""",
        """    y = forward(x, w, b)
    delta = (t - y)
    dw = x.transpose(0, 1).matmul(delta)
    db = delta.sum(axis=0).unsqueeze(0)
    w[:] = w + eta * dw
    b[:] = b + eta * db""",
        """    gw = torch.zeros_like(w)
    gb = torch.zeros_like(b)
    for xi, ti in zip(x, t):
        ei = ti - (xi @ w + b[0])
        gw += torch.outer(xi, ei)
        gb[0] += ei
    w += eta * gw
    b += eta * gb""",
        """    residual = t.sub(forward(x, w, b))
    w.addmm_(x.T, residual, alpha=eta)
    b.add_(residual.sum(dim=0, keepdim=True), alpha=eta)""",
    ],
    "accuracy": [
        """    predicted = forward(x, w, b).argmax(dim=1)
    return (predicted == t.argmax(dim=1)).float().mean().item()""",
        """    y = forward(x, w, b)
    correct = torch.sum(torch.argmax(y, 1) == torch.argmax(t, 1)).item()
    return correct / x.shape[0]""",
        """    n_ok = 0
    for yi, ti in zip(forward(x, w, b), t):
        if yi.argmax() == ti.argmax():
            n_ok += 1
    return n_ok / len(t)""",
        """    _, pred = torch.max(x @ w + b, dim=1)
    _, true = torch.max(t, dim=1)
    return float((pred == true).sum()) / float(t.size(0))""",
        "    return torch.eq(forward(x, w, b).max(1)[1], t.max(1)[1]).double().mean().item()",
    ],
    "softmax": [
        """    e = torch.exp(z - z.max(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)""",
        """    m, _ = torch.max(z, dim=1, keepdim=True)
    ez = (z - m).exp()
    s = ez.sum(1, keepdim=True)
    return ez / s""",
        """    rows = []
    for row in z:
        r = torch.exp(row - row.max())
        rows.append(r / r.sum())
    return torch.stack(rows)""",
        """    shifted = z - z.amax(1, keepdim=True)
    return torch.exp(shifted - torch.logsumexp(shifted, dim=1, keepdim=True))""",
        """    c = z.max(dim=-1, keepdim=True)[0]
    num = torch.exp(z - c)
    den = torch.sum(num, dim=-1, keepdim=True)
    return torch.div(num, den)""",
    ],
    "cross_entropy": [
        """    shifted = z - z.max(dim=1, keepdim=True).values
    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    return -(t * log_probs).sum(dim=1).mean()""",
        """    logp = z - torch.logsumexp(z, dim=1, keepdim=True)
    return -torch.mean(torch.sum(t * logp, dim=1))""",
        """    total = 0.0
    for zi, ti in zip(z, t):
        m = zi.max()
        lse = m + torch.log(torch.exp(zi - m).sum())
        total = total - (ti * (zi - lse)).sum()
    return total / z.shape[0]""",
        """    p = softmax(z)
    return -(t * torch.log(p.clamp_min(1e-12))).sum() / z.size(0)""",
        """    m = z.amax(dim=1, keepdim=True)
    lse = m.squeeze(1) + (z - m).exp().sum(1).log()
    picked = (t * z).sum(1)
    return (lse - picked).mean()""",
    ],
}
STUB = "    # TODO: your code here\n    raise NotImplementedError"


def solution(starter: str, choice: dict[str, int | None]) -> str:
    """The starter with each function's stub replaced by the chosen variant (None: left)."""
    text = starter
    for name, index in choice.items():
        if index is None:
            continue
        head = re.search(rf"def {name}\(.*?\n(?:    .*\n|\n)*?{re.escape(STUB)}", text)
        assert head, name
        text = text[:head.start()] + head.group(0).replace(STUB, VARIANTS[name][index]) + \
            text[head.end():]
    return text


def rs_choice(a: int, b: int) -> dict[str, int]:
    """Reed-Solomon over GF(5): two students agree on at most one of the first five functions."""
    choice = {name: (a + b * f) % 5 for f, name in enumerate(FUNCTIONS[:5])}
    choice["cross_entropy"] = (2 * a + 3 * b) % 5
    return choice


RENAMES = {"grad": "gradient", "predicted": "y_hat", "shifted": "zc", "log_probs": "lsm",
           "error": "err", "residual": "diff", "weights": "W", "bias": "B0", "correct": "hits",
           "rows": "outs", "total": "acc_loss", "delta": "d", "params": "ps", "tensor": "p",
           "ez": "expz", "num": "numer", "den": "denom", "lse": "logsum", "logp": "lp"}


def renamed(code: str) -> str:
    """A copy with its local names renamed and a comment of its own per function."""
    for old, new in RENAMES.items():
        code = re.sub(rf"\b{old}\b", new, code)
    return code.replace("    # TODO", "    # done").replace('"""\n    ', '"""\n    # my version\n    ')


# (key, how it is made): the three real pairs, the starter-only pair, six others
CLASS = {
    "s01": ("py", rs_choice(0, 1)), "s02": ("renamed", "s01"),
    "s03": ("py", rs_choice(1, 2)), "s04": ("renamed", "s03"),
    "s05": ("py", rs_choice(2, 3)), "s06": ("notebook", "s05"),
    # the starter-only pair: each wrote one function (not the same), the rest is the starter
    "s07": ("py", {"forward": 0}), "s08": ("py", {"softmax": 2}),
    "s09": ("py", rs_choice(3, 4)), "s10": ("py", rs_choice(4, 0)),
    "s11": ("py", rs_choice(0, 3)), "s12": ("py", rs_choice(2, 1)),
}
REAL_PAIRS = {("s01", "s02"), ("s03", "s04"), ("s05", "s06")}
STARTER_PAIR = ("s07", "s08")


@pytest.fixture(scope="module")
def class_results(tmp_path_factory):
    """Twelve submissions, their kept code saved as `grade batch` saves it (no grading: the
    code signal needs only the slicer)."""
    assignment = load_assignment(ASSIGNMENT)
    starter = starter_code(assignment)
    assert "raise NotImplementedError" in starter
    root = tmp_path_factory.mktemp("similarity")
    codes = {}
    for key, (kind, what) in CLASS.items():
        folder = root / "submissions" / key
        folder.mkdir(parents=True)
        if kind == "py":
            codes[key] = solution(starter, what)
            (folder / "perceptron.py").write_text(codes[key])
        elif kind == "renamed":
            codes[key] = renamed(codes[what])
            (folder / "perceptron.py").write_text(codes[key])
        else:  # the .py of `what` pasted into a notebook, with experiments of its own
            as_notebook(codes[what], folder / "Perceptron.ipynb", [
                "w, b = init_params(784, 10)\nfor epoch in range(20):\n    update(x, t, w, b, 1e-5)",
                "import matplotlib.pyplot as plt\nplt.plot(losses)\nplt.show()"])
        out = root / "results" / key
        save_kept_code(assignment, folder, out)
        write_student(GradingResult(assignment=ASSIGNMENT, title="Perceptron",
                                    submission=str(folder), student=key), out)
    return assignment, root / "results"


def test_real_pairs_rank_first_and_the_starter_only_pair_does_not(class_results):
    assignment, results = class_results
    kept = (results / "s06" / KEPT_CODE).read_text()
    assert "range(20)" not in kept and "plt.plot" not in kept  # the notebook's experiments
    pairs = compare(load_students(results, assignment), starter_code(assignment))
    assert len(pairs) == 66
    ranked = [(p.a.key, p.b.key) for p in pairs]
    assert set(ranked[:3]) == REAL_PAIRS, [(k, round(p.code, 2)) for k, p in zip(ranked, pairs)][:6]
    real = [p for p in pairs if (p.a.key, p.b.key) in REAL_PAIRS]
    others = [p for p in pairs if (p.a.key, p.b.key) not in REAL_PAIRS]
    assert min(p.code for p in real) >= FLAG_THRESHOLD > max(p.code for p in others)
    assert all(p.flagged for p in real) and not any(p.flagged for p in others)
    starter_pair = next(p for p in pairs if (p.a.key, p.b.key) == STARTER_PAIR)
    assert starter_pair.code < 0.3


def test_without_the_starter_as_boilerplate_the_starter_pair_would_be_flagged(class_results):
    """What the boilerplate is for: the two stub-filled files look alike on their own."""
    assignment, results = class_results
    pairs = compare(load_students(results, assignment), boilerplate="")
    starter_pair = next(p for p in pairs if (p.a.key, p.b.key) == STARTER_PAIR)
    assert starter_pair.code >= FLAG_THRESHOLD


def test_reports_csv_pages_and_summary_link(class_results):
    assignment, results = class_results
    run(results, assignment)
    rows = list(csv.DictReader(io.StringIO((results / "similarity.csv").read_text())))
    assert len(rows) == 66
    assert {(r["id_a"], r["id_b"]) for r in rows[:3]} == REAL_PAIRS
    assert all(r["flagged"] == "yes" for r in rows[:3]) and rows[3]["flagged"] == ""
    page = (results / rows[0]["page"]).read_text()
    assert page.count("<mark>") >= 1 and rows[0]["student_a"] in page
    summary = (results / "summary.html").read_text()
    assert "similarity.html" in summary and rows[0]["page"] in summary


# ---- the second signal: same wrong values, from real gradings ----------------------------------

def test_same_wrong_values_pair_students_whose_code_differs(tmp_path):
    """Two students with the same unusual bug written differently (update steps twice as far)
    return the same wrong numbers on the update checks; a third, with another bug, does not.
    (Cross-entropy variant 3, unstable on extreme logits, would pair any two who wrote it:
    each student here has a stable one.)"""
    assignment = load_assignment(ASSIGNMENT)
    starter = starter_code(assignment)
    a = solution(starter, {**rs_choice(0, 1), "update": 0, "cross_entropy": 0}).replace("w += eta * (x.T @ grad)",
                                                   "w += 2 * eta * (x.T @ grad)")
    b = solution(starter, {**rs_choice(1, 2), "update": 1, "cross_entropy": 1}).replace("w.add_(eta * torch.mm(x.t(), error))",
                                                   "w.add_(2 * eta * torch.mm(x.t(), error))")
    c = solution(starter, {**rs_choice(3, 4), "init_params": 2, "cross_entropy": 4}).replace("return draw((n_in, n_out)), draw((1, n_out))",
                                                   "return draw((n_in, n_out)), draw((n_out,))")
    assert a.count("2 * eta") == 1 and b.count("2 * eta") == 1 and "draw((n_out,))" in c
    subs = tmp_path / "subs"
    for key, code in {"ana": a, "ben": b, "cleo": c}.items():
        (subs / key).mkdir(parents=True)
        (subs / key / "perceptron.py").write_text(code)
    out = tmp_path / "results"
    run_batch(assignment, subs, out, workers=2)
    grades_before = (out / "grades.csv").read_text()
    pairs = {(p.a.key, p.b.key): p for p in run(out, assignment)}
    pair = pairs[("ana", "ben")]
    assert pair.code < FLAG_THRESHOLD                   # the code does not give them away...
    assert len(pair.rare_wrong) >= 2 and pair.flagged   # ...their wrong numbers do
    assert not pairs[("ana", "cleo")].same_wrong and not pairs[("ben", "cleo")].same_wrong
    assert (out / "grades.csv").read_text() == grades_before  # a flag, never a grade change


def test_similarity_command(class_results):
    from typer.testing import CliRunner

    from grader.cli import app

    assignment, results = class_results
    out = CliRunner().invoke(app, ["similarity", str(results), "--assignment", ASSIGNMENT])
    assert out.exit_code == 0, out.output
    assert "66 pairs compared, 3 to look at" in out.output
