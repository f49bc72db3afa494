"""Known mistakes of the DIY practical (the NumPy framework): what a failed check most likely
means, the line to look at and the fix (see :mod:`grader.diagnosis`). The mistaken gradients
are computed here, in the judge, from the check's own inputs (x, delta) and the right gradient
the check computed by autograd: never by running the student's code."""

from __future__ import annotations

import numpy as np

from grader.api import Mistake, N_

# ------------------------------------------------------------------- backward_delta, losses

TANH_ON_INPUT = Mistake(
    "derivative_on_the_input",
    N_("TanH.backward_delta computes 1 - input² on the input itself, not on tanh(input)"),
    N_("Use the activation's output: `delta * (1 - np.tanh(input) ** 2)`."),
    element="TanH.backward_delta", find=r"\*\*|input")
SIGMOIDE_ON_INPUT = Mistake(
    "sigmoid_derivative_on_the_input",
    N_("Sigmoide.backward_delta computes input · (1 - input) on the input itself, not on "
       "σ(input)"),
    N_("Compute s = σ(input) first: `s = self.forward(input)`, then `delta * s * (1 - s)`."),
    element="Sigmoide.backward_delta", find=r"input")
SOFTMAX_DIAGONAL = Mistake(
    "softmax_jacobian_diagonal_only",
    N_("Softmax.backward_delta keeps only the diagonal of the softmax's Jacobian, s · (1 - s)"),
    N_("Each output depends on every input: `s * (delta - (delta * s).sum(axis=-1, "
       "keepdims=True))`."),
    element="Softmax.backward_delta", find=r"return")
AVGPOOL_NOT_DIVIDED = Mistake(
    "average_pool_delta_not_divided",
    N_("AvgPool2D.backward_delta gives each input of a window the window's whole delta, not "
       "1 / (k_h · k_w) of it"),
    N_("Divide by the window's size: `dX[...] += delta / (self.k_h * self.k_w)`."),
    element="AvgPool2D.backward_delta", find=r"\+=")
FLATTEN_NOT_RESHAPED = Mistake(
    "flatten_delta_not_reshaped",
    N_("Flatten.backward_delta returns delta as it came, flat, not in the input's shape"),
    N_("Return `delta.reshape(input.shape)`."), element="Flatten.backward_delta",
    find=r"return")
MSE_WITHOUT_2 = Mistake(
    "mse_gradient_without_2",
    N_("MSELoss.backward forgets the factor 2 of the derivative of (y - yhat)²"),
    N_("Return `-2 * (y - yhat)`."), element="MSELoss.backward", find=r"return")


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def backward_delta_mistakes(what: str) -> list[tuple[Mistake, object]]:
    """(mistake, its dL/dx from (x, delta, the right dL/dx)) for the module ``what`` names."""
    module = what.split("(")[0]
    return {
        "TanH": [(TANH_ON_INPUT, lambda x, d, right: d * (1 - x ** 2))],
        "Sigmoide": [(SIGMOIDE_ON_INPUT, lambda x, d, right: d * x * (1 - x))],
        "Softmax": [(SOFTMAX_DIAGONAL,
                     lambda x, d, right: d * _softmax(x) * (1 - _softmax(x)))],
        "AvgPool2D": [(AVGPOOL_NOT_DIVIDED, lambda x, d, right: right * _window(what))],
        "Flatten": [(FLATTEN_NOT_RESHAPED, lambda x, d, right: d)],
    }.get(module, [])


def _window(what: str) -> int:
    """k_h · k_w of ``AvgPool2D(k_h, k_w, ...)``."""
    k_h, k_w = (int(v) for v in what.split("(")[1].split(",")[:2])
    return k_h * k_w


def loss_backward_mistakes(name: str) -> list[tuple[Mistake, object]]:
    return {"MSELoss": [(MSE_WITHOUT_2, lambda y, yhat, right: right / 2)]}.get(name, [])

# --------------------------------------------------------------- gradients, parameters

GRADIENT_OVERWRITTEN = Mistake(
    "gradient_overwritten",
    N_("backward_update_gradient replaces the gradient instead of adding to it, so gradients "
       "do not accumulate between two calls"),
    N_("Add to it: `self._gradient[...] += ...` (zero_grad is what resets it)."),
    element="Linear.backward_update_gradient", find=r"_gradient")
UPDATE_WRONG_SIGN = Mistake(
    "update_wrong_sign",
    N_("update_parameters moves the parameters along the gradient: the step has the wrong sign"),
    N_("Gradient descent subtracts it: `parameter -= gradient_step * gradient`."),
    element="Module.update_parameters", find=r"[-+]=")

# ---------------------------------------------------------------------------- Optim, SGD

OPTIM_SUMMED_GRADIENT = Mistake(
    "summed_loss_gradient",
    N_("Optim.step follows the gradient of the summed loss, not of the batch's mean loss"),
    N_("Divide the loss's backward by the batch size: "
       "`delta = self.loss.backward(batch_y, yhat) / len(batch_x)`."),
    element="Optim.step", find=r"backward\(")
OPTIM_NO_ZERO_GRAD = Mistake(
    "gradients_never_zeroed",
    N_("Optim.step never resets the gradients: the second step still has the first's"),
    N_("Call `self.net.zero_grad()` at the start of step."),
    element="Optim.step", find=r"forward\(")
SGD_RETURNS_NOTHING = Mistake(
    "returns_nothing",
    N_("SGD returns nothing (None): its `return` is missing"),
    N_("End it with `return history`, one mean loss per epoch."),
    element="SGD")
SGD_IGNORES_BATCH_SIZE = Mistake(
    "batch_size_ignored",
    N_("SGD makes one update per epoch on every sample: batch_size is ignored"),
    N_("Loop over the shuffled indices in slices of batch_size: "
       "`for start in range(0, len(X), batch_size):`."),
    element="SGD", find=r"for ")
