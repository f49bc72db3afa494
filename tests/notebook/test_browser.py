"""`grader.check()` in a real JupyterLab 4 and Jupyter Notebook 7, driven by headless Chromium.

A student opens the starter notebook, runs a `grader.check("softmax")` cell (0/2), fills in
`softmax`, and runs the check cell again *without saving by hand*: the report below the cell
now says 2/2, because check() had the front end save the notebook (ipylab's
`docmanager:save`) before grading it. The server runs on 127.0.0.1, on a free port, with a
token, in a private folder, and is stopped at the end.
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from notebook_cases import SOFTMAX, starter_notebook, write

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
CHECK_CELL = 'import grader\ngrader.check("softmax")'
GRADING_TIMEOUT_MS = 240_000  # two cores shared with the rest of the suite


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return (f"SKIPPED LOUDLY: no Chromium at {CHROMIUM} (CI installs it: INSTALL_CHROMIUM=1 "
                "bash scripts/install.sh); the browser tests of grader.check() did not run")
    for module in ("playwright", "jupyterlab", "notebook", "ipylab"):
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:  # None: tests/notebook/, a namespace package
            return (f"SKIPPED LOUDLY: `{module}` is not installed (pip install -e '.[test]'); the "
                    "browser tests of grader.check() did not run")
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path, request):
    """A Jupyter server (``lab`` or ``notebook``) serving a folder with the starter notebook."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    flavour = request.param
    root = tmp_path / "work"
    path = write(starter_notebook(), root, [CHECK_CELL])
    port, token = _free_port(), secrets.token_hex(16)
    private = tmp_path / "jupyter"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(private / "config"),
               JUPYTER_RUNTIME_DIR=str(private / "runtime"), IPYTHONDIR=str(private / "ipython"))
    env.pop("JPY_SESSION_NAME", None)
    app = {"lab": "jupyterlab", "notebook": "notebook"}[flavour]
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", app, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.allow_root=True",  # CI runs as root
         f"--{'LabApp' if flavour == 'lab' else 'JupyterNotebookApp'}.workspaces_dir={private}"],
        env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the Jupyter server did not start:\n" +
                                (tmp_path / "server.log").read_text()[-3000:])
                time.sleep(0.3)
        page = (f"lab/tree/{path.name}" if flavour == "lab" else f"notebooks/{path.name}")
        yield f"{base}/{page}?token={token}", path, flavour
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _run(page, cell) -> None:
    """Shift+Enter in ``cell``, accepting the kernel dialog JupyterLab may show first."""
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")


def _warm_up(page, cell) -> None:
    """Run ``cell`` until the kernel answered: a run while the page still starts, or one that
    JupyterLab's "Select Kernel" dialog swallows, is lost; running the cell again is harmless."""
    prompt, dialog = cell.locator(".jp-InputPrompt"), page.locator(".jp-Dialog .jp-mod-accept")
    deadline, again = time.monotonic() + 150, 0.0
    while time.monotonic() < deadline:
        if re.search(r"\[\d+\]", prompt.inner_text()):
            return
        if dialog.count() or time.monotonic() > again:
            _run(page, cell)  # accepts the dialog, then runs the cell (again)
            again = time.monotonic() + 10
        time.sleep(0.5)
    pytest.fail(f"the kernel did not run the first cell; its prompt: {prompt.inner_text()!r}")


def _report_score(page, cell, expected: str) -> str:
    """Wait until the report below ``cell`` shows ``expected`` points; its text."""
    report = cell.locator(".dl-grader-report")
    page.wait_for_function(
        "([index, expected]) => { const r = document.querySelectorAll('.jp-CodeCell')[index]"
        "?.querySelector('.dl-grader-report'); return r && r.dataset.score === expected; }",
        arg=[cell.evaluate("c => [...document.querySelectorAll('.jp-CodeCell')].indexOf(c)"),
             expected], timeout=GRADING_TIMEOUT_MS)
    return report.inner_text()


@pytest.mark.parametrize("server", ["lab", "notebook"], indirect=True)
def test_check_cell_grades_the_unsaved_notebook(server, browser):
    url, path, flavour = server
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=90_000)
    cells = page.locator(".jp-CodeCell")
    _warm_up(page, cells.filter(has_text="import torch").first)
    check = cells.filter(has_text='grader.check("softmax")')
    if flavour == "lab":  # the starter's score first (once is enough: it takes a grading)
        _run(page, check)
        text = _report_score(page, check, "0")
        assert "0 / 2" in text and "not implemented yet" in text

    softmax = cells.filter(has_text="def softmax")
    softmax.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(SOFTMAX)
    assert "z.max(dim=1, keepdim=True)" not in path.read_text()  # not saved by hand...
    _run(page, check)
    text = _report_score(page, check, "2")
    assert "2 / 2" in text and "the checks of softmax only" in text
    assert "as saved" not in text  # the front end saved it: no stale-file note
    assert "z.max(dim=1, keepdim=True)" in path.read_text()  # ...check() had it saved
