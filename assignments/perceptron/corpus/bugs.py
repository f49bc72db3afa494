"""The bug corpus of perceptron: seeded bugs of the reference, each with the checks it must lose
(and the words their messages must contain); the other folders of corpus/ are valid variants,
written differently, that must score full marks. Graded by tests/test_practicals.py."""

from grader.corpus import bug

# Bugs that do not name the accuracy checks keep full marks there: the training starts from
# weights the judge draws and runs update with the handout's forward, so a bug in init_params
# or forward costs points only in their own checks.
ACCURACY = ("update training accuracy", "update training accuracy on another split")
INIT_SHAPES = ("init_params shapes and dtype", "init_params other shapes with a generator [3x7]",
               "init_params other shapes with a generator [50x1]")
INIT_RANGE = ("init_params values in range", "init_params values in range other shape and seed")
FORWARD = ("forward is x times w plus b", "forward other inputs [float64]",
           "forward other inputs [batch_of_1]", "forward other inputs [other_shapes]")
IN_PLACE = ("update changes w and b in place", "update in place in float64 with a batch of 1")
WEIGHTS = ("update weights match one gradient step", "update weights other inputs [float64]",
           "update weights other inputs [batch_of_1]",
           "update weights other inputs [other_shapes_and_eta]")
BIAS = ("update bias is summed over the batch", "update bias other inputs [float64]",
        "update bias other inputs [other_shapes_and_eta]")
ACCURACY_FN = ("accuracy counts argmax matches", "accuracy other inputs [float64]",
               "accuracy other inputs [batch_of_1_wrong]", "accuracy other inputs [all_right]")
SOFTMAX_EXTREME = ("softmax is stable on extreme logits", "softmax other inputs [float64_extreme]")
CE = ("cross_entropy matches torch", "cross_entropy is stable on extreme logits",
      "cross_entropy other inputs [float64]", "cross_entropy other inputs [float64_extreme]",
      "cross_entropy other inputs [other_shapes]")
CE_EXTREME = ("cross_entropy is stable on extreme logits",
              "cross_entropy other inputs [float64_extreme]")

W_DRAW = "w = torch.empty(n_in, n_out, dtype=torch.float32).uniform_(-0.001, 0.001, generator=generator)"
W_STEP = "w += eta * (x.T @ grad)"

BUGS = [
    bug("init_range_positive", W_DRAW, W_DRAW.replace("(-0.001, 0.001", "(0.0, 0.001"),
        *INIT_RANGE, diagnosis="init_positive_only"),
    bug("init_range_too_wide", W_DRAW, W_DRAW.replace("(-0.001, 0.001", "(-0.01, 0.01"),
        *INIT_RANGE, diagnosis="init_range_too_wide"),
    bug("init_bias_zero", "b = torch.empty(1, n_out, dtype=torch.float32).uniform_(-0.001, 0.001, generator=generator)",
        "b = torch.zeros(1, n_out, dtype=torch.float32)",
        *INIT_RANGE, diagnosis="init_constant"),
    bug("generator_ignored", W_DRAW, W_DRAW.replace(", generator=generator", ""),
        "init_params honours the generator", "init_params honours the generator other seeds",
        diagnosis="generator_ignored"),
    bug("w_transposed", "torch.empty(n_in, n_out,", "torch.empty(n_out, n_in,",
        *INIT_SHAPES, diagnosis="w_transposed"),
    bug("b_flat", "b = torch.empty(1, n_out,", "b = torch.empty(n_out,",
        *INIT_SHAPES, diagnosis="b_not_a_row"),
    bug("init_float64", W_DRAW, W_DRAW.replace("float32", "float64"), *INIT_SHAPES,
    diagnosis="init_not_float32"),
    bug("forward_no_bias", "return x @ w + b\n", "return x @ w\n", *FORWARD,
    diagnosis="bias_missing"),
    bug("update_wrong_sign", W_STEP, "w -= eta * (x.T @ grad)", *WEIGHTS, *ACCURACY,
    diagnosis="update_wrong_sign"),
    bug("update_reshape_not_transpose", W_STEP, "w += eta * (x.reshape(x.shape[1], x.shape[0]) @ grad)",
        "update weights match one gradient step", "update weights other inputs [float64]",
        "update weights other inputs [other_shapes_and_eta]", *ACCURACY,
        diagnosis="reshape_instead_of_transpose"),
    bug("update_grad_T_x", W_STEP, "w += eta * (grad.T @ x)",
        *IN_PLACE, *WEIGHTS, *BIAS, *ACCURACY),
    bug("update_grad_is_target", "grad = t - forward(x, w, b)", "grad = t",
        *WEIGHTS, *BIAS, *ACCURACY, diagnosis="error_is_target"),
    bug("bias_mean", "grad.sum(dim=0, keepdim=True)", "grad.mean(dim=0, keepdim=True)",
        *BIAS, diagnosis="step_mean_over_batch"),
    bug("update_not_in_place", W_STEP, "w = w + eta * (x.T @ grad)",
        *IN_PLACE, *WEIGHTS, *ACCURACY, diagnosis="not_in_place"),
    bug("accuracy_wrong_axis",
        "predicted = forward(x, w, b).argmax(dim=1)\n    return (predicted == t.argmax(dim=1))",
        "predicted = forward(x, w, b).argmax(dim=0)\n    return (predicted == t.argmax(dim=0))",
        *ACCURACY_FN, diagnosis="argmax_wrong_axis"),
    bug("accuracy_returns_count", ".float().mean().item()", ".sum().item()",
        "accuracy counts argmax matches", "accuracy other inputs [float64]",
        "accuracy other inputs [all_right]", diagnosis="count_not_share"),
    bug("softmax_no_max", "e = torch.exp(z - z.max(dim=1, keepdim=True).values)",
        "e = torch.exp(z)", *SOFTMAX_EXTREME, diagnosis="softmax_overflow"),
    bug("softmax_over_columns", "return e / e.sum(dim=1, keepdim=True)",
        "return e / e.sum(dim=0, keepdim=True)",
        "softmax matches torch", *SOFTMAX_EXTREME, "softmax other inputs [batch_of_1]",
        "softmax other inputs [two_classes]", diagnosis="softmax_wrong_axis"),
    bug("cross_entropy_sum", "return -(t * log_probs).sum(dim=1).mean()",
        "return -(t * log_probs).sum()", *CE, diagnosis="cross_entropy_sum"),
    bug("cross_entropy_unstable",
        "    shifted = z - z.max(dim=1, keepdim=True).values\n"
        "    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))\n",
        "    log_probs = torch.log(softmax(z))\n", *CE_EXTREME, diagnosis="log_of_softmax"),
]

# The diagnoses students see for the classic mistakes: (check, phrase of its message).
MESSAGES = {  # bug: [(check, words its message must contain)]
    "update_wrong_sign": [("update weights match one gradient step", "the wrong way")],
    "bias_mean": [("update bias is summed over the batch", "mean over the batch")],
    "update_not_in_place": [("update changes w and b in place", "in place")],
    "forward_no_bias": [("forward is x times w plus b", "bias b is missing")],
    "softmax_no_max": [("softmax is stable on extreme logits", "subtract each row's max")],
    "softmax_over_columns": [("softmax matches torch", "normalises the columns")],
    "cross_entropy_sum": [("cross_entropy matches torch", "sum over the batch")],
    "cross_entropy_unstable": [("cross_entropy is stable on extreme logits", "log(0)")],
    "w_transposed": [("init_params shapes and dtype", "transposed")],
    "b_flat": [("init_params shapes and dtype", "a row")],
    "generator_ignored": [("init_params honours the generator", "generator")],
    "init_range_positive": [("init_params values in range", "negative values")],
    "init_range_too_wide": [("init_params values in range", "outside [-0.001, 0.001]")],
    "accuracy_returns_count": [("accuracy counts argmax matches", "number of correct rows")],
    "update_reshape_not_transpose": [("update weights match one gradient step", "use x.T")],
    "update_grad_is_target": [("update bias is summed over the batch", "not the target t alone")],
    "update_grad_T_x": [("update weights match one gradient step", "update(x, t, w, b, eta=0.01)")],
}
