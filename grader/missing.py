"""Messages for names a check needs and the submission does not define.

One row per check says, in one line, why the name is missing; :func:`summary` says it once per
name for the whole run (36 checks needing an `init_params` that sits inside an
``if __name__ == "__main__":`` block give one note, not 36 paragraphs). Everything is read from
the slicing plan (static analysis, in the judge) and the load report of the student process.
"""

from __future__ import annotations

import re

from grader.i18n import N_, _, ngettext
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


# Translated where used: French gives both nouns the same gender, so one sentence fits both.
KINDS = {"class": N_("class"), "function": N_("function")}


def _kind(name: str) -> str:
    return _(KINDS["class" if name[:1].isupper() else "function"])


def _absent(name: str, file: str) -> str:
    return _("no {kind} `{name}` in {file}").format(kind=_kind(name), name=name, file=file)


def _errors(report) -> list[dict]:
    return report.errors if report is not None else []


def _statement_at(plan: SlicePlan, lineno: int) -> Statement | None:
    return plan.statement_at(lineno)


def _names(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown + (_(" and {count} more").format(count=len(names) - limit)
                    if len(names) > limit else "")


def failed_import_reason(statement: Statement | None, error: dict, source: Source) -> str:
    """Why an import failed, in the student's terms."""
    code = statement.summary if statement is not None else ""
    relative = re.match(r"from\s+(\.+)\s*([\w.]*)\s+import\s+(.+)", code)
    if relative and not source.is_package:
        module, names = relative.group(2), relative.group(3).split("#")[0].strip()
        first = names.split(",")[0].split(" as ")[0].strip(" ()")
        what = f"`{first}`" if first != "*" else _("what you need from it")
        fix = (_("write `from {module} import {names}` (with {file} next to your file) or define "
                 "{what} in your file").format(module=module, names=names.strip(" ()"),
                                              file=module.split(".")[0] + ".py", what=what)
               if module else
               _("import the module by its name, or define what you need in your file"))
        return _("a relative import only works inside a package, and your file is graded on its "
                 "own: {fix}").format(fix=fix)
    message = error.get("message", "")
    absent = re.fullmatch(r"No module named '([\w.]+)'", message)
    if error.get("type") == "ModuleNotFoundError" and absent:
        top = absent.group(1).split(".")[0]
        if top in LIBRARIES:
            return _("`{module}` is not installed where the grader runs, so the code it checks "
                     "cannot use it (progress bars, plots and logging belong in your experiments, "
                     "under {guard})").format(module=top, guard=GUARD)
        return _("there is no module `{module}` where the grader runs: if it is a file of yours, "
                 "hand in {module}.py with your file (the whole folder)").format(module=top)
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
            return _("`{name}` could not be defined ({where}): it needs `{used}`, imported by "
                     "`{statement}` at {place}, which failed — {reason}").format(
                name=name, where=where, used=used, statement=imported.summary,
                place=source.where(imported.lineno),
                reason=failed_import_reason(imported, import_error, source))
        return _("`{name}` could not be defined: {where} raised {error}: {message}").format(
            name=name, where=where, error=error["type"], message=error["message"])
    container = plan.container(name)
    if container is not None:
        kind, line, _index = plan.inner[name]
        what = _(KINDS["class" if kind == "class" else "function"])
        if container.kind == "main-guard":
            return _("`{name}` is inside the {guard} block ({where}), which the grader does not "
                     "run: move the {what} to the top level").format(
                name=name, guard=GUARD, where=source.where(container.lineno), what=what)
        if container.kind == "def":
            outer = container.summary.removeprefix("def ").split("(")[0]
            return _("`{name}` is defined inside the function `{outer}` ({where}), so it only "
                     "exists while `{outer}` runs: move the {what} to the top level").format(
                name=name, outer=outer, where=source.where(line), what=what)
        if container.kind == "class":
            outer = container.summary.removeprefix("class ").split("(")[0].rstrip(":")
            return _("`{name}` is a method of the class `{outer}` ({where}); the practical asks "
                     "for a top-level {kind} `{name}`").format(
                name=name, outer=outer, where=source.where(line), kind=_kind(name))
        return _("`{name}` is defined at {where}, inside top-level code the grader does not run "
                 "(`{statement}`): move the {what} to the top level").format(
            name=name, where=source.where(line), statement=container.summary, what=what)
    if name in plan.only_in_skipped:
        return _("`{name}` is only defined at {where}, inside top-level code the grader does not "
                 "run (a loop or an `if __name__` block): define it at the top level").format(
            name=name, where=source.where(plan.only_in_skipped[name]))
    text = _absent(name, file)
    close = plan.suggestions(name)
    if close:
        text += _(" — did you mean `{name}`?").format(name=close[0])
    return text


def summary(source: Source, plan: SlicePlan, report, assignment: str) -> list[str]:
    """Once per run: the block that holds the work, and one line per other missing name."""
    notes = []
    guard = plan.main_guard
    inside = [n for n in plan.required
              if guard is not None and plan.container(n) is guard]
    if guard is not None:
        notes.append(ngettext(
            "{names} is defined inside the {guard} block at {where}, which the grader never runs "
            "(it runs your imports and top-level definitions only). Move the functions and "
            "classes out of the block, to the top level of the file, and keep only your training "
            "and experiments under it; `grade template {assignment}` writes a starter file laid "
            "out that way.",
            "{names} are defined inside the {guard} block at {where}, which the grader never runs "
            "(it runs your imports and top-level definitions only). Move the functions and "
            "classes out of the block, to the top level of the file, and keep only your training "
            "and experiments under it; `grade template {assignment}` writes a starter file laid "
            "out that way.", len(inside)).format(
            names=_names(inside), guard=GUARD, where=source.where(guard.lineno),
            assignment=assignment))
    defined = report.defined if report is not None else list(plan.defined)
    absent = []  # defined nowhere and nothing like them: one line for all of them
    for name in plan.required:
        if name in defined or name in inside:
            continue
        line = message(name, source, plan, report)
        if line == _absent(name, source.display_name):
            absent.append(name)
        elif line.startswith(_absent(name, source.display_name)):  # and a "did you mean"
            notes.append(line + _(" The grader looks for the practical's names (see `grade "
                                  "template {assignment}`): rename yours.").format(
                assignment=assignment))
        else:
            notes.append(line)
    if absent:
        found = [n for n, k in plan.defined.items() if k in ("def", "class") and n in defined]
        notes.append(_("not defined in {file}: {names}").format(
            file=source.display_name, names=_names(absent, MAX_LISTED)) + (
            _(" (it defines {names})").format(names=_names(found, MAX_LISTED)) if found else "")
            + (_("; every check that needs one of them fails") if len(absent) > 1 else ""))
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
            notes.append(_("{where}: `{statement}` failed: {reason}").format(
                where=where, statement=statement.summary if statement else "import",
                reason=failed_import_reason(statement, error, source)))
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
            why = (_("it needs `{name}`, whose import at {where} failed: {reason}").format(
                name=cause[0], where=source.where(cause[1].lineno),
                reason=failed_import_reason(cause[1], cause[2], source)) if cause
                   else f"{error['type']}: {error['message']}")
        return _("`{name}` is not defined because `{statement}` ({where}) failed when the grader "
                 "loaded your file — {why}").format(name=name, statement=statement.summary,
                                                   where=where, why=why)
    return ""
