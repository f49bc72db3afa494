"""Every practical of an assignments root, as the grader's own tests see it: its folder, its
corpus (:mod:`grader.corpus`), its gradings (graded once per test session and shared), and the
traps of its layout (:func:`grader.assignment.layout_problems`).

``tests/test_practicals.py`` runs the same tests on each one it finds here; a new folder in
``assignments/`` is covered without editing any test.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from grader.assignment import (Assignment, list_assignments, load_assignment, load_module_file)
from grader.corpus import BUGS_FILE, Combined, Mutation, bug_groups

_SCRATCH = Path(tempfile.mkdtemp(prefix="grader-practicals-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)


@dataclass(frozen=True)
class Variant:
    """A valid solution written differently: it must score full marks."""
    name: str
    path: Path


class Practical:
    def __init__(self, assignment: Assignment):
        self.assignment = assignment
        self.name = assignment.name

    def __repr__(self) -> str:
        return f"Practical({self.name})"

    # ------------------------------------------------------------------ the corpus

    @functools.cached_property
    def corpus(self):
        """The folder's ``corpus/bugs.py`` as a module (None when it has none)."""
        path = self.assignment.corpus_dir / BUGS_FILE
        if not path.is_file():
            return None
        return load_module_file(f"grader_corpus_{self.name}", path)

    @property
    def bugs(self) -> list[Mutation]:
        return list(getattr(self.corpus, "BUGS", []))

    @property
    def messages(self) -> dict[str, list[tuple[str, list[str]]]]:
        """bug -> [(check, [words its message must contain])]."""
        out = {}
        for name, value in getattr(self.corpus, "MESSAGES", {}).items():
            pairs = [value] if isinstance(value, tuple) else list(value)
            out[name] = [(check, [words] if isinstance(words, str) else list(words))
                         for check, words in pairs]
        return out

    @property
    def submissions(self) -> list:
        """What the corpus grades: each bug alone, or (``COMBINE = True``) groups of bugs of
        different elements in one submission each."""
        if getattr(self.corpus, "COMBINE", False):
            return [Combined("+".join(m.name for m in group), group)
                    for group in bug_groups(self.bugs)]
        return self.bugs

    @property
    def variants(self) -> list[Variant]:
        corpus = self.assignment.corpus_dir
        if not corpus.is_dir():
            return []
        return [Variant(p.name, p) for p in sorted(corpus.iterdir())
                if p.is_dir() and not p.name.startswith((".", "__"))]

    # ------------------------------------------------------------------ submissions

    def copy_reference(self, tmp: Path) -> Path:
        folder = tmp / "reference"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.assignment.reference_path.name
        shutil.copy(self.assignment.reference_path, path)
        return path

    def copy_starter(self, tmp: Path) -> Path:
        shutil.copytree(self.assignment.starter_dir, tmp / "starter")
        return tmp / "starter"

    def write_mutant(self, tmp: Path, mutation) -> Path:
        folder = tmp / mutation.name
        folder.mkdir(parents=True)
        path = folder / self.assignment.reference_path.name
        path.write_text(mutation.apply(self.assignment.reference_path.read_text()))
        return path

    # ------------------------------------------------------------------ gradings, shared

    def graded(self, key: str, make_path) -> object:
        """The grading of one submission, once per session (every test that needs the
        reference's result shares one grading)."""
        cache_key = (str(self.assignment.folder), key)
        if cache_key not in _RESULTS:
            from grader.judge import grade

            tmp = _SCRATCH / f"{self.name}-{len(_RESULTS)}"
            tmp.mkdir(parents=True)
            started = time.monotonic()
            result = grade(make_path(tmp), self.assignment, hidden=True)
            result.timings["measured_s"] = time.monotonic() - started
            _RESULTS[cache_key] = result
        return _RESULTS[cache_key]

    def reference_result(self):
        """The reference's grading, every request to the student process recorded (see
        :meth:`reference_requests`)."""
        key = (str(self.assignment.folder), "reference")
        if key not in _RESULTS:
            with recording() as sent:
                self.graded("reference", self.copy_reference)
            _REQUESTS[key] = sent
        return _RESULTS[key]

    def reference_requests(self) -> "Requests":
        """What the reference's grading sent to the student process."""
        self.reference_result()
        return _REQUESTS[(str(self.assignment.folder), "reference")]

    def starter_result(self):
        return self.graded("starter", self.copy_starter)

    def variant_result(self, name: str):
        variant = next(v for v in self.variants if v.name == name)
        return self.graded(f"variant {name}", lambda tmp: variant.path)


_RESULTS: dict[tuple[str, str], object] = {}
_REQUESTS: dict[tuple[str, str], "Requests"] = {}
SIDES = (16, 28)   # the image sizes of the practicals' data: USPS, MNIST


@dataclass
class Requests:
    """Images sent to the student process (one key per image, per image side), with labels
    in the same request or without, and the label vectors sent."""
    labelled: dict = field(default_factory=lambda: {side: set() for side in SIDES})
    unlabelled: dict = field(default_factory=lambda: {side: set() for side in SIDES})
    label_vectors: list = field(default_factory=list)


@contextlib.contextmanager
def recording():
    """Record every request the judge sends to a student process, while inside."""
    from grader import student_process

    sent = Requests()
    original = student_process.StudentProcess._request

    def spy(self, message, *, timeout, what):
        tensors = list(tensors_in(message))
        labels = [t for t in tensors if is_labels(t)]
        for side in SIDES:
            rows = set().union(*(image_rows(t, side) for t in tensors))
            (sent.labelled if labels else sent.unlabelled)[side].update(rows)
        sent.label_vectors.extend(labels)
        return original(self, message, timeout=timeout, what=what)

    student_process.StudentProcess._request = spy
    try:
        yield sent
    finally:
        student_process.StudentProcess._request = original


def tensors_in(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, np.ndarray) and value.dtype.kind in "fiu":  # NumPy practicals
        yield torch.from_numpy(value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from tensors_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from tensors_in(v)


def is_labels(t: torch.Tensor) -> bool:
    """Class indices [N], or one-hot rows [N, C] (the perceptron's targets)."""
    if t.dtype == torch.int64 and t.dim() == 1:
        return True
    return (t.is_floating_point() and t.dim() == 2 and 2 <= t.shape[1] <= 10 and len(t) > 0
            and bool(((t == 0) | (t == 1)).all()) and bool((t.sum(dim=1) == 1).all()))


def image_rows(t: torch.Tensor, side: int) -> set[bytes]:
    """The side x side images in a tensor ([N, 1, side, side] or [N, side²]), a key each."""
    pixels = side * side
    if (not t.is_floating_point() or t.numel() == 0 or t.numel() % pixels
            or t.shape[-1] not in (side, pixels)):
        return set()
    rows = t.detach().to(torch.float32).reshape(-1, pixels)
    return {r.numpy().tobytes() for r in rows}




def practicals(root: Path | None = None) -> list[Practical]:
    return [Practical(a) for a in list_assignments(root)]


def practical(name: str, root: Path | None = None) -> Practical:
    return Practical(load_assignment(name, root))
