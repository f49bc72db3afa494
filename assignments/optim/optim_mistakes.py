"""Known mistakes of the optimisation and regularisation practical: what a failed check most
likely means, the line to look at and the fix (see :mod:`grader.diagnosis`). Their answers are
computed by the checks in the judge on the same inputs (``optim_checks.py``: the mistaken
optimiser trajectories, the penalty without lam or with the biases, ...)."""

from __future__ import annotations

from grader.api import DiagnosedFailure, Mistake, N_  # noqa: F401 (known.DiagnosedFailure)

# ------------------------------------------------------------------------ sgd_step, rmsprop

WEIGHT_DECAY_AFTER_MOMENTUM = Mistake(
    "momentum_before_weight_decay",
    N_("sgd_step applies the momentum before the weight decay: weight decay added after the "
       "momentum buffer"),
    N_("Fold the decay into the gradient first, g = grad + weight_decay * p, then "
       "buf = momentum * buf + g, then p -= lr * buf."),
    element="sgd_step", find=r"weight_decay")
VELOCITY_STARTS_AT_ZERO = Mistake(
    "velocity_starts_at_zero",
    N_("sgd_step's momentum buffer starts at zero, so the first step does not move the "
       "parameters"),
    N_("Start the buffer at the first gradient, as torch does: buf = g when velocity is None, "
       "then buf = momentum * buf + g."),
    element="sgd_step", find=r"zeros")
RMSPROP_ALPHA_SWAPPED = Mistake(
    "rmsprop_alpha_swapped",
    N_("rmsprop_step has alpha and 1 - alpha swapped in the running average of g²"),
    N_("Keep alpha of the old value: square_avg = alpha * square_avg + (1 - alpha) * g * g."),
    element="rmsprop_step", find=r"alpha")
RMSPROP_EPS_INSIDE_SQRT = Mistake(
    "eps_inside_sqrt",
    N_("rmsprop_step puts eps inside the square root"),
    N_("Add eps after the root: p -= lr * g / (square_avg.sqrt() + eps)."),
    element="rmsprop_step", find=r"sqrt")
PARAMETERS_REBOUND = Mistake(
    "parameters_rebound",
    N_("the parameters never changed: `p = p - lr * g` rebinds a local name instead of "
       "updating the tensor in place"),
    N_("Update in place: p -= lr * g, p.sub_(...) or p.copy_(...) under torch.no_grad()."),
    find=r"\bp\s*=\s*p\b|=")
GRADIENTS_MODIFIED = Mistake(
    "gradients_modified",
    N_("the step changed the gradients it was given (an in-place add_ on grad)"),
    N_("Compute a new tensor, g = grad + weight_decay * p, instead of grad.add_(...)."),
    element="sgd_step", find=r"add_|\+=")

# ------------------------------------------------------------------------------ decayed_lr

DECAY_EXPONENTIAL = Mistake(
    "exponential_decay",
    N_("decayed_lr computes lr0 · decay^iteration (exponential decay); the handout's schedule "
       "is inverse-time decay"),
    N_("Return lr0 / (1 + decay * iteration)."), element="decayed_lr", find=r"return")

# ------------------------------------------------------------------------------ l2_penalty

L2_WITH_BIASES = Mistake(
    "weights_and_biases_penalised",
    N_("l2_penalty includes the biases; only the weights are penalised"),
    N_("Keep the parameters whose name ends in 'weight': "
       "`[p for name, p in model.named_parameters() if name.endswith('weight')]`."),
    element="l2_penalty", find=r"parameters\(")
L2_WITHOUT_LAMBDA = Mistake(
    "penalty_without_lambda",
    N_("l2_penalty returns Σ w² without the factor lam"),
    N_("Multiply by lam: return lam * Σ w²."), element="l2_penalty", find=r"return")
L2_SQUARE_ROOT = Mistake(
    "penalty_is_a_norm",
    N_("l2_penalty takes a square root (lam · ‖w‖); the penalty is lam · Σ w², not a norm"),
    N_("Drop the square root (no .sqrt(), no torch.norm without squaring)."),
    element="l2_penalty", find=r"sqrt|norm")
L2_DETACHED = Mistake(
    "penalty_detached",
    N_("l2_penalty returns a value outside the autograd graph, so the penalty never reaches "
       "the weights"),
    N_("Return a tensor computed from the parameters, without .item(), .detach() or "
       "torch.no_grad()."),
    element="l2_penalty", find=r"detach|item|no_grad|return")

# -------------------------------------------------------------------------------- Dropout

DROPOUT_NOT_RESCALED = Mistake(
    "dropout_not_rescaled",
    N_("Dropout zeroes elements but the survivors are not rescaled"),
    N_("Divide the survivors by 1 - p (inverted dropout): `x * mask / (1 - self.p)`, so every "
       "element keeps its expected value."),
    element="Dropout.forward", find=r"return")
DROPOUT_P_IS_KEEP = Mistake(
    "dropout_p_is_keep_probability",
    N_("Dropout keeps each element with probability p: p is the probability of dropping an "
       "element (zeroing it), not of keeping it"),
    N_("Keep with probability 1 - p: `mask = torch.rand_like(x) >= self.p`, then divide by "
       "1 - p."),
    element="Dropout.forward", find=r"rand")
DROPOUT_IN_EVAL = Mistake(
    "dropout_active_in_eval",
    N_("Dropout still drops elements in eval mode"),
    N_("Return x unchanged when not self.training (model.eval() sets it to False)."),
    element="Dropout.forward", find=r"if ")
DROPOUT_SAME_MASK = Mistake(
    "dropout_same_mask",
    N_("Dropout drops the same elements at every call: its mask comes from a fixed seed"),
    N_("Draw a new mask at each call from the global generator: `torch.rand_like(x)`."),
    element="Dropout.forward", find=r"Generator|manual_seed|rand")

# ---------------------------------------------------------------------------- BatchNorm1d

BATCH_STATISTICS_IN_EVAL = Mistake(
    "batch_statistics_in_eval",
    N_("in eval mode BatchNorm1d normalises with the statistics of the batch it is given "
       "instead of running_mean and running_var"),
    N_("When not self.training, use mean, var = self.running_mean, self.running_var."),
    element="BatchNorm1d.forward", find=r"mean\(")
RUNNING_VAR_BIASED = Mistake(
    "running_var_biased",
    N_("your running_var follows the biased batch variance (divided by n); nn.BatchNorm1d "
       "feeds it the unbiased one (divided by n - 1)"),
    N_("Update running_var with var * n / (n - 1), and normalise the batch itself with the "
       "biased var."),
    element="BatchNorm1d.forward", find=r"running_var")
MOMENTUM_REVERSED = Mistake(
    "running_momentum_reversed",
    N_("your running statistics give the new batch a weight of 1 - momentum instead of "
       "momentum"),
    N_("running = (1 - momentum) · running + momentum · batch statistic."),
    element="BatchNorm1d.forward", find=r"running_mean")

# -------------------------------------------------------------------- precision_recall_f1

PRF_MICRO = Mistake(
    "micro_average",
    N_("precision_recall_f1 returns the micro average (all three equal the accuracy); the "
       "practical asks for the macro average"),
    N_("Compute each class's precision, recall and F1, then their plain mean, every class "
       "counting the same."),
    element="precision_recall_f1", find=r"return")
PRF_NAN = Mistake(
    "nan_for_zero_division",
    N_("precision_recall_f1 returns NaN: a class that is never predicted divides 0 by 0"),
    N_("Count 0/0 as 0: divide by predicted.clamp(min=1) (and the same for recall and F1)."),
    element="precision_recall_f1", find=r"/")
PRF_F1_OF_MEANS = Mistake(
    "f1_of_macro_means",
    N_("your F1 is the harmonic mean of the macro precision and recall; the macro F1 is the "
       "mean of the per-class F1 scores"),
    N_("Compute F1 per class, then take the mean."),
    element="precision_recall_f1", find=r"f1")
