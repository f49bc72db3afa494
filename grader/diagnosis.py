"""Known mistakes: when a check fails, name what the student's code most likely does.

A check says *what* differs ("perf_loop's n_correct: expected 12, got 5"); the student wants
to know *why*. Each practical keeps a catalogue of the mistakes its students make, next to its
checks. A :class:`Mistake` is a name (a stable key), what the code most likely does, the fix
in one sentence, where to look (the element, and optionally how to find the line), and a
function computing, **in the judge**, the answer the mistaken code would give: from the
reference or from torch's own layers applied to the check's inputs, never by running student
code. A check lists the mistakes it recognises::

    check_count(n_correct, expected, "perf_loop's n_correct",
                known_mistakes=[RETURN_INSIDE_LOOP.on(model, x, y, batch_size)])

When the student's answer fails the check, it is compared with each mistaken answer with the
check's own comparison and tolerance; the first that matches becomes the message (see
:func:`message`); none: the check's precise message, unchanged. A check whose own logic
already knows the mistake raises :meth:`Mistake.failure` directly.

The line to look at comes from the submission's source, read statically here (the judge
already parses it to slice it): the element's ``def``, or the line a finder picks inside it
(a ``return`` inside a loop, a regular expression).
"""

from __future__ import annotations

import ast
import contextlib
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from grader.failures import CheckFailure
from grader.i18n import _

# A finder picks the line to look at inside the element's definition: RETURN_IN_LOOP, a
# regular expression matched against each line, or a function (node, lines) -> line number.
RETURN_IN_LOOP = "return in loop"
FIRST_LOOP = "first loop"
Finder = str | Callable[[ast.AST, list[str]], int | None]
MAX_CODE = 100  # characters of the student's line quoted in a message
# Every mistake declared so far: key -> its explanations (message ids), for the corpus harness
# and the reports (one key may be declared by several practicals in their own words).
KNOWN: dict[str, set[str]] = {}


@dataclass(frozen=True)
class Mistake:
    """One mistake of the catalogue. ``explanation`` and ``fix`` are message ids (marked with
    ``N_`` where the catalogue defines them), translated when the message is made."""

    key: str                       # stable identifier: grading.json, the corpus, statistics
    explanation: str               # what the code most likely does
    fix: str                       # the fix, in one sentence
    element: str = ""              # where to look: "perf_loop", "MLP.forward"
    find: Finder | None = None     # the line inside the element (else its `def` line)
    answer: Callable[..., Any] | None = None  # judge-side wrong answer from the check's inputs

    def __post_init__(self) -> None:
        KNOWN.setdefault(self.key, set()).add(self.explanation)

    def on(self, *args: Any, **kwargs: Any) -> "Candidate":
        """This mistake's answer on the check's inputs (computed only if the check fails)."""
        if self.answer is None:
            raise TypeError(f"mistake {self.key} has no answer function: use gives()")
        return Candidate(self, lambda: self.answer(*args, **kwargs))

    def gives(self, answer: Any) -> "Candidate":
        """This mistake with its answer given: a value, or a function of nothing computing it."""
        return Candidate(self, answer if callable(answer) else (lambda: answer))

    def when(self, predicate: Callable[[Any], bool]) -> "Candidate":
        """This mistake recognised by what the student's answer is rather than by a value
        (``None`` where a loss belongs, a list of one loss per batch)."""
        return Candidate(self, lambda: None, lambda actual, _: bool(predicate(actual)))

    def at(self, element: str) -> "Mistake":
        """The same mistake in another element (a loop mistake of train_loop or valid_loop)."""
        return replace(self, element=element)

    def failure(self, detail: str = "") -> "DiagnosedFailure":
        """The failure to raise when a check's own logic recognised this mistake; ``detail``:
        what the check saw (the numbers)."""
        return DiagnosedFailure(self, message(self, detail))


def mistake(key: str, *, explanation: str, fix: str, element: str = "",
            find: Finder | None = None) -> Callable[[Callable[..., Any]], Mistake]:
    """Declare a mistake by the function that computes its answer::

        @mistake("last_batch_loss", element="train_loop",
                 explanation=N_("train_loop returns the loss of the last batch, not the mean"),
                 fix=N_("Add each batch's loss.item() to a total and return total / len(dataloader)."))
        def last_batch_loss(batch_losses):
            return batch_losses[-1]
    """
    def declare(function: Callable[..., Any]) -> Mistake:
        return Mistake(key, explanation, fix, element, find, function)
    return declare


@dataclass(frozen=True)
class Candidate:
    """A mistake bound to the inputs of one check: ``compute()`` gives its answer."""

    mistake: Mistake
    compute: Callable[[], Any]
    compare: Callable[[Any, Any], bool] | None = None   # None: the check's own comparison


class DiagnosedFailure(CheckFailure):
    """A check failure whose cause is a known mistake: the message names it; ``mistake.key``
    goes into the check's details (``diagnosis``) for the reports and the corpus."""

    def __init__(self, mistake: Mistake, text: str):
        super().__init__(text)
        self.mistake = mistake


def key_of(failure: BaseException | None) -> str:
    """The known mistake a failed check named: a :class:`DiagnosedFailure`'s, or that of the
    hint of a student exception (:class:`grader.mistakes.Hint`); "" when none."""
    mistake = getattr(failure, "mistake", None)
    if isinstance(mistake, Mistake):
        return mistake.key
    return getattr(getattr(failure, "hint", None), "key", "") or ""


# ----------------------------------------------------------------------------- matching

def same(actual: Any, wrong: Any, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Whether ``actual`` is ``wrong`` for a check that has no comparison of its own: None is
    None, numbers and tensors within the tolerance (same shape), sequences element-wise."""
    if wrong is None or actual is None:
        return actual is wrong
    if isinstance(wrong, (bool, str)) or isinstance(actual, (bool, str)):
        return type(actual) is type(wrong) and actual == wrong
    if isinstance(wrong, (dict,)):
        return (isinstance(actual, dict) and set(actual) == set(wrong)
                and all(same(actual[k], wrong[k], rtol, atol) for k in wrong))
    a, w = _numbers(actual), _numbers(wrong)
    if a is not None and w is not None:
        if a.shape != w.shape:
            return False
        return bool(torch.isclose(a, w, rtol=rtol, atol=atol, equal_nan=True).all())
    if isinstance(wrong, (list, tuple)) and isinstance(actual, (list, tuple)):
        return len(actual) == len(wrong) and all(same(x, y, rtol, atol)
                                                 for x, y in zip(actual, wrong))
    return False


def _numbers(value: Any) -> torch.Tensor | None:
    """A float64 tensor of a number, a tensor, an array or a flat list of numbers; else None."""
    try:
        if isinstance(value, torch.Tensor):
            return value.detach().to(torch.float64)
        if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
            return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float64))
        if isinstance(value, np.generic) and value.dtype.kind in "fiub":
            return torch.tensor(float(value), dtype=torch.float64)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return torch.tensor(float(value), dtype=torch.float64)
        if (isinstance(value, (list, tuple)) and value
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            return torch.tensor([float(v) for v in value], dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return None
    return None


def matching(actual: Any, candidates: Sequence[Candidate],
             compare: Callable[[Any, Any], bool] = same) -> tuple[Mistake, Any] | None:
    """The first known mistake whose answer ``actual`` is, by ``compare(actual, wrong)``, and
    that answer; None when it is none of them."""
    for candidate in candidates:
        try:
            wrong = candidate.compute()
        except Exception:  # noqa: BLE001 — a mistake that cannot be computed here is no match
            continue   # (the corpus harness asserts every catalogued diagnosis is reached)
        try:
            if (candidate.compare or compare)(actual, wrong):
                return candidate.mistake, wrong
        except Exception:  # noqa: BLE001 — a comparison that cannot be made is no match
            continue
    return None


def passes(check: Callable[[Any], Any]) -> Callable[[Any, Any], bool]:
    """A comparison from a check helper: ``actual`` matches ``wrong`` when the check would pass
    with ``wrong`` as the expected answer — the same comparison, the same tolerance."""
    def compare(actual: Any, wrong: Any) -> bool:
        try:
            check(wrong)
        except CheckFailure:
            return False
        return True
    return compare


@contextlib.contextmanager
def recognising(actual: Any, candidates: Sequence[Candidate],
                compare: Callable[[Any, Any], bool] = same) -> Iterator[None]:
    """Around a comparison of ``actual``: a :class:`CheckFailure` inside becomes the message of
    the known mistake ``actual`` matches, when it matches one."""
    try:
        yield
    except DiagnosedFailure:
        raise
    except CheckFailure as failure:
        found = matching(actual, candidates, compare) if candidates else None
        if found is None:
            raise
        raise DiagnosedFailure(found[0], message(found[0], str(failure))) from None


# ----------------------------------------------------------------------------- the message

def message(mistake: Mistake, detail: str = "") -> str:
    """What the code most likely does (with the check's own first line, the numbers), the line
    to look at when the submission's source says where, and the fix."""
    first = detail.strip().splitlines()[0].strip() if detail.strip() else ""
    # "{element}" in an explanation shared by several elements (a loop's loss mistakes)
    explanation = _(mistake.explanation).replace("{element}", mistake.element.split(".")[0])
    lines = [_("{explanation} ({detail})").format(explanation=explanation, detail=first)
             if first else explanation]
    where = locate(mistake)
    if where is not None:
        place, code = where
        lines.append(_("Look at {place}: `{code}`").format(place=place, code=code) if code
                     else _("Look at {place}").format(place=place))
    lines.append(_("Fix: {fix}").format(fix=_(mistake.fix)))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- where to look

@dataclass
class _Submission:
    source: Any                                  # grader.submission.Source
    tree: ast.Module | None = None
    lines: list[str] = field(default_factory=list)


_current: _Submission | None = None


def use_submission(source: Any | None) -> None:
    """The submission graded now (its :class:`~grader.submission.Source`), for the line to
    look at; None when the grading ends. The judge grades one submission per session."""
    global _current
    _current = None if source is None else _Submission(source)


def locate(mistake: Mistake) -> tuple[str, str] | None:
    """(``mlp_pixels.py, line 83``, the student's line) for the mistake's element; None when
    the element is not found or no submission is known."""
    submission = _current
    if submission is None or not mistake.element:
        return None
    if submission.tree is None:
        try:
            submission.tree = ast.parse(submission.source.text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        submission.lines = submission.source.text.splitlines()
    node = definition(submission.tree, mistake.element)
    if node is None:
        return None
    lineno = node.lineno
    if mistake.find is not None:
        found = _find(node, submission.lines, mistake.find)
        if found is None:
            return submission.source.where(node.lineno), _code(submission.lines, node.lineno)
        lineno = found
    return submission.source.where(lineno), _code(submission.lines, lineno)


def definition(tree: ast.Module, element: str) -> ast.AST | None:
    """The top-level definition named ``element`` (``Class.method`` for a method): the last
    one, as a notebook that defines a function twice runs the last."""
    body, node = tree.body, None
    for part in element.split("."):
        found = [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                   ast.ClassDef)) and n.name == part]
        if not found:
            return None
        node = found[-1]
        body = node.body
    return node


def _find(node: ast.AST, lines: list[str], finder: Finder) -> int | None:
    if finder == RETURN_IN_LOOP:
        return _return_in_loop(node)
    if finder == FIRST_LOOP:
        loops = [n for n in _own_nodes(node) if isinstance(n, (ast.For, ast.While))]
        return min((n.lineno for n in loops), default=None)
    if callable(finder):
        return finder(node, lines)
    pattern = re.compile(finder)
    strings = {line for n in _own_nodes(node)          # docstrings and other bare strings
               if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
               and isinstance(n.value.value, str)
               for line in range(n.lineno, (n.end_lineno or n.lineno) + 1)}
    for lineno in range(node.lineno, (node.end_lineno or node.lineno) + 1):
        text = lines[lineno - 1] if lineno - 1 < len(lines) else ""
        if text.strip().startswith("#") or lineno in strings:
            continue
        if pattern.search(text.split("#")[0]):
            return lineno
    return None


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's body, not those of functions or classes defined inside it."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield child
        yield from _own_nodes(child)


def _return_in_loop(node: ast.AST) -> int | None:
    """The first ``return`` nested in a ``for``/``while`` of the function."""
    def visit(n: ast.AST, in_loop: bool) -> int | None:
        for child in ast.iter_child_nodes(n):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Return) and in_loop:
                return child.lineno
            inside = in_loop or isinstance(child, (ast.For, ast.AsyncFor, ast.While))
            found = visit(child, inside)
            if found is not None:
                return found
        return None
    return visit(node, False)


def _code(lines: list[str], lineno: int) -> str:
    text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    text = "".join(c if c.isprintable() else "?" for c in text).replace("`", "'")
    return text if len(text) <= MAX_CODE else text[:MAX_CODE - 3] + "..."

