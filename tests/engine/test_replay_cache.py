"""The judge's replay of an accuracy training is computed once and reused: never a different
score for it (grader.model_checks.replayed_training)."""

import random

import numpy as np
import pytest
import torch
from torch import nn

from grader import model_checks as mc


def network(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))


@pytest.fixture
def inputs():
    generator = torch.Generator().manual_seed(5)
    x = torch.rand(96, 1, 4, 4, generator=generator)
    y = torch.randint(0, 3, (96,), generator=generator)
    scored = torch.rand(20, 1, 4, 4, generator=generator)
    kwargs = dict(epochs=2, lr=1e-2, optimizer="adam", batch_size=16, seed=3)
    return (x, y), (x[:16], y[:16]), kwargs, scored


@pytest.fixture(autouse=True)
def own_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(mc, "_REPLAYS", {})


def same(a: mc.Replay, b: mc.Replay) -> bool:
    return (all(torch.equal(p, q) for p, q in zip(a.parameters, b.parameters, strict=True))
            and torch.equal(a.predictions, b.predictions) and a.history == b.history)


def test_a_cached_replay_equals_the_replay_computed_again(inputs, monkeypatch):
    data, valid, kwargs, scored = inputs
    first = mc.replayed_training(network(), data, valid, kwargs, scored, on_disk=True)
    # computed again from scratch, the judge's random states disturbed first: the same tensors
    monkeypatch.setattr(mc, "_REPLAYS", {})
    torch.manual_seed(123), np.random.seed(123), random.seed(123)
    again = mc.replayed_training(network(), data, valid, kwargs, scored, on_disk=False)
    assert same(first, again)
    # from this process's cache, and from the disk after a restart (a new process: emptied)
    assert same(mc.replayed_training(network(), data, valid, kwargs, scored), first)
    monkeypatch.setattr(mc, "_REPLAYS", {})
    from_disk = mc.replayed_training(network(), data, valid, kwargs, scored, on_disk=True)
    assert same(from_disk, first)
    # the replay trained something: the cache does not hand back the start
    assert not all(torch.equal(p, q) for p, q in zip(first.parameters,
                                                      network().parameters()))


def test_anything_the_replay_depends_on_changes_the_replay(inputs):
    data, valid, kwargs, scored = inputs
    base = mc.replayed_training(network(), data, valid, kwargs, scored)
    changed = [
        mc.replayed_training(network(seed=1), data, valid, kwargs, scored),      # the start
        mc.replayed_training(network(), (data[0], data[1].flip(0)), valid, kwargs, scored),
        mc.replayed_training(network(), data, valid, {**kwargs, "epochs": 3}, scored),
        mc.replayed_training(network(), data, valid, {**kwargs, "seed": 4}, scored),
    ]
    for replay in changed:
        assert not same(replay, base)
    assert len(mc._REPLAYS) == 5


def test_no_replay_on_disk_where_a_student_process_could_write_it(inputs, tmp_path):
    """In the basic isolation a child runs as the judge's user: a replay it planted in the
    cache folder would be believed, so nothing is read from nor written to the disk there."""
    data, valid, kwargs, scored = inputs
    key = mc._replay_key(network(), data, valid, kwargs, scored)
    planted = mc.Replay([torch.zeros_like(p) for p in network().parameters()],
                        torch.zeros(20, dtype=torch.long), {"train_loss": [], "valid_loss": []})
    mc._save_replay(key, planted)
    assert mc._replay_path(key).is_file()
    replay = mc.replayed_training(network(), data, valid, kwargs, scored, on_disk=False)
    assert not same(replay, planted)
    cache = tmp_path / "cache" / "replays"
    assert [p.name for p in cache.iterdir()] == [f"{key}.pt"]  # nothing new written


def test_a_damaged_cache_file_is_computed_again(inputs):
    data, valid, kwargs, scored = inputs
    key = mc._replay_key(network(), data, valid, kwargs, scored)
    path = mc._replay_path(key)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a torch file")
    replay = mc.replayed_training(network(), data, valid, kwargs, scored, on_disk=True)
    assert len(replay.parameters) == 4 and replay.predictions.shape == (20,)


def test_the_judge_s_random_states_are_as_before_a_judge_run():
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    expected = torch.rand(3), np.random.rand(3), random.random()
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    with mc.JudgeRun():
        torch.manual_seed(0), np.random.seed(0), random.seed(0)
        torch.rand(5), np.random.rand(5), random.random()
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]
