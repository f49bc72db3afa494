"""The data-only wire: what may cross, and what is refused."""

import io
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

from grader import wire


def roundtrip(value):
    return wire.loads(wire.dumps(wire.to_wire(value)))


def test_plain_data_round_trips():
    value = {"a": [1, 2.5, True, None, "x"], "t": torch.arange(6).reshape(2, 3),
             "n": np.arange(4, dtype=np.float32), 3: (torch.zeros(2), {"k": -1})}
    back = roundtrip(value)
    assert back["a"] == [1, 2.5, True, None, "x"]
    assert torch.equal(back["t"], value["t"])
    assert isinstance(back["n"], np.ndarray) and back["n"].dtype == np.float32
    assert isinstance(back[3], tuple) and torch.equal(back[3][0], torch.zeros(2))


def test_tensors_arrive_plain_detached_and_compact():
    p = torch.nn.Parameter(torch.ones(3, 4))
    view = torch.arange(100.0)[::10]
    back = roundtrip([p * 2, view, OrderedDict(w=p)])
    assert type(back[0]) is torch.Tensor and not back[0].requires_grad
    assert back[1].is_contiguous() and back[1].untyped_storage().nbytes() == 10 * 4
    assert type(back[2]) is dict and torch.equal(back[2]["w"], torch.ones(3, 4))


def test_objects_become_handles_only_when_asked():
    class Model:
        pass
    with pytest.raises(wire.WireError, match="Model is not data"):
        wire.to_wire(Model())
    tree = wire.to_wire([Model()], on_object=lambda o: wire.to_wire(wire.Handle(7, "Model")))
    assert wire.loads(wire.dumps(tree)) == [wire.Handle(7, "Model", "")]


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_code_is_refused_not_run(capsys):
    buffer = io.BytesIO()
    torch.save({"x": Evil()}, buffer)
    with pytest.raises(wire.WireError, match="not plain data"):
        wire.loads(buffer.getvalue())
    assert "pwned" not in capsys.readouterr().out
    with pytest.raises(wire.WireError):
        wire.loads(pickle.dumps(Evil()))


def test_size_cap_and_schema():
    payload = wire.dumps(wire.to_wire(torch.zeros(1000)))
    with pytest.raises(wire.WireError, match="exceeds the cap"):
        wire.loads(payload, max_bytes=100)
    with pytest.raises(wire.WireError, match="unknown tagged value"):
        wire.loads(wire.dumps({wire.TAG: "bogus"}))
    deep = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError, match="deeper"):
        wire.from_wire(deep)


def test_frames_over_a_socket():
    import socket
    a, b = socket.socketpair()
    with a, b:
        wire.send_frame(a, b"hello")
        assert wire.recv_frame(b) == b"hello"
        a.sendall(wire.HEADER.pack(10**12))
        with pytest.raises(wire.WireError, match="exceeds the cap"):
            wire.recv_frame(b, max_bytes=1000)
