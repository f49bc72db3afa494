"""Automated grader for the deep-learning course's practicals.

Student code runs only in a sandboxed child process (:mod:`grader.student_process`); the judge
(pytest with the assignment's checks) decides the grade from the data the child sends back.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dl-grader")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"


def check(part=None, **options):
    """``grader.check()`` / ``grader.check("MLP")`` in a notebook cell: grade this notebook (or
    one part of it) in a separate, sandboxed process and show the report below the cell.
    Options: ``assignment``, ``notebook``, ``hidden_dir``, ``save``, ``lang`` ("fr", "en").
    Imported on first use, so ``import grader`` stays cheap."""
    from grader.notebook_check import check as _check

    return _check(part, **options)


def load_ipython_extension(ipython):
    """``%load_ext grader`` registers the ``%grade`` magic: ``%grade``, ``%grade MLP``."""
    from grader.notebook_check import load_ipython_extension as _load

    _load(ipython)


def record(experiment_id, history, test_accuracy, *, seed, best_epoch=None, time_s=None,
           parameters=None, path=None, assignment=None):
    """``grader.record("sgd_b64", history, test_accuracy, seed=SEED)`` after an experiment's
    training: writes its results to ``<notebook stem>.experiments.json`` next to the notebook
    (offline; no grading runs). See :func:`grader.experiments.record`."""
    from grader.experiments import record as _record

    return _record(experiment_id, history, test_accuracy, seed=seed, best_epoch=best_epoch,
                   time_s=time_s, parameters=parameters, path=path, assignment=assignment)


def answer(question_id, choice, *, path=None, assignment=None):
    """``grader.answer("sgd_or_adam_faster", "Adam")``: your conclusion to one of the handout's
    questions, in the same results file. See :func:`grader.experiments.answer`."""
    from grader.experiments import answer as _answer

    return _answer(question_id, choice, path=path, assignment=assignment)


def experiment_data(experiment_id, seed=0, *, assignment=None, data_dir=None):
    """``train_loader, valid_loader, test_loader = grader.experiment_data("sgd_b64", seed=0)``:
    the experiment's loaders, and torch seeded so the model built next can be replayed."""
    from grader.experiments import experiment_data as _data

    return _data(experiment_id, seed, assignment=assignment, data_dir=data_dir)
