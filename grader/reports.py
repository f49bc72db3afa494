"""Reports: every format is a Jinja2 template over the one results model.

``render(result, "html" | "md" | "text")`` gives a student's report; ``render_summary`` the
class summary of a batch. Plots (learning curves, accuracy against its thresholds, confusion
matrix, score histogram, pass rates) are drawn with matplotlib and embedded as PNG data URIs, so
an HTML report is one self-contained file. Hidden checks show their name, status and points
only: never their message (it may describe the hidden inputs), never their source.
"""

from __future__ import annotations

import base64
import html
import io
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from grader.results import HIDDEN, CheckResult, GradingResult

TEMPLATES = Path(__file__).with_name("report_templates")
FORMATS = ("text", "md", "html")


@dataclass
class Plot:
    uri: str
    alt: str
    caption: str
    width: int
    height: int


def _md_cell(text: str) -> str:
    return _md_inline(text).replace("|", "\\|")


def _md_inline(text: str) -> str:
    """Student text as inert Markdown: code spans stay code; elsewhere HTML is escaped (a
    student named `<img src=x onerror=...>` stays text), and link, image and autolink syntax is
    broken up, so a message cannot embed a remote image (a tracker) or a link in a report."""
    parts = " ".join(str(text).split()).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code spans at all
        parts = ["'".join(parts)]
    for i in range(0, len(parts), 2):  # outside code spans; inside, Markdown shows text as is
        parts[i] = _MD_INERT.sub(lambda m: _MD_ENTITIES[m.group()],
                                 html.escape(parts[i], quote=False))
    return "`".join(parts)


_MD_ENTITIES = {"[": "&#91;", "]": "&#93;", "://": ":&#47;&#47;", "www.": "www&#46;",
                "WWW.": "WWW&#46;"}
_MD_INERT = re.compile(r"\[|\]|://|www\.|WWW\.")


def _md_code(text: str) -> str:
    return str(text).replace("`", "'")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"),
                                            default_for_string=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined)
    env.filters.update(md_cell=_md_cell, md_inline=_md_inline, md_code=_md_code)
    return env


ENV = _environment()


class CheckView:
    """A check as a report shows it (hidden checks: name, status and points only)."""

    def __init__(self, check: CheckResult, with_plots: bool, number: int = 0):
        self.check = check
        self.anchor = f"check-{number}"
        self.show_message = check.visibility != HIDDEN
        self.plots = check_plots(check) if with_plots and self.show_message else []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.check, name)

    @property
    def css(self) -> str:
        if self.check.passed:
            return "passed"
        return "partial" if self.check.score > 0 else "failed"

    @property
    def status_text(self) -> str:
        return {"passed": "✓ passed", "partial": "~ partial credit", "failed": "✗ failed"}[self.css]


class ResultView:
    def __init__(self, result: GradingResult):
        self.result = result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.result, name)

    @property
    def submission_name(self) -> str:
        return Path(self.result.submission).name


def render(result: GradingResult, fmt: str) -> str:
    """The report of one grading run in ``fmt`` (text, md or html)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    template = ENV.get_template({"text": "text.j2", "md": "md.j2", "html": "report.html.j2"}[fmt])
    checks = [CheckView(c, with_plots=fmt == "html", number=i)
              for i, c in enumerate(result.checks, start=1)]
    return template.render(result=ResultView(result), checks=checks)


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------

def _figure(width: float = 6.0, height: float = 3.2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    return fig, ax


def _to_plot(fig, alt: str, caption: str) -> Plot:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    width, height = (int(v) for v in fig.get_size_inches() * fig.dpi)
    plt.close(fig)
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Plot(uri, alt, caption, width, height)


def check_plots(check: CheckResult) -> list[Plot]:
    """The plots of a check. Their data may come from the student's code (a learning curve is
    what the student's ``train_loop`` returned): whatever it holds, a plot that cannot be drawn
    is left out with a note, never an error — one student's report must not stop a batch."""
    plots = []
    details = check.details if isinstance(check.details, dict) else {}
    curves = details.get("learning_curves")
    if curves:
        plots.append(_drawn(learning_curves_plot, curves, "learning curves"))
    acc = details.get("accuracy")
    if acc:
        plots.append(_drawn(accuracy_plot, acc, "accuracy"))
    matrix = details.get("confusion_matrix")
    if matrix:
        plots.append(_drawn(confusion_plot, matrix, "confusion matrix"))
    return [p for p in plots if p is not None]


class NotDrawable(ValueError):
    """The data of a plot is not what it should be; the message says what, for the report."""


def _drawn(draw, data, what: str) -> Plot | None:
    try:
        return draw(data)
    except NotDrawable as e:
        return Plot("", "", f"The {what} are not drawn: {e}.", 0, 0)
    except Exception as e:  # matplotlib on data we did not foresee: a note, not a crash
        import matplotlib.pyplot as plt

        plt.close("all")
        return Plot("", "", f"The {what} could not be drawn ({type(e).__name__}).", 0, 0)


MAX_POINTS = 10_000
PLOT_RANGE = 1e15  # beyond this matplotlib's axis arithmetic overflows (±1e308 did)


def _curve(values, name: str) -> list[float]:
    """A learning curve as finite floats of a drawable size; NotDrawable says what is wrong."""
    import math

    if not isinstance(values, (list, tuple)):
        raise NotDrawable(f"{name} is a {type(values).__name__}, not a list of numbers")
    if len(values) > MAX_POINTS:
        raise NotDrawable(f"{name} has {len(values):,} values (one per epoch expected)")
    numbers = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise NotDrawable(f"{name}[{i}] is a {type(v).__name__}, not a number")
        v = float(v)
        if not math.isfinite(v) or abs(v) > PLOT_RANGE:
            raise NotDrawable(f"{name}[{i}] is {v:g}, not a finite loss")
        numbers.append(v)
    return numbers


def learning_curves_plot(curves: dict) -> Plot:
    if not isinstance(curves, dict):
        raise NotDrawable(f"the history is a {type(curves).__name__}, not a dict")
    train = _curve(curves.get("train_loss", []), "train_loss")
    valid = _curve(curves.get("valid_loss", []), "valid_loss")
    if not train:
        raise NotDrawable("the history has no train_loss")
    fig, ax = _figure()
    epochs = range(1, len(train) + 1)
    ax.plot(epochs, train, marker="o", label="train loss", color="#0550ae")
    if valid:
        ax.plot(range(1, len(valid) + 1), valid, marker="s", linestyle="--", label="valid loss",
                color="#bc4c00")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=.3)
    alt = (f"Learning curves over {len(train)} epochs: train loss from {train[0]:.3f} to "
           f"{train[-1]:.3f}" + (f", valid loss from {valid[0]:.3f} to {valid[-1]:.3f}" if valid else ""))
    return _to_plot(fig, alt, "Learning curves of your model during the check's training run.")


def accuracy_plot(acc: dict) -> Plot:
    value, low, high = (float(acc[k]) for k in ("value", "low", "high"))
    if not all(0 <= v <= 1 for v in (value, low, high)):
        raise NotDrawable(f"accuracy {value:g} or thresholds {low:g}/{high:g} outside [0, 1]")
    fig, ax = _figure(6.0, 1.4)
    ax.axvspan(0, low, color="#ffebe9", label="no credit")
    ax.axvspan(low, high, color="#fff8c5", label="partial credit")
    ax.axvspan(high, 1, color="#dafbe1", label="full marks")
    ax.axvline(value, color="#1f2328", linewidth=3)
    ax.set_xlim(max(0.0, min(low, value) - 0.1), 1.0)
    ax.set_yticks([])
    ax.set_xlabel("accuracy")
    ax.legend(loc="upper left", fontsize=7, ncol=3)
    alt = (f"Accuracy {value:.3f}: no credit up to {low:.2f}, partial credit up to {high:.2f}, "
           "full marks above")
    return _to_plot(fig, alt, f"Your accuracy ({value:.3f}) against the thresholds.")


def confusion_plot(matrix: list[list[int]]) -> Plot:
    import numpy as np

    data = np.asarray(matrix)
    if data.ndim != 2 or data.shape[0] != data.shape[1] or not 0 < data.shape[0] <= 100 or (
            data.dtype.kind not in "iu"):
        raise NotDrawable("the confusion matrix is not a square table of counts")
    fig, ax = _figure(4.2, 3.8)
    image = ax.imshow(data, cmap="Blues")
    n = data.shape[0]
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.colorbar(image, ax=ax, fraction=0.046)
    off = data.copy()
    np.fill_diagonal(off, 0)
    worst = np.unravel_index(int(off.argmax()), off.shape) if off.any() else None
    alt = f"Confusion matrix of {int(data.sum())} test images, {int(np.trace(data))} correct"
    if worst is not None:
        alt += f"; most frequent confusion: true {worst[0]} predicted as {worst[1]} ({off[worst]} times)"
    return _to_plot(fig, alt, "Confusion matrix on the test images.")


# --------------------------------------------------------------------------------------------
# Class summary
# --------------------------------------------------------------------------------------------

def render_summary(title: str, rows: list[dict], results: list[GradingResult]) -> str:
    """``rows``: one per student ({student, score, max_score, note, report}); ``results``: the
    graded ones."""
    scores = [r["score"] for r in rows if r.get("graded")]
    max_score = max((r.max_score for r in results), default=0.0)
    names = list(dict.fromkeys(c.name for r in results for c in r.checks))
    per_check = []
    for name in names:
        checks = [c for r in results for c in r.checks if c.name == name]
        per_check.append({"name": name, "passed": sum(c.passed for c in checks), "total": len(checks),
                          "mean": statistics.fmean(c.score for c in checks) if checks else 0.0,
                          "max_score": checks[0].max_score if checks else 0.0})
    return ENV.get_template("summary.html.j2").render(
        title=title, n_students=len(rows), n_graded=len(scores),
        n_errors=sum(1 for r in rows if not r.get("graded")),
        mean=statistics.fmean(scores) if scores else 0.0,
        median=statistics.median(scores) if scores else 0.0, max_score=max_score,
        histogram=histogram_plot(scores, max_score), pass_rates=pass_rate_plot(per_check),
        per_check=per_check, students=rows)


def histogram_plot(scores: list[float], max_score: float) -> Plot:
    fig, ax = _figure()
    bins = min(20, max(5, int(max_score) + 1)) if max_score else 10
    ax.hist(scores, bins=bins, range=(0, max_score or 1), color="#0550ae", edgecolor="white")
    ax.set_xlabel("score")
    ax.set_ylabel("students")
    alt = (f"Histogram of {len(scores)} scores out of {max_score:g}" + (
        f": from {min(scores):g} to {max(scores):g}, mean {statistics.fmean(scores):.2f}" if scores else ""))
    return _to_plot(fig, alt, "Distribution of the total scores.")


def pass_rate_plot(per_check: list[dict]) -> Plot:
    height = max(2.0, 0.28 * len(per_check) + 1)
    fig, ax = _figure(7.0, height)
    names = [row["name"] for row in per_check][::-1]
    rates = [row["passed"] / row["total"] if row["total"] else 0 for row in per_check][::-1]
    ax.barh(names, rates, color="#116329")
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of students passing")
    ax.tick_params(axis="y", labelsize=7)
    hardest = min(per_check, key=lambda r: r["passed"] / r["total"] if r["total"] else 1,
                  default=None)
    alt = f"Pass rate of {len(per_check)} checks" + (
        f"; lowest: {hardest['name']} ({hardest['passed']}/{hardest['total']})" if hardest else "")
    return _to_plot(fig, alt, "Share of students who passed each check.")
