"""Fixtures of the notebook tests (helpers: tests/notebook_cases.py)."""

import pytest


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Work in an empty folder: no practical's notebook lies around to be found by accident."""
    monkeypatch.chdir(tmp_path)
    for variable in ("JPY_SESSION_NAME",):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path
