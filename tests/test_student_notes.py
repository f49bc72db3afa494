"""What `grade check` says once per run about real student code (issue 10, items 5 and 11):
the block that holds the work, failed imports, the code not run — in the text output and in
the JSON (Gradescope) output alike; a usage error still gives valid JSON."""

import json
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from grader.cli import app

runner = CliRunner()
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "gradescope_results.schema.json").read_text())

# The perceptron written the way students of the course write it: the functions at the top,
# wandb imported to log the accuracy, the training under `if __name__ == "__main__":`
PERCEPTRON = '''\
import gzip
import pickle
import torch
import wandb


def init_params(n_in, n_out, generator=None):
    w = torch.empty(n_in, n_out).uniform_(-0.001, 0.001, generator=generator)
    b = torch.empty(1, n_out).uniform_(-0.001, 0.001, generator=generator)
    return w, b


def forward(x, w, b):
    return x @ w + b


def update(x, t, w, b, eta):
    grad = t - forward(x, w, b)
    w += eta * (x.T @ grad)
    b += eta * grad.sum(0, keepdim=True)


def accuracy(x, t, w, b):
    correct = 0
    for i in range(0, len(x), 1000):
        y = forward(x[i:i + 1000], w, b)
        correct += (y.argmax(1) == t[i:i + 1000].argmax(1)).sum().item()
    wandb.log({"accuracy": correct / len(x)})
    return correct / len(x)


if __name__ == "__main__":
    with gzip.open("mnist.pkl.gz") as f:
        (data_train, label_train), (data_test, label_test) = pickle.load(f)
    w, b = init_params(784, 10)
    for epoch in range(10):
        update(data_train, label_train, w, b, 1e-5)
    print(accuracy(data_test, label_test, w, b))
'''


def check(*args):
    return runner.invoke(app, ["check", *map(str, args), "--no-report"], catch_exceptions=False)


def test_load_notes_and_the_code_not_run_are_in_the_json_output_too(tmp_path):
    path = tmp_path / "perceptron.py"
    path.write_text(PERCEPTRON)
    result = check(path, "--assignment", "perceptron", "--format", "json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    output = data["output"].splitlines()
    # the example is the block that did not run, not the first import that was not needed
    assert ("not run (top-level code the checks do not need): 3 statement(s), e.g. "
            'perceptron.py, line 32: if __name__ == "__main__":') in output
    # wandb is not installed where the grader runs: said once, with the line
    assert ("while loading: perceptron.py, line 4: `import wandb` failed: `wandb` is not "
            "installed where the grader runs, so the code it checks cannot use it (progress "
            "bars, plots and logging belong in your experiments, under "
            '`if __name__ == "__main__":`)') in output
    # softmax and cross_entropy are not written yet: one line for both, not one per check
    assert "while loading: not defined in perceptron.py: `softmax`, `cross_entropy` (it defines " \
           "`init_params`, `forward`, `update`, `accuracy`); every check that needs " \
           "one of them fails" in output
    text = check(path, "--assignment", "perceptron")
    assert 'e.g. perceptron.py, line 32: if __name__ == "__main__":' in " ".join(text.stdout.split())


def test_json_output_of_a_usage_error_is_valid_results_json(tmp_path):
    (tmp_path / "notes.py").write_text("print('my notes')\n")
    result = check(tmp_path, "--assignment", "mlp_pixels", "--format", "json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["score"] == 0 and data["tests"] == []
    assert data["output"].startswith("The grader could not run: no mlp_pixels.py")
    assert "error:" in result.stderr  # the one-line error is still there for a person


def test_load_notes_are_in_the_markdown_report_too():
    from grader import reports
    from grader.results import GradingResult

    result = GradingResult("networks", "Networks", "networks.py", load_errors=[
        "no class `Cnn` in networks.py — did you mean `CNNModel`?"])
    text = reports.render(result, "md")
    assert "**While loading your code:**" in text
    assert "- no class `Cnn` in networks.py — did you mean `CNNModel`?" in text
