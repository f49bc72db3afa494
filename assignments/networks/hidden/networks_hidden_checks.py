"""Hidden-only scenarios of networks: used by the hidden checks alone, so kept in hidden/ (never
exported to students, like the checks that use them)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from grader.api import _
from grader.api import (check_close, check_parameter_count, check_parameter_layout, check_shape,
                        CheckFailure, describe_value, models as mc, NotImplementedYet,
                        StudentError)
from grader import api

from networks_checks import (as_bool)


def independent_stoppers(student) -> None:
    """Two stoppers used in turns keep their own best loss and count."""
    quick = student.EarlyStopping(patience=1, min_delta=0.0)
    slow = student.EarlyStopping(patience=3, min_delta=0.0)
    quick_losses, slow_losses = [5.0, 6.0], [0.5, 0.4, 0.3, 0.2]
    answers = []
    for step in range(2):
        answers.append(("slow", as_bool(slow.step(slow_losses[step]), "step")))
        answers.append(("quick", as_bool(quick.step(quick_losses[step]), "step")))
    for step in range(2, 4):
        answers.append(("slow", as_bool(slow.step(slow_losses[step]), "step")))
    expected = [("slow", False), ("quick", False), ("slow", False), ("quick", True),
                ("slow", False), ("slow", False)]
    if answers != expected:
        raise CheckFailure(
            _("two stoppers used in turns — a = EarlyStopping(patience=1, min_delta=0) fed 5, "
              "6 and b = EarlyStopping(patience=3, min_delta=0) fed 0.5, 0.4, 0.3, 0.2 — "
              "answered {value} (b, a, b, a, b, b), expected {value2}: each stopper must keep "
              "its own best loss and count (instance attributes set in __init__, not class "
              "attributes or globals)").format(
                value=[v for _, v in answers], value2=[v for _, v in expected]))
