"""The data-only wire between the judge and the student process.

Everything that crosses is a *value tree*: ``None``, ``bool``, ``int``, ``float``, ``str``,
plain CPU tensors, and lists, tuples and dicts of them. Three tagged dicts extend it:

* ``{"__wire__": "ndarray", ...}`` — a NumPy array (sent as a tensor, rebuilt on arrival);
* ``{"__wire__": "handle", "id", "type", "repr"}`` — an object that stays in the student
  process (a model, an optimizer), referred to by number;
* ``{"__wire__": "path", ...}`` — judge → child only: "the object at this path" (a name of the
  student's module, a handle, or a library object such as ``torch.nn.ReLU``) plus attributes.

Frames are ``torch.save`` payloads behind an 8-byte length. The judge decodes what the child
sends with ``torch.load(weights_only=True)`` — an unpickler that cannot build arbitrary objects
— after checking the frame size, then re-checks every node of the tree (:func:`validate`). A
frame that is too big, undecodable or off-schema is a :class:`WireError`, never an unpickle.
"""

from __future__ import annotations

import io
import math
import reprlib
import socket
import struct
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

TAG = "__wire__"
HEADER = struct.Struct("!Q")
DEFAULT_MAX_BYTES = 256 * 2**20  # a 10k x 784 float32 batch is 31 MB; state_dicts are a few MB
MAX_DEPTH = 32
MAX_NODES = 200_000

# NumPy dtypes that survive the trip as tensors (object, string and complex arrays do not).
_NUMPY_DTYPES = {np.dtype(t) for t in ("float64", "float32", "float16", "int64", "int32",
                                       "int16", "int8", "uint8", "bool")}


class WireError(Exception):
    """A frame that is not allowed data: too large, not decodable, or off-schema."""


@dataclass(frozen=True)
class Handle:
    """An object living in the student process, known to the judge by number only."""

    id: int
    type: str
    repr: str = ""


@dataclass(frozen=True)
class Path:
    """Judge → child: the object reached from ``root`` through ``attrs``.

    ``root`` is ``("module",)`` for the student's module, ``("handle", id)`` or
    ``("lib", "torch.nn.ReLU")`` for a library object the child may import.
    """

    root: tuple
    attrs: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        kind = self.root[0]
        base = "" if kind == "module" else (
            f"<object #{self.root[1]}>" if kind == "handle" else str(self.root[-1]))
        parts = ([base] if base else []) + list(self.attrs)
        return ".".join(parts) or "<module>"


# --------------------------------------------------------------------------------------------
# Encoding (either side)
# --------------------------------------------------------------------------------------------

def to_wire(value: Any, *, on_object=None, depth: int = 0) -> Any:
    """Turn a Python value into a wire tree.

    Values that are not data go through ``on_object`` (the child stores them and returns a
    handle tag); without ``on_object`` they raise :class:`WireError`.
    """
    if depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, Handle):
        return {TAG: "handle", "id": value.id, "type": value.type, "repr": value.repr}
    if isinstance(value, Path):
        return {TAG: "path", "root": list(value.root), "attrs": list(value.attrs)}
    if isinstance(value, torch.Tensor) and value.layout == torch.strided:
        return _clean_tensor(value)  # Parameters and student subclasses become plain tensors
    if isinstance(value, np.ndarray) and type(value) is np.ndarray and value.dtype in _NUMPY_DTYPES:
        return {TAG: "ndarray", "data": torch.from_numpy(np.ascontiguousarray(value).copy())}
    if isinstance(value, np.generic) and value.dtype in _NUMPY_DTYPES:
        return value.item()
    if type(value) is torch.Size:
        return tuple(int(v) for v in value)
    if type(value) in (list, tuple):
        items = [to_wire(v, on_object=on_object, depth=depth + 1) for v in value]
        return items if type(value) is list else tuple(items)
    if type(value) is dict and all(type(k) in (str, int) for k in value) and TAG not in value:
        return {k: to_wire(v, on_object=on_object, depth=depth + 1) for k, v in value.items()}
    if _is_ordered_dict_of_data(value):  # state_dict() returns an OrderedDict
        return {k: to_wire(v, on_object=on_object, depth=depth + 1) for k, v in value.items()}
    if on_object is None:
        raise WireError(f"{type(value).__name__} is not data")
    return on_object(value)


def _clean_tensor(t: torch.Tensor) -> torch.Tensor:
    # A detached, contiguous CPU copy of the base class: no autograd graph, no subclass.
    return torch.Tensor.as_subclass(t.detach(), torch.Tensor).to("cpu").contiguous().clone()


def _is_ordered_dict_of_data(value) -> bool:
    from collections import OrderedDict
    return type(value) is OrderedDict and all(type(k) in (str, int) for k in value)


def dumps(tree: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(tree, buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Decoding (the judge, for what the child sends)
# --------------------------------------------------------------------------------------------

def loads(payload: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Decode a frame with the weights-only unpickler, then validate and rebuild the tree."""
    if len(payload) > max_bytes:
        raise WireError(f"reply of {len(payload):,} bytes exceeds the cap of {max_bytes:,} bytes")
    _check_archive(payload, max_bytes)
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": refused below
            warnings.simplefilter("ignore")
            tree = torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
    except Exception as e:  # the weights-only unpickler refuses anything that is not data
        raise WireError(f"reply is not plain data: {_refusal_reason(e)}") from None
    return from_wire(tree, max_bytes=max_bytes)


def _check_archive(payload: bytes, max_bytes: int) -> None:
    """``torch.save`` writes a zip whose records are stored, not compressed. A crafted frame
    with deflated records passes the size cap at 2 MB and inflates to 2 GiB inside
    ``torch.load``: read the zip's directory first, and refuse anything but stored records
    whose declared sizes fit the cap (torch's reader checks the data against them)."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            records = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:  # legacy pickles included
        raise WireError(f"reply is not a torch.save archive ({str(e)[:80]})") from None
    total = 0
    for record in records:
        if record.compress_type != zipfile.ZIP_STORED or record.file_size != record.compress_size:
            raise WireError(f"reply holds a compressed record ({record.filename[:60]!r}); only "
                            "stored records are accepted")
        total += record.file_size
    if total > max_bytes:
        raise WireError(f"reply declares {total:,} bytes of records, more than the cap of "
                        f"{max_bytes:,} bytes")


def _refusal_reason(error: Exception) -> str:
    """The unpickler's own reason, without torch's paragraph about trusting the file."""
    text = str(error)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    text = text.split("Check the documentation of torch.load")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reason = lines[0].split(". Please use")[0] if lines else type(error).__name__
    if reason.startswith("Unsupported operand 13"):  # pickle's LONG1 / LONG4
        reason += " (an integer too large for 64 bits?)"
    return reason[:200]


def from_wire(tree: Any, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Validate a decoded tree node by node and rebuild ndarrays, handles and paths."""
    counter = [0, 0, max_bytes]  # nodes seen, tensor bytes seen, tensor bytes allowed
    return _from_wire(tree, 0, counter)


def _from_wire(node: Any, depth: int, counter: list[int]) -> Any:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise WireError(f"reply has more than {MAX_NODES:,} values")
    if depth > MAX_DEPTH:
        raise WireError(f"reply nested deeper than {MAX_DEPTH} levels")
    kind = type(node)
    if node is None or kind in (bool, int, str):
        return node
    if kind is float:
        return node
    if kind is torch.Tensor:
        _check_tensor(node, counter)
        return node
    if kind in (list, tuple):
        items = [_from_wire(v, depth + 1, counter) for v in node]
        return items if kind is list else tuple(items)
    if kind is dict or _is_ordered_dict_of_data(node):
        if node.get(TAG) is not None and kind is dict:
            return _from_tag(node, depth, counter)
        if not all(type(k) in (str, int) for k in node):
            raise WireError("reply holds a dict whose keys are not strings or integers")
        return {k: _from_wire(v, depth + 1, counter) for k, v in node.items()}
    raise WireError(f"reply holds a {kind.__name__}, which is not data")


def _check_tensor(t: torch.Tensor, counter: list[int]) -> None:
    """A tensor the judge may compute on: plain, of a numeric dtype, dense, and backed by bytes
    that were really sent. The honest child sends contiguous copies; a crafted frame could send
    a stride-0 view of one float posing as 10^15 elements, or many views of one storage, which
    the judge would then spend hours on: the logical size of all tensors together is capped."""
    if t.layout != torch.strided or t.device.type != "cpu" or t.requires_grad:
        raise WireError("reply holds a tensor that is not a plain CPU tensor")
    if t.dtype not in _TENSOR_DTYPES:
        raise WireError(f"reply holds a tensor of dtype {t.dtype}, which is not a plain "
                        "number type")
    if not t.is_contiguous():
        raise WireError(f"reply holds a non-contiguous tensor of shape {list(t.shape)}")
    nbytes = t.numel() * t.element_size()
    if t.storage_offset() * t.element_size() + nbytes > t.untyped_storage().nbytes():
        raise WireError(f"reply holds a tensor of shape {list(t.shape)} larger than its data")
    counter[1] += nbytes
    if counter[1] > counter[2]:
        raise WireError(f"reply holds more than {counter[2]:,} bytes of tensor data")


_TENSOR_DTYPES = {torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64,
                  torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool}


def _from_tag(node: dict, depth: int, counter: list[int]) -> Any:
    tag = node[TAG]
    if (tag == "ndarray" and set(node) == {TAG, "data"} and type(node["data"]) is torch.Tensor
            and node["data"].dtype != torch.bfloat16):  # NumPy has no bfloat16
        return _from_wire(node["data"], depth + 1, counter).numpy()
    if tag == "handle" and type(node.get("id")) is int and type(node.get("type")) is str:
        return Handle(node["id"], node["type"][:200], str(node.get("repr", ""))[:500])
    if tag == "path" and type(node.get("root")) is list and type(node.get("attrs")) is list:
        return Path(tuple(node["root"]), tuple(str(a) for a in node["attrs"]))
    raise WireError(f"reply holds an unknown tagged value {str(tag)[:40]!r}")


# --------------------------------------------------------------------------------------------
# Frames over a socket
# --------------------------------------------------------------------------------------------

def send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(HEADER.pack(len(payload)) + payload)


def recv_exact(sock: socket.socket, n: int, deadline: float | None = None) -> bytes:
    """``n`` bytes; with a ``deadline`` (``time.monotonic()``), :class:`socket.timeout` once it
    has passed — however the bytes trickle in (one byte every 20 s kept a 30 s request alive
    160 s when each ``recv`` had its own time limit)."""
    chunks, remaining = [], n
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("deadline passed")
            sock.settimeout(left)
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket, *, max_bytes: int = DEFAULT_MAX_BYTES,
               deadline: float | None = None) -> bytes:
    (size,) = HEADER.unpack(recv_exact(sock, HEADER.size, deadline))
    if size > max_bytes:
        raise WireError(f"reply of {size:,} bytes exceeds the cap of {max_bytes:,} bytes")
    return recv_exact(sock, size, deadline)


def describe_value(value: Any, limit: int = 80) -> str:
    """A short human description of a decoded value, for messages."""
    from grader.i18n import _

    if isinstance(value, torch.Tensor):
        return _("tensor of shape {shape} ({dtype})").format(
            shape=tuple(value.shape), dtype=str(value.dtype).replace("torch.", ""))
    if isinstance(value, np.ndarray):
        return _("ndarray of shape {shape} ({dtype})").format(shape=value.shape, dtype=value.dtype)
    if isinstance(value, Handle):
        return _("a {type} object").format(type=value.type)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, int) and value.bit_length() > 128:
        return _("an integer of {count} digits").format(
            count=len(str(value)) if value.bit_length() < 10_000 else _("over 3,000"))
    # reprlib bounds the work, not just the text: a list of 1,000 references to one 10 MB
    # string is 10 MB on the wire but 10 GB through repr().
    text = _SHORT_REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_repr() -> reprlib.Repr:
    short = reprlib.Repr()
    short.maxstring = short.maxother = short.maxlong = 80
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 6
    short.maxlevel = 3
    return short


_SHORT_REPR = _short_repr()
