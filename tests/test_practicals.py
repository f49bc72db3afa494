"""The same tests on every practical of ``assignments/`` (a new folder is covered by all of them
without editing this file): its layout has none of the known traps, the reference scores full
marks, the starter scores 0 with one "not implemented yet" per check, each bug of its corpus
loses points on exactly its named checks and each valid variant scores full marks, no scored
label ever reaches the student process, public checks never use the reference, and the student
export holds nothing hidden.

Gradings are shared: the reference and the starter of a practical are graded once per session
(``practicals.Practical.graded``). Practical-specific tests (attacks, learning curves,
determinism) live in ``tests/assignments/``.
"""

from __future__ import annotations

import ast
import functools
import os

import pytest
import torch

import practicals
from corpus import (assert_checks_named_by_element, assert_full_marks, assert_loses_exactly,
                    assert_starter_result, losing)
from grader.assignment import CALIBRATION_FILE, PRIVATE, load_module_file
from grader.corpus import Combined, diagnosis_problems, element_of
from grader.layout import layout_problems

PRACTICALS = practicals.practicals()   # $GRADER_ASSIGNMENTS, else the repository's
BY_NAME = {p.name: p for p in PRACTICALS}
NAMES = sorted(BY_NAME)
SUBMISSIONS = [(p.name, s) for p in PRACTICALS for s in p.submissions]
VARIANTS = [(p.name, v.name) for p in PRACTICALS for v in p.variants]


def test_there_are_practicals():
    assert {"perceptron", "mlp_pixels", "networks", "diy", "optim"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_layout_has_no_traps(name):
    """Clashing basenames, no reference, a required name without checks, a check not named
    after its element: each a one-line error naming the file (the same as `grade list`)."""
    problems = layout_problems(BY_NAME[name].assignment)
    assert problems == [], "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_reference_scores_full_marks(name):
    practical = BY_NAME[name]
    result = practical.reference_result()
    assert_full_marks(result)
    assert_checks_named_by_element(result, set(practical.assignment.required), practical.bugs)
    assert all("accuracy" in c.name or "loss" in c.name for c in result.checks if c.trains)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_starter_scores_zero_with_one_not_implemented_line_per_check(name):
    assert_starter_result(BY_NAME[name].starter_result(), name)


@pytest.mark.slow
@pytest.mark.parametrize("name,submission", SUBMISSIONS,
                         ids=[f"{n}-{s.name}" for n, s in SUBMISSIONS])
def test_bug_loses_points_exactly_on_its_checks(tmp_path, name, submission):
    practical = BY_NAME[name]
    from grader.judge import grade

    result = grade(practical.write_mutant(tmp_path, submission), practical.assignment, hidden=True)
    mutations = submission.mutations if isinstance(submission, Combined) else [submission]
    messages = {c.name: c.message for c in result.checks}
    problems = []
    if len(mutations) == 1:
        try:
            assert_loses_exactly(result, mutations[0])
        except AssertionError as e:
            problems.append(str(e))
    else:  # several bugs, one element each: each element loses exactly its bug's checks
        lost = losing(result)
        elements = {element_of(next(iter(m.loses | m.maybe))): m for m in mutations}
        for element, mutation in elements.items():
            mine = {n for n in lost if element_of(n) == element}
            if not mutation.loses <= mine <= mutation.loses | mutation.maybe:
                problems.append(f"{mutation.name}: lost points unexpectedly on "
                                f"{sorted(mine - mutation.loses - mutation.maybe)}, kept points "
                                f"on {sorted(mutation.loses - mine)}: "
                                f"{ {n: messages[n] for n in mine ^ mutation.loses} }")
        others = {n for n in lost if element_of(n) not in elements}
        if others:
            problems.append(f"checks of other elements lost points: "
                            f"{ {n: messages[n] for n in others} }")
        problems += [f"{n}: lost points without a message" for n in lost if not messages[n]]
    for mutation in mutations:
        problems += diagnosis_problems(result, mutation)
        for check, words in practical.messages.get(mutation.name, []):
            missing = [w for w in words if w not in messages.get(check, "")]
            if missing:
                problems.append(f"{mutation.name}: the message of {check!r} lacks {missing}: "
                                f"{messages.get(check)}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("name,variant", VARIANTS, ids=[f"{n}-{v}" for n, v in VARIANTS])
def test_valid_variant_scores_full_marks(name, variant):
    result = BY_NAME[name].variant_result(variant)
    assert result.error is None
    assert losing(result) == set(), {c.name: c.message for c in result.checks if not c.passed}
    assert result.score == result.max_score > 0


@pytest.mark.parametrize("name", NAMES)
def test_corpus_names_existing_checks(name):
    """Every check a bug or a message names exists (a renamed check would otherwise make its
    bug test fail for the wrong reason), without grading anything."""
    from grader.layout import collect_named_checks

    practical = BY_NAME[name]
    names = {c.name for c in collect_named_checks(practical.assignment)}
    assert len({m.name for m in practical.bugs}) == len(practical.bugs), "duplicate bug names"
    for mutation in practical.bugs:
        assert mutation.loses | mutation.maybe <= names, (
            mutation.name, sorted((mutation.loses | mutation.maybe) - names))
    for bug_name, expectations in practical.messages.items():
        assert bug_name in {m.name for m in practical.bugs}, bug_name
        assert {check for check, _ in expectations} <= names, bug_name


# ------------------------------------------------------------------ no label reaches the child


def calibration_hook(practical):
    path = practical.assignment.folder / CALIBRATION_FILE
    return load_module_file(f"grader_calibration_{practical.name}", path) if path.is_file() else None


def scored_images(practical):
    """(images, labels, side) the accuracy checks score: the practical's hook
    (``calibration.scored_images``), else the held-out part of the offline MNIST split its
    settings describe; None when it scores no images."""
    from grader.data import load_mnist_offline

    hook = calibration_hook(practical)
    if hook is not None and hasattr(hook, "scored_images"):
        return hook.scored_images(practical.assignment)
    settings = practical.assignment.settings
    if "split_seed" not in settings or "test_size" not in settings:
        return None
    sizes = [int(settings[k]) for k in ("train_size", "valid_size", "test_size") if k in settings]
    test = load_mnist_offline().split(sizes, seed=int(settings["split_seed"]))[-1]
    return test.images, test.labels, 28


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_scored_images_are_never_sent_with_labels(name):
    """Every request of the full grading of the reference (the shared one: it is recorded) is
    inspected: no image the accuracy checks score is ever sent together with labels (the
    student process keeps its memory between checks), nor the test label vector on its own."""
    practical = BY_NAME[name]
    scored = scored_images(practical)
    result = practical.reference_result()
    assert result.score == result.max_score
    if scored is None:  # nothing is scored on held-out images: then nothing trains either
        assert not any(c.trains for c in result.checks), (
            f"{name} has training checks but no held-out images: declare scored_images() in "
            f"{practical.assignment.folder / CALIBRATION_FILE}")
        return
    images, test_labels, side = scored
    sent = practical.reference_requests()
    labelled, unlabelled = sent.labelled[side], sent.unlabelled[side]
    scored_rows = practicals.image_rows(images, side)
    assert len(scored_rows) > 100
    assert len(labelled) >= 1000  # training images do go, with labels: that is how students train
    leaked = len(scored_rows & labelled)
    assert leaked == 0, f"{leaked} of the {len(scored_rows)} scored images were sent with labels"
    hook = calibration_hook(practical)
    if getattr(hook, "SCORED_IMAGES_SENT_UNLABELLED", False):
        assert scored_rows <= unlabelled  # ...and they were really sent, without labels
    else:
        assert not scored_rows & unlabelled  # not even without their labels
    for labels in sent.label_vectors:  # nor does the test label vector travel on its own
        assert not (labels.shape == test_labels.shape and torch.equal(labels, test_labels))


# ------------------------------------------------------------------ what students get


def _functions(path):
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)]


@pytest.mark.parametrize("name", NAMES)
def test_public_checks_never_use_the_reference(name):
    """Students get the public checks and the folder's modules, not the reference."""
    assignment = BY_NAME[name].assignment
    files = list(assignment.public_dir.glob("*.py")) + list(assignment.folder.glob("*.py"))
    for path in files:
        if path.name in PRIVATE:
            continue
        text = path.read_text()
        assert "load_reference" not in text and "grader_reference" not in text, path
        for function in _functions(path):
            names = [a.arg for a in function.args.args + function.args.kwonlyargs]
            assert "reference" not in names, f"{path.name}: {function.name} uses `reference`"


@pytest.mark.parametrize("name", NAMES)
def test_every_check_has_points_a_docstring_and_both_visibilities(name):
    from grader.layout import collect_named_checks

    assignment = BY_NAME[name].assignment
    checks = collect_named_checks(assignment)
    assert {c.visibility for c in checks} == {"public", "hidden"}
    assert all(c.points > 0 for c in checks)
    for path in assignment.check_files(hidden=True):
        for function in _functions(path):
            if function.name.startswith("test_"):
                assert ast.get_docstring(function), f"{path.name}: {function.name} has no docstring"


@functools.lru_cache(maxsize=None)
def exported(root: str | None):
    """One student export per session and assignments root: its files, relative paths."""
    import tempfile
    from pathlib import Path

    from grader.distribution import export_student_distribution

    dest = Path(tempfile.mkdtemp(prefix="grader-export-")) / "dist"
    export_student_distribution(dest)
    return dest, {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", NAMES)
def test_export_ships_starter_and_public_checks_and_nothing_hidden(name):
    assignment = BY_NAME[name].assignment
    dest, names = exported(os.environ.get("GRADER_ASSIGNMENTS"))
    mine = {n.split(f"_bundled/assignments/{name}/", 1)[1] for n in names
            if f"_bundled/assignments/{name}/" in n}
    for path in assignment.public_dir.glob("test_*.py"):
        assert f"public/{path.name}" in mine
    for path in assignment.starter_dir.iterdir():
        assert f"starter/{path.name}" in mine
    assert not any(n.split("/")[0] in PRIVATE for n in mine), sorted(mine)
    private_texts = [p.read_text() for p in assignment.hidden_dir.glob("*.py")]
    private_texts.append(assignment.reference_path.read_text())
    for n in mine:
        if n.endswith(".py"):
            text = (dest / "grader" / "_bundled" / "assignments" / name / n).read_text()
            assert text not in private_texts, n


@pytest.mark.parametrize("name", NAMES)
def test_checks_import_only_the_api_and_their_folder(name):
    """Check files, scenarios and calibration import the grader through ``grader.api`` only
    (the corpus through ``grader.corpus``; the student side may use the engine's child-side
    helpers, ``grader.recipes``): the engine behind the API can move."""
    folder = BY_NAME[name].assignment.folder
    allowed = {"grader.api"}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).parts
        if parts[0] in ("reference", "starter") or (parts[0] == "corpus" and len(parts) > 2):
            continue   # solutions, not checks
        extra = ({"grader.corpus"} if parts[0] == "corpus"
                 else {"grader.recipes"} if path.name == "student_side.py" else set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = ([f"grader.{a.name}" for a in node.names] if node.module == "grader"
                           else [node.module])
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            for module in modules:
                if module.split(".")[0] == "grader":
                    assert module in allowed | extra, f"{path}:{node.lineno} imports {module}"
