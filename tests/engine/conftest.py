"""Fixtures for engine tests: a student process over a small source text."""

from pathlib import Path

import pytest

from grader import sandbox, slicing
from grader.student_process import StudentModule, StudentProcess
from grader.submission import read_source

REPO = Path(__file__).resolve().parents[2]
BASIC = sandbox.Isolation("basic", ["rlimits"], ["bubblewrap (disabled for this test)"])


@pytest.fixture
def spawn(tmp_path):
    """spawn(source, names, isolation=None, **kw) -> (StudentModule, StudentProcess)."""
    processes = []

    def make(source: str, names: list[str], isolation=None, module="student_code", hidden=None,
             **kwargs):
        folder = tmp_path / f"submission{len(processes)}"
        folder.mkdir()
        path = folder / f"{module}.py"
        path.write_text(source)
        src = read_source(path, module)
        plan = slicing.plan(src.text, src.display_name, names)
        process = StudentProcess(src, plan, isolation=isolation or sandbox.probe(),
                                 hidden_paths=hidden or [REPO / "assignments", REPO / "reference"],
                                 **kwargs)
        processes.append(process)
        return StudentModule(process), process

    yield make
    for process in processes:
        process.close()


@pytest.fixture(scope="session")
def strong():
    isolation = sandbox.probe()
    if isolation.level != "strong":
        pytest.skip(f"strong isolation is not available here: {isolation.describe()} — "
                    "CI installs bubblewrap so these tests run there")
    return isolation
