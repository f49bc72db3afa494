"""`grade answer-key` (issue 15): the reference over seeds on the declared experiments, the key's
ranges, resuming, and the HTML page an instructor shows in class (in headless Chromium)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from grader import answer_key
from grader import experiments as ex
from grader.cli import app

from experiments_support import KEY_SEEDS, assignment, quick_key, shared_base

QUICK = ["sgd_b64", "relu", "adam_lr1e-3", "sgd_b16"]


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    return quick_key(shared_base(tmp_path_factory))


@pytest.fixture(scope="module")
def key(key_file):
    return json.loads(key_file.read_text())


def test_the_key_holds_the_range_over_seeds_of_each_reported_quantity(key):
    assert key["profile"] == "quick" and key["seeds"] == list(range(KEY_SEEDS))
    assert list(key["experiments"]) == QUICK
    for experiment_id, entry in key["experiments"].items():
        runs = entry["runs"]
        assert sorted(runs) == ["0", "1"] and entry["epochs"] == 2   # 20 epochs / 10
        finals = [r["valid_loss"][-1] for r in runs.values()]
        assert entry["ranges"]["final_valid_loss"] == [min(finals), max(finals)]
        accuracies = [r["test_accuracy"] for r in runs.values()]
        assert entry["ranges"]["test_accuracy"] == [min(accuracies), max(accuracies)]
        for curve in ("train_loss", "valid_loss"):
            band = entry["band"][curve]
            assert band["min"] <= band["mean"] <= band["max"] and len(band["min"]) == 2
        assert entry["ranges"]["parameters"] == [468874, 468874]
    # different seeds give different curves; batch 16 is the declared batch size
    runs = key["experiments"]["relu"]["runs"]
    assert runs["0"]["train_loss"] != runs["1"]["train_loss"]
    assert key["experiments"]["sgd_b16"]["config"]["batch_size"] == 16
    # the reference's answers: Adam trains faster per epoch than SGD, on every seed
    assert key["answers"]["sgd_or_adam_faster"]["votes"] == {"0": "Adam", "1": "Adam"}


def test_the_handout_profile_keeps_the_handouts_values():
    declaration = ex.declaration_of(assignment())
    full = {e.id: e for e in declaration.profile(quick=False)}
    assert (full["sgd_b64"].epochs, full["sgd_b64_e60"].epochs) == (20, 60)
    assert (full["sgd_lr1e-3"].config["lr"], full["sgd_b16"].config["batch_size"]) == (1e-3, 16)
    assert [full[a].parameters for a in ("arch_256", "arch_512_128", "arch_512_256_128")] == [
        203530, 468874, 567434]
    quick = {e.id: e for e in declaration.profile(quick=True)}
    assert list(quick) == QUICK and quick["sgd_b64"].epochs == 2


def test_a_rerun_resumes_and_runs_only_what_is_missing(key_file, tmp_path):
    out = tmp_path / "key.json"
    shutil.copy(key_file, out)
    said = []
    answer_key.generate("mlp_pixels", quick=True, seeds=KEY_SEEDS, out=out, device="cpu",
                        say=said.append)
    assert said == [f"every run of the quick key is already in {out}: nothing to run"]
    # one run lost (an interrupted first run): only that one runs again
    key = json.loads(out.read_text())
    del key["experiments"]["relu"]["runs"]["1"]
    out.write_text(json.dumps(key))
    said.clear()
    answer_key.generate("mlp_pixels", quick=True, seeds=KEY_SEEDS, out=out, device="cpu",
                        say=said.append)
    assert said[0].startswith("1 runs (2 epochs) of the reference on cpu: about ")
    again = json.loads(out.read_text())
    assert again["experiments"]["relu"]["runs"]["1"]["train_loss"] == json.loads(
        key_file.read_text())["experiments"]["relu"]["runs"]["1"]["train_loss"]


def test_the_cli_writes_the_key_and_its_page(key_file, tmp_path):
    out = tmp_path / "key.json"
    shutil.copy(key_file, out)
    run = CliRunner().invoke(app, ["answer-key", "mlp_pixels", "--quick", "--seeds",
                                   str(KEY_SEEDS), "-o", str(out)])
    assert run.exit_code == 0, run.output
    assert "nothing to run" in run.output
    assert (tmp_path / "key.html").read_text().count("<svg") == len(QUICK)
    unknown = CliRunner().invoke(app, ["answer-key", "perceptron", "--quick"])
    assert unknown.exit_code == 2 and "perceptron declares no experiments" in unknown.output


def _chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed (`apt-get install chromium`; .ci/run installs it): "
                    "the browser test of the answer key's page did not run")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright): browser test not run")
    return path


def test_the_answer_key_page_in_headless_chromium(key, key_file, tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    page_file = answer_key.html_path(key_file)
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1200, "height": 1400})
        page.on("console", lambda m: problems.append(m.text)
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.goto(page_file.as_uri())
        rows = page.locator("#results tbody tr").all_inner_texts()
        figures = page.locator("figure svg").evaluate_all(
            "els => els.map(e => [e.getBoundingClientRect().width, "
            "e.getBoundingClientRect().height])")
        conclusions = page.locator("#conclusions li").all_inner_texts()
        page.screenshot(path=str(tmp_path / "key.png"), full_page=True)
        browser.close()
    assert problems == []
    assert len(rows) == len(QUICK)
    relu = next(r for r in rows if r.startswith("ReLU instead of Sigmoid"))
    low, high = key["experiments"]["relu"]["ranges"]["test_accuracy"]
    assert f"{low:.3f}–{high:.3f}" in relu and "468,874" in relu
    assert len(figures) == len(QUICK) and all(w > 300 and h > 100 for w, h in figures)
    assert any(c.startswith("Which converges faster in loss per epoch") and c.endswith("Adam")
               for c in conclusions)
    assert (tmp_path / "key.png").stat().st_size > 20_000
