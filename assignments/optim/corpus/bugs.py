"""The bug corpus of optim: seeded bugs of the reference, each with the checks it must lose
(and the words their messages must contain); the other folders of corpus/ are valid variants,
written differently, that must score full marks. Graded by tests/test_practicals.py."""

from grader.corpus import bug

# Each bug costs the checks of one element: bugs of different elements are graded together.
COMBINE = True

SGD_ALL = ("sgd_step plain matches torch", "sgd_step with momentum matches torch",
           "sgd_step with momentum and weight decay matches torch",
           "sgd_step weight decay without momentum", "sgd_step trains a library model",
           "sgd_step leaves the gradients unchanged")
SGD_MOMENTUM = ("sgd_step with momentum matches torch",
                "sgd_step with momentum and weight decay matches torch",
                "sgd_step trains a library model")
RMSPROP_ALL = ("rmsprop_step defaults match torch", "rmsprop_step custom hyperparameters match torch",
               "rmsprop_step trains a library model", "rmsprop_step tiny gradients match torch")
DECAYED = ("decayed_lr values", "decayed_lr over a schedule")
L2 = ("l2_penalty value and gradient", "l2_penalty on a convolutional network")
DROPOUT_RATES = ("Dropout zero rate and scaling", "Dropout other rates [0.1]",
                 "Dropout other rates [0.8]")
BN_EVAL = ("BatchNorm1d eval output matches torch", "BatchNorm1d other settings match torch",
           "BatchNorm1d default arguments match torch")
# The eval check computes its expected output from the module's own running statistics: a
# wrong running update costs the checks that compare those statistics, not that one.
BN_RUNNING = ("BatchNorm1d running statistics match torch", "BatchNorm1d other settings match torch",
              "BatchNorm1d default arguments match torch")
PRF_NEVER_PREDICTED = ("precision_recall_f1 with a class never predicted",
                       "precision_recall_f1 with absent classes",
                       "precision_recall_f1 random labels [2]",
                       "precision_recall_f1 random labels [5]",
                       "precision_recall_f1 random labels [8]")
PRF_TYPES = ("precision_recall_f1 accepts tensors and arrays [tensor]",
             "precision_recall_f1 accepts tensors and arrays [ndarray]")

BUGS = [
    # ------------------------------------------------------------------------- sgd_step
    bug("sgd_weight_decay_after_momentum",
        "            g = grad + weight_decay * p  # a new tensor: ``grad`` is not modified\n"
        "            if momentum != 0:\n"
        "                # The buffer is an exponentially weighted sum of past gradients; torch starts\n"
        "                # it at the first gradient (not at zero).\n"
        "                buf = g.clone() if velocity is None else momentum * velocity[i] + g\n"
        "                new_velocity.append(buf)\n"
        "                g = buf\n",
        "            g = grad.clone()\n"
        "            if momentum != 0:\n"
        "                buf = g.clone() if velocity is None else momentum * velocity[i] + g\n"
        "                new_velocity.append(buf)\n"
        "                g = buf\n"
        "            g = g + weight_decay * p\n",
        "sgd_step with momentum and weight decay matches torch", "sgd_step trains a library model",
        diagnosis="momentum_before_weight_decay"),
    bug("sgd_velocity_starts_at_zero", "buf = g.clone() if velocity is None",
        "buf = torch.zeros_like(g) if velocity is None", *SGD_MOMENTUM,
        diagnosis="velocity_starts_at_zero"),
    bug("sgd_rebinds_instead_of_updating_in_place", "            p -= lr * g\n    return new_velocity",
        "            p = p - lr * g\n    return new_velocity", *SGD_ALL,
        diagnosis="parameters_rebound"),
    bug("sgd_adds_weight_decay_to_grad_in_place",
        "g = grad + weight_decay * p  # a new tensor: ``grad`` is not modified",
        "g = grad.add_(weight_decay * p)", "sgd_step leaves the gradients unchanged",
        diagnosis="gradients_modified"),
    # --------------------------------------------------------------------- rmsprop_step
    bug("rmsprop_eps_inside_sqrt", "p -= lr * g / (square_avg.sqrt() + eps)",
        "p -= lr * g / (square_avg + eps).sqrt()", *RMSPROP_ALL, diagnosis="eps_inside_sqrt"),
    bug("rmsprop_alpha_swapped", "square_avg = alpha * square_avg + (1 - alpha) * g * g",
        "square_avg = (1 - alpha) * square_avg + alpha * g * g", *RMSPROP_ALL,
        diagnosis="rmsprop_alpha_swapped"),
    # ----------------------------------------------------------------------- decayed_lr
    bug("decayed_lr_exponential", "return lr0 / (1 + decay * iteration)",
        "return lr0 * decay ** iteration", *DECAYED, diagnosis="exponential_decay"),
    # ----------------------------------------------------------------------- l2_penalty
    bug("l2_includes_biases",
        'weights = [p for name, p in model.named_parameters() if name.endswith("weight")]',
        "weights = list(model.parameters())", *L2, diagnosis="weights_and_biases_penalised"),
    bug("l2_without_lambda", "return lam * torch.as_tensor(total)", "return torch.as_tensor(total)",
        *L2, diagnosis="penalty_without_lambda"),
    bug("l2_square_root", "return lam * torch.as_tensor(total)",
        "return lam * torch.as_tensor(total).sqrt()", *L2, diagnosis="penalty_is_a_norm"),
    bug("l2_detached", "return lam * torch.as_tensor(total)",
        "return lam * torch.as_tensor(total).detach()", *L2, diagnosis="penalty_detached"),
    # -------------------------------------------------------------------------- Dropout
    bug("dropout_not_rescaled", "return x * keep / (1 - self.p)", "return x * keep",
        *DROPOUT_RATES, "Dropout gradient is the scaled mask", diagnosis="dropout_not_rescaled"),
    bug("dropout_active_in_eval", "if not self.training or self.p == 0:", "if self.p == 0:",
        "Dropout is identity in eval mode", diagnosis="dropout_active_in_eval"),
    bug("dropout_p_is_keep_probability",
        "keep = (torch.rand_like(x) >= self.p).to(x.dtype)  # 1 with probability 1 - p\n"
        "        return x * keep / (1 - self.p)",
        "keep = (torch.rand_like(x) < self.p).to(x.dtype)\n"
        "        return x * keep / self.p",
        *DROPOUT_RATES, "Dropout gradient is the scaled mask",
        diagnosis="dropout_p_is_keep_probability"),
    bug("dropout_same_mask_every_call", "keep = (torch.rand_like(x) >= self.p)",
        "keep = (torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) >= self.p)",
        "Dropout draws a new mask each call", diagnosis="dropout_same_mask"),
    # ---------------------------------------------------------------------- BatchNorm1d
    bug("batchnorm_batch_statistics_in_eval",
        "            mean, var = self.running_mean, self.running_var",
        "            mean, var = x.mean(dim=0), x.var(dim=0, correction=0)", *BN_EVAL,
        diagnosis="batch_statistics_in_eval"),
    bug("batchnorm_running_var_biased", "add_(m * var * n / (n - 1))", "add_(m * var)",
        *BN_RUNNING, diagnosis="running_var_biased"),
    bug("batchnorm_momentum_reversed",
        "                self.running_mean.mul_(1 - m).add_(m * mean)\n"
        "                self.running_var.mul_(1 - m).add_(m * var * n / (n - 1))",
        "                self.running_mean.mul_(m).add_((1 - m) * mean)\n"
        "                self.running_var.mul_(m).add_((1 - m) * var * n / (n - 1))",
        *BN_RUNNING, diagnosis="running_momentum_reversed"),
    bug("batchnorm_unbiased_normalisation", "var = x.var(dim=0, correction=0)",
        "var = x.var(dim=0)",
        "BatchNorm1d training outputs and gradients match torch", *BN_RUNNING),
    # -------------------------------------------------------------- precision_recall_f1
    bug("prf_micro_average",
        "return precision.mean().item(), recall.mean().item(), f1.mean().item()",
        "accuracy = (tp.sum() / cm.sum()).item()\n    return accuracy, accuracy, accuracy",
        *PRF_NEVER_PREDICTED, *PRF_TYPES, diagnosis="micro_average"),
    bug("prf_nan_precision_for_never_predicted", "precision = tp / predicted.clamp(min=1)",
        "precision = tp / predicted", *PRF_NEVER_PREDICTED, diagnosis="nan_for_zero_division"),
]

# Bugs whose message must name the mistake: (check, fragments expected in its message).
MESSAGES = {
    "sgd_weight_decay_after_momentum": ("sgd_step with momentum and weight decay matches torch",
                                        ["step 2 of 5", "weight decay added after the momentum"]),
    "sgd_velocity_starts_at_zero": ("sgd_step with momentum matches torch",
                                    ["step 1 of 5", "starts at zero"]),
    "sgd_rebinds_instead_of_updating_in_place": ("sgd_step plain matches torch",
                                                 ["never changed", "in place"]),
    "sgd_adds_weight_decay_to_grad_in_place": ("sgd_step leaves the gradients unchanged",
                                               ["changed the gradients"]),
    "rmsprop_eps_inside_sqrt": ("rmsprop_step defaults match torch", ["eps inside the square root"]),
    "rmsprop_alpha_swapped": ("rmsprop_step defaults match torch", ["swapped"]),
    "decayed_lr_exponential": ("decayed_lr values", ["decay^iteration"]),
    "l2_includes_biases": ("l2_penalty value and gradient", ["includes the biases"]),
    "l2_without_lambda": ("l2_penalty value and gradient", ["without the factor lam"]),
    "l2_square_root": ("l2_penalty value and gradient", ["square root"]),
    "l2_detached": ("l2_penalty value and gradient", ["autograd graph"]),
    "dropout_not_rescaled": ("Dropout zero rate and scaling", ["not rescaled"]),
    "dropout_active_in_eval": ("Dropout is identity in eval mode", ["self.training"]),
    "dropout_p_is_keep_probability": ("Dropout zero rate and scaling", ["0.70", "not of keeping"]),
    "batchnorm_batch_statistics_in_eval": ("BatchNorm1d eval output matches torch",
                                           ["running_mean and running_var"]),
    "batchnorm_running_var_biased": ("BatchNorm1d running statistics match torch",
                                     ["running_var", "follows the biased batch variance"]),
    "batchnorm_momentum_reversed": ("BatchNorm1d running statistics match torch",
                                    ["running_mean", "weight of 1 - momentum"]),
    "prf_micro_average": ("precision_recall_f1 with a class never predicted", ["micro average"]),
    "prf_nan_precision_for_never_predicted": ("precision_recall_f1 with a class never predicted",
                                              ["NaN", "never predicted"]),
}
