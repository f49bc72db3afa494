"""Messages for names a check needs and the submission does not define.

One row per check says, in one line, why the name is missing; :func:`summary` says it once per
name for the whole run (36 checks needing an `init_params` that sits inside an
``if __name__ == "__main__":`` block give one note, not 36 paragraphs). Everything is read from
the slicing plan (static analysis, in the judge) and the load report of the student process.
"""

from __future__ import annotations

import re

from grader.slicing import SlicePlan, Statement
from grader.submission import Source

GUARD = '`if __name__ == "__main__":`'
# Libraries students of the course import that the grading environment does not have: a
# missing one is "not installed"; any other missing module is probably a file of theirs.
LIBRARIES = {"tqdm", "tensorboard", "tensorboardX", "matplotlib", "seaborn", "sklearn", "pandas",
             "torchvision", "torchsummary", "torchinfo", "torchviz", "optuna", "wandb", "lightning",
             "pytorch_lightning", "cv2", "PIL", "scipy", "IPython", "ipywidgets", "google",
             "keras", "tensorflow", "plotly", "skimage", "mlflow", "visdom", "graphviz"}
MAX_LISTED = 8


def _kind(name: str) -> str:
    return "class" if name[:1].isupper() else "function"


def _absent(name: str, file: str) -> str:
    return f"no {_kind(name)} `{name}` in {file}"


def _errors(report) -> list[dict]:
    return report.errors if report is not None else []


def _statement_at(plan: SlicePlan, lineno: int) -> Statement | None:
    return plan.statement_at(lineno)


def _names(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def failed_import_reason(statement: Statement | None, error: dict, source: Source) -> str:
    """Why an import failed, in the student's terms."""
    code = statement.summary if statement is not None else ""
    relative = re.match(r"from\s+(\.+)\s*([\w.]*)\s+import\s+(.+)", code)
    if relative and not source.is_package:
        module, names = relative.group(2), relative.group(3).split("#")[0].strip()
        first = names.split(",")[0].split(" as ")[0].strip(" ()")
        what = f"`{first}`" if first != "*" else "what you need from it"
        fix = (f"write `from {module} import {names.strip(' ()')}` (with {module.split('.')[0]}.py "
               f"next to your file) or define {what} in your file" if module else
               "import the module by its name, or define what you need in your file")
        return ("a relative import only works inside a package, and your file is graded on its "
                f"own: {fix}")
    message = error.get("message", "")
    absent = re.fullmatch(r"No module named '([\w.]+)'", message)
    if error.get("type") == "ModuleNotFoundError" and absent:
        top = absent.group(1).split(".")[0]
        if top in LIBRARIES:
            return (f"`{top}` is not installed where the grader runs, so the code it checks "
                    "cannot use it (progress bars, plots and logging belong in your experiments, "
                    f"under {GUARD})")
        return (f"there is no module `{top}` where the grader runs: if it is a file of yours, hand "
                f"in {top}.py with your file (the whole folder)")
    return f"{error.get('type', 'ImportError')}: {message}" if message else error.get("type", "")


def _failed_import_used(statement: Statement, plan: SlicePlan, report,
                        failure: dict | None = None) -> tuple[str, Statement, dict] | None:
    """A name the failed ``statement`` uses that a failed import was to bind (``failure``: the
    statement's own error, whose NameError may name what a failed `import *` was to give)."""
    unbound = failure.get("name") if failure and failure.get("type") == "NameError" else None
    for error in _errors(report):
        if not error.get("import"):
            continue
        imported = _statement_at(plan, error["lineno"])
        if imported is None:
            continue
        used = sorted(statement.uses & imported.binds)
        if used:
            return used[0], imported, error
        if imported.star_import and unbound and unbound not in plan.defined:
            return unbound, imported, error
    return None


def message(name: str, source: Source, plan: SlicePlan, report) -> str:
    """One line for a check that needs ``name``: why it is not there, where, and the fix."""
    file = source.display_name
    for error in _errors(report):
        statement = _statement_at(plan, error["lineno"])
        if statement is None or name not in statement.binds:
            continue
        where = source.where(error["lineno"])
        cause = _failed_import_used(statement, plan, report, error)
        if cause is not None:
            used, imported, import_error = cause
            return (f"`{name}` could not be defined ({where}): it needs `{used}`, imported by "
                    f"`{imported.summary}` at {source.where(imported.lineno)}, which failed — "
                    f"{failed_import_reason(imported, import_error, source)}")
        return f"`{name}` could not be defined: {where} raised {error['type']}: {error['message']}"
    container = plan.container(name)
    if container is not None:
        kind, line, _ = plan.inner[name]
        what = "class" if kind == "class" else "function"
        if container.kind == "main-guard":
            return (f"`{name}` is inside the {GUARD} block ({source.where(container.lineno)}), "
                    f"which the grader does not run: move the {what} to the top level")
        if container.kind == "def":
            outer = container.summary.removeprefix("def ").split("(")[0]
            return (f"`{name}` is defined inside the function `{outer}` ({source.where(line)}), so "
                    f"it only exists while `{outer}` runs: move the {what} to the top level")
        if container.kind == "class":
            outer = container.summary.removeprefix("class ").split("(")[0].rstrip(":")
            return (f"`{name}` is a method of the class `{outer}` ({source.where(line)}); the "
                    f"practical asks for a top-level {_kind(name)} `{name}`")
        return (f"`{name}` is defined at {source.where(line)}, inside top-level code the grader "
                f"does not run (`{container.summary}`): move the {what} to the top level")
    if name in plan.only_in_skipped:
        return (f"`{name}` is only defined at {source.where(plan.only_in_skipped[name])}, inside "
                "top-level code the grader does not run (a loop or an `if __name__` block): "
                "define it at the top level")
    text = _absent(name, file)
    close = plan.suggestions(name)
    if close:
        text += f" — did you mean `{close[0]}`?"
    return text


def summary(source: Source, plan: SlicePlan, report, assignment: str) -> list[str]:
    """Once per run: the block that holds the work, and one line per other missing name."""
    notes = []
    guard = plan.main_guard
    inside = [n for n in plan.required
              if guard is not None and plan.container(n) is guard]
    if guard is not None:
        notes.append(
            f"{_names(inside)} {'is' if len(inside) == 1 else 'are'} defined inside the {GUARD} "
            f"block at {source.where(guard.lineno)}, which the grader never runs (it runs your "
            "imports and top-level definitions only). Move the functions and classes out of the "
            "block, to the top level of the file, and keep only your training and experiments "
            f"under it; `grade template {assignment}` writes a starter file laid out that way.")
    defined = report.defined if report is not None else list(plan.defined)
    absent = []  # defined nowhere and nothing like them: one line for all of them
    for name in plan.required:
        if name in defined or name in inside:
            continue
        line = message(name, source, plan, report)
        if line == _absent(name, source.display_name):
            absent.append(name)
        elif "— did you mean" in line:
            notes.append(f"{line} The grader looks for the practical's names (see `grade template "
                         f"{assignment}`): rename yours.")
        else:
            notes.append(line)
    if absent:
        found = [n for n, k in plan.defined.items() if k in ("def", "class") and n in defined]
        notes.append(f"not defined in {source.display_name}: {_names(absent, MAX_LISTED)}" + (
            f" (it defines {_names(found, MAX_LISTED)})" if found else "") + (
            "; every check that needs one of them fails" if len(absent) > 1 else ""))
    return notes


def load_notes(source: Source, plan: SlicePlan, report, assignment: str) -> list[str]:
    """What the run should say once about loading: each top-level statement that failed (a
    missing library, a relative import), then :func:`summary` for the missing names."""
    notes, explained = [], set()
    for error in _errors(report):
        statement = _statement_at(plan, error["lineno"])
        if statement is not None and statement.binds & set(plan.required):
            cause = _failed_import_used(statement, plan, report, error)
            if cause is not None:
                explained.add(cause[1].lineno)
    for error in _errors(report):
        statement = _statement_at(plan, error["lineno"])
        if error["lineno"] in explained or (statement is not None
                                            and statement.binds & set(plan.required)):
            continue  # the summary says why that name is missing, and its import
        where = source.where(error["lineno"])
        if error.get("import"):
            notes.append(f"{where}: `{statement.summary if statement else 'import'}` failed: "
                         f"{failed_import_reason(statement, error, source)}")
        else:
            notes.append(f"{where}: {error['type']}: {error['message']}")
    return notes + summary(source, plan, report, assignment)


def failed_binding(name: str, source: Source, plan: SlicePlan, report) -> str:
    """Why a global the student's code reads is undefined when the top-level statement that
    defines it failed at load (`writer = SummaryWriter()` after a failed tensorboard import);
    "" when no failed statement binds it."""
    for error in _errors(report):
        statement = _statement_at(plan, error["lineno"])
        if statement is None or name not in statement.binds:
            continue
        where = source.where(error["lineno"])
        if error.get("import"):
            why = failed_import_reason(statement, error, source)
        else:
            cause = _failed_import_used(statement, plan, report, error)
            why = (f"it needs `{cause[0]}`, whose import at {source.where(cause[1].lineno)} "
                   f"failed: {failed_import_reason(cause[1], cause[2], source)}" if cause
                   else f"{error['type']}: {error['message']}")
        return (f"`{name}` is not defined because `{statement.summary}` ({where}) failed when the "
                f"grader loaded your file — {why}")
    return ""
