"""reference/networks.py: shapes, parameter counts, LeNet-5 layout, EarlyStopping."""

import pytest
import torch

from grader.assignment import load_assignment

ref = load_assignment("networks").load_reference()


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("net", [ref.ShallowNet, ref.DeepNet, ref.Cnn])
@pytest.mark.parametrize("shape", [(2, 784), (2, 1, 28, 28)])
def test_shapes_for_both_layouts(net, shape):
    assert net()(torch.rand(shape)).shape == (2, 10)


def test_parameter_counts():
    assert count(ref.ShallowNet()) == 101_770
    assert count(ref.ShallowNet(hidden_num=64)) == 784 * 64 + 64 + 64 * 10 + 10
    assert count(ref.DeepNet()) == 468_874
    assert count(ref.DeepNet(hidden_sizes=(512, 256, 128))) == 567_434
    assert count(ref.Cnn()) == 44_426


def test_lenet_layer_shapes():
    shapes = [tuple(p.shape) for n, p in ref.Cnn().named_parameters() if n.endswith("weight")]
    assert shapes == [(6, 1, 5, 5), (16, 6, 5, 5), (120, 256), (84, 120), (10, 84)]


def test_relu_is_applied():
    net = ref.ShallowNet(input_num=2, hidden_num=2, output_num=1)
    with torch.no_grad():
        net.fc1.weight.copy_(torch.eye(2)); net.fc1.bias.zero_()
        net.fc2.weight.fill_(1.0); net.fc2.bias.zero_()
    assert net(torch.tensor([[-3.0, 2.0]])).item() == 2.0


@pytest.mark.parametrize("losses,patience,min_delta,stops_at", [
    ([1.0, 0.9, 0.95, 0.96], 2, 1e-3, 3),        # two epochs without improvement
    ([1.0, 0.9995, 0.999, 0.998], 2, 1e-3, 2),   # improvements smaller than min_delta don't count
    ([1.0, 1.1, 0.8, 0.9, 0.85, 0.84], 2, 1e-3, 4),  # an improvement resets the counter
    ([1.0, 0.9, 0.8, 0.7], 1, 0.0, None),
])
def test_early_stopping(losses, patience, min_delta, stops_at):
    stopper = ref.EarlyStopping(patience=patience, min_delta=min_delta)
    stops = [stopper.step(v) for v in losses]
    first = stops.index(True) if True in stops else None
    assert first == stops_at
