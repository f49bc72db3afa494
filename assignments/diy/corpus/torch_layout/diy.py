"""A valid DIY solution written differently from the reference (validation corpus).

* weights stored the torch way: Linear "weight" (out, in) and "bias" (out,); Conv1D kernel
  (chan_out, chan_in, k); Conv2D kernel (chan_out, chan_in, k_h, k_w);
* convolutions and pools with explicit loops over output positions (no vectorised taps);
* Glorot-uniform initialisation; constructor arguments named otherwise (n_in, kernel_size...);
* Sequentiel keeps the *outputs* of its modules (the input of module i is output i - 1);
* MaxPool1D remembers its argmax during forward;
* SGD shuffles an index array in place with its own generator.
"""

import numpy as np


class Loss:
    def forward(self, y, yhat):
        raise NotImplementedError()

    def backward(self, y, yhat):
        raise NotImplementedError()


class MSELoss(Loss):
    def forward(self, y, yhat):
        d = (yhat - y).reshape(len(y), -1)
        return np.einsum("ij,ij->i", d, d)

    def backward(self, y, yhat):
        return 2.0 * (yhat - y)


class BCELoss(Loss):
    eps = 1e-10

    def forward(self, y, yhat):
        p = np.minimum(np.maximum(yhat, self.eps), 1 - self.eps)
        return -(y * np.log(p) + (1 - y) * np.log1p(-p)).sum(axis=1)

    def backward(self, y, yhat):
        p = np.minimum(np.maximum(yhat, self.eps), 1 - self.eps)
        return (p - y) / (p * (1 - p))


class CELoss(Loss):
    def forward(self, y, yhat):
        return -(y * np.log(np.maximum(yhat, 1e-10))).sum(axis=1)

    def backward(self, y, yhat):
        return -y / np.maximum(yhat, 1e-10)


class CELogSoftmax(Loss):
    def _log_softmax(self, z):
        shifted = z - z.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def forward(self, y, yhat):
        return -(y * self._log_softmax(yhat)).sum(axis=1)

    def backward(self, y, yhat):
        return np.exp(self._log_softmax(yhat)) - y


class Module:
    def __init__(self):
        self._parameters = None
        self._gradient = None

    def zero_grad(self):
        if self._gradient is not None:
            for key in self._gradient:
                self._gradient[key] = np.zeros_like(self._parameters[key])

    def forward(self, X):
        raise NotImplementedError()

    def update_parameters(self, gradient_step=1e-3):
        if self._parameters is not None:
            for key in self._parameters:
                self._parameters[key] -= gradient_step * self._gradient[key]

    def backward_update_gradient(self, input, delta):
        pass

    def backward_delta(self, input, delta):
        raise NotImplementedError()


def glorot(fan_in, fan_out, shape):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return np.random.uniform(-limit, limit, shape)


class Linear(Module):
    def __init__(self, n_in, n_out, use_bias=True):
        super().__init__()
        self._parameters = {"weight": glorot(n_in, n_out, (n_out, n_in))}
        if use_bias:
            self._parameters["bias"] = np.zeros(n_out)
        self._gradient = {k: np.zeros_like(v) for k, v in self._parameters.items()}

    def forward(self, X):
        out = np.dot(X, self._parameters["weight"].T)
        if "bias" in self._parameters:
            out += self._parameters["bias"]
        return out

    def backward_update_gradient(self, input, delta):
        self._gradient["weight"] += delta.T @ input
        if "bias" in self._gradient:
            self._gradient["bias"] += delta.sum(axis=0)

    def backward_delta(self, input, delta):
        return delta @ self._parameters["weight"]


class TanH(Module):
    def forward(self, X):
        return np.tanh(X)

    def backward_delta(self, input, delta):
        return delta / np.cosh(input) ** 2


class Sigmoide(Module):
    def forward(self, X):
        out = np.empty_like(X, dtype=np.float64)
        pos = X >= 0
        out[pos] = 1 / (1 + np.exp(-X[pos]))
        e = np.exp(X[~pos])
        out[~pos] = e / (1 + e)
        return out

    def backward_delta(self, input, delta):
        s = self.forward(input)
        return delta * (s - s * s)


class ReLU(Module):
    def forward(self, X):
        return np.where(X > 0, X, 0.0)

    def backward_delta(self, input, delta):
        return np.where(input > 0, delta, 0.0)


class Softmax(Module):
    def forward(self, X):
        e = np.exp(X - X.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward_delta(self, input, delta):
        s = self.forward(input)
        # the whole Jacobian, one row at a time: J = diag(s) - s s^T
        jac = np.einsum("...i,ij->...ij", s, np.eye(s.shape[-1])) - np.einsum("...i,...j->...ij", s, s)
        return np.einsum("...ij,...j->...i", jac, delta)


class Sequentiel(Module):
    def __init__(self, *modules):
        super().__init__()
        self.modules = list(modules)
        self.outputs = []

    def forward(self, X):
        self.outputs = []
        for module in self.modules:
            X = module.forward(X)
            self.outputs.append(X)
        return X

    def _inputs(self, input):
        return [input] + self.outputs[:-1]

    def backward(self, input, delta):
        self.forward(input)
        for module, x in reversed(list(zip(self.modules, self._inputs(input)))):
            module.backward_update_gradient(x, delta)
            delta = module.backward_delta(x, delta)
        return delta

    def backward_update_gradient(self, input, delta):
        self.backward(input, delta)

    def backward_delta(self, input, delta):
        self.forward(input)
        for module, x in reversed(list(zip(self.modules, self._inputs(input)))):
            delta = module.backward_delta(x, delta)
        return delta

    def zero_grad(self):
        for module in self.modules:
            module.zero_grad()

    def update_parameters(self, gradient_step=1e-3):
        for module in self.modules:
            module.update_parameters(gradient_step)


class Optim:
    def __init__(self, net, loss, eps):
        self.net = net
        self.loss = loss
        self.eps = eps

    def step(self, batch_x, batch_y):
        out = self.net.forward(batch_x)
        values = self.loss.forward(batch_y, out)
        self.net.zero_grad()
        grad = self.loss.backward(batch_y, out) * (1.0 / batch_x.shape[0])
        if isinstance(self.net, Sequentiel):
            self.net.backward(batch_x, grad)
        else:
            self.net.backward_update_gradient(batch_x, grad)
        self.net.update_parameters(self.eps)
        return float(np.mean(values))


def SGD(net, loss, X, Y, batch_size, epochs, eps, seed=0):
    generator = np.random.default_rng(seed)
    optim = Optim(net, loss, eps)
    index = np.arange(X.shape[0])
    losses = []
    for epoch in range(epochs):
        generator.shuffle(index)
        weighted = []
        for batch in np.array_split(index, np.arange(batch_size, len(index), batch_size)):
            weighted.append(optim.step(X[batch], Y[batch]) * len(batch))
        losses.append(sum(weighted) / len(index))
    return losses


class Conv1D(Module):
    def __init__(self, kernel_size, in_channels, out_channels, stride=1):
        super().__init__()
        self.k_size, self.chan_in, self.chan_out = kernel_size, in_channels, out_channels
        self.stride = stride
        self._parameters = {
            "weight": glorot(kernel_size * in_channels, out_channels,
                             (out_channels, in_channels, kernel_size)),
            "bias": np.zeros(out_channels)}
        self._gradient = {k: np.zeros_like(v) for k, v in self._parameters.items()}

    def _positions(self, length):
        return range(0, length - self.k_size + 1, self.stride)

    def forward(self, X):
        W = self._parameters["weight"]
        starts = list(self._positions(X.shape[1]))
        out = np.zeros((X.shape[0], len(starts), self.chan_out))
        for t, s in enumerate(starts):
            window = X[:, s:s + self.k_size, :]              # (batch, k, chan_in)
            out[:, t, :] = np.einsum("nkc,ock->no", window, W)
        return out + self._parameters["bias"]

    def backward_update_gradient(self, input, delta):
        for t, s in enumerate(self._positions(input.shape[1])):
            window = input[:, s:s + self.k_size, :]
            self._gradient["weight"] += np.einsum("nkc,no->ock", window, delta[:, t, :])
        self._gradient["bias"] += delta.sum(axis=(0, 1))

    def backward_delta(self, input, delta):
        W = self._parameters["weight"]
        dx = np.zeros_like(input, dtype=np.float64)
        for t, s in enumerate(self._positions(input.shape[1])):
            dx[:, s:s + self.k_size, :] += np.einsum("no,ock->nkc", delta[:, t, :], W)
        return dx


class MaxPool1D(Module):
    def __init__(self, k_size, stride):
        super().__init__()
        self.k_size = k_size
        self.stride = stride
        self._argmax = None

    def forward(self, X):
        n_out = (X.shape[1] - self.k_size) // self.stride + 1
        out = np.zeros((X.shape[0], n_out, X.shape[2]))
        self._argmax = np.zeros((X.shape[0], n_out, X.shape[2]), dtype=int)
        for t in range(n_out):
            s = t * self.stride
            window = X[:, s:s + self.k_size, :]
            self._argmax[:, t, :] = s + window.argmax(axis=1)
            out[:, t, :] = window.max(axis=1)
        return out

    def backward_delta(self, input, delta):
        self.forward(input)
        dx = np.zeros_like(input, dtype=np.float64)
        n, _, c = np.meshgrid(np.arange(input.shape[0]), np.arange(delta.shape[1]),
                              np.arange(input.shape[2]), indexing="ij")
        np.add.at(dx, (n, self._argmax, c), delta)
        return dx


class Flatten(Module):
    def forward(self, X):
        return X.reshape(X.shape[0], np.prod(X.shape[1:]))

    def backward_delta(self, input, delta):
        return np.reshape(delta, np.shape(input))


class Conv2D(Module):
    def __init__(self, kh, kw, cin, cout, sh=1, sw=1):
        super().__init__()
        self.k_h, self.k_w, self.stride_h, self.stride_w = kh, kw, sh, sw
        self.chan_out = cout
        self._parameters = {"weight": glorot(kh * kw * cin, cout, (cout, cin, kh, kw)),
                            "bias": np.zeros(cout)}
        self._gradient = {k: np.zeros_like(v) for k, v in self._parameters.items()}

    def _grid(self, H, W):
        rows = range(0, H - self.k_h + 1, self.stride_h)
        cols = range(0, W - self.k_w + 1, self.stride_w)
        return [(i, r, j, c) for i, r in enumerate(rows) for j, c in enumerate(cols)], len(rows), len(cols)

    def forward(self, X):
        grid, h, w = self._grid(X.shape[1], X.shape[2])
        out = np.zeros((X.shape[0], h, w, self.chan_out))
        for i, r, j, c in grid:
            patch = X[:, r:r + self.k_h, c:c + self.k_w, :]           # (n, kh, kw, cin)
            out[:, i, j, :] = np.einsum("nhwc,ochw->no", patch, self._parameters["weight"])
        return out + self._parameters["bias"]

    def backward_update_gradient(self, input, delta):
        grid, _, _ = self._grid(input.shape[1], input.shape[2])
        for i, r, j, c in grid:
            patch = input[:, r:r + self.k_h, c:c + self.k_w, :]
            self._gradient["weight"] += np.einsum("nhwc,no->ochw", patch, delta[:, i, j, :])
        self._gradient["bias"] += delta.sum(axis=(0, 1, 2))

    def backward_delta(self, input, delta):
        grid, _, _ = self._grid(input.shape[1], input.shape[2])
        dx = np.zeros_like(input, dtype=np.float64)
        for i, r, j, c in grid:
            dx[:, r:r + self.k_h, c:c + self.k_w, :] += np.einsum(
                "no,ochw->nhwc", delta[:, i, j, :], self._parameters["weight"])
        return dx


class AvgPool2D(Module):
    def __init__(self, k_h, k_w, stride_h, stride_w):
        super().__init__()
        self.k_h, self.k_w, self.stride_h, self.stride_w = k_h, k_w, stride_h, stride_w

    def _grid(self, H, W):
        rows = range(0, H - self.k_h + 1, self.stride_h)
        cols = range(0, W - self.k_w + 1, self.stride_w)
        return [(i, r, j, c) for i, r in enumerate(rows) for j, c in enumerate(cols)], len(rows), len(cols)

    def forward(self, X):
        grid, h, w = self._grid(X.shape[1], X.shape[2])
        out = np.zeros((X.shape[0], h, w, X.shape[3]))
        for i, r, j, c in grid:
            out[:, i, j, :] = X[:, r:r + self.k_h, c:c + self.k_w, :].mean(axis=(1, 2))
        return out

    def backward_delta(self, input, delta):
        grid, _, _ = self._grid(input.shape[1], input.shape[2])
        dx = np.zeros_like(input, dtype=np.float64)
        share = 1.0 / (self.k_h * self.k_w)
        for i, r, j, c in grid:
            dx[:, r:r + self.k_h, c:c + self.k_w, :] += share * delta[:, i, j, None, None, :]
        return dx
