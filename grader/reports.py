"""Reports: every format is a Jinja2 template over the one results model.

``render(result, "html" | "md" | "text" | "json")`` gives a student's report; ``render_summary``
the class summary of a batch. The formats are registered in one table, :data:`FORMATS`
(:func:`register_format`): the CLI's ``--format`` choices are its keys. Every report is written
in the current language (:mod:`grader.i18n`): the templates use Jinja2's i18n extension.

Plots (learning curves, accuracy against its thresholds, confusion
matrix, score histogram, pass rates) are drawn with matplotlib and embedded as PNG data URIs, so
an HTML report is one self-contained file. Hidden checks show their name, status and points
only: never their message (it may describe the hidden inputs), never their source.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import jinja2

from grader import i18n
from grader.i18n import N_, _, ngettext
from grader.results import HIDDEN, CheckResult, GradingResult

TEMPLATES = Path(__file__).with_name("report_templates")


@dataclass(frozen=True)
class ReportFormat:
    """One way to show a grading result: ``grade check --format NAME``, ``grade report``."""
    name: str
    suffix: str                                  # the file name's ending: report.md
    help: str                                    # one line for the CLI's help (English)
    render: Callable[[GradingResult], str]


FORMATS: dict[str, ReportFormat] = {}


def register_format(name: str, suffix: str, help: str):
    """Decorator: ``render(result) -> str`` becomes the format ``name``."""
    def decorate(render: Callable[[GradingResult], str]):
        FORMATS[name] = ReportFormat(name, suffix, help, render)
        return render
    return decorate


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
        undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.i18n"])
    env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
    # Looked up at each call: one environment serves every language.
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.globals["language"] = i18n.current
    # |translated: a message stored in English (marked N_ where it is made), shown translated.
    env.filters.update(md_cell=_md_cell, md_inline=_md_inline, md_code=_md_code,
                       translated=i18n.gettext)
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
        return {"passed": _("✓ passed"), "partial": _("~ partial credit"),
                "failed": _("✗ failed")}[self.css]

    @property
    def tag(self) -> str:
        """The text report's four-letter status (PASS, PART, FAIL)."""
        return {"passed": _("PASS"), "partial": _("PART"), "failed": _("FAIL")}[self.css]


class ResultView:
    def __init__(self, result: GradingResult):
        self.result = result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.result, name)

    @property
    def submission_name(self) -> str:
        return Path(self.result.submission).name


def render(result: GradingResult, fmt: str) -> str:
    """The report of one grading run in the format named ``fmt`` (a key of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return FORMATS[fmt].render(result)


def _templated(result: GradingResult, template: str, with_plots: bool) -> str:
    checks = [CheckView(c, with_plots=with_plots, number=i)
              for i, c in enumerate(result.checks, start=1)]
    return ENV.get_template(template).render(result=ResultView(result), checks=checks)


@register_format("text", ".txt", "plain text, one block per check")
def render_text(result: GradingResult) -> str:
    return _templated(result, "text.j2", with_plots=False)


@register_format("json", ".json", "Gradescope's results.json")
def render_gradescope(result: GradingResult) -> str:
    return json.dumps(result.to_gradescope(), indent=2) + "\n"


@register_format("md", ".md", "Markdown (GitHub's job summary)")
def render_markdown(result: GradingResult) -> str:
    return _templated(result, "md.j2", with_plots=False)


@register_format("html", ".html", "a self-contained HTML page with the plots")
def render_html(result: GradingResult) -> str:
    return _templated(result, "report.html.j2", with_plots=True)


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


# Whole sentences per plot: a translation agrees its words with the plot's name.
_NOT_DRAWN = {"learning curves": N_("The learning curves are not drawn: {reason}."),
              "accuracy": N_("The accuracy plot is not drawn: {reason}."),
              "confusion matrix": N_("The confusion matrix is not drawn: {reason}.")}
_NOT_DRAWABLE = {"learning curves": N_("The learning curves could not be drawn ({error})."),
                 "accuracy": N_("The accuracy plot could not be drawn ({error})."),
                 "confusion matrix": N_("The confusion matrix could not be drawn ({error}).")}


def _drawn(draw, data, what: str) -> Plot | None:
    try:
        return draw(data)
    except NotDrawable as e:
        return Plot("", "", _(_NOT_DRAWN[what]).format(reason=e), 0, 0)
    except Exception as e:  # matplotlib on data we did not foresee: a note, not a crash
        import matplotlib.pyplot as plt

        plt.close("all")
        return Plot("", "", _(_NOT_DRAWABLE[what]).format(error=type(e).__name__), 0, 0)


MAX_POINTS = 10_000
PLOT_RANGE = 1e15  # beyond this matplotlib's axis arithmetic overflows (±1e308 did)


def _curve(values, name: str) -> list[float]:
    """A learning curve as finite floats of a drawable size; NotDrawable says what is wrong."""
    import math

    if not isinstance(values, (list, tuple)):
        raise NotDrawable(_("{name} is a {type}, not a list of numbers").format(
            name=name, type=type(values).__name__))
    if len(values) > MAX_POINTS:
        raise NotDrawable(_("{name} has {count:,} values (one per epoch expected)").format(
            name=name, count=len(values)))
    numbers = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise NotDrawable(_("{name}[{index}] is a {type}, not a number").format(
                name=name, index=i, type=type(v).__name__))
        v = float(v)
        if not math.isfinite(v) or abs(v) > PLOT_RANGE:
            raise NotDrawable(_("{name}[{index}] is {value:g}, not a finite loss").format(
                name=name, index=i, value=v))
        numbers.append(v)
    return numbers


def learning_curves_plot(curves: dict) -> Plot:
    if not isinstance(curves, dict):
        raise NotDrawable(_("the history is a {type}, not a dict").format(
            type=type(curves).__name__))
    train = _curve(curves.get("train_loss", []), "train_loss")
    valid = _curve(curves.get("valid_loss", []), "valid_loss")
    if not train:
        raise NotDrawable(_("the history has no train_loss"))
    fig, ax = _figure()
    epochs = range(1, len(train) + 1)
    ax.plot(epochs, train, marker="o", label=_("training loss"), color="#0550ae")
    if valid:
        ax.plot(range(1, len(valid) + 1), valid, marker="s", linestyle="--",
                label=_("validation loss"),
                color="#bc4c00")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(_("epoch"))
    ax.set_ylabel(_("loss"))
    ax.legend()
    ax.grid(alpha=.3)
    alt = ngettext("Learning curves over {count} epoch: training loss from {first:.3f} to "
                   "{last:.3f}",
                   "Learning curves over {count} epochs: training loss from {first:.3f} to "
                   "{last:.3f}", len(train)).format(count=len(train), first=train[0],
                                                   last=train[-1])
    if valid:
        alt += _(", validation loss from {first:.3f} to {last:.3f}").format(first=valid[0],
                                                                            last=valid[-1])
    return _to_plot(fig, alt, _("Learning curves of your model during the check's training run."))


def accuracy_plot(acc: dict) -> Plot:
    value, low, high = (float(acc[k]) for k in ("value", "low", "high"))
    if not all(0 <= v <= 1 for v in (value, low, high)):
        raise NotDrawable(_("accuracy {value:g} or thresholds {low:g}/{high:g} outside [0, 1]")
                          .format(value=value, low=low, high=high))
    fig, ax = _figure(6.0, 1.4)
    ax.axvspan(0, low, color="#ffebe9", label=_("no credit"))
    ax.axvspan(low, high, color="#fff8c5", label=_("partial credit"))
    ax.axvspan(high, 1, color="#dafbe1", label=_("full marks"))
    ax.axvline(value, color="#1f2328", linewidth=3)
    ax.set_xlim(max(0.0, min(low, value) - 0.1), 1.0)
    ax.set_yticks([])
    ax.set_xlabel(_("accuracy"))
    ax.legend(loc="upper left", fontsize=7, ncol=3)
    alt = _("Accuracy {value:.3f}: no credit up to {low:.2f}, partial credit up to {high:.2f}, "
            "full marks above").format(value=value, low=low, high=high)
    return _to_plot(fig, alt, _("Your accuracy ({value:.3f}) against the thresholds.").format(
        value=value))


def confusion_plot(matrix: list[list[int]]) -> Plot:
    import numpy as np

    data = np.asarray(matrix)
    if data.ndim != 2 or data.shape[0] != data.shape[1] or not 0 < data.shape[0] <= 100 or (
            data.dtype.kind not in "iu"):
        raise NotDrawable(_("the confusion matrix is not a square table of counts"))
    fig, ax = _figure(4.2, 3.8)
    image = ax.imshow(data, cmap="Blues")
    n = data.shape[0]
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel(_("predicted class"))
    ax.set_ylabel(_("true class"))
    fig.colorbar(image, ax=ax, fraction=0.046)
    off = data.copy()
    np.fill_diagonal(off, 0)
    worst = np.unravel_index(int(off.argmax()), off.shape) if off.any() else None
    alt = _("Confusion matrix of {count} test images, {correct} correct").format(
        count=int(data.sum()), correct=int(np.trace(data)))
    if worst is not None:
        alt += _("; most frequent confusion: true {true} predicted as {predicted} ({times} times)"
                 ).format(true=worst[0], predicted=worst[1], times=off[worst])
    return _to_plot(fig, alt, _("Confusion matrix on the test images."))


# --------------------------------------------------------------------------------------------
# Class summary
# --------------------------------------------------------------------------------------------

def render_summary(title: str, rows: list[dict], results: list[GradingResult],
                   similarity: dict | None = None) -> str:
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
        title=i18n.gettext(title),  # the assignment's title: in the catalogue (babel.cfg)
        n_students=len(rows), n_graded=len(scores),
        n_errors=sum(1 for r in rows if not r.get("graded")),
        mean=statistics.fmean(scores) if scores else 0.0,
        median=statistics.median(scores) if scores else 0.0, max_score=max_score,
        histogram=histogram_plot(scores, max_score), pass_rates=pass_rate_plot(per_check),
        per_check=per_check, students=rows, similarity=similarity)


def histogram_plot(scores: list[float], max_score: float) -> Plot:
    fig, ax = _figure()
    bins = min(20, max(5, int(max_score) + 1)) if max_score else 10
    ax.hist(scores, bins=bins, range=(0, max_score or 1), color="#0550ae", edgecolor="white")
    ax.set_xlabel(_("score"))
    ax.set_ylabel(_("students"))
    alt = _("Histogram of {count} scores out of {max_score:g}").format(count=len(scores),
                                                                      max_score=max_score)
    if scores:
        alt += _(": from {low:g} to {high:g}, mean {mean:.2f}").format(
            low=min(scores), high=max(scores), mean=statistics.fmean(scores))
    return _to_plot(fig, alt, _("Distribution of the total scores."))


def pass_rate_plot(per_check: list[dict]) -> Plot:
    height = max(2.0, 0.28 * len(per_check) + 1)
    fig, ax = _figure(7.0, height)
    names = [row["name"] for row in per_check][::-1]
    rates = [row["passed"] / row["total"] if row["total"] else 0 for row in per_check][::-1]
    ax.barh(names, rates, color="#116329")
    ax.set_xlim(0, 1)
    ax.set_xlabel(_("share of students passing"))
    ax.tick_params(axis="y", labelsize=7)
    hardest = min(per_check, key=lambda r: r["passed"] / r["total"] if r["total"] else 1,
                  default=None)
    alt = _("Pass rate of {count} checks").format(count=len(per_check))
    if hardest:
        alt += _("; lowest: {name} ({passed}/{total})").format(**hardest)
    return _to_plot(fig, alt, _("Share of students who passed each check."))
