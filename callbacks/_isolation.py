"""Context managers that keep a side computation from touching the training it runs inside."""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


@contextmanager
def isolated_rng() -> Iterator[None]:
    """Save every global RNG a search may touch (Python, NumPy, torch CPU and CUDA) and restore it.

    Searchers draw from their own seeded generators, but third-party optimizers may use the
    global NumPy or Python RNG; restoring makes the surrounding training see the same random
    stream as without the search.
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
