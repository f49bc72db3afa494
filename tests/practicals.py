"""Every practical of an assignments root, as the grader's own tests see it: its folder, its
corpus (:mod:`grader.corpus`), its gradings (graded once per test session and shared), and the
traps of its layout (:func:`grader.assignment.layout_problems`).

``tests/test_practicals.py`` runs the same tests on each one it finds here; a new folder in
``assignments/`` is covered without editing any test.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

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
        return self.graded("reference", self.copy_reference)

    def starter_result(self):
        return self.graded("starter", self.copy_starter)

    def variant_result(self, name: str):
        variant = next(v for v in self.variants if v.name == name)
        return self.graded(f"variant {name}", lambda tmp: variant.path)


_RESULTS: dict[tuple[str, str], object] = {}


def practicals(root: Path | None = None) -> list[Practical]:
    return [Practical(a) for a in list_assignments(root)]


def practical(name: str, root: Path | None = None) -> Practical:
    return Practical(load_assignment(name, root))
