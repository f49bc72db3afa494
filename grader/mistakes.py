"""Mistakes this course's students make, recognised from the exception their code raised.

The judge turns an exception report of the student process (type, message, the student's
line) into a message for the student; a raw torch error such as
``"log_softmax_lastdim_kernel_impl" not implemented for 'Long'`` says nothing to someone who
wrote ``loss_func(t, y)`` the way the course's notebooks do. :func:`explain` names the likely
mistake and its fix. Everything here reads data the judge already has: nothing is run.

The conventions behind the hints are the grader's (and the starters' docstrings state them):
labels are class indices (an int64 tensor [B]), not the one-hot rows of the course's
``mnist.pkl.gz``; a loss is called ``loss_fn(output, target)``; images arrive as
[B, 1, 28, 28].
"""

from __future__ import annotations

import re

from grader.i18n import _

# `raise NotImplementedError`, `raise NotImplementedError()`, `raise NotImplementedError("TODO")`
_STARTER_RAISE = re.compile(r"^raise\s+NotImplementedError\b")

# torch's message for a floating-point kernel run on integers: `"addmm_impl_cpu_" not
# implemented for 'Long'`. It is a NotImplementedError (or a RuntimeError in older torch).
_INTEGER_KERNEL = re.compile(r"\"?(\w+)\"? not implemented for '(Long|Int|Short|Byte|Bool)'")
_LOSS_KERNELS = ("softmax", "nll", "cross_entropy", "mse", "binary_cross_entropy", "l1_loss")

# `Dimension out of range (expected to be in range of [-1, 0], but got 1)`: dim 1 of a 1-D tensor
_DIM_OF_1D = re.compile(r"Dimension out of range \(expected to be in range of \[-1, 0\], but got 1\)")
# what `argmax` / `max` was taken of, in `t.argmax(1)`, `torch.argmax(t, dim=1)`, `t.max(1)`
_ARGMAX_OF = (re.compile(r"([\w.\[\]]+)\.(?:arg)?max\(\s*(?:dim\s*=\s*)?1\s*[,)]"),
              re.compile(r"(?:torch|np|numpy)\.(?:arg)?max\(\s*([\w.\[\]]+)\s*,\s*(?:dim\s*=\s*|axis\s*=\s*)?1\s*[,)]"))

# `mat1 and mat2 shapes cannot be multiplied (112x28 and 784x10)`: images [B, 1, 28, 28] fed
# to a Linear(784, ...): the last axis is a row of 28 pixels, 28 x 28 = 784 features expected.
_MATMUL = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")

# NumPy's `delta @ W` (or np.dot) whose inner sizes differ: `matmul: Input operand 1 has a
# mismatch in its core dimension 0, ... (size 4 is different from 3)`, `shapes (5,3) and (4,3)
# not aligned`. On a line that multiplies a delta by a W not transposed, the back-propagation
# through a linear map (DIY's Linear, W of shape (input, output)) that needs delta @ W.T.
_NUMPY_MATMUL = re.compile(r"matmul: Input operand 1 has a mismatch in its core dimension 0"
                           r"|shapes \(\d+,\d+\) and \(\d+,\d+\) not aligned")
_DELTA_TIMES_W = re.compile(r"\bdelta\w*\s*@\s*[\w.]*(?:\[\s*[\"']W[\"']\s*\]|\bW\b)(?!\s*\.T)"
                            r"|np\.dot\(\s*delta\w*\s*,\s*[\w.]*(?:\[\s*[\"']W[\"']\s*\]|\bW\b)\s*\)")

# what a stub's message says, when it has one: `raise NotImplementedError("TODO")`
_STUB_MESSAGE = re.compile(r"todo|implement|your code|fill|complete|compl[ée]ter|[àa] faire", re.I)


# nn.CrossEntropyLoss with one-hot int64 targets, and with float (or int32) class indices
_ONE_HOT_TARGET = re.compile(r"Expected floating point type for target with class probabilities")
_FLOAT_TARGET = re.compile(r"expected target dtype to be Long|expected scalar type Long but found")


class Hint(str):
    """A hint that names its mistake: ``key`` is the known mistake's identifier (see
    :mod:`grader.diagnosis`), recorded with the check's result as its diagnosis."""

    key: str

    def __new__(cls, text: str, key: str) -> "Hint":
        hint = super().__new__(cls, text)
        hint.key = key
        return hint


# The keys of the mistakes recognised from exceptions (the corpus may expect them).
HINT_KEYS = frozenset({"loss_arguments_swapped", "integer_tensor", "labels_taken_as_one_hot",
                       "images_not_flattened", "one_hot_target", "float_target",
                       "weights_not_transposed"})


def _named(key: str, text: str) -> str:
    assert key in HINT_KEYS, key
    return Hint(text, key) if text else text


def is_starter_stub(code: str, message: str = "") -> bool:
    """Whether the student's line is the starter's ``raise NotImplementedError`` (or a stub of
    their own), not a deliberate error such as ``raise NotImplementedError(f"unknown
    optimizer {name}")`` in a branch they did write."""
    return bool(_STARTER_RAISE.match(code.strip())) and (
        not message.strip() or bool(_STUB_MESSAGE.search(message)))


def explain(type_name: str, message: str, code: str = "") -> str:
    """The likely mistake behind an exception, and its fix; "" when it is not a known one.

    ``code`` is the student's line where the exception surfaced (the innermost frame of their
    file), used to name what they wrote.
    """
    code = code.strip()
    kernel = _INTEGER_KERNEL.search(message)
    if kernel and type_name in ("NotImplementedError", "RuntimeError"):
        loss = any(part in kernel.group(1).lower() for part in _LOSS_KERNELS)
        return _named("loss_arguments_swapped" if loss else "integer_tensor",
                      _integer_kernel_hint(kernel.group(1), kernel.group(2), code))
    if type_name == "IndexError" and _DIM_OF_1D.search(message):
        return _named("labels_taken_as_one_hot", _one_hot_hint(code))
    shapes = _MATMUL.search(message)
    if shapes and type_name == "RuntimeError":
        return _named("images_not_flattened", _flatten_hint(*(int(g) for g in shapes.groups())))
    if (type_name == "ValueError" and _NUMPY_MATMUL.search(message)
            and _DELTA_TIMES_W.search(code)):
        return _named("weights_not_transposed",
                      _("delta is multiplied by W where the back-propagation needs W transposed: "
                        "delta has one column per output and W (input, output) one row per "
                        "input, so dL/dx = delta @ W.T, of shape (batch, input). Write "
                        "`delta @ self._parameters[\"W\"].T`."))
    if type_name == "RuntimeError" and _ONE_HOT_TARGET.search(message):
        return _named("one_hot_target",
                      _("The loss got one-hot integer rows as its target: `nn.CrossEntropyLoss` "
                        "takes the class indices themselves (an int64 tensor [B]), which is what "
                        "the grader's data loaders give — drop the conversion to one-hot."))
    if type_name == "RuntimeError" and _FLOAT_TARGET.search(message):
        return _named("float_target",
                      _("The loss needs the labels as class indices of type int64 (`torch.long`), "
                        "as the grader's data loaders give them: do not convert them with "
                        "`.float()` (or convert back with `.long()`)."))
    return ""


def _integer_kernel_hint(kernel: str, dtype: str, code: str) -> str:
    if any(part in kernel.lower() for part in _LOSS_KERNELS):
        return _("The loss got integer class labels where it expects the network's output: "
                 "the arguments are probably in the wrong order. PyTorch losses are called "
                 "`loss_fn(output, target)` — the output (logits [B, 10]) first, then the labels "
                 "(class indices [B]): write `loss_fn(model(x), y)`, not `loss_fn(y, model(x))` "
                 "(the course's `loss_func(t, y)` order).")
    return _("An operation that needs floating-point numbers got an integer tensor ({dtype}): "
             "class labels are int64, images are float32 — check that the labels are not passed "
             "where the images or the output belong (the order of the arguments), or convert "
             "with `.float()`.").format(dtype=dtype)


def _one_hot_hint(code: str) -> str:
    names = list(dict.fromkeys(m.group(1) for pattern in _ARGMAX_OF
                               for m in pattern.finditer(code)))
    if not names and not re.search(r"\b(?:arg)?max\(", code):
        return ""  # dim 1 of a 1-D tensor, but not an argmax: nothing specific to say
    if len(names) == 1:
        taken = _("`{name}` is 1-D").format(name=names[0])
    elif names:  # `y.argmax(1) == t.argmax(1)`: the labels are one of them
        taken = _("{names} is 1-D").format(names=_(" or ").join(f"`{n}`" for n in names))
    else:
        taken = _("the tensor is 1-D")
    return _("{taken}, so it has no dimension 1: the labels the grader's data loaders give are "
             "class indices (an int64 tensor [B] such as tensor([3, 7, 0, ...])), not one-hot "
             "rows like the labels of the course's mnist.pkl.gz. Compare the predicted classes "
             "with the labels directly: `(output.argmax(1) == y).sum()`, without "
             "`y.argmax(1)`.").format(taken=taken)


def _flatten_hint(rows: int, cols: int, inner: int, width: int) -> str:
    if cols == inner or cols < 2 or inner != cols * cols or rows % cols:
        return ""
    return _("A linear layer expecting {inner} features got images: their last axis is a row of "
             "{cols} pixels. The grader gives images [B, 1, {cols}, {cols}]; flatten them to "
             "[B, {inner}] first — `nn.Flatten()` as the first layer, or "
             "`x = x.view(x.shape[0], -1)` at the start of forward.").format(inner=inner,
                                                                             cols=cols)
