"""The test labels never enter the student process: every request of a full grading is
inspected, and no image the accuracy checks score is ever sent together with labels.

The student process keeps its memory between checks, so "never" means over the whole run: an
image sent with its label to train one model (say, on another split) must not be scored in
another check — the student's code could simply remember it.
"""

import numpy as np
import pytest
import torch

from corpus import REPO
from grader import student_process
from grader.assignment import load_assignment
from grader.data import load_mnist_offline, resolve_usps
from grader.judge import grade

pytestmark = pytest.mark.slow


def tensors_in(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, np.ndarray) and value.dtype.kind in "fiu":  # the NumPy practical
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
    if not t.is_floating_point() or t.numel() == 0 or t.numel() % pixels or t.shape[-1] not in (side, pixels):
        return set()
    rows = t.detach().to(torch.float32).reshape(-1, pixels)
    return {r.numpy().tobytes() for r in rows}


def held_out_images(assignment: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The images the assignment's accuracy checks score, their labels, their side."""
    settings = load_assignment(assignment).settings
    if assignment == "diy":  # USPS-sized test images (real USPS when cached, else MNIST 16x16)
        _, test = resolve_usps()
        n = int(settings["mlp_test_size"])
        return test.images[:n], test.labels[:n], 16
    sizes = [int(settings[k]) for k in ("train_size", "valid_size", "test_size") if k in settings]
    test = load_mnist_offline().split(sizes, seed=int(settings["split_seed"]))[-1]
    return test.images, test.labels, 28


@pytest.mark.parametrize("assignment,scored_by_the_child", [
    # Predictions computed in the judge from the trained parameters (issue 9): the scored
    # images never reach the student process at all.
    ("mlp_pixels", False), ("networks", False), ("perceptron", False),
    ("diy", True),
])
def test_scored_images_are_never_sent_with_labels(monkeypatch, assignment, scored_by_the_child):
    images, test_labels, side = held_out_images(assignment)
    labelled, unlabelled, label_vectors = set(), set(), []
    original = student_process.StudentProcess._request

    def spy(self, message, *, timeout, what):
        tensors = list(tensors_in(message))
        labels = [t for t in tensors if is_labels(t)]
        rows = set().union(*(image_rows(t, side) for t in tensors))
        (labelled if labels else unlabelled).update(rows)
        label_vectors.extend(labels)
        return original(self, message, timeout=timeout, what=what)

    monkeypatch.setattr(student_process.StudentProcess, "_request", spy)
    result = grade(REPO / "reference" / f"{assignment}.py", assignment, hidden=True)
    assert result.score == result.max_score

    scored = image_rows(images, side)
    assert len(scored) > 100
    assert len(labelled) >= 1000  # training images do go, with labels: that is how students train
    leaked = len(scored & labelled)
    assert leaked == 0, f"{leaked} of the {len(scored)} scored images were sent with labels"
    if scored_by_the_child:
        assert scored <= unlabelled  # ...and they were really sent, without labels, to predict
    else:
        assert not scored & unlabelled  # not even without their labels
    for labels in label_vectors:  # nor does the test label vector travel on its own
        assert not (labels.shape == test_labels.shape and torch.equal(labels, test_labels))
