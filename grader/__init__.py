"""Automated grader for the deep-learning course's practicals.

Student code runs only in a sandboxed child process (:mod:`grader.student_process`); the judge
(pytest with the assignment's checks) decides the grade from the data the child sends back.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dl-grader")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"


def check(part=None, **options):
    """``grader.check()`` / ``grader.check("MLP")`` in a notebook cell: grade this notebook (or
    one part of it) in a separate, sandboxed process and show the report below the cell.
    Options: ``assignment``, ``notebook``, ``hidden_dir``, ``save``. Imported on first use, so
    ``import grader`` stays cheap."""
    from grader.notebook_check import check as _check

    return _check(part, **options)


def load_ipython_extension(ipython):
    """``%load_ext grader`` registers the ``%grade`` magic: ``%grade``, ``%grade MLP``."""
    from grader.notebook_check import load_ipython_extension as _load

    _load(ipython)
