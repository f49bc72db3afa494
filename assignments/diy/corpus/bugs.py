"""The bug corpus of diy: seeded bugs of the reference, each with the checks it must lose
(and the words their messages must contain); the other folders of corpus/ are valid variants,
written differently, that must score full marks. Graded by tests/test_practicals.py."""

from grader.corpus import bug

MLP = ("SGD mlp accuracy on usps", "SGD mlp accuracy with another seed")
CONV_NET = "Conv1D network accuracy on signals"
AUTOENCODER = "SGD autoencoder reduces reconstruction loss"
TRAININGS = (*MLP, CONV_NET, AUTOENCODER)

BUGS = [
    # Linear(4, 3) is not square: delta @ W (not Wᵀ) fails on the shapes, everywhere it is used.
    bug("linear_delta_uses_W", 'return delta @ self._parameters["W"].T',
        'return delta @ self._parameters["W"]',
        "Linear shapes [bias]", "Linear shapes [no-bias]",
        "Linear backward delta matches finite differences", "Linear without bias matches finite "
        "differences", "Linear on a single sample", *TRAININGS,
        diagnosis="weights_not_transposed"),
    # Overwriting is invisible after a zero_grad: only the accumulation check sees it.
    bug("linear_gradient_overwritten", 'self._gradient["W"] += input.T @ delta',
        'self._gradient["W"] = input.T @ delta',
        "Linear backward update gradient accumulates", diagnosis="gradient_overwritten"),
    bug("update_wrong_sign", "p -= gradient_step * self._gradient[name]",
        "p += gradient_step * self._gradient[name]",
        "Module update parameters descends the gradient",
        "Module update parameters default step and conv", *TRAININGS,
        diagnosis="update_wrong_sign"),
    bug("maxpool_first_of_window", "winner = windows.argmax(axis=0)",
        "winner = np.zeros(windows.shape[1:], dtype=int)",
        "MaxPool1D backward delta matches finite differences [k=2,stride=2]",
        "MaxPool1D backward delta matches finite differences [k=3,stride=2]",
        "MaxPool1D backward delta with overlapping windows", maybe=(CONV_NET,),
        diagnosis="max_pool_delta_to_the_first_of_the_window"),
    bug("conv1d_ignores_stride",
        "self.k_size, self.stride = k_size, stride\n        bound = 1 / np.sqrt(k_size * chan_in)",
        "self.k_size, self.stride = k_size, 1\n        bound = 1 / np.sqrt(k_size * chan_in)",
        "Conv1D forward matches its parameters [stride=2]",
        "Conv1D backward delta matches finite differences [stride=2]",
        "Conv1D backward update gradient matches finite differences [stride=2]",
        "Conv1D with stride 3",
        diagnosis="convolution_stride_ignored"),
    # A true convolution (flipped kernel) in forward only: the forward values are checked
    # against the cross-correlation with the module's own kernel, read in its own layout. The
    # kernel gradient does not depend on the kernel: right, it keeps its points. dL/dx does,
    # and a forward that does not use the kernel it reports leaves nothing to check it with.
    bug("conv1d_flipped_kernel",
        "out = sum(X[:, _taps(k, self.stride, L_out)] @ W[k] for k in range(self.k_size))",
        "out = sum(X[:, _taps(k, self.stride, L_out)] @ W[self.k_size - 1 - k] for k in range(self.k_size))",
        "Conv1D forward matches its parameters [stride=1]",
        "Conv1D forward matches its parameters [stride=2]",
        "Conv1D backward delta matches finite differences [stride=1]",
        "Conv1D backward delta matches finite differences [stride=2]",
        "Conv1D with stride 3", maybe=(CONV_NET,), diagnosis="convolution_kernel_flipped"),
    # W[q, p] on a k_h x k_w kernel with k_h != k_w reads out of bounds: every Conv2D check.
    bug("conv2d_transposed_kernel", "X[:, r, c] @ W[p, q] for p, q, r, c in taps",
        "X[:, r, c] @ W[q, p] for p, q, r, c in taps",
        "Conv2D forward matches its parameters [stride=1]",
        "Conv2D forward matches its parameters [stride=2x3]",
        "Conv2D backward delta matches finite differences [stride=1]",
        "Conv2D backward delta matches finite differences [stride=2x3]",
        "Conv2D backward update gradient matches finite differences [stride=1]",
        "Conv2D backward update gradient matches finite differences [stride=2x3]",
        "Conv2D with strides 3x1"),
    bug("avgpool_backward_no_divide", "dX[:, r, c] += delta / (self.k_h * self.k_w)",
        "dX[:, r, c] += delta",
        "AvgPool2D backward delta matches finite differences [2x2,stride=2x2]",
        "AvgPool2D backward delta matches finite differences [3x2,stride=1x2]",
        "AvgPool2D with a 2x3 window and strides 3x1", diagnosis="average_pool_delta_not_divided"),
    bug("tanh_derivative_on_input", "return delta * (1 - np.tanh(input) ** 2)",
        "return delta * (1 - input ** 2)",
        "TanH backward delta matches finite differences", "TanH backward delta on a 3d input",
        maybe=(*MLP, AUTOENCODER), diagnosis="derivative_on_the_input"),
    bug("sigmoide_backward_on_input", "s = self.forward(input)\n        return delta * s * (1 - s)",
        "return delta * input * (1 - input)",
        "Sigmoide backward delta matches finite differences", maybe=(AUTOENCODER,),
        diagnosis="sigmoid_derivative_on_the_input"),
    bug("softmax_backward_diagonal_only",
        "return s * (delta - (delta * s).sum(axis=-1, keepdims=True))", "return delta * s * (1 - s)",
        "Softmax backward delta matches finite differences", "Softmax backward delta on a 3d input",
        diagnosis="softmax_jacobian_diagonal_only"),
    bug("celogsoftmax_unstable",
        "m = yhat.max(axis=-1)\n        logsumexp = m + np.log(np.exp(yhat - m[:, None]).sum(axis=-1))",
        "logsumexp = np.log(np.exp(yhat).sum(axis=-1))",
        "CELogSoftmax is stable at large logits",
        diagnosis="logsumexp_overflow"),
    bug("bce_unclipped",
        "p = np.clip(yhat, EPS, 1 - EPS)\n        return -_per_sample_sum(y * np.log(p)",
        "p = yhat\n        return -_per_sample_sum(y * np.log(p)",
        "BCELoss is finite at 0 and 1", maybe=(AUTOENCODER,),
        diagnosis="log_of_zero"),
    bug("mse_backward_no_factor_2", "return -2 * (y - yhat)", "return -(y - yhat)",
        "MSELoss backward matches finite differences", "MSELoss backward on a batch of one",
        diagnosis="mse_gradient_without_2"),
    bug("sequentiel_backward_not_reversed",
        "for m, x in zip(reversed(self.modules), reversed(self._inputs)):\n"
        "            m.backward_update_gradient(x, delta)",
        "for m, x in zip(self.modules, self._inputs):\n            m.backward_update_gradient(x, delta)",
        "Sequentiel backward matches finite differences",
        "Sequentiel nested matches finite differences", *TRAININGS),
    bug("sgd_ignores_batch_size",
        "for start in range(0, len(X), batch_size):\n            idx = order[start:start + batch_size]",
        "for start in range(0, 1):\n            idx = order",
        "SGD uses batches of batch size and every sample", "SGD shuffles every epoch",
        "SGD returns the mean loss of each epoch", *MLP, AUTOENCODER, maybe=(CONV_NET,),
        diagnosis="batch_size_ignored"),
    bug("sgd_no_shuffle", "idx = order[start:start + batch_size]",
        "idx = np.arange(len(X))[start:start + batch_size]",
        "SGD shuffles every epoch", "SGD is deterministic for a seed", maybe=TRAININGS,
        diagnosis="samples_never_shuffled"),
    bug("flatten_backward_no_reshape", "return delta.reshape(input.shape)", "return delta",
        "Flatten backward delta matches finite differences", "Flatten backward delta on a 4d input",
        CONV_NET, diagnosis="flatten_delta_not_reshaped"),
    bug("optim_sum_gradient", "delta = self.loss.backward(batch_y, yhat) / len(batch_x)",
        "delta = self.loss.backward(batch_y, yhat)",
        "Optim step follows the mean gradient", "SGD returns the mean loss of each epoch",
        maybe=TRAININGS, diagnosis="summed_loss_gradient"),
    # What SGD returns is checked by "SGD returns the mean loss of each epoch" only: the
    # trainings measure the trained network themselves and merely draw the history (issue 16;
    # BATCH_LOSSES below is the submission of that issue).
    bug("sgd_returns_nothing", "    return history\n", "\n",
        "SGD returns the mean loss of each epoch", diagnosis="returns_nothing"),
    # Optim.step returning the batch's summed loss: its own check, and the epoch means SGD
    # builds from it; the trainings do not look at it.
    bug("optim_returns_summed_loss", "return float(loss)",
        "return float(self.loss.forward(batch_y, yhat).sum())",
        "Optim step follows the mean gradient", "SGD returns the mean loss of each epoch",
        diagnosis="summed_loss_returned"),
    # Sequentiel.backward that forgets to return dL/dx: its own checks; the trainings (the
    # reference's Optim calls backward_update_gradient and ignores what backward returns) keep
    # their points.
    bug("sequentiel_backward_returns_nothing",
        "        return delta\n        ### END SOLUTION\n\n    def backward_update_gradient",
        "        ### END SOLUTION\n\n    def backward_update_gradient",
        "Sequentiel backward matches finite differences",
        "Sequentiel nested matches finite differences",
        diagnosis="returns_nothing"),
    # A NumPy array of the epoch means is one mean loss per epoch: nothing lost.
    bug("sgd_returns_an_array", "    return history\n", "    return np.array(history)\n"),
    bug("optim_no_zero_grad", "        self.net.zero_grad()\n        yhat = self.net.forward(batch_x)",
        "        yhat = self.net.forward(batch_x)",
        "Optim step follows the mean gradient", "SGD returns the mean loss of each epoch",
        maybe=TRAININGS, diagnosis="gradients_never_zeroed"),
]

BATCH_LOSSES = bug("sgd_returns_batch_losses",
                   "total += optim.step(X[idx], Y[idx]) * len(idx)  # batch mean -> batch sum\n"
                   "        history.append(total / len(X))",
                   "history.append(optim.step(X[idx], Y[idx]))  # one loss per batch, to plot",
                   "SGD returns the mean loss of each epoch")
