"""Reports: every format from the one results model; hidden checks stay private; the HTML
report loads in a real browser without console errors and shows the score."""

import shutil

import pytest

from grader import reports
from grader.results import CheckResult, GradingResult

def sample_result() -> GradingResult:
    curves = {"train_loss": [0.9, 0.4, 0.3], "valid_loss": [0.5, 0.45, 0.44]}
    return GradingResult(
        assignment="mlp_pixels", title="MLP_pixels", submission="/x/mlp_pixels.py",
        student="Ada <Lovelace>", hidden_included=True, grader_version="0.1.0",
        checks_hash="abc", isolation="isolation: strong (test)", dataset="offline",
        execution_time_s=3.2,
        checks=[
            CheckResult("MLP output shape [images]", 1, 1, "passed", "", "public", "Shapes."),
            CheckResult("perf_loop counts the whole loader", 0, 2, "failed",
                        "perf_loop counted 32 samples out of 130 | <b>not bold</b>", "public"),
            CheckResult("MLP accuracy", 2.4, 4, "failed", "accuracy 0.840", "public", trains=True,
                        details={"learning_curves": curves,
                                 "accuracy": {"value": 0.84, "low": 0.75, "high": 0.9, "n_test": 500},
                                 "confusion_matrix": [[5, 1], [2, 7]]}),
            CheckResult("fit saves the first epoch when it is the best", 0, 2, "failed",
                        "SECRET hidden input detail", "hidden"),
        ])


@pytest.mark.parametrize("fmt", reports.FORMATS)
def test_every_format_shows_score_and_hides_hidden_messages(fmt):
    text = reports.render(sample_result(), fmt)
    assert "3.4" in text and "9" in text
    assert "perf_loop counted 32 samples out of 130" in text
    assert "fit saves the first epoch when it is the best" in text
    assert "SECRET" not in text


def test_html_is_escaped_self_contained_and_accessible():
    html = reports.render(sample_result(), "html")
    assert "<b>not bold</b>" not in html and "&lt;b&gt;not bold&lt;/b&gt;" in html
    assert "Ada &lt;Lovelace&gt;" in html
    assert html.count("data:image/png;base64,") == 3  # curves, accuracy band, confusion matrix
    assert '<html lang="en">' in html and 'name="viewport"' in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from anywhere
    assert 'alt="Learning curves over 3 epochs' in html


def test_markdown_table_cells_are_safe():
    md = reports.render(sample_result(), "md")
    row = next(line for line in md.splitlines() if "perf_loop" in line)
    assert row.count("|") - row.count("\\|") == 5
    # Markdown lets HTML through: student-controlled text must arrive as text
    assert "<b>" not in md and "&lt;b&gt;not bold" in md and "Ada &lt;Lovelace&gt;" in md
    from grader.results import SkippedStatement
    result = sample_result()
    result.skipped = [SkippedStatement("a`<img src=x onerror=alert(1)>`b.py, line 3",
                                       "train()", "training at the top level")]
    # a backtick in a file name cannot close the code span and let the HTML out
    assert "- `a'<img src=x onerror=alert(1)>'b.py, line 3`:" in reports.render(result, "md")


def _chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed (`apt-get install chromium`; .ci/run installs it): "
                    "the browser test of the HTML report did not run")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright): browser test not run")
    return path


@pytest.mark.slow
def test_html_report_of_a_real_grading_run_in_headless_chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    from corpus import bug, write_mutant
    from grader.judge import grade

    chromium = _chromium()
    mutant = write_mutant(tmp_path, "mlp_pixels", bug(
        "perf", "            predictions.append(y_pred)\n",
        "            predictions.append(y_pred)\n            return n_correct, n_total, torch.cat(predictions)\n"))
    result = grade(mutant, "mlp_pixels")
    page_file = tmp_path / "report.html"
    page_file.write_text(reports.render(result, "html"))
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 900, "height": 1300})
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.goto(page_file.as_uri())
        shown = page.locator("#score").inner_text()
        images = page.locator("img").evaluate_all("els => els.map(e => e.naturalWidth > 0 && e.alt.length > 0)")
        page.locator("#fix-heading").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "report.png"))
        browser.close()
    assert problems == []
    assert shown == f"{result.score:g} / {result.max_score:g}"
    assert images and all(images)
    assert (tmp_path / "report.png").stat().st_size > 10_000  # docs/report-screenshot.png is one
