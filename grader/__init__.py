"""Automated grader for the deep-learning course's practicals.

Student code runs only in a sandboxed child process (:mod:`grader.student_process`); the judge
(pytest with the assignment's checks) decides the grade from the data the child sends back.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dl-grader")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
