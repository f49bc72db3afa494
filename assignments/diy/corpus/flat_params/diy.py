"""A valid DIY solution written differently from the reference (validation corpus).

* Linear keeps its weight as "kernel" (in, out) and its bias as "_bias" (1, out); without a
  bias, ``_parameters`` and ``_gradient`` are bare arrays;
* convolution kernels stored flattened, (k * chan_in, chan_out) and
  (k_h * k_w * chan_in, chan_out), applied to im2col patches (sliding_window_view);
* Gaussian initialisation (std 0.1), zero biases;
* Sequentiel records (module, input) pairs during forward;
* gradients reset by multiplying by 0, losses written with other formulas.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

CLIP = 1e-9


def _items(container):
    if container is None:
        return []
    if isinstance(container, np.ndarray):
        return [(None, container)]
    return list(container.items())


class Loss:
    def forward(self, y, yhat):
        raise NotImplementedError()

    def backward(self, y, yhat):
        raise NotImplementedError()


class MSELoss(Loss):
    def forward(self, y, yhat):
        return np.sum(np.square(y - yhat), axis=tuple(range(1, np.ndim(y))))

    def backward(self, y, yhat):
        return 2 * yhat - 2 * y


class BCELoss(Loss):
    def forward(self, y, yhat):
        p = np.clip(yhat, CLIP, 1 - CLIP)
        return -np.sum(np.where(y > 0.5, y * np.log(p) + (1 - y) * np.log(1 - p),
                                (1 - y) * np.log(1 - p) + y * np.log(p)), axis=1)

    def backward(self, y, yhat):
        p = np.clip(yhat, CLIP, 1 - CLIP)
        return (1 - y) / (1 - p) - y / p


class CELoss(Loss):
    def forward(self, y, yhat):
        return -np.log(np.clip(yhat, CLIP, None)).__mul__(y).sum(axis=1)

    def backward(self, y, yhat):
        return -y / np.clip(yhat, CLIP, None)


class CELogSoftmax(Loss):
    def forward(self, y, yhat):
        m = np.max(yhat, axis=1, keepdims=True)
        lse = (m + np.log(np.sum(np.exp(yhat - m), axis=1, keepdims=True)))[:, 0]
        return lse - np.sum(y * yhat, axis=1)

    def backward(self, y, yhat):
        e = np.exp(yhat - np.max(yhat, axis=1, keepdims=True))
        return e / np.sum(e, axis=1, keepdims=True) - y


class Module:
    def __init__(self):
        self._parameters = None
        self._gradient = None

    def zero_grad(self):
        for _, g in _items(self._gradient):
            g *= 0

    def forward(self, X):
        raise NotImplementedError()

    def update_parameters(self, gradient_step=1e-3):
        grads = dict(_items(self._gradient))
        for key, p in _items(self._parameters):
            p -= gradient_step * grads[key]

    def backward_update_gradient(self, input, delta):
        pass

    def backward_delta(self, input, delta):
        raise NotImplementedError()


class Linear(Module):
    def __init__(self, input, output, bias=True):
        super().__init__()
        kernel = 0.1 * np.random.randn(input, output)
        if bias:
            self._parameters = {"kernel": kernel, "_bias": np.zeros((1, output))}
            self._gradient = {"kernel": np.zeros((input, output)), "_bias": np.zeros((1, output))}
        else:
            self._parameters = kernel
            self._gradient = np.zeros((input, output))

    def _kernel(self):
        return self._parameters if isinstance(self._parameters, np.ndarray) else self._parameters["kernel"]

    def forward(self, X):
        out = np.matmul(X, self._kernel())
        if isinstance(self._parameters, dict):
            out = out + self._parameters["_bias"]
        return out

    def backward_update_gradient(self, input, delta):
        if isinstance(self._gradient, np.ndarray):
            self._gradient += np.einsum("ni,no->io", input, delta)
        else:
            self._gradient["kernel"] += np.einsum("ni,no->io", input, delta)
            self._gradient["_bias"] += np.sum(delta, axis=0)[None, :]

    def backward_delta(self, input, delta):
        return np.einsum("no,io->ni", delta, self._kernel())


class TanH(Module):
    def forward(self, X):
        return np.tanh(X)

    def backward_delta(self, input, delta):
        t = np.tanh(input)
        return delta - delta * t * t


class Sigmoide(Module):
    def forward(self, X):
        return np.exp(-np.logaddexp(0, -X))

    def backward_delta(self, input, delta):
        s = self.forward(input)
        return s * (1 - s) * delta


class ReLU(Module):
    def forward(self, X):
        return X * (X > 0)

    def backward_delta(self, input, delta):
        return delta * np.heaviside(input, 0.0)


class Softmax(Module):
    def forward(self, X):
        z = X - np.max(X, axis=-1, keepdims=True)
        return np.exp(z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True)))

    def backward_delta(self, input, delta):
        s = self.forward(input)
        inner = np.sum(s * delta, axis=-1, keepdims=True)
        return s * delta - s * inner


class Sequentiel(Module):
    def __init__(self, *modules):
        super().__init__()
        self.modules = modules
        self.trace = []

    def forward(self, X):
        self.trace = []
        for m in self.modules:
            self.trace.append((m, X))
            X = m.forward(X)
        return X

    def backward(self, input, delta):
        self.forward(input)
        for m, x in self.trace[::-1]:
            m.backward_update_gradient(x, delta)
            delta = m.backward_delta(x, delta)
        return delta

    backward_update_gradient = backward

    def backward_delta(self, input, delta):
        self.forward(input)
        for m, x in self.trace[::-1]:
            delta = m.backward_delta(x, delta)
        return delta

    def zero_grad(self):
        for m in self.modules:
            m.zero_grad()

    def update_parameters(self, gradient_step=1e-3):
        for m in self.modules:
            m.update_parameters(gradient_step=gradient_step)


class Optim:
    def __init__(self, net, loss, eps):
        self.net, self.loss, self.eps = net, loss, eps

    def step(self, batch_x, batch_y):
        n = len(batch_x)
        self.net.zero_grad()
        yhat = self.net.forward(batch_x)
        value = np.sum(self.loss.forward(batch_y, yhat)) / n
        self.net.backward_update_gradient(batch_x, self.loss.backward(batch_y, yhat) / n)
        self.net.update_parameters(gradient_step=self.eps)
        return float(value)


def SGD(net, loss, X, Y, batch_size, epochs, eps, seed=0):
    rng = np.random.default_rng(seed)
    optim = Optim(net, loss, eps)
    curve = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        batches = [order[i:i + batch_size] for i in range(0, len(X), batch_size)]
        curve.append(sum(optim.step(X[b], Y[b]) * len(b) for b in batches) / len(X))
    return curve


def _windows_1d(X, k, stride):
    """(n, L, c) -> (n, L_out, k * c): the input of each output position, flattened."""
    win = sliding_window_view(X, k, axis=1)[:, ::stride]            # (n, L_out, c, k)
    return np.swapaxes(win, 2, 3).reshape(X.shape[0], win.shape[1], -1)


class Conv1D(Module):
    def __init__(self, k_size, chan_in, chan_out, stride=1):
        super().__init__()
        self.k, self.c_in, self.stride = k_size, chan_in, stride
        self._parameters = {"kernel": 0.1 * np.random.randn(k_size * chan_in, chan_out),
                            "_bias": np.zeros(chan_out)}
        self._gradient = {"kernel": np.zeros((k_size * chan_in, chan_out)),
                          "_bias": np.zeros(chan_out)}

    def forward(self, X):
        return _windows_1d(X, self.k, self.stride) @ self._parameters["kernel"] + self._parameters["_bias"]

    def backward_update_gradient(self, input, delta):
        cols = _windows_1d(input, self.k, self.stride)
        self._gradient["kernel"] += np.einsum("ntf,nto->fo", cols, delta)
        self._gradient["_bias"] += delta.sum(axis=(0, 1))

    def backward_delta(self, input, delta):
        dcols = (delta @ self._parameters["kernel"].T).reshape(*delta.shape[:2], self.k, self.c_in)
        dx = np.zeros(input.shape)
        for j in range(self.k):
            stop = j + self.stride * (delta.shape[1] - 1) + 1
            dx[:, j:stop:self.stride] += dcols[:, :, j]
        return dx


class MaxPool1D(Module):
    def __init__(self, k_size, stride):
        super().__init__()
        self.k, self.stride = k_size, stride

    def forward(self, X):
        return sliding_window_view(X, self.k, axis=1)[:, ::self.stride].max(axis=-1)

    def backward_delta(self, input, delta):
        win = sliding_window_view(input, self.k, axis=1)[:, ::self.stride]   # (n, L_out, c, k)
        best = win.argmax(axis=-1)
        dx = np.zeros(input.shape)
        n, t, c = np.indices(best.shape)
        np.add.at(dx, (n, t * self.stride + best, c), delta)
        return dx


class Flatten(Module):
    def forward(self, X):
        return X.reshape(len(X), -1)

    def backward_delta(self, input, delta):
        return delta.reshape(input.shape)


def _windows_2d(X, k_h, k_w, s_h, s_w):
    """(n, H, W, c) -> (n, H_out, W_out, k_h * k_w * c), flattened in (row, col, chan) order."""
    win = sliding_window_view(X, (k_h, k_w), axis=(1, 2))[:, ::s_h, ::s_w]   # (n, Ho, Wo, c, kh, kw)
    win = win.transpose(0, 1, 2, 4, 5, 3)
    return win.reshape(*win.shape[:3], -1)


class Conv2D(Module):
    def __init__(self, k_h, k_w, chan_in, chan_out, stride_h=1, stride_w=1):
        super().__init__()
        self.geometry = (k_h, k_w, stride_h, stride_w)
        self.c_in = chan_in
        size = k_h * k_w * chan_in
        self._parameters = {"kernel": 0.1 * np.random.randn(size, chan_out), "_bias": np.zeros(chan_out)}
        self._gradient = {"kernel": np.zeros((size, chan_out)), "_bias": np.zeros(chan_out)}

    def forward(self, X):
        return _windows_2d(X, *self.geometry) @ self._parameters["kernel"] + self._parameters["_bias"]

    def backward_update_gradient(self, input, delta):
        cols = _windows_2d(input, *self.geometry)
        self._gradient["kernel"] += np.einsum("nijf,nijo->fo", cols, delta)
        self._gradient["_bias"] += delta.sum(axis=(0, 1, 2))

    def backward_delta(self, input, delta):
        k_h, k_w, s_h, s_w = self.geometry
        n, H_out, W_out, _ = delta.shape
        dcols = (delta @ self._parameters["kernel"].T).reshape(n, H_out, W_out, k_h, k_w, self.c_in)
        dx = np.zeros(input.shape)
        for p in range(k_h):
            for q in range(k_w):
                dx[:, p:p + s_h * (H_out - 1) + 1:s_h, q:q + s_w * (W_out - 1) + 1:s_w] += dcols[:, :, :, p, q]
        return dx


class AvgPool2D(Module):
    def __init__(self, k_h, k_w, stride_h, stride_w):
        super().__init__()
        self.geometry = (k_h, k_w, stride_h, stride_w)

    def forward(self, X):
        k_h, k_w, s_h, s_w = self.geometry
        return sliding_window_view(X, (k_h, k_w), axis=(1, 2))[:, ::s_h, ::s_w].mean(axis=(-2, -1))

    def backward_delta(self, input, delta):
        k_h, k_w, s_h, s_w = self.geometry
        _, H_out, W_out, _ = delta.shape
        dx = np.zeros(input.shape)
        for p in range(k_h):
            for q in range(k_w):
                dx[:, p:p + s_h * (H_out - 1) + 1:s_h, q:q + s_w * (W_out - 1) + 1:s_w] += delta / (k_h * k_w)
        return dx
