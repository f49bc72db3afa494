"""Our grader side by side with nbgrader 0.9 ``autograde``, on the same MLP_pixels notebooks.

    bash benchmarks/nbgrader_env.sh        # once: nbgrader in benchmarks/.venv-nbgrader
    .venv/bin/python benchmarks/bench_nbgrader.py [--notebooks 10] [--epochs 3|20] [--kernel-threads 1]

5. ``--notebooks`` MLP_pixels notebooks written as this course's students write them (the
   reference, the corpus's valid variants — explicit layers, transposed parameters, the
   package flattened — and one in the students' own style, cycled), each with the data
   loading at the top (the offline MNIST subset: 4,000 training images, 500 valid, 500 held
   out) and a top-level training cell: tiny (3 epochs) or the handout's own (20 epochs, SGD,
   batch 64, lr 1e-2); ``--epochs`` picks one, both by default. Graded twice, sequentially:

   * nbgrader: a real course folder (``source/ps1/MLP_pixels.ipynb`` with solution cells and
     one autograded test cell — the parameter count, the output shape and a 5-epoch Adam
     accuracy on the held-out images, 3 points), ``nbgrader generate_assignment``, each
     student's code put in the release notebook's solution cells, then ``nbgrader autograde``
     timed as a whole (one kernel per notebook, which runs every cell: the student's training
     included). Every student must get 3/3 in the gradebook and no cell may fail;
   * ours: the same notebook files, ``grade batch --workers 1`` (hidden checks included: all
     of our checks), timed as a whole; every student must get full marks in grades.csv, and
     the code the grader kept (``kept_code.py``) must hold neither the data loading nor the
     training (the notebook's top level is not run).

   Per notebook = total / notebooks; the ratio ours / nbgrader, target ≤ 1.0 (never slower
   than nbgrader, even at 3 epochs, while running all our checks). Both CLIs' start-up is in
   their totals. Our per-request limits are measured before (once per machine, cached). Also
   printed: the same ratio for a student after the first (ours: the time between two results
   written; nbgrader: a notebook's turn in its log), which leaves out the one-off start-ups.

Threads: our student process runs with 1 thread (``threads = 1`` in assignment.toml);
nbgrader's kernels get the same by default (OMP_NUM_THREADS = MKL_NUM_THREADS = 1 in
nbgrader's environment, which the kernels inherit); ``--kernel-threads 0`` leaves them
unset: torch's default, one thread per core. The machine's load is printed before and after:
the CPUs may be shared. Where the time goes is printed too: for nbgrader, from the kernels'
own cell timings (kernel start, imports and data, definitions, training, test cell); for
ours, the first student (worker and zygote start) against the others.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
NBGRADER_VENV = Path(os.environ.get("NBGRADER_VENV", REPO / "benchmarks" / ".venv-nbgrader"))
NOTEBOOK = "MLP_pixels.ipynb"
TEST_POINTS = 3

from grader import limits  # noqa: E402
from grader.assignment import load_assignment  # noqa: E402
from grader.data import mnist5k_path  # noqa: E402

# The handout's set-up cell, at the top of every notebook: the offline MNIST subset (sorted
# by class in its CSV, hence the shuffle), 4,000 / 500 / 500 images, batches of 64.
DATA_CELL = '''\
import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

DATA = "{path}"  # the offline MNIST subset: 5,000 images, 784 pixels then the label
table = pd.read_csv(DATA, header=None).to_numpy()
table = table[np.random.default_rng(0).permutation(len(table))]  # the file is sorted by class
images = torch.tensor(table[:, :784] / 255, dtype=torch.float32).reshape(-1, 1, 28, 28)
labels = torch.tensor(table[:, 784], dtype=torch.int64)
torch.manual_seed(0)
train_loader = DataLoader(TensorDataset(images[:4000], labels[:4000]), batch_size=64, shuffle=True)
valid_loader = DataLoader(TensorDataset(images[4000:4500], labels[4000:4500]), batch_size=64)
test_loader = DataLoader(TensorDataset(images[4500:], labels[4500:]), batch_size=64)
'''

# The student's top-level training cell: the handout's first experiment.
TRAINING_CELL = '''\
# SGD, batch 64, lr 1e-2: train, keep the best epoch, test it
model = MLP()
optimizer = make_optimizer("SGD", model.parameters(), 1e-2)
history = fit(model, train_loader, valid_loader, nn.CrossEntropyLoss(), optimizer, {epochs}, "best.pt")
model.load_state_dict(torch.load("best.pt"))
n_correct, n_total, y_pred = perf_loop(test_loader, model)
print(f"test accuracy {{n_correct / n_total:.3f}} (best epoch {{history['best_epoch']}})")
'''

# nbgrader's autograded test cell (locked, 3 points): what such a course checks by hand.
TEST_CELL = '''\
# Autograded: the parameter count, the output shape, the accuracy after 5 epochs of Adam
assert count_parameters(MLP()) == 468874
assert MLP(hidden=(256,))(torch.zeros(7, 1, 28, 28)).shape == (7, 10)
torch.manual_seed(0)
check_model = MLP(activation=nn.ReLU)
check_optimizer = make_optimizer("Adam", check_model.parameters(), 1e-3)
for epoch in range(5):
    train_loop(train_loader, check_model, nn.CrossEntropyLoss(), check_optimizer)
n_correct, n_total, _ = perf_loop(test_loader, check_model)
assert n_correct / n_total >= 0.90, f"accuracy {n_correct / n_total:.3f} after 5 epochs"
'''

# A student's own style (what the course's students write: float counts, torch.max on
# .data, enumerate over the loader, a device global, an OrderedDict, numpy means, prints).
STUDENT_STYLE = '''\
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

device = torch.device("cpu")


class MLP(nn.Module):
    def __init__(self, input_features=784, hidden=(512, 128), n_classes=10, activation=nn.Sigmoid):
        super(MLP, self).__init__()
        layers = OrderedDict()
        previous = input_features
        for i, h in enumerate(hidden):
            layers["fc%d" % (i + 1)] = nn.Linear(previous, h)
            layers["act%d" % (i + 1)] = activation()
            previous = h
        layers["out"] = nn.Linear(previous, n_classes)
        self.net = nn.Sequential(layers)

    def forward(self, x):
        x = torch.flatten(x, start_dim=1)
        return self.net(x)


def count_parameters(model):
    n = 0
    for name, param in model.named_parameters():
        if param.requires_grad:
            n += param.numel()
    return n


def train_loop(dataloader, model, loss_fn, optimizer):
    model.train()
    running_loss = 0.
    for i, data in enumerate(dataloader):
        inputs, labels = data
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    return running_loss / (i + 1)


def valid_loop(dataloader, model, loss_fn):
    model.eval()
    losses = []
    with torch.no_grad():
        for inputs, labels in dataloader:
            outputs = model(inputs.to(device))
            losses.append(loss_fn(outputs, labels.to(device)).item())
    return float(np.mean(losses))


def perf_loop(dataloader, model):
    model.eval()
    acc = 0.
    total = 0.
    preds = []
    with torch.no_grad():
        for inputs, labels in dataloader:
            outputs = model(inputs.to(device))
            _, predicted = torch.max(outputs.data, 1)
            acc += (predicted == labels).sum().item()
            total += labels.size(0)
            preds.append(predicted)
    return acc, total, torch.cat(preds)


def make_optimizer(name, params, lr):
    if name.lower() == "sgd":
        optimizer = torch.optim.SGD(params, lr=lr)
    elif name.lower() == "adam":
        optimizer = torch.optim.Adam(params, lr=lr)
    else:
        raise ValueError("Unknown optimizer: " + name)
    return optimizer


def fit(model, trainloader, validloader, loss_fn, optimizer, epochs, checkpoint):
    train_losses = []
    valid_losses = []
    best_loss = np.inf
    best_epoch = 0
    for epoch in range(epochs):
        train_loss = train_loop(trainloader, model, loss_fn, optimizer)
        valid_loss = valid_loop(validloader, model, loss_fn)
        train_losses.append(train_loss)
        valid_losses.append(valid_loss)
        print(f"Epoch {epoch + 1}/{epochs} - train loss: {train_loss:.4f} - valid loss: {valid_loss:.4f}")
        if valid_loss < best_loss:
            best_loss = valid_loss
            best_epoch = epoch
            torch.save(model.state_dict(), checkpoint)
    return {"train_loss": train_losses, "valid_loss": valid_losses, "best_epoch": best_epoch}
'''


# --------------------------------------------------------------------------------------------
# The students' code
# --------------------------------------------------------------------------------------------

def student_sources(assignment) -> list[tuple[str, str]]:
    """(name, code) of the valid ways of writing the practical, as students hand them in."""
    corpus = assignment.folder / "corpus"
    reference = limits.reference_file(assignment).read_text()
    package = corpus / "package" / "mlp_pixels"
    return [
        ("reference", "\n".join(line for line in reference.splitlines()
                                if "### BEGIN SOLUTION" not in line
                                and "### END SOLUTION" not in line)),
        ("explicit_layers", (corpus / "explicit_layers" / "mlp_pixels.py").read_text()),
        ("transposed_parameters", (corpus / "transposed_parameters" / "mlp_pixels.py").read_text()),
        ("package", (package / "model.py").read_text() + "\n\n" + (package / "loops.py").read_text()),
        ("student_style", STUDENT_STYLE),
    ]


def split_by_element(source: str, elements: list[str]) -> dict[str, str]:
    """The student's code as nbgrader's solution cells hold it: one cell per required element,
    and a first cell ("imports") with everything else, in order (imports, constants, helpers).
    The module docstring and ``if __name__ == "__main__":`` blocks are left out: in a kernel
    the latter runs (here it would download MNIST)."""
    lines = source.splitlines()
    cells: dict[str, list[str]] = {"imports": [], **{e: [] for e in elements}}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            continue
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        name = getattr(node, "name", None)
        cells[name if name in elements else "imports"].append(
            "\n".join(lines[start - 1:node.end_lineno]))
    missing = [e for e in elements if not cells[e]]
    assert not missing, f"the student's code defines no {missing}"
    return {key: "\n\n\n".join(parts) for key, parts in cells.items()}


# --------------------------------------------------------------------------------------------
# nbgrader's course folder
# --------------------------------------------------------------------------------------------

def nbgrader_cell(source: str, grade_id: str, *, solution=False, grade=False, locked=False,
                  points=None):
    cell = nbformat.v4.new_code_cell(source)
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


def source_notebook(reference: dict[str, str], epochs: int) -> nbformat.NotebookNode:
    """The instructor's notebook: the set-up cell (locked), a solution cell per element plus
    one for the imports and one for the training, and the autograded test cell."""
    fence = "### BEGIN SOLUTION\n{}\n### END SOLUTION"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# MLP_pixels — a multi-layer perceptron on MNIST"),
                nbgrader_cell(DATA_CELL.format(path=mnist5k_path()), "data", locked=True)]
    for key, code in reference.items():
        nb.cells.append(nbgrader_cell(fence.format(code), key, solution=True))
    nb.cells.append(nbgrader_cell(fence.format(TRAINING_CELL.format(epochs=epochs)), "training",
                                  solution=True))
    nb.cells.append(nbgrader_cell(TEST_CELL, "test_mlp", grade=True, locked=True,
                                  points=TEST_POINTS))
    return nb


def nbgrader_env(kernel_threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{NBGRADER_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(NBGRADER_VENV)
    # The kernel nbgrader starts is this venv's python3 kernelspec, found first.
    env["JUPYTER_PATH"] = str(NBGRADER_VENV / "share" / "jupyter")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if kernel_threads > 0:
            env[name] = str(kernel_threads)  # inherited by every kernel nbgrader starts
        else:
            env.pop(name, None)
    return env


def nbgrader(args: list[str], course: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    run = subprocess.run([str(NBGRADER_VENV / "bin" / "nbgrader"), *args], cwd=course, env=env,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(args)} failed ({run.returncode}):\n"
                         f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return run


KERNEL_CHECK = '''\
import nbclient, nbformat
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    "import sys, torch; print(torch.get_num_threads(), sys.executable)")])
nbclient.NotebookClient(nb, kernel_name="python3").execute()
print(nb.cells[0].outputs[0]["text"].strip())
'''


def kernel_threads(env: dict[str, str]) -> str:
    """What a kernel started as nbgrader starts its kernels reports: torch's thread count
    and its Python (that of the nbgrader venv)."""
    return subprocess.run([str(NBGRADER_VENV / "bin" / "python"), "-c", KERNEL_CHECK], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()


GRADEBOOK = '''\
import json
from nbgrader.api import Gradebook
with Gradebook("sqlite:///gradebook.db") as gb:
    print(json.dumps({s.id: [gb.find_submission("ps1", s.id).score,
                             gb.find_submission("ps1", s.id).max_score] for s in gb.students}))
'''


def cell_times(notebook: Path) -> dict[str, float]:
    """Seconds each cell ran in the kernel, keyed by grade_id (nbclient records each cell's
    start and end in its metadata), plus the first cell's start and the last one's end
    (timestamps)."""
    nb = nbformat.read(notebook, as_version=4)
    times: dict[str, float] = {}
    for cell in nb.cells:
        stamps = cell.metadata.get("execution", {})
        if "iopub.execute_input" not in stamps or "shell.execute_reply" not in stamps:
            continue
        began, ended = (datetime.fromisoformat(stamps[key].replace("Z", "+00:00")).timestamp()
                        for key in ("iopub.execute_input", "shell.execute_reply"))
        times.setdefault("first_start", began)
        times["last_end"] = ended
        times[cell.metadata["nbgrader"]["grade_id"]] = ended - began
    return times


def log_times(log: str, student: str) -> dict[str, float]:
    """When nbgrader began the student's turn, started executing its notebook and was done
    with it, from its log lines (stamped by the course's nbgrader_config.py)."""
    marks = {"begin": f"Creating/updating student with ID '{student}'",
             "execute": "Autograding ", "done": "Setting destination file permissions"}
    found: dict[str, float] = {}
    mine = False
    for line in log.splitlines():
        stamp, _, message = line.partition(" ")
        if not stamp.replace(".", "").isdigit():
            continue  # the kernels' own lines
        if marks["begin"] in message:
            mine = True
            found["begin"] = float(stamp)
        elif mine and marks["execute"] in message and f"/{student}/" in message:
            found["execute"] = float(stamp)
        elif mine and marks["done"] in message:
            found["done"] = float(stamp)
            break
    return found


def nbgrader_breakdown(course: Path, log: str, students, reference, epochs: int,
                       started: float, ended: float) -> tuple[dict[str, float], list[float]]:
    """Mean seconds per notebook of each part of nbgrader's work, and its start-up; and each
    notebook's turn (seconds from nbgrader's first line about it to its last)."""
    parts: dict[str, list[float]] = {}
    turns = []
    first_begin = last_done = None
    for student, _ in students:
        logged = log_times(log, student)
        cells = cell_times(course / "autograded" / student / "ps1" / NOTEBOOK)
        if set(logged) != {"begin", "execute", "done"} or "test_mlp" not in cells:
            return {}, []  # an unexpected log: no breakdown rather than a wrong one
        first_begin = logged["begin"] if first_begin is None else first_begin
        last_done = logged["done"]
        turns.append(logged["done"] - logged["begin"])
        ran = ["data", *reference, "training", "test_mlp"]
        for what, seconds in [
                ("gradebook, sanitizing, copying (nbgrader)", logged["execute"] - logged["begin"]),
                ("kernel start (to the first cell's start)", cells["first_start"] - logged["execute"]),
                ("set-up cell: imports (torch, pandas), data", cells["data"]),
                ("definitions", sum(cells[k] for k in reference)),
                (f"training cell ({epochs} epochs)", cells["training"]),
                ("test cell (5 epochs of Adam, predictions)", cells["test_mlp"]),
                ("between cells", cells["last_end"] - cells["first_start"]
                 - sum(cells[k] for k in ran)),
                ("kernel shut-down, grades saved", logged["done"] - cells["last_end"])]:
            parts.setdefault(what, []).append(seconds)
    breakdown = {what: statistics.mean(values) for what, values in parts.items()}
    breakdown["once: nbgrader's start-up and end (per notebook)"] = (
        (first_begin - started) + (ended - last_done)) / len(students)
    return breakdown, turns


def errors_in(notebook: Path) -> list[str]:
    nb = nbformat.read(notebook, as_version=4)
    return [f"{cell.metadata.get('nbgrader', {}).get('grade_id')}: {out.get('ename')}: "
            f"{out.get('evalue')}"
            for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def run_nbgrader(work: Path, students: list[tuple[str, dict[str, str]]],
                 reference: dict[str, str], epochs: int, kernel_threads: int) -> dict:
    course = work / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        'c.CourseDirectory.course_id = "dl-mlp-pixels"\n'
        "c.Execute.timeout = 600  # a cell; nbgrader's default 30 s would cut a long training\n"
        # Each log line stamped, to tell each notebook's share of the total.
        'c.Application.log_format = "%(created).3f [%(name)s | %(levelname)s] %(message)s"\n')
    nbformat.write(source_notebook(reference, epochs), course / "source" / "ps1" / NOTEBOOK)
    env = nbgrader_env(kernel_threads)
    nbgrader(["generate_assignment", "ps1", "--force"], course, env)
    release = nbformat.read(course / "release" / "ps1" / NOTEBOOK, as_version=4)
    training = TRAINING_CELL.format(epochs=epochs)
    for student, cells in students:
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                cell.source = training if meta["grade_id"] == "training" else cells[meta["grade_id"]]
        folder = course / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NOTEBOOK)

    started = time.time()  # the log's clock
    run = nbgrader(["autograde", "ps1", "--force"], course, env)
    ended = time.time()
    wall = ended - started

    scores = json.loads(subprocess.run(
        [str(NBGRADER_VENV / "bin" / "python"), "-c", GRADEBOOK], cwd=course, env=env,
        capture_output=True, text=True, check=True).stdout)
    problems = []
    for student, _ in students:
        score = scores.get(student)
        if score != [TEST_POINTS, TEST_POINTS]:
            problems.append(f"{student}: gradebook score {score}, expected {TEST_POINTS}/{TEST_POINTS}")
        graded = course / "autograded" / student / "ps1" / NOTEBOOK
        problems += [f"{student}: {e}" for e in (errors_in(graded) if graded.is_file()
                                                 else ["no autograded notebook"])]
    if problems:
        raise SystemExit("nbgrader's autograde did not grade as expected:\n  " + "\n  ".join(problems)
                         + f"\n{run.stderr[-3000:]}")

    breakdown, turns = nbgrader_breakdown(course, run.stderr, students, reference, epochs,
                                   started, ended)
    return {"wall": wall, "breakdown": breakdown, "turns": turns}


# --------------------------------------------------------------------------------------------
# Our side
# --------------------------------------------------------------------------------------------

def run_ours(work: Path, course: Path, students: list[tuple[str, dict[str, str]]]) -> dict:
    """``grade batch`` on the very notebooks nbgrader graded (the submitted ones)."""
    subs, out = work / "subs", work / "results"
    for student, _ in students:
        (subs / student).mkdir(parents=True)
        shutil.copy(course / "submitted" / student / "ps1" / NOTEBOOK, subs / student / NOTEBOOK)
    started = time.time()
    run = subprocess.run([str(REPO / ".venv" / "bin" / "grade"), "batch", str(subs),
                          "--assignment", "mlp_pixels", "--out", str(out), "--workers", "1",
                          "--force"], capture_output=True, text=True)
    wall = time.time() - started
    problems = [] if run.returncode in (0, 1) else [f"grade batch exited {run.returncode}"]
    with open(out / "grades.csv", newline="") as f:
        rows = {row["id"]: row for row in csv.DictReader(f)}
    for student, _ in students:
        row = rows.get(student)
        if row is None or row["status"] != "graded" or not row["total"] or \
                float(row["total"]) != float(row["max"]):
            problems.append(f"{student}: grades.csv row {row}")
            continue
        kept = (out / student / "kept_code.py").read_text()
        for ran in ("read_csv", "fit(model, train_loader", "n_correct / n_total"):
            if ran in kept:
                problems.append(f"{student}: kept_code.py holds the notebook's top level ({ran})")
    if problems:
        raise SystemExit("grade batch did not grade as expected:\n  " + "\n  ".join(problems)
                         + f"\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    # Each student's result is written the moment it is known: their times tell the first
    # student (the worker's and the zygote's start-up) from the others.
    done = sorted((out / s / "grading.json").stat().st_mtime for s, _ in students)
    each = [b - a for a, b in zip([started] + done, done)]
    return {"wall": wall, "max": float(rows[students[0][0]]["max"]), "first": each[0],
            "others": statistics.mean(each[1:]) if len(each) > 1 else None,
            "after_last": wall - (done[-1] - started)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=int, default=10)
    parser.add_argument("--epochs", type=int, choices=(3, 20), action="append",
                        help="the top-level training cell's epochs (default: 3, then 20)")
    parser.add_argument("--kernel-threads", type=int, default=1,
                        help="OMP/MKL threads of nbgrader's kernels (0: unset, torch's default)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder, print it")
    args = parser.parse_args()
    if not (NBGRADER_VENV / "bin" / "nbgrader").exists():
        raise SystemExit(f"no nbgrader in {NBGRADER_VENV}: run `bash benchmarks/nbgrader_env.sh`")

    assignment = load_assignment("mlp_pixels")
    limits.for_machine(assignment)  # measured once per machine, before any timed run
    elements = list(assignment.required)
    variants = student_sources(assignment)
    students = [(f"student{n:02d}_{name}", split_by_element(code, elements))
                for n, (name, code) in ((n, variants[n % len(variants)])
                                        for n in range(args.notebooks))]
    reference = split_by_element(variants[0][1], elements)
    threads = (f"{args.kernel_threads} (OMP_NUM_THREADS, MKL_NUM_THREADS)" if args.kernel_threads
               else f"unset (torch's default: {os.cpu_count()} cores)")
    print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")
    print(f"{args.notebooks} notebooks; nbgrader kernels' threads: {threads}; ours: 1 "
          "(assignment.toml)")
    print(f"a kernel started as nbgrader starts them reports torch threads, python: "
          f"{kernel_threads(nbgrader_env(args.kernel_threads))}")
    rows = []
    work = Path(tempfile.mkdtemp(prefix="bench-nbgrader-"))
    try:
        for epochs in args.epochs or [3, 20]:
            folder = work / f"epochs{epochs}"
            theirs = run_nbgrader(folder, students, reference, epochs, args.kernel_threads)
            ours = run_ours(folder, folder / "course", students)
            rows.append((epochs, theirs, ours))
            print(f"\n{epochs} epochs: nbgrader {theirs['wall']:.1f} s, every student "
                  f"{TEST_POINTS}/{TEST_POINTS}; ours {ours['wall']:.1f} s, every student "
                  f"{ours['max']:g}/{ours['max']:g}")
            if not theirs["breakdown"]:
                print("  (no breakdown of nbgrader's time: its log was not as expected)")
            for what, seconds in theirs["breakdown"].items():
                print(f"  nbgrader per notebook, {what}: {seconds:.2f} s")
            if len(theirs["turns"]) > 1:
                print(f"  nbgrader: first notebook {theirs['turns'][0]:.2f} s, the others "
                      f"{statistics.mean(theirs['turns'][1:]):.2f} s each (from its log)")
            others = f"{ours['others']:.2f} s each" if ours["others"] is not None else "-"
            print(f"  ours: first student {ours['first']:.2f} s (CLI, worker and zygote "
                  f"start-up included), the others {others}, after the last "
                  f"{ours['after_last']:.2f} s (grades.csv, summary.html)")
    finally:
        if args.keep:
            print(f"work folder: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average after: {os.getloadavg()}\n")
    n = args.notebooks
    print("epochs  nbgrader s/notebook  ours s/notebook  ours/nbgrader (target <= 1.0)"
          "  without the first notebook")
    for epochs, theirs, ours in rows:
        steady = (f"{ours['others'] / statistics.mean(theirs['turns'][1:]):.2f}"
                  if ours["others"] is not None and len(theirs["turns"]) > 1 else "-")
        print(f"{epochs:6d}  {theirs['wall'] / n:19.2f}  {ours['wall'] / n:15.2f}  "
              f"{ours['wall'] / theirs['wall']:13.2f}  {steady:>27}")
    print("(the last column: a student after the first, ours / nbgrader: without the one-off "
          "start-ups of the CLIs, our worker and zygote, and nbgrader's)")


if __name__ == "__main__":
    main()
