"""Fixtures shared by the test modules."""

from __future__ import annotations

import os

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist (the default, see pyproject.toml): one worker per core, so each worker's torch gets one
    # thread; more would only contend with the other workers for the same cores
    torch.set_num_threads(1)


@pytest.fixture
def one_thread():
    """Tiny tensor ops run fastest (and most predictably) on one thread; the old count is restored.

    Modules use it for every test with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
