"""A valid DIY solution in the style many students of the course write (validation corpus).

* ``Module`` defines ``__call__`` (``net(X)`` is ``net.forward(X)``), losses too, and ``Optim``
  uses them: ``yhat = self.net(batch_x)``, ``self.loss(batch_y, yhat)``, and the step is passed
  as ``update_parameters(eps=...)`` — the grader's probe modules must accept both for the
  checks of Sequentiel, Optim and SGD (issue 10, item 8);
* every module starts with ``_parameters = {"W": None, "b": None}``: ``None`` means "no such
  parameter" (a Linear without bias keeps ``"b": None``; activations keep both) (item 7);
* ``W`` stored (out, in) as in torch, forward ``X @ W.T``; the bias a vector (out,);
* the modules remember their last input in ``forward``; explicit loops over the kernel
  positions in the convolutions and pools, ``np.random.randn`` initialisation;
* SGD shuffles with its own ``np.random.RandomState(seed)`` and returns ``np.array`` of the
  epoch means.
"""

import numpy as np


class Loss(object):
    def __call__(self, y, yhat):
        return self.forward(y, yhat)

    def forward(self, y, yhat):
        pass

    def backward(self, y, yhat):
        pass


class MSELoss(Loss):
    def forward(self, y, yhat):
        return np.linalg.norm(y - yhat, axis=1) ** 2

    def backward(self, y, yhat):
        return 2 * (yhat - y)


class BCELoss(Loss):
    def forward(self, y, yhat):
        yhat = np.clip(yhat, 1e-10, 1 - 1e-10)
        return -np.sum(y * np.log(yhat) + (1 - y) * np.log(1 - yhat), axis=1)

    def backward(self, y, yhat):
        yhat = np.clip(yhat, 1e-10, 1 - 1e-10)
        return (yhat - y) / (yhat * (1 - yhat))


class CELoss(Loss):
    def forward(self, y, yhat):
        return -np.sum(y * np.log(np.clip(yhat, 1e-10, 1)), axis=1)

    def backward(self, y, yhat):
        return -y / np.clip(yhat, 1e-10, 1)


class CELogSoftmax(Loss):
    def forward(self, y, yhat):
        m = np.max(yhat, axis=1)
        return -np.sum(y * yhat, axis=1) + m + np.log(np.sum(np.exp(yhat - m[:, None]), axis=1))

    def backward(self, y, yhat):
        e = np.exp(yhat - np.max(yhat, axis=1, keepdims=True))
        return e / np.sum(e, axis=1, keepdims=True) - y


class Module(object):
    def __init__(self):
        self._parameters = {"W": None, "b": None}
        self._gradient = {"W": None, "b": None}
        self.last_input = None

    def __call__(self, X):
        return self.forward(X)

    def zero_grad(self):
        for name in self._gradient:
            if self._gradient[name] is not None:
                self._gradient[name] = np.zeros_like(self._gradient[name])

    def forward(self, X):
        pass

    def update_parameters(self, eps=1e-3):
        for name in self._parameters:
            if self._parameters[name] is not None:
                self._parameters[name] -= eps * self._gradient[name]

    def backward_update_gradient(self, input, delta):
        pass

    def backward_delta(self, input, delta):
        pass


class Linear(Module):
    def __init__(self, input, output, bias=True):
        super().__init__()
        self._parameters["W"] = np.random.randn(output, input) * np.sqrt(1 / input)
        self._gradient["W"] = np.zeros((output, input))
        if bias:
            self._parameters["b"] = np.zeros(output)
            self._gradient["b"] = np.zeros(output)

    def forward(self, X):
        self.last_input = X
        out = X @ self._parameters["W"].T
        if self._parameters["b"] is not None:
            out = out + self._parameters["b"]
        return out

    def backward_update_gradient(self, input, delta):
        self._gradient["W"] += delta.T @ input
        if self._parameters["b"] is not None:
            self._gradient["b"] += np.sum(delta, axis=0)

    def backward_delta(self, input, delta):
        return delta @ self._parameters["W"]


class TanH(Module):
    def forward(self, X):
        return np.tanh(X)

    def backward_delta(self, input, delta):
        return (1 - np.tanh(input) ** 2) * delta


class Sigmoide(Module):
    def forward(self, X):
        return np.exp(-np.logaddexp(0, -X))

    def backward_delta(self, input, delta):
        s = self.forward(input)
        return s * (1 - s) * delta


class ReLU(Module):
    def forward(self, X):
        return np.where(X > 0, X, 0.0)

    def backward_delta(self, input, delta):
        return np.where(input > 0, delta, 0.0)


class Softmax(Module):
    def forward(self, X):
        e = np.exp(X - np.max(X, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1, keepdims=True)

    def backward_delta(self, input, delta):
        s = self.forward(input)
        return s * delta - s * np.sum(s * delta, axis=-1, keepdims=True)


class Sequentiel(Module):
    def __init__(self, *modules):
        super().__init__()
        self.modules = list(modules)
        self.inputs = []

    def forward(self, X):
        self.inputs = []
        for m in self.modules:
            self.inputs.append(X)
            X = m(X)
        return X

    def backward(self, input, delta):
        self.forward(input)
        for i in range(len(self.modules) - 1, -1, -1):
            self.modules[i].backward_update_gradient(self.inputs[i], delta)
            delta = self.modules[i].backward_delta(self.inputs[i], delta)
        return delta

    def backward_update_gradient(self, input, delta):
        self.backward(input, delta)

    def backward_delta(self, input, delta):
        self.forward(input)
        for i in range(len(self.modules) - 1, -1, -1):
            delta = self.modules[i].backward_delta(self.inputs[i], delta)
        return delta

    def zero_grad(self):
        for m in self.modules:
            m.zero_grad()

    def update_parameters(self, eps=1e-3):
        for m in self.modules:
            m.update_parameters(eps=eps)


class Optim(object):
    def __init__(self, net, loss, eps):
        self.net = net
        self.loss = loss
        self.eps = eps

    def step(self, batch_x, batch_y):
        self.net.zero_grad()
        yhat = self.net(batch_x)
        cost = self.loss(batch_y, yhat)
        delta = self.loss.backward(batch_y, yhat) / batch_x.shape[0]
        self.net.backward_update_gradient(batch_x, delta)
        self.net.update_parameters(eps=self.eps)
        return np.mean(cost)


def SGD(net, loss, X, Y, batch_size, epochs, eps, seed=0):
    rs = np.random.RandomState(seed)
    optim = Optim(net, loss, eps)
    losses = []
    for epoch in range(epochs):
        idx = np.arange(X.shape[0])
        rs.shuffle(idx)
        epoch_loss = 0
        for i in range(0, X.shape[0], batch_size):
            batch = idx[i:i + batch_size]
            epoch_loss += optim.step(X[batch], Y[batch]) * len(batch)
        losses.append(epoch_loss / X.shape[0])
    return np.array(losses)


class Conv1D(Module):
    def __init__(self, k_size, chan_in, chan_out, stride=1):
        super().__init__()
        self.k_size = k_size
        self.stride = stride
        self._parameters["W"] = np.random.randn(k_size, chan_in, chan_out) / np.sqrt(k_size * chan_in)
        self._parameters["b"] = np.zeros(chan_out)
        self._gradient["W"] = np.zeros((k_size, chan_in, chan_out))
        self._gradient["b"] = np.zeros(chan_out)

    def forward(self, X):
        batch, length, chan_in = X.shape
        d_out = (length - self.k_size) // self.stride + 1
        out = np.zeros((batch, d_out, self._parameters["W"].shape[2]))
        for i in range(d_out):
            window = X[:, i * self.stride:i * self.stride + self.k_size, :]
            out[:, i, :] = np.tensordot(window, self._parameters["W"], axes=([1, 2], [0, 1]))
        return out + self._parameters["b"]

    def backward_update_gradient(self, input, delta):
        for i in range(delta.shape[1]):
            window = input[:, i * self.stride:i * self.stride + self.k_size, :]
            self._gradient["W"] += np.tensordot(window, delta[:, i, :], axes=([0], [0]))
        self._gradient["b"] += delta.sum(axis=(0, 1))

    def backward_delta(self, input, delta):
        dx = np.zeros(input.shape)
        for i in range(delta.shape[1]):
            start = i * self.stride
            dx[:, start:start + self.k_size, :] += np.tensordot(
                delta[:, i, :], self._parameters["W"], axes=([1], [2]))
        return dx


class MaxPool1D(Module):
    def __init__(self, k_size, stride):
        super().__init__()
        self.k_size = k_size
        self.stride = stride

    def forward(self, X):
        d_out = (X.shape[1] - self.k_size) // self.stride + 1
        out = np.zeros((X.shape[0], d_out, X.shape[2]))
        for i in range(d_out):
            out[:, i, :] = X[:, i * self.stride:i * self.stride + self.k_size, :].max(axis=1)
        return out

    def backward_delta(self, input, delta):
        dx = np.zeros(input.shape)
        batch, chans = np.meshgrid(np.arange(input.shape[0]), np.arange(input.shape[2]),
                                   indexing="ij")
        for i in range(delta.shape[1]):
            start = i * self.stride
            best = input[:, start:start + self.k_size, :].argmax(axis=1) + start
            dx[batch, best, chans] += delta[:, i, :]
        return dx


class Flatten(Module):
    def forward(self, X):
        return X.reshape(X.shape[0], -1)

    def backward_delta(self, input, delta):
        return delta.reshape(input.shape)


class Conv2D(Module):
    def __init__(self, k_h, k_w, chan_in, chan_out, stride_h=1, stride_w=1):
        super().__init__()
        self.k_h, self.k_w = k_h, k_w
        self.s_h, self.s_w = stride_h, stride_w
        shape = (k_h, k_w, chan_in, chan_out)
        self._parameters["W"] = np.random.randn(*shape) / np.sqrt(k_h * k_w * chan_in)
        self._parameters["b"] = np.zeros(chan_out)
        self._gradient["W"] = np.zeros(shape)
        self._gradient["b"] = np.zeros(chan_out)

    def _out(self, shape):
        return (shape[1] - self.k_h) // self.s_h + 1, (shape[2] - self.k_w) // self.s_w + 1

    def forward(self, X):
        h_out, w_out = self._out(X.shape)
        out = np.zeros((X.shape[0], h_out, w_out, self._parameters["W"].shape[3]))
        for i in range(h_out):
            for j in range(w_out):
                patch = X[:, i * self.s_h:i * self.s_h + self.k_h, j * self.s_w:j * self.s_w + self.k_w, :]
                out[:, i, j, :] = np.tensordot(patch, self._parameters["W"], axes=3)
        return out + self._parameters["b"]

    def backward_update_gradient(self, input, delta):
        for i in range(delta.shape[1]):
            for j in range(delta.shape[2]):
                patch = input[:, i * self.s_h:i * self.s_h + self.k_h, j * self.s_w:j * self.s_w + self.k_w, :]
                self._gradient["W"] += np.tensordot(patch, delta[:, i, j, :], axes=([0], [0]))
        self._gradient["b"] += delta.sum(axis=(0, 1, 2))

    def backward_delta(self, input, delta):
        dx = np.zeros(input.shape)
        for i in range(delta.shape[1]):
            for j in range(delta.shape[2]):
                r, c = i * self.s_h, j * self.s_w
                dx[:, r:r + self.k_h, c:c + self.k_w, :] += np.tensordot(
                    delta[:, i, j, :], self._parameters["W"], axes=([1], [3]))
        return dx


class AvgPool2D(Module):
    def __init__(self, k_h, k_w, stride_h, stride_w):
        super().__init__()
        self.k_h, self.k_w = k_h, k_w
        self.s_h, self.s_w = stride_h, stride_w

    def forward(self, X):
        h_out = (X.shape[1] - self.k_h) // self.s_h + 1
        w_out = (X.shape[2] - self.k_w) // self.s_w + 1
        out = np.zeros((X.shape[0], h_out, w_out, X.shape[3]))
        for i in range(h_out):
            for j in range(w_out):
                r, c = i * self.s_h, j * self.s_w
                out[:, i, j, :] = X[:, r:r + self.k_h, c:c + self.k_w, :].mean(axis=(1, 2))
        return out

    def backward_delta(self, input, delta):
        dx = np.zeros(input.shape)
        for i in range(delta.shape[1]):
            for j in range(delta.shape[2]):
                r, c = i * self.s_h, j * self.s_w
                dx[:, r:r + self.k_h, c:c + self.k_w, :] += (
                    delta[:, i, j, None, None, :] / (self.k_h * self.k_w))
        return dx
