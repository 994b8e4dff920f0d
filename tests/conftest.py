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


#: the modules of the longest tests (a subprocess or a fit each, 10-60 s on an idle 2-core machine, see
#: ``pytest --durations``): handed to the xdist workers first, so that the short tests fill the end
#: and both workers finish together (longest first); within a module the order stays as written
LONGEST_FIRST = ("test_distributed_search.py", "test_search_command.py", "test_reliability.py",
                 "test_loop_session.py", "test_report.py", "test_callback.py")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: LONGEST_FIRST.index(item.path.name) if item.path.name in LONGEST_FIRST
               else len(LONGEST_FIRST))
