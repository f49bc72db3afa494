"""The bug corpus of a practical: seeded bugs and valid variants, with what each must score.

``assignments/<name>/corpus/bugs.py`` declares::

    from grader.corpus import bug, reference_text

    BUGS = [
        bug("update_wrong_sign", "w += eta * (x.T @ grad)", "w -= eta * (x.T @ grad)",
            "update weights match one gradient step", ...),   # the checks it must lose
    ]
    MESSAGES = {"update_wrong_sign": [("update weights match one gradient step", "the wrong way")]}
    COMBINE = False   # True: bugs of different elements are graded together, one submission

and every other folder of ``corpus/`` is a valid variant (a solution written differently) that
must score full marks. The grader's own test-suite (``tests/test_practicals.py``) grades them
all: each bug loses points on exactly its named checks (and maybe on its ``maybe`` ones,
accuracies near a threshold), nowhere else, each with a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

BUGS_FILE = "bugs.py"


@dataclass(frozen=True)
class Mutation:
    """One exact snippet of the reference replaced (it must occur exactly once, so a reference
    edit that breaks a mutation is caught), and the checks that must lose points for it."""

    name: str
    old: str
    new: str
    loses: frozenset[str] = field(default_factory=frozenset)  # checks that must lose points
    maybe: frozenset[str] = field(default_factory=frozenset)  # may lose some (accuracy near
    #                                                           the threshold), same element
    diagnosis: str = ""   # the known mistake (grader.diagnosis) a lost check must name

    def apply(self, text: str) -> str:
        count = text.count(self.old)
        assert count == 1, f"mutation {self.name}: snippet found {count} times in the reference"
        return text.replace(self.old, self.new)


def bug(name: str, old: str, new: str, *loses: str, maybe: tuple[str, ...] = (),
        diagnosis: str = "") -> Mutation:
    return Mutation(name, old, new, frozenset(loses), frozenset(maybe), diagnosis)


def diagnosis_problems(result, mutation: Mutation) -> list[str]:
    """A bug whose mistake is in its practical's catalogue must be named by it: at least one
    check it loses carries that diagnosis, and its message states the mistake."""
    if not mutation.diagnosis:
        return []
    from grader import diagnosis
    from grader.i18n import _

    lost = [c for c in result.checks
            if c.name in mutation.loses | mutation.maybe and c.score < c.max_score - 1e-9]
    named = [c for c in lost if c.details.get("diagnosis") == mutation.diagnosis]
    if not named:
        return [f"{mutation.name}: no check names the mistake {mutation.diagnosis!r}: "
                f"{ {c.name: (c.details.get('diagnosis'), c.message) for c in lost} }"]
    # A catalogued mistake states its explanation; an exception's hint (grader.mistakes) is
    # its own text, recorded by key only. A key can be both (networks catalogues
    # `images_not_flattened`, which mlp_pixels gets from the exception's hint), and KNOWN holds
    # whatever catalogues this process imported: a hint key is therefore checked by key only.
    from grader.mistakes import HINT_KEYS
    if mutation.diagnosis in HINT_KEYS:
        return []
    explanations = [_(text) for text in
                    diagnosis.KNOWN.get(mutation.diagnosis, ())]
    if explanations and not any(text.split("{element}")[-1] in c.message for c in named
                                for text in explanations):
        return [f"{mutation.name}: the diagnosis {mutation.diagnosis!r} is not stated in "
                f"{[c.message for c in named]}"]
    return []


def diagnosed_share(bugs: list[Mutation]) -> tuple[int, int]:
    """(bugs that get a named diagnosis, bugs that lose points): valid conventions that lose
    nothing do not count."""
    losing = [m for m in bugs if m.loses]
    return sum(1 for m in losing if m.diagnosis), len(losing)


class Combined:
    """Several mutations of the reference, in different elements, in one submission."""

    def __init__(self, name: str, mutations: list[Mutation]):
        self.name, self.mutations = name, mutations

    def apply(self, text: str) -> str:
        for mutation in self.mutations:
            text = mutation.apply(text)
        return text


def element_of(check_name: str) -> str:
    return check_name.split()[0]


def bug_element(mutation: Mutation) -> str:
    """The one element whose checks a bug costs (a combinable bug has exactly one)."""
    elements = {element_of(name) for name in mutation.loses | mutation.maybe}
    if len(elements) != 1:
        raise ValueError(f"bug {mutation.name} costs checks of {sorted(elements)}: a combined "
                         "corpus needs bugs of one element each")
    return elements.pop()


def bug_groups(bugs: list[Mutation]) -> list[list[Mutation]]:
    """Bugs split into groups holding at most one bug per element (first fit, in order)."""
    groups: list[list[Mutation]] = []
    for mutation in bugs:
        for group in groups:
            if bug_element(mutation) not in {bug_element(m) for m in group}:
                group.append(mutation)
                break
        else:
            groups.append([mutation])
    return groups


def reference_text(corpus_file: str | Path) -> str:
    """The reference solution's text, from a corpus file of the same folder (for bugs spanning
    two snippets)."""
    folder = Path(corpus_file).resolve().parent.parent
    from grader.assignment import load_folder

    return load_folder(folder).reference_path.read_text()
