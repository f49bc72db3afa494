"""DIY neural networks: a small modular framework written with NumPy only.

Reference solution of the "DIY" practical. A network is a chain of *modules*; each one knows

* ``forward(X)``: its output for the input ``X``;
* ``backward_delta(input, delta)``: given ``delta = dL/d(output)``, return ``dL/d(input)``;
* ``backward_update_gradient(input, delta)``: add ``dL/d(parameters)`` to ``_gradient``.

Back-propagation is the chain rule applied module by module, from the loss back to the input.
Conventions: the first axis of every array is the batch; a loss's ``forward`` gives one value
per sample, shape ``(batch,)``, and its ``backward`` the gradient of their *sum*, shaped like
``yhat``; convolutions and pools are channel-last: ``(batch, length, chan)`` in 1-D and
``(batch, height, width, chan)`` in 2-D.
"""

import numpy as np

#: Probabilities are clipped into [EPS, 1 - EPS] before taking logs, so that the losses and
#: their gradients stay finite when a prediction is exactly 0 or 1.
EPS = 1e-12


def _per_sample_sum(a):
    """Sum over every axis but the batch axis: (batch, ...) -> (batch,)."""
    return a.reshape(len(a), -1).sum(axis=1)


def _out_size(n, k, stride):
    """Number of windows of size ``k``, one every ``stride`` positions, that fit in ``n``."""
    return (n - k) // stride + 1


def _taps(k, stride, n_out):
    """Slice of the input positions read by kernel offset ``k``.

    Output position ``t`` of a convolution or pool reads input ``t * stride + k`` for each
    offset ``k`` of the window: for a fixed ``k``, the outputs ``t = 0 .. n_out - 1`` read
    ``k, k + stride, ..., k + stride * (n_out - 1)``. Looping over the few kernel offsets and
    slicing with this vectorises everything else (batch, positions, channels).
    """
    return slice(k, k + stride * (n_out - 1) + 1, stride)


def _taps_2d(k_h, k_w, stride_h, stride_w, H_out, W_out):
    """``_taps`` along both spatial axes: yield (p, q, rows, cols) for each kernel offset (p, q)."""
    for p in range(k_h):
        for q in range(k_w):
            yield p, q, _taps(p, stride_h, H_out), _taps(q, stride_w, W_out)


# ------------------------------------------------------------------------------------ losses


class Loss:
    """Base class of the losses: ``y`` is the target, ``yhat`` the prediction."""

    def forward(self, y, yhat):
        """Per-sample loss: (batch, d), (batch, d) -> (batch,)."""
        raise NotImplementedError()

    def backward(self, y, yhat):
        """Gradient of ``forward(y, yhat).sum()`` w.r.t. ``yhat``: (batch, d)."""
        raise NotImplementedError()


class MSELoss(Loss):
    """||y - yhat||^2 per sample (summed over the features; no 1/2, no mean)."""

    def forward(self, y, yhat):
        """(batch, d), (batch, d) -> (batch,)."""
        ### BEGIN SOLUTION
        return _per_sample_sum((y - yhat) ** 2)
        ### END SOLUTION

    def backward(self, y, yhat):
        """(batch, d), (batch, d) -> (batch, d): d/dyhat (y - yhat)^2 = -2 (y - yhat)."""
        ### BEGIN SOLUTION
        return -2 * (y - yhat)
        ### END SOLUTION


class BCELoss(Loss):
    """Binary cross-entropy; ``yhat`` holds probabilities (e.g. the output of a Sigmoide).

    Per sample: -sum_j [y_j log(yhat_j) + (1 - y_j) log(1 - yhat_j)], yhat clipped to [EPS, 1 - EPS].
    """

    def forward(self, y, yhat):
        """(batch, d), (batch, d) -> (batch,)."""
        ### BEGIN SOLUTION
        p = np.clip(yhat, EPS, 1 - EPS)
        return -_per_sample_sum(y * np.log(p) + (1 - y) * np.log(1 - p))
        ### END SOLUTION

    def backward(self, y, yhat):
        """(batch, d), (batch, d) -> (batch, d): -y / yhat + (1 - y) / (1 - yhat)."""
        ### BEGIN SOLUTION
        p = np.clip(yhat, EPS, 1 - EPS)
        return -y / p + (1 - y) / (1 - p)
        ### END SOLUTION


class CELoss(Loss):
    """Cross-entropy -sum_j y_j log(yhat_j); ``y`` one-hot, ``yhat`` probabilities (clipped)."""

    def forward(self, y, yhat):
        """(batch, n_classes), (batch, n_classes) -> (batch,)."""
        ### BEGIN SOLUTION
        return -_per_sample_sum(y * np.log(np.clip(yhat, EPS, 1 - EPS)))
        ### END SOLUTION

    def backward(self, y, yhat):
        """(batch, n_classes), (batch, n_classes) -> (batch, n_classes): -y / yhat."""
        ### BEGIN SOLUTION
        return -y / np.clip(yhat, EPS, 1 - EPS)
        ### END SOLUTION


class CELogSoftmax(Loss):
    """Cross-entropy of softmax(yhat); ``y`` one-hot, ``yhat`` raw scores (logits) z.

    -sum_j y_j log softmax(z)_j = -sum_j y_j z_j + log sum_j exp(z_j), as sum_j y_j = 1.
    The log-sum-exp is computed as m + log sum_j exp(z_j - m) with m = max_j z_j, so that no
    exp overflows. Its gradient is softmax(z), hence the gradient softmax(z) - y.
    """

    def forward(self, y, yhat):
        """(batch, n_classes), (batch, n_classes) -> (batch,)."""
        ### BEGIN SOLUTION
        m = yhat.max(axis=-1)
        logsumexp = m + np.log(np.exp(yhat - m[:, None]).sum(axis=-1))
        return -(y * yhat).sum(axis=-1) + logsumexp
        ### END SOLUTION

    def backward(self, y, yhat):
        """(batch, n_classes), (batch, n_classes) -> (batch, n_classes)."""
        ### BEGIN SOLUTION
        e = np.exp(yhat - yhat.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True) - y
        ### END SOLUTION


# ----------------------------------------------------------------------------------- modules


class Module:
    """Base class of the modules.

    ``_parameters`` and ``_gradient`` are None for a module without parameters, otherwise
    dicts name -> array, with the same keys and shapes.
    """

    def __init__(self):
        self._parameters = None
        self._gradient = None

    def zero_grad(self):
        """Set every accumulated gradient to zero (in place)."""
        ### BEGIN SOLUTION
        for g in (self._gradient or {}).values():
            g[...] = 0
        ### END SOLUTION

    def forward(self, X):
        """Output of the module for the batch ``X``."""
        raise NotImplementedError()

    def update_parameters(self, gradient_step=1e-3):
        """One gradient-descent step (in place): parameter -= gradient_step * gradient."""
        ### BEGIN SOLUTION
        for name, p in (self._parameters or {}).items():
            p -= gradient_step * self._gradient[name]
        ### END SOLUTION

    def backward_update_gradient(self, input, delta):
        """Add dL/d(parameters) to ``_gradient`` (+=); ``delta`` = dL/d(output), shaped like it."""
        pass  # nothing to do for a module without parameters

    def backward_delta(self, input, delta):
        """dL/d(input), shaped like ``input``, from ``delta`` = dL/d(output)."""
        raise NotImplementedError()


class Linear(Module):
    """Fully connected layer: X @ W + b, with W (input, output) and b (1, output)."""

    def __init__(self, input, output, bias=True):
        """W (and b) drawn uniformly in [-1/sqrt(input), 1/sqrt(input)] from ``np.random``."""
        ### BEGIN SOLUTION
        super().__init__()
        bound = 1 / np.sqrt(input)
        self._parameters = {"W": np.random.uniform(-bound, bound, (input, output))}
        if bias:
            self._parameters["b"] = np.random.uniform(-bound, bound, (1, output))
        self._gradient = {k: np.zeros_like(p) for k, p in self._parameters.items()}
        ### END SOLUTION

    def forward(self, X):
        """(batch, input) -> (batch, output)."""
        ### BEGIN SOLUTION
        out = X @ self._parameters["W"]
        if "b" in self._parameters:
            out = out + self._parameters["b"]  # (1, output) broadcasts over the batch
        return out
        ### END SOLUTION

    def backward_update_gradient(self, input, delta):
        """input (batch, input), delta (batch, output).

        out[n, j] = sum_i X[n, i] W[i, j] + b[j], so dL/dW[i, j] = sum_n X[n, i] delta[n, j]
        (that is X^T @ delta) and dL/db[j] = sum_n delta[n, j].
        """
        ### BEGIN SOLUTION
        self._gradient["W"] += input.T @ delta
        if "b" in self._gradient:
            self._gradient["b"] += delta.sum(axis=0, keepdims=True)
        ### END SOLUTION

    def backward_delta(self, input, delta):
        """(batch, input), (batch, output) -> (batch, input): dL/dX[n, i] = sum_j delta[n, j] W[i, j]."""
        ### BEGIN SOLUTION
        return delta @ self._parameters["W"].T
        ### END SOLUTION


# Element-wise activations: out = f(X), so dL/dX = delta * f'(X); any shape in, same shape out.


class TanH(Module):
    """tanh, whose derivative is 1 - tanh(x)^2."""

    def forward(self, X):
        """Any shape -> same shape."""
        ### BEGIN SOLUTION
        return np.tanh(X)
        ### END SOLUTION

    def backward_delta(self, input, delta):
        """Any shape -> same shape."""
        ### BEGIN SOLUTION
        return delta * (1 - np.tanh(input) ** 2)
        ### END SOLUTION


class Sigmoide(Module):
    """Logistic sigmoid s(x) = 1 / (1 + exp(-x)), whose derivative is s(x) (1 - s(x))."""

    def forward(self, X):
        """Any shape -> same shape."""
        ### BEGIN SOLUTION
        return 0.5 * (1 + np.tanh(X / 2))  # = 1 / (1 + exp(-x)), and no exp to overflow
        ### END SOLUTION

    def backward_delta(self, input, delta):
        """Any shape -> same shape."""
        ### BEGIN SOLUTION
        s = self.forward(input)
        return delta * s * (1 - s)
        ### END SOLUTION


class ReLU(Module):
    """max(0, x), whose derivative is 1 where x > 0 and 0 elsewhere."""

    def forward(self, X):
        """Any shape -> same shape."""
        ### BEGIN SOLUTION
        return np.maximum(X, 0)
        ### END SOLUTION

    def backward_delta(self, input, delta):
        """Any shape -> same shape."""
        ### BEGIN SOLUTION
        return delta * (input > 0)
        ### END SOLUTION


class Softmax(Module):
    """Softmax over the last axis: s_j = exp(x_j) / sum_k exp(x_k)."""

    def forward(self, X):
        """(..., n) -> (..., n); subtracting the row max changes nothing but avoids overflow."""
        ### BEGIN SOLUTION
        e = np.exp(X - X.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
        ### END SOLUTION

    def backward_delta(self, input, delta):
        """(..., n), (..., n) -> (..., n).

        ds_j/dx_i = s_j (1[i = j] - s_i), so
        dL/dx_i = sum_j delta_j s_j (1[i = j] - s_i) = s_i (delta_i - sum_j delta_j s_j).
        """
        ### BEGIN SOLUTION
        s = self.forward(input)
        return s * (delta - (delta * s).sum(axis=-1, keepdims=True))
        ### END SOLUTION


# ---------------------------------------------------------------------------------- networks


class Sequentiel(Module):
    """A chain of modules; itself a Module, so that it can be nested in another Sequentiel.

    The backward methods reuse the module inputs kept by the last ``forward``, which should
    be ``forward(input)`` (they are recomputed when ``input`` is another array object).
    """

    def __init__(self, *modules):
        """``self.modules``: the modules, in the order the data goes through them."""
        ### BEGIN SOLUTION
        super().__init__()  # no parameters of its own: they live in its modules
        self.modules = list(modules)
        self._inputs = None  # the input of each module during the last forward
        ### END SOLUTION

    def forward(self, X):
        """Run the modules in order, keeping the input of each for the backward pass."""
        ### BEGIN SOLUTION
        self._inputs = []
        for m in self.modules:
            self._inputs.append(X)
            X = m.forward(X)
        return X
        ### END SOLUTION

    def backward(self, input, delta):
        """Back-propagate ``delta`` = dL/d(network output) and return dL/d(input).

        From the last module to the first: accumulate its parameters' gradient, then turn
        dL/d(its output) into dL/d(its input), which is dL/d(output) of the module before.
        """
        ### BEGIN SOLUTION
        if self._inputs is None or self._inputs[0] is not input:
            self.forward(input)  # not the input of the last forward: recompute the inputs
        for m, x in zip(reversed(self.modules), reversed(self._inputs)):
            m.backward_update_gradient(x, delta)
            delta = m.backward_delta(x, delta)
        return delta
        ### END SOLUTION

    def backward_update_gradient(self, input, delta):
        """Accumulate the gradients of all the modules (a whole backward pass)."""
        ### BEGIN SOLUTION
        self.backward(input, delta)
        ### END SOLUTION

    def backward_delta(self, input, delta):
        """dL/d(input) only, leaving the gradients untouched."""
        ### BEGIN SOLUTION
        if self._inputs is None or self._inputs[0] is not input:
            self.forward(input)
        for m, x in zip(reversed(self.modules), reversed(self._inputs)):
            delta = m.backward_delta(x, delta)
        return delta
        ### END SOLUTION

    def zero_grad(self):
        """Set the gradients of all the modules to zero."""
        ### BEGIN SOLUTION
        for m in self.modules:
            m.zero_grad()
        ### END SOLUTION

    def update_parameters(self, gradient_step=1e-3):
        """One gradient step on all the modules."""
        ### BEGIN SOLUTION
        for m in self.modules:
            m.update_parameters(gradient_step)
        ### END SOLUTION


class Optim:
    """Gradient descent on ``net`` for ``loss``, with step size ``eps``."""

    def __init__(self, net, loss, eps):
        """Keep the network (a Module), the loss (a Loss) and the step size (a float)."""
        ### BEGIN SOLUTION
        self.net, self.loss, self.eps = net, loss, eps
        ### END SOLUTION

    def step(self, batch_x, batch_y):
        """One update on a batch; returns the batch's mean loss (before the update), a float.

        The gradient followed is that of the *mean* loss over the batch: ``loss.backward``
        (the gradient of the sum) is divided by the batch size, so that the size of a step
        does not depend on the size of the batch.
        """
        ### BEGIN SOLUTION
        self.net.zero_grad()
        yhat = self.net.forward(batch_x)
        loss = self.loss.forward(batch_y, yhat).mean()
        delta = self.loss.backward(batch_y, yhat) / len(batch_x)
        # A whole backward pass for a Sequentiel; also works when net is a single module.
        self.net.backward_update_gradient(batch_x, delta)
        self.net.update_parameters(self.eps)
        return float(loss)
        ### END SOLUTION


def SGD(net, loss, X, Y, batch_size, epochs, eps, seed=0):
    """Mini-batch gradient descent; returns the mean loss of each epoch (``epochs`` floats).

    Each epoch shuffles the samples with ``np.random.default_rng(seed)`` (so that a run can
    be reproduced) and steps on consecutive batches of ``batch_size`` samples (the last one
    may be smaller). An epoch's loss is the mean over the samples of the loss measured by
    ``Optim.step``, i.e. on each batch just before its update.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    optim = Optim(net, loss, eps)
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        total = 0.0
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            total += optim.step(X[idx], Y[idx]) * len(idx)  # batch mean -> batch sum
        history.append(total / len(X))
    return history
    ### END SOLUTION


# ------------------------------------------------------------------------------ convolutions
# For a kernel offset k, X[:, _taps(k, ...)] holds, for every output position, the input that
# offset k reads there; a convolution multiplies it by W[k], a (chan_in, chan_out) matrix.


class Conv1D(Module):
    """1-D convolution (a cross-correlation, as in deep-learning libraries), channel-last.

    out[n, t, o] = b[o] + sum_{k, c} X[n, t * stride + k, c] W[k, c, o]
    """

    def __init__(self, k_size, chan_in, chan_out, stride=1):
        """W (k_size, chan_in, chan_out), b (chan_out,): uniform in +-1/sqrt(k_size * chan_in)."""
        ### BEGIN SOLUTION
        super().__init__()
        self.k_size, self.stride = k_size, stride
        bound = 1 / np.sqrt(k_size * chan_in)
        self._parameters = {"W": np.random.uniform(-bound, bound, (k_size, chan_in, chan_out)),
                            "b": np.random.uniform(-bound, bound, (chan_out,))}
        self._gradient = {k: np.zeros_like(p) for k, p in self._parameters.items()}
        ### END SOLUTION

    def forward(self, X):
        """(batch, length, chan_in) -> (batch, (length - k_size) // stride + 1, chan_out)."""
        ### BEGIN SOLUTION
        L_out = _out_size(X.shape[1], self.k_size, self.stride)
        W = self._parameters["W"]
        out = sum(X[:, _taps(k, self.stride, L_out)] @ W[k] for k in range(self.k_size))
        return out + self._parameters["b"]
        ### END SOLUTION

    def backward_update_gradient(self, input, delta):
        """input (batch, length, chan_in), delta (batch, L_out, chan_out).

        dL/dW[k, c, o] = sum_{n, t} X[n, t * stride + k, c] delta[n, t, o]
        dL/db[o] = sum_{n, t} delta[n, t, o]
        """
        ### BEGIN SOLUTION
        for k in range(self.k_size):
            x_k = input[:, _taps(k, self.stride, delta.shape[1])]
            self._gradient["W"][k] += np.einsum("ntc,nto->co", x_k, delta)
        self._gradient["b"] += delta.sum(axis=(0, 1))
        ### END SOLUTION

    def backward_delta(self, input, delta):
        """(batch, length, chan_in), (batch, L_out, chan_out) -> (batch, length, chan_in).

        Input t * stride + k gets delta[n, t] @ W[k]^T from every output t that reads it
        (several when windows overlap, none when no window reaches it).
        """
        ### BEGIN SOLUTION
        dX = np.zeros(input.shape, dtype=np.result_type(input, delta))
        W = self._parameters["W"]
        for k in range(self.k_size):
            # for one k the positions are all different; += adds up the overlapping windows
            dX[:, _taps(k, self.stride, delta.shape[1])] += delta @ W[k].T
        return dX
        ### END SOLUTION


class MaxPool1D(Module):
    """Channel-wise max over windows of ``k_size`` positions, one every ``stride`` positions."""

    def __init__(self, k_size, stride):
        """No parameters: only the window size and the stride (in positions)."""
        ### BEGIN SOLUTION
        super().__init__()
        self.k_size, self.stride = k_size, stride
        ### END SOLUTION

    def forward(self, X):
        """(batch, length, chan) -> (batch, (length - k_size) // stride + 1, chan)."""
        ### BEGIN SOLUTION
        L_out = _out_size(X.shape[1], self.k_size, self.stride)
        # windows[k, n, t, c] = X[n, t * stride + k, c]: offset k of every window
        windows = np.stack([X[:, _taps(k, self.stride, L_out)] for k in range(self.k_size)])
        return windows.max(axis=0)
        ### END SOLUTION

    def backward_delta(self, input, delta):
        """(batch, length, chan), (batch, L_out, chan) -> (batch, length, chan).

        Near the input, a max is the identity in its largest entry and constant in the
        others: each window's delta goes to its argmax only (the first one on ties), and
        adds up where overlapping windows share their argmax.
        """
        ### BEGIN SOLUTION
        L_out = delta.shape[1]
        windows = np.stack([input[:, _taps(k, self.stride, L_out)] for k in range(self.k_size)])
        winner = windows.argmax(axis=0)  # (batch, L_out, chan): offset of each window's max
        dX = np.zeros(input.shape, dtype=np.result_type(input, delta))
        for k in range(self.k_size):
            dX[:, _taps(k, self.stride, L_out)] += delta * (winner == k)
        return dX
        ### END SOLUTION


class Flatten(Module):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...), e.g. between convolutions and Linear."""

    def forward(self, X):
        """(batch, ...) -> (batch, prod(...))."""
        ### BEGIN SOLUTION
        return X.reshape(len(X), -1)
        ### END SOLUTION

    def backward_delta(self, input, delta):
        """(batch, ...), (batch, prod(...)) -> (batch, ...): a reshape moves values, changes none."""
        ### BEGIN SOLUTION
        return delta.reshape(input.shape)
        ### END SOLUTION


class Conv2D(Module):
    """2-D convolution (cross-correlation), channel-last: Conv1D along both spatial axes.

    out[n, i, j, o] = b[o] + sum_{p, q, c} X[n, i * stride_h + p, j * stride_w + q, c] W[p, q, c, o]
    """

    def __init__(self, k_h, k_w, chan_in, chan_out, stride_h=1, stride_w=1):
        """W (k_h, k_w, chan_in, chan_out), b (chan_out,): uniform in +-1/sqrt(k_h * k_w * chan_in)."""
        ### BEGIN SOLUTION
        super().__init__()
        self.k_h, self.k_w, self.stride_h, self.stride_w = k_h, k_w, stride_h, stride_w
        bound = 1 / np.sqrt(k_h * k_w * chan_in)
        self._parameters = {"W": np.random.uniform(-bound, bound, (k_h, k_w, chan_in, chan_out)),
                            "b": np.random.uniform(-bound, bound, (chan_out,))}
        self._gradient = {k: np.zeros_like(p) for k, p in self._parameters.items()}
        ### END SOLUTION

    def forward(self, X):
        """(batch, H, W, chan_in) -> (batch, (H - k_h) // stride_h + 1, (W - k_w) // stride_w + 1, chan_out)."""
        ### BEGIN SOLUTION
        H_out = _out_size(X.shape[1], self.k_h, self.stride_h)
        W_out = _out_size(X.shape[2], self.k_w, self.stride_w)
        W = self._parameters["W"]
        taps = _taps_2d(self.k_h, self.k_w, self.stride_h, self.stride_w, H_out, W_out)
        return sum(X[:, r, c] @ W[p, q] for p, q, r, c in taps) + self._parameters["b"]
        ### END SOLUTION

    def backward_update_gradient(self, input, delta):
        """input (batch, H, W, chan_in), delta (batch, H_out, W_out, chan_out); as in Conv1D."""
        ### BEGIN SOLUTION
        taps = _taps_2d(self.k_h, self.k_w, self.stride_h, self.stride_w, *delta.shape[1:3])
        for p, q, r, c in taps:
            self._gradient["W"][p, q] += np.einsum("nijc,nijo->co", input[:, r, c], delta)
        self._gradient["b"] += delta.sum(axis=(0, 1, 2))
        ### END SOLUTION

    def backward_delta(self, input, delta):
        """(batch, H, W, chan_in), (batch, H_out, W_out, chan_out) -> (batch, H, W, chan_in)."""
        ### BEGIN SOLUTION
        dX = np.zeros(input.shape, dtype=np.result_type(input, delta))
        W = self._parameters["W"]
        taps = _taps_2d(self.k_h, self.k_w, self.stride_h, self.stride_w, *delta.shape[1:3])
        for p, q, r, c in taps:
            dX[:, r, c] += delta @ W[p, q].T
        return dX
        ### END SOLUTION


class AvgPool2D(Module):
    """Channel-wise mean over k_h x k_w windows, moved by stride_h and stride_w (channel-last)."""

    def __init__(self, k_h, k_w, stride_h, stride_w):
        """No parameters: only the window size and the strides (in rows and columns)."""
        ### BEGIN SOLUTION
        super().__init__()
        self.k_h, self.k_w, self.stride_h, self.stride_w = k_h, k_w, stride_h, stride_w
        ### END SOLUTION

    def forward(self, X):
        """(batch, H, W, chan) -> (batch, (H - k_h) // stride_h + 1, (W - k_w) // stride_w + 1, chan)."""
        ### BEGIN SOLUTION
        H_out = _out_size(X.shape[1], self.k_h, self.stride_h)
        W_out = _out_size(X.shape[2], self.k_w, self.stride_w)
        taps = _taps_2d(self.k_h, self.k_w, self.stride_h, self.stride_w, H_out, W_out)
        # a Conv2D whose weights are all 1 / (k_h * k_w), channel by channel
        return sum(X[:, r, c] for _, _, r, c in taps) / (self.k_h * self.k_w)
        ### END SOLUTION

    def backward_delta(self, input, delta):
        """(batch, H, W, chan), (batch, H_out, W_out, chan) -> (batch, H, W, chan).

        Each input of a window gets 1 / (k_h * k_w) of the window's delta.
        """
        ### BEGIN SOLUTION
        dX = np.zeros(input.shape, dtype=np.result_type(input, delta))
        taps = _taps_2d(self.k_h, self.k_w, self.stride_h, self.stride_w, *delta.shape[1:3])
        for _, _, r, c in taps:
            dX[:, r, c] += delta / (self.k_h * self.k_w)
        return dX
        ### END SOLUTION
