"""Hidden-only scenarios of diy: used by the hidden checks alone, so kept in hidden/ (never
exported to students, like the checks that use them)."""

from __future__ import annotations

import itertools
import math
import numpy as np
import torch
import torch.nn.functional as F
from grader.api import gettext
from grader.api import (FD_THRESHOLD, MISSING, CheckFailure, NotImplementedYet, Op, Reading,
                        StudentError, as_array, call, canonical_parameters, check_array,
                        check_close, check_finite, check_gradient, check_number, describe_layout,
                        describe_value, entries, expected_gradients, float64_note,
                        forward_matches, gradient_matches_parameters, label, layouts,
                        linear_credit, matching_readings, readings, recipe, relative_error, t)

from diy_checks import (Layer, OPS, draw_history, linear_op, network_outputs, train, trained_parameters, untrained_hint, usps_arrays)


def autoencoder_scenario(student, settings, usps, score, seed: int) -> None:
    """Linear(256, 64) → TanH → Linear(64, 256) → Sigmoide, BCELoss, trained by SGD on the
    images themselves; the judge computes the reconstructions of held-out images from the
    parameters before and after training, and their loss."""
    train_set, test = usps
    x, _ = usps_arrays(train_set, int(settings["ae_train_size"]))
    x_test, _ = usps_arrays(test, int(settings["ae_test_size"]))
    student.process.reseed(seed)
    code = int(settings["ae_code"])
    layers = [Layer(student.Linear(256, code), linear_op(256, code), f"Linear(256, {code})"),
              Layer(student.TanH(), OPS["TanH"], "TanH()"),
              Layer(student.Linear(code, 256), linear_op(code, 256), f"Linear({code}, 256)"),
              Layer(student.Sigmoide(), OPS["Sigmoide"], "Sigmoide()")]
    net = student.Sequentiel(*[layer.module for layer in layers])
    epochs = int(settings["ae_epochs"])
    history = train(student, net, "BCELoss", x, x, settings, "ae", seed)
    before_p, after_p, notes = trained_parameters(layers, x_test, gettext("after training"))
    before, after = network_outputs(layers, before_p, x_test), network_outputs(layers, after_p, x_test)
    what = gettext("the autoencoder's reconstructions of {count} test images (computed here)").format(
               count=len(x_test))
    check_finite(before, what + " before training")
    check_finite(after, what + " after training")
    loss_before, loss_after = bce(x_test, before), bce(x_test, after)
    loss_mean = bce(x_test, np.tile(x.mean(axis=0), (len(x_test), 1)))
    ratio, mean_ratio = loss_after / loss_before, loss_after / loss_mean
    full, none = float(settings["ae_ratio_full"]), float(settings["ae_ratio_none"])
    mean_full, mean_none = float(settings["ae_mean_ratio_full"]), float(settings["ae_mean_ratio_none"])
    credit = min(linear_credit(-ratio, -none, -full), linear_credit(-mean_ratio, -mean_none, -mean_full))
    message = (gettext("reconstruction loss (binary cross-entropy per image of {count} held-out "
                 "images, reconstructed here from the network's parameters) {loss_before:.1f} "
                 "before training, {loss_after:.1f} after {epochs} epochs: ×{ratio:.3f} (full "
                 "marks at ×{full:g} or less, none at ×{none:g} or more), and "
                 "×{mean_ratio:.3f} the loss of the average training image as reconstruction, "
                 "{loss_mean:.1f} (full marks at ×{mean_full:g} or less, none at "
                 "×{mean_none:g} or more)").format(
                   count=len(x_test), loss_before=loss_before, loss_after=loss_after,
                   epochs=epochs, ratio=ratio, full=full, none=none, mean_ratio=mean_ratio,
                   loss_mean=loss_mean, mean_full=mean_full, mean_none=mean_none))
    message += draw_history(score, history, epochs)
    if not loss_after < loss_before:
        credit = 0.0
        message += (gettext(": the loss did not decrease during training, no credit")
                    + untrained_hint(before_p, after_p))
    elif credit < 1.0:
        message += gettext(": {credit:.0%} of the points").format(credit=credit)
    if notes:
        message += " (note: " + "; ".join(notes) + ")"
    score.partial(credit, message)


def bce(x, recon) -> float:
    """Mean over images of the summed binary cross-entropy, computed here (clipped)."""
    p = np.clip(recon, 1e-12, 1 - 1e-12)
    return float(np.mean(-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)))


def same_values(first, second) -> bool:
    """Two things SGD returned are the same: equal numbers (NaN equal to NaN), or equal
    otherwise (None and None); never an error, whatever they are."""
    try:
        return bool(np.array_equal(np.asarray(first, dtype=np.float64),
                                   np.asarray(second, dtype=np.float64), equal_nan=True))
    except (TypeError, ValueError):
        return repr(first) == repr(second)
