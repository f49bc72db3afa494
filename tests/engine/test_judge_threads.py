"""The judge computes on one thread: the same results on every machine, and in a batch its idle
OpenMP threads do not spin on the core of the other worker (grader.batch.ONE_THREAD)."""

import subprocess

import torch

from grader import batch, judge


def test_the_checks_run_on_one_thread_and_the_judge_gets_its_threads_back():
    torch.set_num_threads(2)
    try:
        with judge.one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_a_batch_starts_its_judges_on_one_thread(tmp_path, monkeypatch):
    """Warm workers and cold judges alike: without it, 2 workers on 2 cores graded each
    student 36 % slower than 1 worker did."""
    started = []

    class Recorder:
        def __init__(self, argv, env=None, **kwargs):
            started.append(env)
            raise OSError("not started in this test")

    monkeypatch.setattr(subprocess, "Popen", Recorder)
    worker = batch.JudgeWorker(tmp_path, tmp_path / "worker.log")
    try:
        worker.start()
    except OSError:
        pass
    assert started and all(started[0].get(k) == "1" for k in
                           ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"))

    def fake_run(argv, env=None, **kwargs):
        started.append(env)
        return subprocess.CompletedProcess(argv, 1, "", "error: stopped here")

    monkeypatch.setattr(subprocess, "run", fake_run)
    from grader.assignment import load_assignment

    source = tmp_path / "alice.py"
    source.write_text("x = 1\n")
    result = batch.grade_one(load_assignment("perceptron"),
                             batch.Submission("alice", "alice", source), tmp_path / "out")
    assert result.error == "stopped here"
    assert started[-1]["OMP_NUM_THREADS"] == "1"
