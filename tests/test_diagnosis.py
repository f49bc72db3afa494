"""Known mistakes (grader.diagnosis): matching a failed answer with the answers of known
mistakes computed in the judge, the message it becomes, and the line it points at. No
sandbox: everything here is judge-side."""

from pathlib import Path

import pytest
import torch

import handout_code
from grader import diagnosis
from grader.diagnosis import (RETURN_IN_LOOP, DiagnosedFailure, Mistake, matching, mistake,
                              passes, recognising, same)
from grader.failures import CheckFailure
from grader.submission import Source

# The MLP_pixels handout's perf_loop: the total is right, the `return` sits inside the loop.
HANDOUT_PERF_LOOP = "import torch\n\n" + handout_code.HANDOUT_PERF_LOOP

FIRST_BATCH = Mistake(
    "return_inside_loop", "perf_loop returns inside its `for` loop: only the first batch counts",
    "Move the `return` after the loop.", element="perf_loop", find=RETURN_IN_LOOP)


@pytest.fixture
def submission():
    """The handout's perf_loop as the submission being graded (then none again)."""
    source = Source(path=Path("/x/mlp_pixels.py"), module="mlp_pixels", text=HANDOUT_PERF_LOOP,
                    kind="py", root=Path("/x"))
    diagnosis.use_submission(source)
    yield source
    diagnosis.use_submission(None)


def check_count(value, expected, what):
    if value != expected:
        raise CheckFailure(f"{what}: expected {expected}, got {value} (off by {value - expected:+})")


def test_a_matching_mistake_becomes_the_message_with_the_line_and_the_fix(submission):
    first_batch_correct = 5
    with pytest.raises(DiagnosedFailure) as failure:
        with recognising(5, [FIRST_BATCH.gives(first_batch_correct)],
                         passes(lambda wrong: check_count(5, wrong, "n_correct"))):
            check_count(5, 12, "perf_loop's n_correct")
    text = str(failure.value)
    assert failure.value.mistake.key == "return_inside_loop"
    first, look, fix = text.splitlines()
    assert first == ("perf_loop returns inside its `for` loop: only the first batch counts "
                     "(perf_loop's n_correct: expected 12, got 5 (off by -7))")
    assert look == "Look at mlp_pixels.py, line 14: `return correct, Total, torch.cat(y_pred)`"
    assert fix == "Fix: Move the `return` after the loop."


def test_no_match_keeps_the_checks_precise_message(submission):
    with pytest.raises(CheckFailure) as failure:
        with recognising(7, [FIRST_BATCH.gives(5)], passes(lambda w: check_count(7, w, "n"))):
            check_count(7, 12, "perf_loop's n_correct")
    assert not isinstance(failure.value, DiagnosedFailure)
    assert str(failure.value) == "perf_loop's n_correct: expected 12, got 7 (off by -5)"


def test_answers_are_computed_only_when_the_check_fails():
    computed = []
    candidate = FIRST_BATCH.gives(lambda: computed.append(1) or 5)
    with recognising(12, [candidate]):
        check_count(12, 12, "n")
    assert computed == []


def test_a_mistake_whose_answer_cannot_be_computed_is_no_match_and_the_next_is_tried():
    broken = Mistake("broken", "b", "f", answer=lambda: 1 / 0)
    found = matching(3.0, [broken.on(), FIRST_BATCH.gives(3)])
    assert found is not None and found[0] is FIRST_BATCH


def test_the_decorator_declares_a_mistake_by_its_answer_function():
    @mistake("last_batch_loss", element="train_loop", explanation="the last batch's loss",
             fix="return the mean")
    def last_batch(batch_losses):
        return batch_losses[-1]

    assert isinstance(last_batch, Mistake) and last_batch.key == "last_batch_loss"
    assert matching(2.32204, [last_batch.on([2.31, 2.30, 2.32204])])[0] is last_batch
    assert matching(2.31543, [last_batch.on([2.31, 2.30, 2.32204])]) is None


def test_same_compares_numbers_tensors_sequences_and_none():
    assert same(5, 5.0) and same(torch.tensor(5.0), 5) and same(None, None)
    assert not same(None, 0) and not same(0, None)
    assert same(torch.ones(3), [1.0, 1.0, 1.0]) and not same(torch.ones(3), torch.ones(4))
    assert same([1, torch.tensor(2.0)], (1, 2)) and not same([1, 2], [1, 2, 3])
    assert same(2.0000001, 2.0) and not same(2.01, 2.0)
    assert not same(True, 1) and same({"a": 1}, {"a": 1.0})


def test_the_line_is_the_def_when_the_finder_finds_nothing(submission):
    nothing = Mistake("softmax", "softmax in forward", "drop it", element="perf_loop",
                      find=r"softmax")
    assert diagnosis.locate(nothing) == ("mlp_pixels.py, line 4",
                                         "def perf_loop(dataloader, model):")
    found = Mistake("total", "t", "f", element="perf_loop", find=r"len\(dataloader")
    assert diagnosis.locate(found) == ("mlp_pixels.py, line 6",
                                       "Total = len(dataloader.dataset)")


def test_methods_and_the_last_definition_are_found_and_notebook_cells_named():
    text = ("class MLP:\n    def forward(self, x):\n        return x\n\n"
            "class MLP:\n    def forward(self, x):\n        return x.softmax(1)\n")
    source = Source(path=Path("/x/MLP_pixels.ipynb"), module="mlp_pixels", text=text,
                    kind="ipynb", root=Path("/x"), cells=[(1, 2, 1), (5, 3, 1)])
    diagnosis.use_submission(source)
    try:
        where = diagnosis.locate(Mistake("s", "e", "f", element="MLP.forward", find="softmax"))
    finally:
        diagnosis.use_submission(None)
    assert where == ("MLP_pixels.ipynb, cell 3, line 3", "return x.softmax(1)")


def test_no_submission_or_unparsable_source_gives_no_line():
    assert diagnosis.locate(FIRST_BATCH) is None
    diagnosis.use_submission(Source(path=Path("/x/a.py"), module="a", text="def (:\n",
                                    kind="py", root=Path("/x")))
    try:
        assert diagnosis.locate(FIRST_BATCH) is None
        assert "Look at" not in diagnosis.message(FIRST_BATCH, "n: expected 1, got 2")
    finally:
        diagnosis.use_submission(None)


def test_a_quoted_line_is_capped_and_printable():
    long_line = "def f():\n    return '" + "x" * 300 + "\x1b[31m'\n"  # an escape in a string
    diagnosis.use_submission(Source(path=Path("/x/a.py"), module="a", text=long_line,
                                    kind="py", root=Path("/x")))
    try:
        place, code = diagnosis.locate(Mistake("m", "e", "f", element="f", find="return"))
    finally:
        diagnosis.use_submission(None)
    assert len(code) <= diagnosis.MAX_CODE and "\x1b" not in code


def test_a_check_that_recognised_the_mistake_itself_raises_it(submission):
    failure = FIRST_BATCH.failure("perf_loop counted 32 samples out of 130")
    assert isinstance(failure, CheckFailure) and failure.mistake is FIRST_BATCH
    assert str(failure).startswith("perf_loop returns inside its `for` loop")
    assert "line 14" in str(failure)


def test_exception_hints_name_their_mistake():
    from grader import mistakes

    hint = mistakes.explain("RuntimeError", "mat1 and mat2 shapes cannot be multiplied "
                            "(112x28 and 784x10)", "return self.layers(x)")
    assert hint.key == "images_not_flattened" and "flatten" in hint
    swapped = mistakes.explain("RuntimeError", "\"nll_loss_out\" not implemented for 'Long'",
                               "loss = loss_fn(y, model(x))")
    assert swapped.key == "loss_arguments_swapped"
    assert not hasattr(mistakes.explain("RuntimeError", "something else"), "key")


def test_declared_mistakes_are_known_by_their_key():
    assert FIRST_BATCH.explanation in diagnosis.KNOWN["return_inside_loop"]


def test_the_key_of_a_failure_names_its_mistake_or_its_hints():
    from grader import mistakes
    from grader.failures import StudentError

    assert diagnosis.key_of(FIRST_BATCH.failure("n: expected 1, got 2")) == "return_inside_loop"
    hint = mistakes.explain("RuntimeError", "mat1 and mat2 shapes cannot be multiplied "
                            "(112x28 and 784x10)")
    assert diagnosis.key_of(StudentError("MLP()(x)", "RuntimeError", "m", [], hint)) == (
        "images_not_flattened")
    assert diagnosis.key_of(CheckFailure("plain")) == "" and diagnosis.key_of(None) == ""


# ----------------------------------------------------------------- the check helpers' argument

def test_check_helpers_name_a_known_mistake_with_their_own_tolerance():
    from grader.checks import check_close, check_count, check_int, check_number

    expected = torch.tensor([0.1, 0.2, 0.7])
    softmaxed = torch.softmax(expected, dim=0)
    with pytest.raises(DiagnosedFailure) as failure:
        check_close(softmaxed + 1e-7, expected, "output", rtol=1e-4, atol=1e-5,
                    known_mistakes=[FIRST_BATCH.gives(lambda: torch.softmax(expected, dim=0))])
    assert failure.value.mistake is FIRST_BATCH and "output: 3 of 3 values differ" in str(failure.value)
    # outside the check's tolerance of the mistaken answer: the precise message
    with pytest.raises(CheckFailure) as failure:
        check_close(softmaxed + 1e-2, expected, "output", rtol=1e-4, atol=1e-5,
                    known_mistakes=[FIRST_BATCH.gives(softmaxed)])
    assert not isinstance(failure.value, DiagnosedFailure)
    with pytest.raises(DiagnosedFailure):
        check_count(5.0, 12, "n_correct", known_mistakes=[FIRST_BATCH.gives(5)])
    with pytest.raises(DiagnosedFailure):
        check_int(5, 12, "n", known_mistakes=[FIRST_BATCH.gives(5)])
    with pytest.raises(DiagnosedFailure):
        check_number(0.5, 0.25, "accuracy", known_mistakes=[FIRST_BATCH.gives(0.5)])
    check_count(12, 12, "n_correct", known_mistakes=[FIRST_BATCH.gives(5)])  # passes as before


def test_loop_helpers_name_the_last_batch_loss_and_the_mistaken_weights():
    from torch import nn

    from grader import model_checks as mc

    last = Mistake("last_batch_loss", "{element} returns the loss of the last batch",
                   "return the mean", element="train_loop")
    with pytest.raises(DiagnosedFailure) as failure:
        mc.mean_loss_matches(2.32204, 2.31543, 2.31543, "train_loop's return value",
                             known_mistakes=[last.gives(lambda: [2.31, 2.3, 2.32204][-1])])
    assert str(failure.value).startswith("train_loop returns the loss of the last batch "
                                         "(train_loop's return value: returned 2.32204")
    model = nn.Linear(2, 1)
    wrong = [p.detach() + 1 for p in model.parameters()]
    with pytest.raises(DiagnosedFailure):
        mc.compare_parameters(wrong, model, "weights", known_mistakes=[last.gives(wrong)])
    with pytest.raises(CheckFailure) as failure:
        mc.compare_parameters(wrong, model, "weights", known_mistakes=[last.gives(
            [p.detach() for p in model.parameters()])])
    assert not isinstance(failure.value, DiagnosedFailure)


def test_a_pattern_is_not_found_in_the_docstring():
    text = 'def update(x, w):\n    """w += eta · x: the rule."""\n    w -= x\n'
    diagnosis.use_submission(Source(path=Path("/x/p.py"), module="p", text=text, kind="py",
                                    root=Path("/x")))
    try:
        assert diagnosis.locate(Mistake("s", "e", "f", element="update", find=r"[-+]=")) == (
            "p.py, line 3", "w -= x")
    finally:
        diagnosis.use_submission(None)
