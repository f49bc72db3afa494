"""What a student reads when the student process fails: the prose of :mod:`grader.student_process`.

The student process decides when something went wrong (a time-out, a crash, a malformed reply,
a starter stub still there); this module says it, for a student at 11 pm: what happened, during
which call, and the likely fix. One function per situation, so that the wording (and its
translation, through :func:`grader.i18n._`) lives in one place and the engine holds no prose.
"""

from __future__ import annotations

from grader.i18n import _


# ---------------------------------------------------------------- loading

def slow_load(seconds: float, culprits: list[str]) -> str:
    """Loading ran past its limit; ``culprits``: `where: code` of the top-level statements
    that compute something (``SCALE = train_model(150)``), the likely cause."""
    text = _("loading the submission timed out after {seconds:g} s").format(seconds=seconds)
    if culprits:
        text += _(" — the top-level code the grader runs at load: {listed} (your definitions use "
                  "what it defines); keep heavy work such as training out of it").format(
            listed="; ".join(culprits))
    return text


def malformed_load_report() -> str:
    return _("loading the submission: the student process sent back a malformed load report; "
             "it was stopped")


def could_not_start(error: str) -> str:
    return _("the student process could not be started: {error}").format(error=error)


# ---------------------------------------------------------------- time

def timed_out(what: str, seconds: float) -> str:
    return _("{what} timed out after {seconds:g} s (the student process was stopped; later "
             "checks start a fresh one)").format(what=what, seconds=seconds)


def stopped_reading(what: str, seconds: float) -> str:
    return _("{what} timed out after {seconds:g} s (the student process stopped reading its "
             "requests)").format(what=what, seconds=seconds)


def slow_answer(what: str, seconds: float) -> str:
    return _("{what} timed out after {seconds:g} s while sending its answer").format(
        what=what, seconds=seconds)


def budget_spent(what: str, budget: float) -> str:
    return _("{what} was stopped: the grading's time budget ({budget:g} s for all checks) ran "
             "out").format(what=what, budget=budget)


def timed_out_before(function: str, check: str, seconds: float) -> str:
    """A function that already ran past its limit is not called again with a full limit."""
    where = _(" in the check `{check}`").format(check=check) if check else ""
    return _("`{function}` was not called again: it already timed out{where} after {seconds:g} s "
             "(an infinite loop, or far slower than needed?) — fix that first; this check needs "
             "it too").format(function=function, where=where, seconds=seconds)


# ---------------------------------------------------------------- crashes and replies

def died(how: str, what: str, memory_gib: float | None, output_tail: list[str]) -> str:
    """``how``: "was killed by SIGKILL", "exited with code 1"; ``memory_gib``: the limit when
    the memory cgroup saw it hit."""
    if memory_gib is not None:
        how += _(" — most likely over the memory limit of {limit:g} GiB").format(limit=memory_gib)
    text = _("the student process {how} during {what}").format(how=how, what=what)
    if output_tail:
        text += "\n" + _("last output: {lines}").format(lines=" | ".join(output_tail))
    return text


def killed_by(signal_name: str) -> str:
    return _("was killed by {signal}").format(signal=signal_name)


def killed_137() -> str:
    return _("was killed (exit 137)")


def exited_with(code) -> str:
    return _("exited with code {code}").format(code=code)


def not_plain_data(what: str, error: str) -> str:
    return _("{what}: the student process sent back something that is not plain data ({error}); "
             "it was stopped").format(what=what, error=error)


def out_of_turn(what: str) -> str:
    return _("{what}: the student process answered out of turn; it was stopped").format(what=what)


def malformed_error(what: str) -> str:
    return _("{what}: the student process sent back a malformed error report; it was "
             "stopped").format(what=what)


def handle_lost(handle: str) -> str:
    return _("{handle} was lost: the student process was restarted after an earlier failure (a "
             "time-out or a crash) in this check").format(handle=handle)


# ---------------------------------------------------------------- the student's exceptions

def not_implemented(function: str, where: str) -> str:
    return _("`{function}` is not implemented yet ({where}: the starter code's "
             "`raise NotImplementedError` is still there)").format(function=function, where=where)


def defined_only_by_skipped(name: str, where: str) -> str:
    return _("`{name}` is only defined by the top-level statement at {where}, which the grader "
             "does not run (training, plots and downloads at the top level are skipped): define "
             "it inside your function or at the top level without side effects.").format(
        name=name, where=where)
