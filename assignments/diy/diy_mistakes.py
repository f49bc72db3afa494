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
MAXPOOL_FIRST_OF_WINDOW = Mistake(
    "max_pool_delta_to_the_first_of_the_window",
    N_("MaxPool1D.backward_delta gives each window's delta to the window's first position, not "
       "to the position of its max"),
    N_("Keep the argmax of each window in forward (or recompute it) and add the delta there: "
       "`winner = windows.argmax(axis=0)`."),
    element="MaxPool1D.backward_delta", find=r"argmax|winner|zeros")
CONV1D_STRIDE_IGNORED = Mistake(
    "convolution_stride_ignored",
    N_("Conv1D slides its kernel one position at a time whatever its stride: its output is "
       "that of stride 1"),
    N_("Keep the stride (`self.stride = stride`) and take the windows starting at 0, stride, "
       "2·stride...: L_out = (L - k_size) // stride + 1."),
    element="Conv1D.__init__", find=r"self\.stride")
CONV1D_KERNEL_FLIPPED = Mistake(
    "convolution_kernel_flipped",
    N_("Conv1D.forward flips its kernel (a true convolution): the practical's Conv1D is a "
       "cross-correlation, the window's k-th position times W[k]"),
    N_("Do not reverse the kernel: `sum(X[:, taps(k)] @ W[k] for k in range(k_size))`, the "
       "same k on both sides."),
    element="Conv1D.forward", find=r"W\[")
CE_LOGSUMEXP_OVERFLOW = Mistake(
    "logsumexp_overflow",
    N_("CELogSoftmax computes log(sum(exp(yhat))) directly: exp(1000) overflows to inf"),
    N_("Subtract each row's max first: `m = yhat.max(axis=-1, keepdims=True)`, "
       "`logsumexp = m + np.log(np.exp(yhat - m).sum(axis=-1, keepdims=True))`."),
    element="CELogSoftmax.forward", find=r"exp")
BCE_LOG_OF_ZERO = Mistake(
    "log_of_zero",
    N_("BCELoss takes log(yhat) and log(1 - yhat) without clipping yhat: a prediction of "
       "exactly 0 or 1 gives log(0) and a loss of NaN"),
    N_("Clip first: `p = np.clip(yhat, 1e-12, 1 - 1e-12)`, and take the logs of p."),
    element="BCELoss.forward", find=r"log")
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
        "MaxPool1D": [(MAXPOOL_FIRST_OF_WINDOW,
                       lambda x, d, right: _to_first_of_window(d, x.shape, *_kernel(what)))],
    }.get(module, [])


def _kernel(what: str) -> tuple[int, int]:
    """(k, stride) of ``MaxPool1D(k, stride)``."""
    k, stride = (int(v) for v in what.split("(")[1].rstrip(")").split(",")[:2])
    return k, stride


def _to_first_of_window(delta, shape, k, stride):
    """dL/dx when every window's delta goes to its first position (the mistake)."""
    dx = np.zeros(shape)
    for i in range(delta.shape[1]):
        dx[:, i * stride] += delta[:, i]
    return dx


def _naive_logsumexp_loss(y, z):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.log(np.exp(z).sum(axis=-1)) - (y * z).sum(axis=-1)


def _naive_log_softmax_loss(y, z):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(z)
        return -(y * np.log(e / e.sum(axis=-1, keepdims=True))).sum(axis=-1)


def _unclipped_bce(y, p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(axis=-1)


def ce_log_softmax_overflow(y, z) -> list:
    """CELogSoftmax's forward at large logits, computed here the overflowing ways (log-sum-exp
    without the max; the log of a softmax without the max)."""
    return [CE_LOGSUMEXP_OVERFLOW.gives(lambda: _naive_logsumexp_loss(y, z)),
            CE_LOGSUMEXP_OVERFLOW.gives(lambda: _naive_log_softmax_loss(y, z))]


def bce_unclipped(y, p) -> list:
    """BCELoss's forward at predictions of exactly 0 and 1, computed here without the clip."""
    return [BCE_LOG_OF_ZERO.gives(lambda: _unclipped_bce(y, p))]


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
OPTIM_RETURNS_SUMMED_LOSS = Mistake(
    "summed_loss_returned",
    N_("Optim.step returns the batch's summed loss, not its mean"),
    N_("Return the mean over the batch: `return float(loss.mean())` (SGD weighs it by the "
       "batch's size)."),
    element="Optim.step", find=r"return")
SEQUENTIEL_RETURNS_NOTHING = Mistake(
    "returns_nothing",
    N_("Sequentiel.backward returns nothing (None): its `return` is missing"),
    N_("End it with `return delta`: after the first module, delta is dL/d(input)."),
    element="Sequentiel.backward")
SGD_NO_SHUFFLE = Mistake(
    "samples_never_shuffled",
    N_("SGD takes the batches in the samples' order 0, 1, 2... every epoch: it never shuffles"),
    N_("Draw a permutation each epoch, `order = rng.permutation(len(X))`, and slice the batches "
       "from it: `idx = order[start:start + batch_size]`."),
    element="SGD", find=r"idx|arange")
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
