"""DIY — hidden checks (instructor grading only; never shipped to students).

The same scenarios as the public checks on other shapes, plus what a submission tuned to the
public checks tends to miss: probabilities of exactly 0 and 1, large inputs, a batch of one,
Linear without bias, the default step, another stride, overlapping windows, 4-D inputs,
nested Sequentiels, SGD's seed, another training seed, and an autoencoder.
"""

import numpy as np
import pytest
import torch

from grader.api import _, gettext
from grader.api import check_close, check_finite, CheckFailure, recognising

import diy_checks as checks
import diy_hidden_checks as hidden_checks
from diy_checks import distinct, randn

# ------------------------------------------------------------------------------ losses


@pytest.mark.points(1)
def test_BCELoss_is_finite_at_0_and_1(student):
    """Predictions of exactly 0 and 1 give finite losses and gradients (clip yhat before the
    logs); a perfect prediction costs ~0, a wrong one a lot."""
    y = np.array([[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]])
    p = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0]])   # perfect, all wrong
    loss = student.BCELoss()
    what = _("BCELoss().forward(y, yhat) with yhat exactly 0 or 1")
    value = checks.check_array(checks.call(what, loss.forward, y, p), (2,), what)
    with recognising(value, checks.known.bce_unclipped(y, p)):
        check_finite(value, what + " (log(0): clip yhat into [eps, 1 - eps] first)")
    if not (abs(value[0]) < 1e-3 and value[1] > 10):
        raise CheckFailure(_("{what}: got {value}; expected ~0 for the perfect row and a large "
                             "loss (> 10) for the wrong one").format(
                               what=what, value=value.tolist()))
    grad = checks.check_array(checks.call("BCELoss().backward(y, yhat)", loss.backward, y, p),
                              p.shape, _("BCELoss().backward(y, yhat) with yhat exactly 0 or 1"))
    check_finite(grad, _("BCELoss().backward(y, yhat) with yhat exactly 0 or 1 (clip yhat)"))


@pytest.mark.points(1)
def test_CELoss_is_finite_at_0(student):
    """A probability of exactly 0 on the target gives a finite loss and gradient (clipped)."""
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    p = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])   # right, wrong
    loss = student.CELoss()
    what = _("CELoss().forward(y, yhat) with a probability of 0 on a target")
    value = checks.check_array(checks.call(what, loss.forward, y, p), (2,), what)
    check_finite(value, what + " (log(0): clip yhat first)")
    if not (abs(value[0]) < 1e-3 and value[1] > 10):
        raise CheckFailure(_("{what}: got {value}; expected ~0 for the right row and a large "
                             "loss (> 10) for the wrong one").format(
                               what=what, value=value.tolist()))
    check_finite(checks.check_array(checks.call("CELoss().backward(y, yhat)", loss.backward, y, p),
                                    p.shape, "CELoss().backward"),
                 _("CELoss().backward(y, yhat) with a probability of 0 on a target (clip yhat)"))


@pytest.mark.points(1)
def test_MSELoss_backward_on_a_batch_of_one(student):
    """MSELoss on a single sample of 7 features: forward shape (1,) and gradient."""
    checks.loss_forward_scenario(student, "MSELoss", batch=1, width=7, seed=11)
    checks.loss_backward_scenario(student, "MSELoss", batch=1, width=7, seed=11)


@pytest.mark.points(1)
def test_CELogSoftmax_backward_with_ten_classes(student):
    """CELogSoftmax on 8 samples and 10 classes: values and gradient."""
    checks.loss_forward_scenario(student, "CELogSoftmax", batch=8, width=10, seed=12)
    checks.loss_backward_scenario(student, "CELogSoftmax", batch=8, width=10, seed=12)


# ------------------------------------------------------------------------------ Linear


@pytest.mark.points(1)
def test_Linear_without_bias_matches_finite_differences(student):
    """Linear(5, 2, bias=False): forward is X W, and both backward methods are right."""
    lin = student.Linear(5, 2, False)
    x = randn(4, 5, seed=5)
    checks.module_forward_scenario(student, lin, x, (4, 2), {"W": (5, 2)}, checks.linear_out,
                                   "Linear(5, 2, bias=False)")
    op = checks.linear_op(5, 2, bias=False)
    checks.check_backward_delta(student, lin, x, (4, 2), "Linear(5, 2, bias=False)", op)
    checks.check_backward_update_gradient(student, lin, x, (4, 2), "Linear(5, 2, bias=False)", op)


@pytest.mark.points(1)
def test_Linear_on_a_single_sample(student):
    """Linear(7, 2) on a batch of one: both backward methods are right."""
    lin = student.Linear(7, 2)
    x = randn(1, 7, seed=6)
    checks.check_backward_delta(student, lin, x, (1, 2), "Linear(7, 2)", checks.linear_op(7, 2))
    checks.check_backward_update_gradient(student, lin, x, (1, 2), "Linear(7, 2)",
                                          checks.linear_op(7, 2))


@pytest.mark.points(1)
def test_Module_update_parameters_default_step_and_conv(student):
    """update_parameters() uses the default step 1e-3; update_parameters works on a Conv1D."""
    checks.update_scenario(student, student.Linear(3, 5), randn(4, 3), (4, 5), [None],
                           "Linear(3, 5)")
    checks.update_scenario(student, student.Conv1D(3, 2, 4, 2), randn(3, 10, 2),
                           (3, 4, 4), [0.05], "Conv1D(3, 2, 4, stride=2)")


@pytest.mark.points(1)
def test_Conv1D_backward_update_gradient_accumulates(student):
    """Conv1D's gradients accumulate over two calls and zero_grad resets them."""
    checks.accumulation_scenario(student, student.Conv1D(3, 2, 4, 2), randn(3, 10, 2),
                                 (3, 4, 4), "Conv1D(3, 2, 4, stride=2)")


@pytest.mark.points(1)
def test_Module_methods_accept_modules_without_parameters(student):
    """zero_grad, backward_update_gradient and update_parameters do nothing (and do not fail)
    on modules without parameters."""
    cases = [("TanH", (), (3, 4), (3, 4)), ("Sigmoide", (), (3, 4), (3, 4)),
             ("ReLU", (), (3, 4), (3, 4)), ("Softmax", (), (3, 4), (3, 4)),
             ("Flatten", (), (3, 4, 2), (3, 8)), ("MaxPool1D", (2, 2), (3, 6, 2), (3, 3, 2)),
             ("AvgPool2D", (2, 2, 2, 2), (2, 4, 4, 3), (2, 2, 2, 3))]
    for name, args, shape, out in cases:
        module = getattr(student, name)(*args)
        doing = (f"{name}{args}: zero_grad(), backward_update_gradient(x, delta), "
                 "update_parameters(0.1)")
        checks.call(doing, module.zero_grad)
        checks.call(doing, module.backward_update_gradient, randn(*shape), randn(*out, seed=1))
        checks.call(doing, module.update_parameters, 0.1)
        params = checks.attribute(module, "_parameters")
        if params != checks.MISSING and checks.entries(params, f"{name}{args}._parameters"):
            raise CheckFailure(_("{name}{args} has parameters {describe_layout}: it should "
                                 "have none (None)").format(
                                   name=name, args=args,
                                   describe_layout=checks.describe_layout(params)))


# ------------------------------------------------------------------------- activations


@pytest.mark.points(1)
def test_TanH_backward_delta_on_a_3d_input(student):
    """Activations work on any shape: TanH on (2, 3, 4)."""
    checks.check_backward_delta(student, student.TanH(), randn(2, 3, 4, seed=8), (2, 3, 4), "TanH()",
                                checks.OPS["TanH"])


@pytest.mark.points(1)
def test_Sigmoide_is_finite_at_large_inputs(student):
    """Sigmoide at ±1000: finite outputs 0 and 1, finite gradient (no overflow to NaN)."""
    z = np.array([[1000.0, -1000.0, 0.0], [-800.0, 30.0, -30.0]])
    out = checks.check_array(checks.call("Sigmoide().forward(z)", student.Sigmoide().forward, z),
                             z.shape, "Sigmoide().forward(z) at ±1000")
    check_finite(out, "Sigmoide().forward(z) at ±1000")
    check_close(out, torch.sigmoid(checks.t(z)).numpy(), "Sigmoide().forward(z) at ±1000",
                rtol=1e-9, atol=1e-12)
    grad = checks.check_array(checks.call("Sigmoide().backward_delta(z, delta)",
                                          student.Sigmoide().backward_delta, z, np.ones_like(z)),
                              z.shape,
                              "Sigmoide().backward_delta(z, delta) at ±1000")
    check_finite(grad, "Sigmoide().backward_delta(z, delta) at ±1000")


@pytest.mark.points(1)
def test_Softmax_is_stable_at_large_inputs(student):
    """Softmax at logits of ±1000 gives finite rows summing to 1 (subtract the row max)."""
    z = np.array([[1000.0, -1000.0, 0.0], [1000.0, 1000.0, -1000.0]])
    out = checks.check_array(checks.call("Softmax().forward(z)", student.Softmax().forward, z),
                             z.shape, "Softmax().forward(z) at ±1000")
    check_finite(out, _("Softmax().forward(z) at ±1000 (exp(1000) overflows: subtract each "
                        "row's max)"))
    check_close(out, torch.softmax(checks.t(z), -1).numpy(), "Softmax().forward(z) at ±1000",
                rtol=1e-9, atol=1e-12)


@pytest.mark.points(1)
def test_Softmax_backward_delta_on_a_3d_input(student):
    """Softmax over the last axis of (2, 3, 4), with its Jacobian."""
    checks.check_backward_delta(student, student.Softmax(), randn(2, 3, 4, seed=9), (2, 3, 4),
                                "Softmax()", checks.OPS["Softmax"])


# ------------------------------------------------------------------------- convolutions


@pytest.mark.points(1)
def test_Conv1D_with_stride_3(student):
    """Conv1D(2, 3, 5, stride=3) on (2, 13, 3): forward, and both backward methods."""
    kwargs = dict(k_size=2, chan_in=3, chan_out=5, stride=3)
    conv, x, what = checks.conv1d(student, **kwargs), randn(2, 13, 3, seed=10), "Conv1D(2, 3, 5, stride=3)"
    checks.module_forward_scenario(student, conv, x, (2, 4, 5), {"W": (2, 3, 5), "b": (5,)},
                                   lambda p, v: checks.conv1d_out(p, v, 3), what,
                                   mistakes=checks.conv1d_forward_mistakes(3))
    op = checks.conv1d_op(**kwargs)
    checks.check_backward_delta(student, conv, x, (2, 4, 5), what, op)
    checks.check_backward_update_gradient(student, conv, x, (2, 4, 5), what, op)


@pytest.mark.points(1)
def test_MaxPool1D_backward_delta_with_overlapping_windows(student):
    """MaxPool1D(3, 1): windows overlap, a position that is the max of several gets all their
    deltas."""
    checks.check_backward_delta(student, student.MaxPool1D(3, 1), distinct(2, 8, 3, seed=4),
                                (2, 6, 3), "MaxPool1D(3, 1)", checks.maxpool1d_op(3, 1))


@pytest.mark.points(1)
def test_Flatten_backward_delta_on_a_4d_input(student):
    """Flatten on (3, 4, 5, 2) (the output of a Conv2D): forward and backward."""
    x = randn(3, 4, 5, 2, seed=3)
    got = checks.check_array(checks.call("Flatten().forward(x)", student.Flatten().forward, x),
                             (3, 40), _("Flatten().forward(x) for x of shape [3, 4, 5, 2]"))
    check_close(got, x.reshape(3, 40), "Flatten().forward", rtol=0, atol=0)
    checks.check_backward_delta(student, student.Flatten(), x, (3, 40), "Flatten()",
                                checks.OPS["Flatten"])


@pytest.mark.points(1)
def test_Conv2D_with_strides_3x1(student):
    """Conv2D(2, 4, 3, 5, stride_h=3, stride_w=1) on (2, 8, 9, 3): forward and both backward
    methods."""
    kwargs = dict(k_h=2, k_w=4, chan_in=3, chan_out=5, stride_h=3, stride_w=1)
    what = "Conv2D(2, 4, 3, 5, stride_h=3, stride_w=1)"
    conv, x = checks.conv2d(student, **kwargs), randn(2, 8, 9, 3, seed=11)
    out = (2, 3, 6, 5)
    checks.module_forward_scenario(student, conv, x, out, {"W": (2, 4, 3, 5), "b": (5,)},
                                   lambda p, v: checks.conv2d_out(p, v, 3, 1), what)
    op = checks.conv2d_op(**kwargs)
    checks.check_backward_delta(student, conv, x, out, what, op)
    checks.check_backward_update_gradient(student, conv, x, out, what, op)


@pytest.mark.points(1)
def test_AvgPool2D_with_a_2x3_window_and_strides_3x1(student):
    """AvgPool2D(2, 3, 3, 1) on (2, 8, 7, 2): forward and backward_delta."""
    x = randn(2, 8, 7, 2, seed=12)
    out = (2, 3, 5, 2)
    got = checks.check_array(checks.call("AvgPool2D(2, 3, 3, 1).forward(x)",
                                         student.AvgPool2D(2, 3, 3, 1).forward, x), out,
                             _("AvgPool2D(2, 3, 3, 1).forward(x) for x of shape [2, 8, 7, 2]"))
    ref = torch.nn.functional.avg_pool2d(checks.t(x).permute(0, 3, 1, 2), (2, 3), (3, 1))
    check_close(got, ref.permute(0, 2, 3, 1).numpy(), "AvgPool2D(2, 3, 3, 1).forward", rtol=1e-9,
                atol=1e-12)
    checks.check_backward_delta(student, student.AvgPool2D(2, 3, 3, 1), x, out, "AvgPool2D(2, 3, 3, 1)",
                                checks.avgpool2d_op(2, 3, 3, 1))


# --------------------------------------------------------------------------- Sequentiel


@pytest.mark.points(2)
def test_Sequentiel_nested_matches_finite_differences(student):
    """A Sequentiel is a Module: Sequentiel(Sequentiel(scale, duplicate), scale) back-propagates
    through the inner one (modules of the grader's own)."""
    (p1, dup, p2), owners, params = checks.probe_chain(student, seed=3)
    net = student.Sequentiel(student.Sequentiel(p1, dup), p2)
    checks.sequentiel_backward_scenario(student, net, owners, params, randn(4, 3, seed=4), (4, 6),
                                        _("Sequentiel(Sequentiel(scale, duplicate), scale)"))


# ---------------------------------------------------------------------------------- SGD


@pytest.mark.points(1)
def test_SGD_is_deterministic_for_a_seed(student):
    """The same seed gives the same batches and losses; another seed other batches."""
    runs = [checks.sgd_probe_run(student, n=30, batch_size=8, epochs=2, seed=s) for s in (3, 3, 4)]
    (h1, b1, _), (h2, b2, _), (_, b3, _) = runs
    same = len(b1) == len(b2) and all(np.array_equal(u, v) for u, v in zip(b1, b2))
    if not same or not hidden_checks.same_values(h1, h2):
        raise CheckFailure(gettext("SGD(..., seed=3) twice gave different batches or losses: draw "
                             "the shuffling from np.random.default_rng(seed), not from global "
                             "state"))
    if len(b1) == len(b3) and all(np.array_equal(u, v) for u, v in zip(b1, b3)):
        raise CheckFailure(gettext("SGD(..., seed=3) and SGD(..., seed=4) used the same batches: the "
                             "seed is ignored"))


@pytest.mark.points(3)
@pytest.mark.trains
@pytest.mark.time_limit("training_time_limit_s")
def test_SGD_mlp_accuracy_with_another_seed(student, settings, usps, score):
    """The MLP accuracy check again, with another initialisation and shuffling seed."""
    checks.mlp_accuracy_scenario(student, settings, usps, score, seed=1)


@pytest.mark.points(3)
@pytest.mark.trains
@pytest.mark.time_limit("training_time_limit_s")
def test_SGD_autoencoder_reduces_reconstruction_loss(student, settings, usps, score):
    """Linear(256, 64) → TanH → Linear(64, 256) → Sigmoide with BCELoss, trained by SGD to
    reproduce its input: the reconstruction loss of held-out images, measured here, drops by the
    required factor and beats the average image."""
    hidden_checks.autoencoder_scenario(student, settings, usps, score, seed=0)
