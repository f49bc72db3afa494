"""reference/perceptron.py: shapes, the course's update rule, stable softmax/cross-entropy."""

import torch

from grader.assignment import load_assignment

perceptron = load_assignment("perceptron").load_reference()


def test_init_params_shapes_range_and_generator():
    w, b = perceptron.init_params(784, 10, generator=torch.Generator().manual_seed(0))
    assert w.shape == (784, 10) and b.shape == (1, 10)
    assert w.dtype == b.dtype == torch.float32
    assert w.abs().max() <= 0.001 and b.abs().max() <= 0.001
    assert w.std() > 1e-4  # really drawn, not zeros
    w2, b2 = perceptron.init_params(784, 10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(w, w2) and torch.equal(b, b2)


def test_forward_shape_and_value():
    g = torch.Generator().manual_seed(1)
    x, w, b = torch.randn(5, 4, generator=g), torch.randn(4, 3, generator=g), torch.randn(1, 3, generator=g)
    y = perceptron.forward(x, w, b)
    assert y.shape == (5, 3)
    torch.testing.assert_close(y, x @ w + b)


def test_update_is_one_gradient_step_on_half_squared_error():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 6, generator=g, dtype=torch.float64)
    t = torch.nn.functional.one_hot(torch.randint(0, 4, (8,), generator=g), 4).double()
    w = torch.randn(6, 4, generator=g, dtype=torch.float64)
    b = torch.randn(1, 4, generator=g, dtype=torch.float64)
    eta = 0.01
    # autograd's gradient of 1/2 ||t - y||^2
    wg, bg = w.clone().requires_grad_(), b.clone().requires_grad_()
    (0.5 * ((t - (x @ wg + bg)) ** 2).sum()).backward()
    w_ptr, b_ptr = w.data_ptr(), b.data_ptr()
    assert perceptron.update(x, t, w, b, eta) is None
    assert w.data_ptr() == w_ptr and b.data_ptr() == b_ptr  # in place
    torch.testing.assert_close(w, wg.detach() - eta * wg.grad)
    torch.testing.assert_close(b, bg.detach() - eta * bg.grad)


def test_accuracy_counts_argmax_matches():
    x = torch.eye(4)
    w = torch.eye(4)
    b = torch.zeros(1, 4)
    t = torch.nn.functional.one_hot(torch.tensor([0, 1, 3, 3]), 4).float()
    assert perceptron.accuracy(x, t, w, b) == 0.75


def test_softmax_and_cross_entropy_match_torch_on_ordinary_and_extreme_logits():
    g = torch.Generator().manual_seed(3)
    for scale in (1.0, 1000.0):
        z = torch.randn(16, 10, generator=g, dtype=torch.float64) * scale
        z[0, 0] = 1000.0 if scale > 1 else z[0, 0]
        z[1, :] = -1000.0 if scale > 1 else z[1, :]
        labels = torch.randint(0, 10, (16,), generator=g)
        t = torch.nn.functional.one_hot(labels, 10).double()
        s = perceptron.softmax(z)
        assert torch.isfinite(s).all()
        torch.testing.assert_close(s, torch.softmax(z, dim=1))
        torch.testing.assert_close(s.sum(dim=1), torch.ones(16, dtype=torch.float64))
        ce = perceptron.cross_entropy(z, t)
        assert torch.isfinite(ce)
        torch.testing.assert_close(ce, torch.nn.functional.cross_entropy(z, labels))
