"""``grader.check()`` and ``%grade``: a student checks the notebook from inside it.

The kernel only *finds* the notebook and *hands it over*; it never grades (the kernel is the
student's, and anything in it may have been monkeypatched). The steps:

1. Find the notebook the kernel runs and get its current content, by front end:
   Colab (the live notebook, asked from the front end: there is no file on the VM);
   JupyterLab 4 / Notebook 7 (the path is in ``JPY_SESSION_NAME``: ask the front end to save
   through ipylab's ``docmanager:save``, then wait for the file to change); VS Code (the path
   it puts in ``__vsc_ipynb_file__``; it cannot be asked to save). Where the live content
   cannot be had, the report says so in one line and when the graded file was saved.
2. Write that content to a private temporary folder and grade it in a *new* Python process
   (``python -E -m grader.notebook_check``, which runs ``grader.judge``'s main): the pipeline
   of ``grade check`` — the same slicing, the same sandboxed student process, the same checks,
   the same score. ``-E`` and a private working folder: environment variables or files the
   kernel set up cannot change that process.
3. Show the result inline, drawn by that process: the score, the checks to look at first with
   their messages, the learning curves (``check("MLP")`` runs only the checks of ``MLP``).
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grader import i18n
from grader.i18n import _

SAVE_TIMEOUT_S = 8.0       # a JupyterLab save takes well under a second
COLAB_TIMEOUT_S = 30.0
POLL_S = 0.1


class NotebookCheckError(Exception):
    """Something the student can fix (which notebook, which part); one line."""


@dataclass
class Notebook:
    """The content to grade, and how fresh it is."""

    content: bytes
    name: str                  # the file name the student knows (MLP_pixels.ipynb)
    path: Path | None          # the file on disk, when there is one
    front_end: str             # "Colab", "JupyterLab / Notebook 7", "VS Code", "Jupyter"
    live: bool                 # the content is what the student sees now
    note: str = ""             # when not live: one line saying what was graded instead


# --------------------------------------------------------------------------------------------
# Finding the notebook
# --------------------------------------------------------------------------------------------

def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def find_notebook(notebook: str | os.PathLike | None = None, *, save: bool = True,
                  save_timeout: float = SAVE_TIMEOUT_S) -> Notebook:
    """The notebook this kernel runs, with its current content where the front end gives it."""
    ip = _ipython()
    namespace = getattr(ip, "user_ns", {}) or {}
    if notebook is not None:
        path = Path(notebook).expanduser()
        if not path.is_file():
            raise NotebookCheckError(_("{path}: no such notebook").format(path=path))
        return _saved_file(path, _jupyter_front_end() or "Jupyter", save, save_timeout)
    if "google.colab" in sys.modules:
        return colab_notebook()
    vscode = namespace.get("__vsc_ipynb_file__")
    if vscode:
        path = Path(vscode)
        if path.is_file():
            return _from_file(path, "VS Code",
                              _("VS Code cannot be asked to save from the kernel"))
    session = os.environ.get("JPY_SESSION_NAME") or namespace.get("__session__")
    if session:
        path = _session_path(session)
        if path is not None:
            return _saved_file(path, "JupyterLab / Notebook 7", save, save_timeout)
    found = _notebooks_here()
    if len(found) == 1:
        return _from_file(found[0], "Jupyter",
                          _("the front end did not say which notebook runs"))
    if found:
        names = ", ".join(p.name for p in found[:6])
        raise NotebookCheckError(_("several notebooks of practicals here ({names}): say which "
                                   "one, {call}").format(
            names=names, call='grader.check(notebook="MLP_pixels.ipynb")'))
    raise NotebookCheckError(_("cannot tell which notebook this is (no practical's notebook in "
                               "{folder}): {call}").format(
        folder=os.getcwd(), call='grader.check(notebook="path/to/MLP_pixels.ipynb")'))


def _jupyter_front_end() -> str | None:
    return "JupyterLab / Notebook 7" if os.environ.get("JPY_SESSION_NAME") else None


def _session_path(session: str) -> Path | None:
    """``JPY_SESSION_NAME``: an absolute path (jupyter_server joins the kernel's folder and the
    notebook's name), or a path relative to the server's root; the notebook may have been
    renamed since the kernel started — then only its folder is known."""
    path = Path(session)
    if path.is_absolute() and path.is_file():
        return path
    here = Path.cwd() / path.name
    return here if here.is_file() and here.suffix == ".ipynb" else None


def _notebooks_here() -> list[Path]:
    """The notebooks in the working folder named like a practical's."""
    from grader.assignment import list_assignments

    names = {f.lower() for a in list_assignments() for f in a.files if f.endswith(".ipynb")}
    return sorted(p for p in Path.cwd().glob("*.ipynb") if p.name.lower() in names)


def _saved_file(path: Path, front_end: str, save: bool, timeout: float) -> Notebook:
    """Ask the front end to save, wait for the file to change, and read it."""
    reason = "grader.check(save=False)"
    if save and front_end.startswith("JupyterLab"):
        reason = request_save(path, timeout)
        if reason is None:
            return Notebook(path.read_bytes(), path.name, path, front_end, live=True)
    elif save:
        reason = _("no front end that can be asked to save from the kernel was found")
    return _from_file(path, front_end, reason)


def request_save(path: Path, timeout: float = SAVE_TIMEOUT_S) -> str | None:
    """Save the notebook from JupyterLab 4 or Notebook 7 through ipylab; ``None`` once the file
    changed, else why not. The save is asynchronous (the kernel is busy running this cell, the
    front end writes through the server), hence the wait on the file's modification time."""
    try:
        from ipylab import JupyterFrontEnd
    except ImportError:
        return _("ipylab is not installed, so the notebook could not be saved first")
    global _app, _unanswered
    before = _stamp(path)
    try:
        if _app is None:  # one widget per kernel: each one lives in the page until it closes
            _app = JupyterFrontEnd()
        _app.commands.execute("docmanager:save")
    except Exception as e:  # no comm (a plain IPython), an old ipywidgets...
        return _("the front end could not be asked to save ({error})").format(
            error=type(e).__name__)
    if _unanswered:  # no save came last time (ipylab missing where the server runs?): wait less
        timeout = min(timeout, 2.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(POLL_S)
        if _stamp(path) != before:
            time.sleep(POLL_S)  # the server writes to a temporary file and renames it
            _unanswered = False
            return None
    _unanswered = True
    return _("the front end did not save it within {seconds:g} s").format(seconds=timeout)


_app = None           # ipylab's JupyterFrontEnd of this kernel
_unanswered = False   # the last request to save went unanswered


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def _from_file(path: Path, front_end: str, reason: str) -> Notebook:
    try:
        content = path.read_bytes()
        mtime = path.stat().st_mtime
    except OSError as e:
        raise NotebookCheckError(_("{path}: cannot be read ({error})").format(
            path=path, error=e.strerror or e)) from None
    note = _("Graded {name} as saved {ago} ({reason}) — press Ctrl+S and run this cell again to "
             "grade your latest edits.").format(name=path.name, ago=_ago(time.time() - mtime),
                                                reason=reason)
    return Notebook(content, path.name, path, front_end, live=False, note=note)


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 10:
        return _("just now")
    if seconds < 90:
        return _("{count:.0f} s ago").format(count=seconds)
    if seconds < 90 * 60:
        return _("{count:.0f} min ago").format(count=seconds / 60)
    if seconds < 36 * 3600:
        return _("{count:.0f} h ago").format(count=seconds / 3600)
    return _("{count:.0f} days ago").format(count=seconds / 86400)


def colab_notebook(timeout: float = COLAB_TIMEOUT_S) -> Notebook:
    """Colab's live notebook, from its front end. ``google.colab._message.blocking_request(
    "get_ipynb", request="", timeout_sec=...)`` answers ``{"ipynb": {...}}`` (cell sources as
    lists of lines, as on disk) — private and undocumented, hence the fallback: a notebook of the
    practical in the working folder (``/content``), graded as saved."""
    reason = _("Colab did not hand over the notebook")
    try:
        from google.colab import _message

        reply = _message.blocking_request("get_ipynb", request="", timeout_sec=timeout)
        ipynb = reply.get("ipynb") if isinstance(reply, dict) else None
        if isinstance(ipynb, str):
            ipynb = json.loads(ipynb)
        if isinstance(ipynb, dict) and isinstance(ipynb.get("cells"), list):
            name = _colab_name(ipynb)
            return Notebook(json.dumps(ipynb, ensure_ascii=False).encode(), name, None, "Colab",
                            live=True)
        reason += _(" (an unexpected answer)")
    except Exception as e:  # ImportError, MessageError, a time-out: all mean "not available"
        reason += f" ({type(e).__name__})"
    found = _notebooks_here()
    if len(found) == 1:
        return _from_file(found[0], "Colab", reason)
    raise NotebookCheckError(_("{reason}, and there is no practical's notebook in {folder} to "
                               "grade instead: upload it there, or File > Download .ipynb and run "
                               "`grade check` on your computer").format(reason=reason,
                                                                       folder=os.getcwd()))


def _colab_name(ipynb: dict) -> str:
    """The notebook's name as Colab shows it (``metadata.colab.name``), made a safe file name."""
    metadata = ipynb.get("metadata") if isinstance(ipynb.get("metadata"), dict) else {}
    colab = metadata.get("colab") if isinstance(metadata.get("colab"), dict) else {}
    return _file_name(str(colab.get("name") or "notebook.ipynb"))


def _file_name(name: str) -> str:
    name = re.sub(r"[^\w .()+-]", "_", Path(name).name)[:100].strip() or "notebook"
    return name if name.endswith(".ipynb") else name + ".ipynb"


# --------------------------------------------------------------------------------------------
# Which practical, which part
# --------------------------------------------------------------------------------------------

def resolve(notebook: Notebook, part: str | None, assignment: str | None, hidden_dir):
    """(assignment, element or None). ``part`` is an element (``MLP``) or an assignment's name."""
    from grader.assignment import AssignmentError, detect_assignment, list_assignments, load_assignment
    from grader.judge import element_named

    known = {a.name for a in list_assignments()}
    if part is not None and assignment is None and part in known:
        assignment, part = part, None
    try:
        if assignment is not None:
            spec = load_assignment(assignment, hidden_dir=hidden_dir)
        elif notebook.path is not None:
            try:
                spec = detect_assignment(notebook.path, hidden_dir=hidden_dir)
            except AssignmentError:  # "MLP_pixels (1).ipynb", "Copy of MLP_pixels.ipynb"
                spec = _by_name(notebook.name, hidden_dir)
        else:
            spec = _by_name(notebook.name, hidden_dir)
        return spec, (element_named(spec, part) if part is not None else None)
    except AssignmentError as e:
        raise NotebookCheckError(str(e).replace("pass --assignment NAME",
                                                "grader.check(assignment=\"NAME\")")) from None


def _by_name(name: str, hidden_dir):
    """The practical a notebook's name is for, also when Colab calls it "Copy of MLP_pixels"."""
    from grader.assignment import AssignmentError, list_assignments, load_assignment

    lowered = name.lower()
    matches = [a for a in list_assignments()
               if any(Path(f).stem.lower() in lowered for f in a.files + [a.module])]
    if len(matches) == 1:
        return load_assignment(matches[0].name, hidden_dir=hidden_dir)
    known = ", ".join(a.name for a in list_assignments())
    raise AssignmentError(_("cannot tell which practical {name} is: {call} with NAME one of "
                            "{known}").format(name=name, call='grader.check(assignment="NAME")',
                                              known=known))


# --------------------------------------------------------------------------------------------
# Grading, in a new process
# --------------------------------------------------------------------------------------------

def grading_command(submission: Path, assignment: str, out: Path, notebook: Notebook, *,
                    only: str | None = None, hidden: bool = False, hidden_dir=None) -> list[str]:
    """``python -E -m grader.notebook_check``: a fresh interpreter (that ignores PYTHONPATH and
    the like) runs ``python -m grader.judge`` on the submission, then draws the inline report
    there too — matplotlib in the kernel would change the student's plotting backend."""
    command = [sys.executable, "-E", "-m", "grader.notebook_check", str(submission),
               "--assignment", assignment, "--json-out", str(out / "grading.json"),
               # name=value: a name or note starting with "-" stays a value
               f"--html-out={out / 'report.html'}", f"--shown-name={notebook.name}",
               f"--front-end={notebook.front_end}", f"--note={notebook.note}"]
    if notebook.path is not None:
        command.append(f"--shown-path={notebook.path}")
    if only:
        command += ["--only", only]
    if hidden:
        command.append("--hidden")
    if hidden_dir:
        command += ["--hidden-dir", str(Path(hidden_dir).expanduser().resolve())]
    return command


def _copy_experiments(notebook: Notebook, submission: Path) -> None:
    """The recorded experiments (``MLP_pixels.experiments.json``, written by grader.record next
    to the notebook) go with the copy graded, so grader.check() checks them as grade check does."""
    from grader.experiments import RESULTS_SUFFIX, find_results

    found = find_results(notebook.path) if notebook.path is not None else None
    if found is not None:
        submission.with_name(submission.stem + RESULTS_SUFFIX).write_bytes(found.read_bytes())


def grade_notebook(notebook: Notebook, spec, only: str | None = None, *, hidden: bool = False,
                   hidden_dir=None):
    """Grade ``notebook``'s content exactly as ``grade check`` would: (GradingResult, the
    inline report's HTML)."""
    from grader.results import GradingResult

    with tempfile.TemporaryDirectory(prefix="grader-check-") as folder:  # mode 0700
        folder = Path(folder)
        submission = folder / "submission" / _file_name(notebook.name)
        submission.parent.mkdir()
        submission.write_bytes(notebook.content)
        _copy_experiments(notebook, submission)
        command = grading_command(submission, spec.name, folder, notebook, only=only,
                                  hidden=hidden, hidden_dir=hidden_dir)
        limit = spec.time_budget_s * 2 + 120
        try:
            done = subprocess.run(command, cwd=folder, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=limit,
                                  env=dict(os.environ, **i18n.environment()))
        except subprocess.TimeoutExpired:
            raise NotebookCheckError(_("the grader did not finish within {seconds:g} s").format(
                seconds=limit)) from None
        if done.returncode == 2:  # a usage error: the judge says it in one line
            raise NotebookCheckError(_last_error(done.stderr))
        outputs = folder / "grading.json", folder / "report.html"
        if done.returncode != 0 or not all(p.is_file() for p in outputs):
            raise NotebookCheckError(
                _("the grader process failed (exit code {code}: {error}); this is a grader "
                  "problem, not your code's — run `grade check` in a terminal and tell your "
                  "instructor what it says").format(code=done.returncode,
                                                    error=_last_error(done.stderr)))
        result = GradingResult.load(outputs[0])
        page = outputs[1].read_text(encoding="utf-8")
    result.submission = str(notebook.path) if notebook.path else notebook.name
    return result, page


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    if not lines:
        return _("no message")
    errors = [line for line in lines if line.startswith("error:")]
    line = errors[-1] if errors else lines[-1]
    return line.removeprefix("error:").strip()[:500]


# --------------------------------------------------------------------------------------------
# What the cell shows
# --------------------------------------------------------------------------------------------

class CheckReport:
    """What ``grader.check()`` returns: shown inline once (HTML in a notebook, text elsewhere);
    ``score``, ``max_score``, ``result`` (the GradingResult) for code."""

    def __init__(self, result, notebook: Notebook, page: str):
        self.result, self.notebook, self.page = result, notebook, page
        self._shown_at: int | None = None

    @property
    def score(self) -> float:
        return self.result.score

    @property
    def max_score(self) -> float:
        return self.result.max_score

    def _repr_html_(self) -> str:
        return self.page

    def __repr__(self) -> str:
        from grader import reports

        head = f"{self.notebook.note}\n" if self.notebook.note else ""
        return head + reports.render(self.result, "text")

    def mimebundle(self) -> dict:
        return {"text/html": self._repr_html_(), "text/plain": repr(self)}

    def _ipython_display_(self) -> None:
        # check() already showed it in this cell: the cell's last value must not show it twice.
        if self._shown_at is not None and self._shown_at == _execution_count():
            return
        from IPython.display import display

        display(self.mimebundle(), raw=True)
        self._shown_at = _execution_count()


def _execution_count():
    ip = _ipython()
    return getattr(ip, "execution_count", None)


_STYLE = {
    "box": "font-family:system-ui,sans-serif;font-size:14px;line-height:1.45;color:#1f2328;"
           "border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;max-width:60em",
    "note": "background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:6px 10px;"
            "margin:0 0 8px 0",
    "error": "background:#ffebe9;border:1px solid #cf222e;border-radius:6px;padding:6px 10px",
    "pre": "white-space:pre-wrap;background:#f6f8fa;border-radius:6px;padding:6px 8px;margin:4px 0;"
           "font-size:13px",
    "failed": "border-left:4px solid #cf222e;padding:2px 0 2px 10px;margin:8px 0",
    "partial": "border-left:4px solid #d4a72c;padding:2px 0 2px 10px;margin:8px 0",
    "passed": "border-left:4px solid #1a7f37;padding:2px 0 2px 10px;margin:8px 0",
}


def render_html(result, notebook: Notebook, only: str | None = None) -> str:
    """The inline report: the score, the checks to look at first (message, plots), the plots of
    the checks that passed (learning curves), the rest folded. Every text is escaped (messages
    quote student code); styles are inline, so nothing leaks into the notebook's page."""
    from grader import reports

    e = html.escape
    score = f"{result.score:g} / {result.max_score:g}"
    scope = e(_(" — the checks of {part} only")).replace("{part}", f"<code>{e(only)}</code>") if (
        only) else ""
    parts = [f'<div class="dl-grader-report" data-score="{result.score:g}" '
             f'data-max-score="{result.max_score:g}" style="{_STYLE["box"]}">']
    if notebook.note:
        parts.append(f'<p class="dl-grader-note" role="note" style="{_STYLE["note"]}">'
                     f'{e(notebook.note)}</p>')
    title = _(result.title)  # a msgid from assignment.toml (babel.cfg)
    parts.append(f'<div style="font-size:16px"><b>{e(title)}</b>{scope}</div>')
    parts.append(f'<div><span class="dl-grader-score" style="font-size:22px;font-weight:600">'
                 f'{score}</span> &nbsp; {e(result.summary_line())}</div>')
    if result.error:
        parts.append(f'<div role="alert" style="{_STYLE["error"]}"><b>'
                     + e(_("Your notebook could not be graded"))
                     + f'</b><pre style="{_STYLE["pre"]}">{e(result.error)}</pre></div>')
    views = [reports.CheckView(c, with_plots=True, number=i)
             for i, c in enumerate(result.checks, start=1)]
    failing = [v for v in views if not v.passed]
    if failing:
        parts.append('<h4 style="margin:10px 0 2px">'
                     + e(_("Look at these first ({count})").format(count=len(failing))) + "</h4>")
        parts.extend(_check_html(v, open_=True) for v in failing)
    with_plots = [v for v in views if v.passed and any(p.uri for p in v.plots)]
    parts.extend(_check_html(v, open_=True) for v in with_plots)
    passed = [v for v in views if v.passed and v not in with_plots]
    if passed:
        items = "".join(f"<li>✓ {e(v.name)} — {v.score:g}/{v.max_score:g}</li>" for v in passed)
        parts.append("<details><summary>" + e(_("Passed ({count})").format(count=len(passed)))
                     + f"</summary><ul>{items}</ul></details>")
    # The cell calling check() is top-level code the grader skips, of course: not news.
    skipped = [st for st in result.skipped if not _CHECK_CALL.search(st.code)]
    if skipped:
        summary = dataclasses.replace(result, skipped=skipped).skipped_summary()
        parts.append(f'<p style="color:#59636e">{e(summary)}</p>')
    for error in result.load_errors:
        parts.append('<p style="color:#9a6700">'
                     + e(_("while loading: {error}").format(error=error)) + "</p>")
    parts.append(f'<p style="color:#59636e;font-size:12px;margin:6px 0 0">'
                 f'{e(notebook.name)} · {e(notebook.front_end)} · {e(result.isolation)} · '
                 f'{result.execution_time_s:.1f} s · '
                 + e(_("grader {version}").format(version=result.grader_version)) + "</p></div>")
    return "\n".join(parts)


_CHECK_CALL = re.compile(r"^\s*(import grader\b|from grader\b|(\w+\s*=\s*)?grader\.check\()")


def _check_html(view, open_: bool) -> str:
    e = html.escape
    hidden = " <small>" + html.escape(_("(hidden)")) + "</small>" if (
        view.visibility == "hidden") else ""
    out = [f'<div class="dl-grader-check {view.css}" style="{_STYLE[view.css]}">'
           f'<b>{e(view.status_text)} {e(view.name)}</b>{hidden} — '
           f'{view.score:g}/{view.max_score:g} pts']
    if view.show_message:
        if view.description:
            out.append(f'<div style="color:#59636e">{e(view.description)}</div>')
        if view.message:
            out.append(f'<pre style="{_STYLE["pre"]}">{e(view.message)}</pre>')
        for plot in view.plots:
            if plot.uri:
                out.append(f'<figure style="margin:4px 0"><img src="{e(plot.uri)}" '
                           f'alt="{e(plot.alt)}" width="{plot.width}" height="{plot.height}">'
                           f'<figcaption style="color:#59636e">{e(plot.caption)}</figcaption>'
                           "</figure>")
            else:
                out.append(f"<p>{e(plot.caption)}</p>")
    out.append("</div>")
    return "".join(out)


def _error_html(message: str) -> str:
    return (f'<div class="dl-grader-report dl-grader-error" role="alert" '
            f'style="{_STYLE["box"]};{_STYLE["error"]}"><b>grader.check:</b> '
            f"{html.escape(message)}</div>")


class _Message:
    """A one-line message as a cell output (HTML in a notebook, text elsewhere)."""

    def __init__(self, text: str, error: bool = False):
        self.text, self.error = text, error

    def _repr_html_(self) -> str:
        if self.error:
            return _error_html(self.text)
        return f'<div class="dl-grader-progress" style="color:#59636e">{html.escape(self.text)}</div>'

    def __repr__(self) -> str:
        return ("grader.check: " if self.error else "") + self.text


# --------------------------------------------------------------------------------------------
# The entry points
# --------------------------------------------------------------------------------------------

def check(part: str | None = None, *, assignment: str | None = None,
          notebook: str | os.PathLike | None = None, hidden_dir: str | os.PathLike | None = None,
          hidden: bool = False, save: bool = True, lang: str | None = None) -> CheckReport | None:
    """Check this notebook from one of its cells: ``grader.check()`` (the whole practical) or
    ``grader.check("MLP")`` (the checks of ``MLP`` only, in seconds); ``lang="fr"`` or ``"en"``
    (default: as ``grade check``: $GRADER_LANG, the course's setting, the locale).

    The notebook is saved first where the front end allows it, then graded in a separate,
    sandboxed process exactly as ``grade check`` grades it; the report appears below the cell.
    Returns the report (``.score``, ``.max_score``, ``.result``), or ``None`` after a message
    saying what to fix (which notebook, which part)."""
    with i18n.language(lang):
        return _check(part, assignment, notebook, hidden_dir, hidden, save)


def _check(part, assignment, notebook, hidden_dir, hidden, save) -> CheckReport | None:
    display = _display_handle()
    try:
        if display:
            display.update(_Message(_("grader.check: saving and reading the notebook…")))
        found = find_notebook(notebook, save=save)
        spec, only = resolve(found, part, assignment, hidden_dir)
        i18n.use_course_default(i18n.course_language(spec.folder))
        if display:
            running = (_("grader.check: running the checks of {part} of {assignment} on {name} "
                         "in a separate process…") if only else
                       _("grader.check: running the checks of {assignment} on {name} in a "
                         "separate process…"))
            display.update(_Message(running.format(part=only, assignment=spec.name,
                                                   name=found.name)))
        result, page = grade_notebook(found, spec, only, hidden=hidden, hidden_dir=hidden_dir)
    except NotebookCheckError as e:
        message = _Message(str(e), error=True)
        if display:
            display.update(message)
        else:
            print(repr(message), file=sys.stderr)
        return None
    report = CheckReport(result, found, page)
    if display:
        # A raw bundle: display() would hand the report to its _ipython_display_, not update.
        display.update(report.mimebundle(), raw=True)
        report._shown_at = _execution_count()
    else:
        print(repr(report))
        report._shown_at = _execution_count()
    return report


def _display_handle():
    """A display that can be updated in place (progress, then the report); None outside IPython."""
    if _ipython() is None:
        return None
    from IPython.display import display

    return display(_Message(""), display_id=True)


def grade_magic(line: str):
    """``%grade [PART or ASSIGNMENT] [--assignment NAME] [--hidden-dir DIR] [--notebook FILE]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="%grade", add_help=False)
    parser.add_argument("part", nargs="?")
    parser.add_argument("--assignment", "-a")
    parser.add_argument("--hidden-dir")
    parser.add_argument("--notebook")
    parser.add_argument("--hidden", action="store_true")
    parser.add_argument("--no-save", action="store_true")
    try:
        args, unknown = parser.parse_known_args(shlex.split(line))
    except (SystemExit, ValueError):
        unknown = [line]
    if unknown:
        print(_("%grade: did not understand {words}; usage: {usage}").format(
            words=" ".join(unknown),
            usage="%grade [MLP] [--assignment mlp_pixels] [--hidden-dir DIR] [--notebook FILE]"),
            file=sys.stderr)
        return None
    return check(args.part, assignment=args.assignment, notebook=args.notebook,
                 hidden_dir=args.hidden_dir, hidden=args.hidden, save=not args.no_save)


def load_ipython_extension(ipython) -> None:
    """``%load_ext grader``: registers ``%grade``."""
    ipython.register_magic_function(grade_magic, magic_kind="line", magic_name="grade")


def main(argv: list[str] | None = None) -> int:
    """The grading process of ``grader.check()``: ``python -m grader.judge``'s arguments, plus
    how to show the result (``--html-out``, the notebook's name, front end and note)."""
    import argparse

    from grader import judge
    from grader.results import GradingResult

    parser = argparse.ArgumentParser(prog="python -m grader.notebook_check")
    parser.add_argument("--html-out", required=True)
    parser.add_argument("--shown-name", required=True)
    parser.add_argument("--shown-path")
    parser.add_argument("--front-end", default="Jupyter")
    parser.add_argument("--note", default="")
    args, judge_args = parser.parse_known_args(argv)
    code = judge.main(judge_args)
    if code != 0:
        return code
    out = judge_args[judge_args.index("--json-out") + 1]
    only = judge_args[judge_args.index("--only") + 1] if "--only" in judge_args else None
    result = GradingResult.load(out)
    shown = Path(args.shown_path) if args.shown_path else None
    result.submission = str(shown) if shown else args.shown_name
    notebook = Notebook(b"", args.shown_name, shown, args.front_end, live=not args.note,
                        note=args.note)
    Path(args.html_out).write_text(render_html(result, notebook, only), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
