"""Exceptions that fail a check, each carrying a message written for the student.

They derive from ``AssertionError`` so pytest reports them as ordinary check failures; the
plugin shows their message as it is, without a grader traceback.
"""

from __future__ import annotations

from grader.i18n import _


class CheckFailure(AssertionError):
    """A check found something wrong. ``str(exc)`` is the whole message for the report."""


class StudentError(CheckFailure):
    """The student's code raised an exception while the judge was using it."""

    def __init__(self, call: str, type_name: str, message: str, where: list[str],
                 hint: str = "", short: bool = False):
        self.call, self.type_name, self.message, self.where, self.hint = (
            call, type_name, message, where, hint)
        if short:  # the hint says it all
            super().__init__(hint)
            return
        text = (_("{call} raised {error}: {message}").format(call=call, error=type_name,
                                                              message=message)
                if message else _("{call} raised {error}").format(call=call, error=type_name))
        if where:
            text += "\n" + "\n".join(f"  {w}" for w in where)
        if hint:
            text += f"\n{hint}"
        super().__init__(text)


class NotImplementedYet(StudentError):
    """The starter code's ``raise NotImplementedError`` is still there."""


class StudentTimeout(CheckFailure):
    """A request to the student process ran past its time limit; the process was killed."""


class StudentCrashed(CheckFailure):
    """The student process died (exit, signal, memory limit) while answering."""


class MissingName(CheckFailure):
    """The submission does not define a name the check needs."""


class BadReply(CheckFailure):
    """The student process answered with something that is not allowed data."""


class SubmissionNotLoadable(CheckFailure):
    """The submission cannot be loaded at all (syntax error, unreadable file)."""
