"""DIY — public checks (what `grade check` runs for students).

Every check talks to the submission through ``student`` (a separate, sandboxed process) and
calls your own methods. Your gradients are compared (relative error <= 1e-5, float64) with the
gradient of the operation the practical asks for, which the grader computes itself from your
own ``_parameters`` (read in whatever layout you store them; ``None`` entries mean "no such
parameter") and its inputs; forward values are compared with torch's operators applied to your
parameters. (The checks named "matches finite differences" used to take finite differences of
your forward: a right backward is the same gradient.) Sequentiel, Optim and SGD are checked
with small modules of the grader's own, so that a bug in one of your modules costs points in
its own checks. The trainings score the network the grader computes from your trained
parameters; what SGD returns is only drawn as a learning curve.
"""

import numpy as np
import pytest
import torch

from grader.api import _, gettext
from grader.api import check_close, check_finite, CheckFailure, recognising

import diy_checks as checks
from diy_checks import away_from_zero, distinct, randn

# ------------------------------------------------------------------------------ losses

LOSSES = ["MSELoss", "BCELoss", "CELoss", "CELogSoftmax"]


# One check function per kind of check, parametrized over the elements it checks: each case is
# its own check, named after its element ("MSELoss backward matches finite differences"). The
# forward values of the losses and the activations are one check function, below.


@pytest.mark.points(1)
@pytest.mark.parametrize("element", LOSSES)
def test_element_backward_matches_finite_differences(student, element):
    """{element}().backward(y, yhat) is the gradient of forward(y, yhat).sum()."""
    checks.loss_backward_scenario(student, element)


@pytest.mark.points(1)
def test_CELogSoftmax_is_stable_at_large_logits(student):
    """Logits of ±1000 give finite, right losses and gradients (log-sum-exp with the max
    subtracted)."""
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [1000.0, 1000.0, -1000.0]])
    y = checks.one_hot([1, 2, 0], 3)
    loss = student.CELogSoftmax()
    what = _("CELogSoftmax().forward(y, z) with logits of ±1000")
    value = checks.check_array(checks.call(what, loss.forward, y, z), (3,), what)
    with recognising(value, checks.known.ce_log_softmax_overflow(y, z)):
        check_finite(value, what + " (exp(1000) overflows: subtract each row's max first)")
        check_close(value, np.array([2000.0, 0.0, np.log(2)]), what, rtol=1e-9, atol=1e-9)
    grad = checks.check_array(checks.call("CELogSoftmax().backward(y, z)", loss.backward, y, z),
                              z.shape, _("CELogSoftmax().backward(y, z) with logits of ±1000"))
    check_finite(grad, _("CELogSoftmax().backward(y, z) with logits of ±1000"))
    expected = torch.softmax(checks.t(z), -1).numpy() - y
    check_close(grad, expected, _("CELogSoftmax().backward(y, z) with logits of ±1000 "
                                  "(softmax(z) - y)"), rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------------------ Linear

LINEAR = dict(make=("Linear", (4, 3), {}), x=lambda: randn(5, 4), out=(5, 3))


def make(student, spec):
    name, args, kwargs = spec
    return getattr(student, name)(*args, **kwargs)


@pytest.mark.points(1)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_Linear_shapes(student, bias):
    """Linear(4, 3, bias) maps (5, 4) to (5, 3); backward_delta gives (5, 4); _gradient has the
    keys and shapes of _parameters (one weight of 12 values, and a bias of 3 unless bias=False)."""
    lin = student.Linear(4, 3, bias)
    x, delta = randn(5, 4), randn(5, 3, seed=1)
    what = f"Linear(4, 3, bias={bias})"
    checks.check_array(checks.call(f"{what}.forward(x)", lin.forward, x), (5, 3),
                       _("{what}.forward(x) for x of shape [5, 4]").format(what=what))
    checks.check_array(checks.call(f"{what}.backward_delta(x, delta)", lin.backward_delta, x, delta),
                       (5, 4), f"{what}.backward_delta(x, delta)")
    st = checks.state(lin)
    pairs = checks.gradient_matches_parameters(st["parameters"], st["gradient"], what)
    sizes = sorted(p.size for _, p, _ in pairs)
    if sizes != ([3, 12] if bias else [12]):
        raise CheckFailure(f"{what}: parameters {checks.describe_layout(st['parameters'])}; "
                           f"expected a weight of 4 × 3 values" + (" and a bias of 3" if bias else
                                                                    " and no bias"))


@pytest.mark.points(1)
def test_Linear_forward_matches_its_parameters(student):
    """Linear(4, 3).forward(X) = X W + b with its own W and b (stored in any layout)."""
    checks.module_forward_scenario(student, student.Linear(4, 3), randn(5, 4), (5, 3),
                                   {"W": (4, 3), "b": (3,)}, checks.linear_out, "Linear(4, 3)")


@pytest.mark.points(2)
def test_Linear_backward_delta_matches_finite_differences(student):
    """Linear(4, 3).backward_delta(x, delta) = dL/dx for L = sum(forward(x) * delta)."""
    checks.check_backward_delta(student, student.Linear(4, 3), randn(5, 4), (5, 3), "Linear(4, 3)",
                                checks.linear_op(4, 3), hint=_("\nFor out = X W + b, dL/dX = "
                                                               "delta Wᵀ."))


@pytest.mark.points(2)
def test_Linear_backward_update_gradient_matches_finite_differences(student):
    """After zero_grad, backward_update_gradient(x, delta) puts dL/dW and dL/db in _gradient."""
    checks.check_backward_update_gradient(student, student.Linear(4, 3), randn(5, 4), (5, 3),
                                          "Linear(4, 3)", checks.linear_op(4, 3))


@pytest.mark.points(1)
def test_Linear_backward_update_gradient_accumulates(student):
    """Two backward_update_gradient calls add up (+=); zero_grad resets the gradient to 0."""
    checks.accumulation_scenario(student, student.Linear(4, 3), randn(5, 4), (5, 3), "Linear(4, 3)")


@pytest.mark.points(1)
def test_Module_update_parameters_descends_the_gradient(student):
    """update_parameters(0.1) on a Linear: every parameter becomes parameter - 0.1 · gradient."""
    checks.update_scenario(student, student.Linear(4, 3), randn(5, 4), (5, 3), [0.1],
                           "Linear(4, 3)")


# ------------------------------------------------------------------------- activations

ACTIVATIONS = {
    "TanH": (torch.tanh, lambda: randn(5, 3)),
    "Sigmoide": (torch.sigmoid, lambda: 3 * randn(5, 3)),
    "ReLU": (torch.relu, lambda: away_from_zero(5, 3)),
    "Softmax": (lambda a: torch.softmax(a, -1), lambda: randn(5, 4)),
}


def activation_forward(student, name):
    op, _ = ACTIVATIONS[name]
    z = 4 * randn(6, 5, seed=7)
    out = checks.check_array(checks.call(f"{name}().forward(z)", getattr(student, name)().forward, z),
                             z.shape,
                             gettext("{name}().forward(z) for z of shape [6, 5]").format(
                                 name=name))
    check_close(out, op(checks.t(z)).numpy(), f"{name}().forward", rtol=1e-9, atol=1e-12)


def activation_backward(student, name):
    _, make_x = ACTIVATIONS[name]
    x = make_x()
    checks.check_backward_delta(student, getattr(student, name)(), x, x.shape, f"{name}()",
                                checks.OPS[name])


@pytest.mark.points(1)
@pytest.mark.parametrize("element", LOSSES + list(ACTIVATIONS))
def test_element_forward_values(student, element):
    """{element}().forward as the practical defines it: a loss per sample, shape (batch,) (MSE:
    ||y - yhat||²; BCE: summed over the features; CE: -sum_j y_j log yhat_j; CELogSoftmax: the
    cross-entropy of softmax(z), z logits); an activation element-wise (Softmax: over the last
    axis), as torch computes it."""
    if element in LOSSES:
        checks.loss_forward_scenario(student, element)
    else:
        activation_forward(student, element)


@pytest.mark.points(2)
@pytest.mark.parametrize("element", list(ACTIVATIONS))
def test_element_backward_delta_matches_finite_differences(student, element):
    """{element}().backward_delta(x, delta) is the gradient of sum(forward(x) * delta) (ReLU:
    inputs away from 0; Softmax: the whole Jacobian)."""
    activation_backward(student, element)


# ------------------------------------------------------------------------- convolutions

CONV1D = {
    "stride=1": (dict(k_size=3, chan_in=2, chan_out=4), lambda: randn(3, 10, 2), (3, 8, 4), 1),
    "stride=2": (dict(k_size=3, chan_in=2, chan_out=4, stride=2), lambda: randn(3, 10, 2),
                 (3, 4, 4), 2),
}


def conv1d_label(kwargs):
    stride = kwargs.get("stride", 1)
    return (f"Conv1D({kwargs['k_size']}, {kwargs['chan_in']}, {kwargs['chan_out']}"
            + (f", stride={stride})" if stride != 1 else ")"))


@pytest.mark.points(1)
@pytest.mark.parametrize("case", list(CONV1D))
def test_Conv1D_forward_matches_its_parameters(student, case):
    """Conv1D forward on (batch, length, chan_in): output length (length - k) // stride + 1, and
    the cross-correlation with its own kernel and bias (any layout)."""
    kwargs, make_x, out, stride = CONV1D[case]
    checks.module_forward_scenario(
        student, checks.conv1d(student, **kwargs), make_x(), out,
        {"W": (kwargs["k_size"], kwargs["chan_in"], kwargs["chan_out"]), "b": (kwargs["chan_out"],)},
        lambda p, x: checks.conv1d_out(p, x, stride), conv1d_label(kwargs),
        mistakes=checks.conv1d_forward_mistakes(stride))


@pytest.mark.points(1)
@pytest.mark.parametrize("case", list(CONV1D))
def test_Conv1D_backward_delta_matches_finite_differences(student, case):
    """Conv1D.backward_delta is the gradient of the cross-correlation (strided and not)."""
    kwargs, make_x, out, _ = CONV1D[case]
    checks.check_backward_delta(student, checks.conv1d(student, **kwargs), make_x(), out,
                                conv1d_label(kwargs), checks.conv1d_op(**kwargs))


@pytest.mark.points(1)
@pytest.mark.parametrize("case", list(CONV1D))
def test_Conv1D_backward_update_gradient_matches_finite_differences(student, case):
    """Conv1D's kernel and bias gradients, after zero_grad + backward_update_gradient."""
    kwargs, make_x, out, _ = CONV1D[case]
    checks.check_backward_update_gradient(student, checks.conv1d(student, **kwargs), make_x(), out,
                                          conv1d_label(kwargs), checks.conv1d_op(**kwargs))


MAXPOOL = {"k=2,stride=2": (2, 2, (3, 9, 2), (3, 4, 2)), "k=3,stride=2": (3, 2, (2, 10, 3), (2, 4, 3))}


@pytest.mark.points(1)
@pytest.mark.parametrize("case", list(MAXPOOL))
def test_MaxPool1D_forward_values(student, case):
    """MaxPool1D(k, stride): channel-wise max over windows of k positions, one every stride."""
    k, stride, shape, out = MAXPOOL[case]
    x = randn(*shape, seed=3)
    got = checks.check_array(checks.call(f"MaxPool1D({k}, {stride}).forward(x)",
                                         student.MaxPool1D(k, stride).forward, x), out,
                             _("MaxPool1D({k}, {stride}).forward(x) for x of shape {shape}").format(
                                 k=k, stride=stride, shape=list(shape)))
    ref = torch.nn.functional.max_pool1d(checks.t(x).permute(0, 2, 1), k, stride).permute(0, 2, 1)
    check_close(got, ref.numpy(), f"MaxPool1D({k}, {stride}).forward", rtol=0, atol=0)


@pytest.mark.points(2)
@pytest.mark.parametrize("case", list(MAXPOOL))
def test_MaxPool1D_backward_delta_matches_finite_differences(student, case):
    """Each window's delta goes to the position of its max (distinct inputs: no ties)."""
    k, stride, shape, out = MAXPOOL[case]
    checks.check_backward_delta(student, student.MaxPool1D(k, stride), distinct(*shape), out,
                                f"MaxPool1D({k}, {stride})", checks.maxpool1d_op(k, stride),
                                hint=_("\nOnly the largest entry of a window moves its output."))


@pytest.mark.points(1)
def test_Flatten_forward_values(student):
    """Flatten maps (3, 4, 5) to (3, 20), in C order."""
    x = randn(3, 4, 5)
    got = checks.check_array(checks.call("Flatten().forward(x)", student.Flatten().forward, x), (3, 20),
                             _("Flatten().forward(x) for x of shape [3, 4, 5]"))
    check_close(got, x.reshape(3, 20), "Flatten().forward", rtol=0, atol=0)


@pytest.mark.points(1)
def test_Flatten_backward_delta_matches_finite_differences(student):
    """Flatten.backward_delta gives delta back in the input's shape."""
    checks.check_backward_delta(student, student.Flatten(), randn(3, 4, 5), (3, 20), "Flatten()",
                                checks.OPS["Flatten"])


CONV2D_FORWARD = {
    "stride=1": (dict(k_h=3, k_w=2, chan_in=4, chan_out=5), (2, 7, 6, 4), (2, 5, 5, 5), (1, 1)),
    "stride=2x3": (dict(k_h=3, k_w=2, chan_in=4, chan_out=5, stride_h=2, stride_w=3), (2, 8, 9, 4),
                   (2, 3, 3, 5), (2, 3)),
}
CONV2D_GRAD = {
    "stride=1": (dict(k_h=3, k_w=2, chan_in=2, chan_out=3), (2, 6, 5, 2), (2, 4, 4, 3)),
    "stride=2x3": (dict(k_h=2, k_w=3, chan_in=3, chan_out=2, stride_h=2, stride_w=3),
                   (2, 7, 10, 3), (2, 3, 3, 2)),
}


def conv2d_label(kwargs):
    strides = (kwargs.get("stride_h", 1), kwargs.get("stride_w", 1))
    text = f"Conv2D({kwargs['k_h']}, {kwargs['k_w']}, {kwargs['chan_in']}, {kwargs['chan_out']}"
    return text + (f", stride_h={strides[0]}, stride_w={strides[1]})" if strides != (1, 1) else ")")


@pytest.mark.points(1)
@pytest.mark.parametrize("case", list(CONV2D_FORWARD))
def test_Conv2D_forward_matches_its_parameters(student, case):
    """Conv2D forward on (batch, H, W, chan_in) (channel-last): the cross-correlation with its
    own kernel (k_h rows × k_w columns) and bias, any layout."""
    kwargs, shape, out, strides = CONV2D_FORWARD[case]
    spec = {"W": (kwargs["k_h"], kwargs["k_w"], kwargs["chan_in"], kwargs["chan_out"]),
            "b": (kwargs["chan_out"],)}
    checks.module_forward_scenario(student, checks.conv2d(student, **kwargs), randn(*shape), out, spec,
                                   lambda p, x: checks.conv2d_out(p, x, *strides),
                                   conv2d_label(kwargs))


@pytest.mark.points(1)
@pytest.mark.parametrize("case", list(CONV2D_GRAD))
def test_Conv2D_backward_delta_matches_finite_differences(student, case):
    """Conv2D.backward_delta is the gradient of the 2-D cross-correlation."""
    kwargs, shape, out = CONV2D_GRAD[case]
    checks.check_backward_delta(student, checks.conv2d(student, **kwargs), randn(*shape), out,
                                conv2d_label(kwargs), checks.conv2d_op(**kwargs))


@pytest.mark.points(1)
@pytest.mark.parametrize("case", list(CONV2D_GRAD))
def test_Conv2D_backward_update_gradient_matches_finite_differences(student, case):
    """Conv2D's kernel and bias gradients, after zero_grad + backward_update_gradient."""
    kwargs, shape, out = CONV2D_GRAD[case]
    checks.check_backward_update_gradient(student, checks.conv2d(student, **kwargs), randn(*shape), out,
                                          conv2d_label(kwargs), checks.conv2d_op(**kwargs))


AVGPOOL = {"2x2,stride=2x2": ((2, 2, 2, 2), (2, 6, 7, 3), (2, 3, 3, 3)),
           "3x2,stride=1x2": ((3, 2, 1, 2), (2, 6, 7, 2), (2, 4, 3, 2))}


@pytest.mark.points(1)
@pytest.mark.parametrize("case", list(AVGPOOL))
def test_AvgPool2D_forward_values(student, case):
    """AvgPool2D(k_h, k_w, stride_h, stride_w): channel-wise mean over each window."""
    args, shape, out = AVGPOOL[case]
    x = randn(*shape, seed=3)
    got = checks.check_array(checks.call(f"AvgPool2D{args}.forward(x)", student.AvgPool2D(*args).forward, x),
                             out,
                             _("AvgPool2D{args}.forward(x) for x of shape {shape}").format(
                                 args=args, shape=list(shape)))
    ref = torch.nn.functional.avg_pool2d(checks.t(x).permute(0, 3, 1, 2), args[:2], args[2:])
    check_close(got, ref.permute(0, 2, 3, 1).numpy(), f"AvgPool2D{args}.forward", rtol=1e-9,
                atol=1e-12)


@pytest.mark.points(2)
@pytest.mark.parametrize("case", list(AVGPOOL))
def test_AvgPool2D_backward_delta_matches_finite_differences(student, case):
    """Each input of a window gets 1 / (k_h · k_w) of the window's delta."""
    args, shape, out = AVGPOOL[case]
    checks.check_backward_delta(student, student.AvgPool2D(*args), randn(*shape), out,
                                f"AvgPool2D{args}", checks.avgpool2d_op(*args))


# --------------------------------------------------------------------------- Sequentiel


@pytest.mark.points(1)
def test_Sequentiel_forward_chains_the_modules(student):
    """Sequentiel(m1, m2, m3).forward(x) = m3(m2(m1(x))) (modules of the grader's own)."""
    checks.sequentiel_forward_scenario(student)


@pytest.mark.points(3)
def test_Sequentiel_backward_matches_finite_differences(student):
    """Sequentiel.backward(x, delta) returns dL/dx and fills every module's gradient, from the
    last module to the first (modules of the grader's own)."""
    modules, owners, params = checks.probe_chain(student, seed=0)
    net = student.Sequentiel(*modules)
    checks.sequentiel_backward_scenario(student, net, owners, params, randn(5, 3, seed=2), (5, 6),
                                        checks.CHAIN)


@pytest.mark.points(1)
def test_Sequentiel_update_parameters_and_zero_grad_reach_every_module(student):
    """Sequentiel.update_parameters(step) and zero_grad() act on all its modules."""
    checks.sequentiel_bookkeeping_scenario(student)


# -------------------------------------------------------------------------- Optim, SGD


@pytest.mark.points(2)
def test_Optim_step_follows_the_mean_gradient(student):
    """Optim.step(x, y): zero_grad, forward, backward with loss.backward / batch size, update
    with eps; returns the batch's mean loss (before the update), checked on two steps."""
    checks.optim_scenario(student)


@pytest.mark.points(2)
def test_SGD_uses_batches_of_batch_size_and_every_sample(student):
    """SGD(..., batch_size=16, epochs=3) on 50 samples: 4 updates per epoch (16, 16, 16, 2),
    each epoch seeing every sample once."""
    _, batches, _ = checks.sgd_probe_run(student)
    checks.split_epochs(batches, 50, 3, 16, gettext("SGD(net, loss, X, Y, batch_size=16, epochs=3, "
                                              "...) on 50 samples"))


@pytest.mark.points(1)
def test_SGD_shuffles_every_epoch(student):
    """Each epoch visits the samples in a new random order."""
    _, batches, _ = checks.sgd_probe_run(student)
    epochs = checks.split_epochs(batches, 50, 3, 16, gettext("SGD(..., batch_size=16, epochs=3) on "
                                                       "50 samples"))
    orders = [np.concatenate(e).tolist() for e in epochs]
    if all(o == list(range(50)) for o in orders):
        raise checks.known.SGD_NO_SHUFFLE.failure(gettext("SGD visited the samples in their order 0, 1, 2, ... in every "
                             "epoch: shuffle them (np.random.default_rng(seed).permutation) "
                             "each epoch"))
    if all(o == orders[0] for o in orders):
        raise CheckFailure(gettext("SGD visited the samples in the same order in every epoch: draw a "
                             "new permutation at the start of each epoch"))


@pytest.mark.points(1)
def test_SGD_returns_the_mean_loss_of_each_epoch(student):
    """SGD returns one number per epoch: the mean over the samples of the loss measured by
    Optim.step on each batch (before its update)."""
    history, batches, (a, c, X, Y) = checks.sgd_probe_run(student)
    epochs = checks.split_epochs(batches, 50, 3, 16, gettext("SGD(..., batch_size=16, epochs=3) on "
                                                       "50 samples"))
    curve = checks.training_curve(history, 3, "SGD(..., epochs=3)")
    losses, _, _ = checks.replay(a, c, X, Y, batches, 0.01)
    sizes = [len(b) for b in batches]
    per_sample, per_batch = [], []
    for e in range(3):
        part = slice(e * len(epochs[0]), (e + 1) * len(epochs[0]))
        ls, ns = losses[part], sizes[part]
        per_sample.append(sum(l * n for l, n in zip(ls, ns)) / sum(ns))
        per_batch.append(sum(ls) / len(ls))
    if not (np.allclose(curve, per_sample, rtol=1e-9, atol=1e-12)
            or np.allclose(curve, per_batch, rtol=1e-9, atol=1e-12)):
        raise CheckFailure(gettext("SGD returned {value}; the mean losses of the epochs are {value2} "
                             "(mean over the samples of the batch losses Optim.step returned)").format(
                               value=[round(v, 6) for v in curve], value2=[round(v,
                               6) for v in per_sample]))


@pytest.mark.points(5)
@pytest.mark.trains
@pytest.mark.time_limit("training_time_limit_s")
def test_SGD_mlp_accuracy_on_usps(student, settings, usps, score):
    """Sequentiel(Linear(256, 64), TanH, Linear(64, 10)) trained by your SGD with CELogSoftmax
    classifies held-out USPS-sized digits; linear credit between the thresholds."""
    checks.mlp_accuracy_scenario(student, settings, usps, score, seed=0)


@pytest.mark.points(4)
@pytest.mark.trains
@pytest.mark.time_limit("training_time_limit_s")
def test_Conv1D_network_accuracy_on_signals(student, settings, score):
    """Conv1D → ReLU → MaxPool1D → Flatten → Linear, trained by your SGD, tells a bump from an
    oscillation anywhere in a noisy signal; accuracy on held-out signals."""
    checks.conv1d_accuracy_scenario(student, settings, score, seed=0)
