"""Context managers that keep a side computation from touching the training it runs inside."""

from __future__ import annotations

import os
import random
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn


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


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode (no BatchNorm statistics updates, no dropout) and give
    each back the mode it had, so a model that was half in eval mode stays so."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def atomic_save(obj: Any, path: Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place.

    A crash mid-write leaves at most a ``.tmp`` file, never a half file under the final name.
    An existing file is never overwritten: the new one gets a ``-v1``, ``-v2``... suffix.
    Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    final = path
    version = 0
    while final.exists():
        version += 1
        final = path.with_name(f"{path.stem}-v{version}{path.suffix}")
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return final
