"""Known mistakes of the perceptron practical: what a failed check most likely means, the
line to look at and the fix (see :mod:`grader.diagnosis`). The answers of these mistakes are
computed by the checks in the judge, with the same inputs (``perceptron_checks.py``)."""

from __future__ import annotations

from grader.api import Mistake, N_

# ------------------------------------------------------------------------------ init_params

W_TRANSPOSED = Mistake(
    "w_transposed", N_("init_params returns w transposed, [n_out, n_in]"),
    N_("Draw w with shape [n_in, n_out], so that y = x @ w for a batch x [B, n_in]."),
    element="init_params", find=r"\bw\s*=")
B_FLAT = Mistake(
    "b_not_a_row", N_("init_params returns b flat, [n_out], instead of a row [1, n_out]"),
    N_("Draw b with shape (1, n_out): one bias per output, broadcast over the batch."),
    element="init_params", find=r"\bb\s*=")
NOT_FLOAT32 = Mistake(
    "init_not_float32", N_("init_params draws w or b in another dtype than float32"),
    N_("Pass dtype=torch.float32 (the dtype of the MNIST images) when you create them."),
    element="init_params", find=r"float64|double|dtype")
INIT_POSITIVE_ONLY = Mistake(
    "init_positive_only", N_("init_params draws no negative values: only from [0, 0.001]"),
    N_("Draw uniformly from [-0.001, 0.001]: `.uniform_(-0.001, 0.001, generator=generator)`."),
    element="init_params", find=r"uniform|rand")
INIT_TOO_WIDE = Mistake(
    "init_range_too_wide", N_("init_params draws from a wider range than [-0.001, 0.001]"),
    N_("Draw uniformly from [-0.001, 0.001]: `.uniform_(-0.001, 0.001, generator=generator)`."),
    element="init_params", find=r"uniform|rand")
INIT_CONSTANT = Mistake(
    "init_constant", N_("init_params fills w or b with one constant (zeros) instead of drawing "
                        "it at random"),
    N_("Draw every value uniformly from [-0.001, 0.001], the bias included."),
    element="init_params", find=r"zeros|ones|full")
GENERATOR_IGNORED = Mistake(
    "generator_ignored", N_("init_params does not draw with the generator it is given"),
    N_("Pass it to every draw: `torch.empty(...).uniform_(-0.001, 0.001, generator=generator)`."),
    element="init_params", find=r"uniform|rand")

# ---------------------------------------------------------------------------------- forward

NO_BIAS = Mistake(
    "bias_missing", N_("forward computes x @ w: the bias b is missing"),
    N_("Return `x @ w + b`."), element="forward", find=r"return")

# ----------------------------------------------------------------------------------- update

WRONG_SIGN = Mistake(
    "update_wrong_sign", N_("update moves the weights the wrong way (the step has the wrong "
                            "sign)"),
    N_("With grad = t − forward(x, w, b), add: `w += eta * (x.T @ grad)`; that steps down the "
       "gradient of ½‖t − y‖²."),
    element="update", find=r"[-+]=|=")
MEAN_OVER_BATCH = Mistake(
    "step_mean_over_batch", N_("update takes the mean over the batch; the course's rule adds "
                               "the sum"),
    N_("Sum over the batch: `b += eta * grad.sum(dim=0, keepdim=True)` (and `x.T @ grad` for w, "
       "already a sum)."),
    element="update", find=r"mean")
TIMES_BATCH = Mistake(
    "step_times_batch_size", N_("update moves the weights batch-size times too far"),
    N_("Do not multiply by the batch size: the sum over the batch is already in `x.T @ grad`."),
    element="update")
RESHAPE_NOT_TRANSPOSE = Mistake(
    "reshape_instead_of_transpose",
    N_("update uses x.reshape(n_in, B) for xᵀ: reshape keeps the values in memory order, it "
       "does not transpose"),
    N_("use x.T (or x.t()) for the transpose, not reshape or view."), element="update",
    find=r"reshape|view")
ERROR_IS_TARGET = Mistake(
    "error_is_target",
    N_("update uses the target t alone as the error; the error is t − y, not the target t alone"),
    N_("Compute the error first: `grad = t - forward(x, w, b)`."),
    element="update", find=r"grad\s*=|t\b")
NOT_IN_PLACE = Mistake(
    "not_in_place", N_("update rebinds w and b (w = w + ...) instead of changing them in place, "
                       "so the caller's tensors never change"),
    N_("Change them in place: `w += ...`, `w.add_(...)` or `w[...] = ...` (and the same for b)."),
    element="update", find=r"\bw\s*=\s*w|\bb\s*=\s*b")

# --------------------------------------------------------------------------------- accuracy

ARGMAX_WRONG_AXIS = Mistake(
    "argmax_wrong_axis", N_("accuracy takes the argmax over the batch (dim=0) instead of over "
                            "the classes (dim=1)"),
    N_("One prediction per row: `forward(x, w, b).argmax(dim=1) == t.argmax(dim=1)`."),
    element="accuracy", find=r"argmax|max\(")
COUNT_NOT_SHARE = Mistake(
    "count_not_share", N_("accuracy returns the number of correct rows, not their share"),
    N_("Divide by the number of rows: `.float().mean()` instead of `.sum()`."),
    element="accuracy", find=r"sum|return")
PERCENTAGE = Mistake(
    "percentage_not_share", N_("accuracy returns a percentage, not a share in [0, 1]"),
    N_("Do not multiply by 100."), element="accuracy", find=r"100")

# -------------------------------------------------------------------- softmax, cross_entropy

SOFTMAX_OVERFLOW = Mistake(
    "softmax_overflow", N_("softmax takes exp of the raw logits, which overflows to inf for "
                           "logits around 1000 (and inf / inf = NaN)"),
    N_("softmax(z) = softmax(z − max): subtract each row's max before exp, "
       "`e = torch.exp(z - z.max(dim=1, keepdim=True).values)`."),
    element="softmax", find=r"exp")
SOFTMAX_COLUMNS = Mistake(
    "softmax_wrong_axis", N_("softmax normalises the columns (sum over dim=0) instead of each "
                             "row"),
    N_("Sum over the classes: `e / e.sum(dim=1, keepdim=True)`."),
    element="softmax", find=r"sum")
CE_SUM = Mistake(
    "cross_entropy_sum", N_("cross_entropy returns the sum over the batch, not the mean"),
    N_("Average over the rows: `-(t * log_probs).sum(dim=1).mean()`."),
    element="cross_entropy", find=r"sum")
CE_LOG_OF_SOFTMAX = Mistake(
    "log_of_softmax", N_("cross_entropy takes log(softmax(z)): softmax underflows to 0 for "
                         "logits around ±1000 and log(0) = -inf"),
    N_("Compute log-softmax directly: `(z - m) - torch.log(torch.exp(z - m).sum(dim=1, "
       "keepdim=True))`, m each row's max."),
    element="cross_entropy", find=r"log")
