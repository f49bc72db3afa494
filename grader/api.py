"""Everything a check author uses, in one import (as ``pytest`` re-exports ``_pytest``)::

    from grader import api

    @pytest.mark.points(2)
    def test_train_epoch_lowers_the_loss(student, mnist):
        model = student.LogReg(784, 10)
        loss = api.call("train_epoch(model, x, y)", student.train_epoch, model, x, y)
        api.check_close(loss, expected, "train_epoch's loss")

Checks import only this module and the modules of their own assignment folder; the names
below are the stable surface (the engine modules behind them may move).

* **Comparisons** on data sent back by the student process: :func:`check_close`,
  :func:`check_shape`, :func:`check_int`, :func:`check_count`, :func:`check_number`,
  :func:`check_finite`, :func:`check_parameter_count`, :func:`check_parameter_layout`,
  :func:`as_tensor`, :func:`as_number`.
* **Gradients**: :func:`check_gradient` (CS231n relative error of a student's gradient against
  one computed here), :func:`numerical_gradient` (central finite differences of a NumPy
  function), :func:`relative_error`; torch code: compute the expected gradient by autograd
  here and compare with :func:`check_gradient`.
* **NumPy modules** (parameters in any layout, gradients by autograd here): :mod:`numpy_checks`
  re-exported as ``api.numpy_checks``, and its most used names directly.
* **PyTorch models** behind the wall: ``api.models`` (:mod:`grader.model_checks`: layouts,
  weights given to the student's model, trainings replayed in the judge).
* **Failures and credit**: :class:`CheckFailure` (fails the check with its message),
  :func:`linear_credit`, :func:`accuracy`, :func:`confusion_matrix`; the ``score`` fixture
  (:class:`Score`) gives partial credit.
* **The student process**: the ``student`` fixture (:class:`StudentModule`); :func:`recipe`
  (a helper run in the student process: the practical's ``student_side.py`` first, else the
  engine's), :func:`call` (call into it, student errors named after what the student wrote).
* **Trainings**: :mod:`grader.training` as ``api.training`` (seeded recipes, the same on both
  sides of the wall).
* **Data**: :mod:`grader.data` as ``api.data``; fixtures ``mnist``, ``mnist_resplit``,
  ``mnist_pool``, ``usps``, ``settings``, ``assignment``, ``reference`` (hidden checks only).
"""

from grader import data, training
from grader import model_checks as models
from grader import numpy_checks
from grader.checks import (FD_THRESHOLD, accuracy, as_number, as_tensor, check_close,
                           check_count, check_finite, check_gradient, check_int, check_number,
                           check_parameter_count, check_parameter_layout, check_shape,
                           confusion_matrix, linear_credit, numerical_gradient, relative_error)
from grader.diagnosis import (FIRST_LOOP, RETURN_IN_LOOP, Candidate, DiagnosedFailure,
                               Mistake, matching, mistake, recognising, same)
from grader.diagnosis import message as mistake_message
from grader.failures import (CheckFailure, MissingName, NotImplementedYet, StudentCrashed,
                             StudentError, StudentTimeout)
from grader.i18n import N_, _, gettext, ngettext
from grader.model_checks import call, recipe
from grader.numpy_checks import (FORWARD_ATOL, FORWARD_RTOL, MISSING, Layout, Op, Reading,
                                 as_array, canonical_parameters, check_array, describe_layout,
                                 entries, expected_gradients, float64_note, forward_matches,
                                 gradient_matches_parameters, label, layouts, matching_readings,
                                 readings, t)
from grader.plugin import Score
from grader.student_process import Remote, StudentModule
from grader.wire import describe_value

__all__ = [
    "data", "models", "numpy_checks", "training",
    "FD_THRESHOLD", "accuracy", "as_number", "as_tensor", "check_close", "check_count",
    "check_finite", "check_gradient", "check_int", "check_number", "check_parameter_count",
    "check_parameter_layout", "check_shape", "confusion_matrix", "linear_credit",
    "numerical_gradient", "relative_error",
    "CheckFailure", "MissingName", "NotImplementedYet", "StudentCrashed", "StudentError",
    "StudentTimeout",
    "call", "recipe", "Score",
    "FORWARD_ATOL", "FORWARD_RTOL", "MISSING", "Layout", "Op", "Reading", "as_array",
    "canonical_parameters", "check_array", "describe_layout", "entries", "expected_gradients",
    "float64_note", "forward_matches", "gradient_matches_parameters", "label", "layouts",
    "matching_readings", "readings", "t", "Remote", "StudentModule",
    "describe_value",
    "FIRST_LOOP", "RETURN_IN_LOOP", "Candidate", "DiagnosedFailure", "Mistake", "matching",
    "mistake", "mistake_message", "recognising", "same", "N_",
    "_", "gettext", "ngettext",  # messages in the student's language (grader.i18n)
]
