"""reference/mlp_pixels.py: architecture, counts, the three loops, optimisers, fit."""

import pytest
import torch
from torch import nn

from grader.training import make_loader
from grader.assignment import load_assignment

ref = load_assignment("mlp_pixels").load_reference()


@pytest.mark.parametrize("hidden,count", [((512, 128), 468_874), ((512, 256, 128), 567_434),
                                          ((256,), 203_530)])
def test_parameter_counts(hidden, count):
    assert ref.count_parameters(ref.MLP(hidden=hidden)) == count


def test_count_parameters_ignores_frozen_and_is_int():
    model = ref.MLP(hidden=(256,))
    model.layers[0].weight.requires_grad_(False)
    n = ref.count_parameters(model)
    assert type(n) is int and n == 203_530 - 784 * 256


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (3, 784)])
def test_output_shape_for_both_layouts(shape):
    assert ref.MLP()(torch.rand(shape)).shape == (3, 10)


def test_activation_is_honoured_and_outputs_are_logits():
    torch.manual_seed(0)
    relu = ref.MLP(activation=nn.ReLU)
    assert sum(isinstance(m, nn.ReLU) for m in relu.modules()) == 2
    assert not any(isinstance(m, nn.Sigmoid) for m in relu.modules())
    out = relu(torch.rand(4, 784))
    assert not torch.allclose(out.sum(dim=1), torch.ones(4))  # not probabilities


def _data(n=130, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_train_loop_updates_and_returns_mean_loss():
    torch.manual_seed(0)
    model = ref.MLP(hidden=(32,), activation=nn.ReLU)
    before = [p.detach().clone() for p in model.parameters()]
    x, y = _data()
    loader = make_loader(x, y, batch_size=32)
    loss = ref.train_loop(loader, model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1))
    assert isinstance(loss, float) and 2.0 < loss < 2.6
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_valid_loop_leaves_weights_and_matches_mean_loss():
    torch.manual_seed(0)
    model = ref.MLP(hidden=(32,))
    x, y = _data(128)
    before = [p.detach().clone() for p in model.parameters()]
    loss = ref.valid_loop(make_loader(x, y, batch_size=32), model, nn.CrossEntropyLoss())
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
    with torch.no_grad():
        expected = nn.CrossEntropyLoss()(model(x), y).item()
    assert loss == pytest.approx(expected, rel=1e-5)


def test_perf_loop_covers_the_whole_loader_with_uneven_last_batch():
    torch.manual_seed(0)
    model = ref.MLP(hidden=(32,))
    x, y = _data(130)
    n_correct, n_total, y_pred = ref.perf_loop(make_loader(x, y, batch_size=32), model)
    with torch.no_grad():
        expected = model(x).argmax(dim=1)
    assert n_total == 130 and torch.equal(torch.as_tensor(y_pred), expected)
    assert n_correct == int((expected == y).sum())


def test_make_optimizer():
    params = list(ref.MLP(hidden=(8,)).parameters())
    assert isinstance(ref.make_optimizer("sgd", params, 0.1), torch.optim.SGD)
    adam = ref.make_optimizer("ADAM", params, 1e-3)
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["lr"] == 1e-3
    with pytest.raises(ValueError):
        ref.make_optimizer("rmsprop", params, 0.1)


def test_fit_saves_best_epoch_including_the_first(tmp_path):
    x, y = _data(128)
    loader = make_loader(x, y, batch_size=32)
    # Validating on shifted labels: the better the model fits y, the worse it does on y + 1,
    # so the first epoch is the best; validating on y itself, the last epoch is.
    shifted = make_loader(x, (y + 1) % 10, batch_size=32)
    for validloader, expected_best in ((shifted, 0), (loader, 3)):
        torch.manual_seed(0)
        model = ref.MLP(hidden=(32,), activation=nn.ReLU)
        ckpt = tmp_path / f"best-{expected_best}.pt"
        history = ref.fit(model, loader, validloader, nn.CrossEntropyLoss(),
                          torch.optim.Adam(model.parameters(), lr=1e-3), 4, ckpt)
        assert len(history["train_loss"]) == len(history["valid_loss"]) == 4
        assert history["best_epoch"] == expected_best
        saved = torch.load(ckpt, weights_only=True)
        if expected_best == 3:  # the checkpoint holds the final weights
            assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
        else:
            assert not all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
