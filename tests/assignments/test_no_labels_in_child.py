"""The hidden test labels never enter the student process: every request is inspected."""

import pytest
import torch

from corpus import REPO
from grader import student_process
from grader.data import load_mnist_offline
from grader.judge import grade

pytestmark = pytest.mark.slow


def tensors_in(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from tensors_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from tensors_in(v)


def test_accuracy_checks_send_test_images_but_never_test_labels(monkeypatch):
    sent = []
    original = student_process.StudentProcess._request

    def spy(self, message, *, timeout, what):
        sent.extend(t for t in tensors_in(message) if t.dtype == torch.int64 and t.dim() == 1)
        return original(self, message, timeout=timeout, what=what)

    monkeypatch.setattr(student_process.StudentProcess, "_request", spy)
    result = grade(REPO / "reference" / "mlp_pixels.py", "mlp_pixels", hidden=True)
    assert result.score == result.max_score
    pool = load_mnist_offline()
    secret = [pool.split([4000, 500, 500], seed=s)[2].labels for s in (0, 1)]
    assert len(sent) > 5  # training labels do go: that is how the student's loop trains
    for labels in secret:
        for tensor in sent:
            assert not (tensor.shape == labels.shape and torch.equal(tensor, labels))
