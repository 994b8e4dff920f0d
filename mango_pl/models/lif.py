"""The SpikingJelly LIF neuron of the paper (membrane decay 0.9) and the choice of its kernel backend.

With ``tau = 1 / (1 - decay)``, ``decay_input=False`` and ``v_reset=0`` SpikingJelly's charge step
``H[t] = V[t-1] - (V[t-1] - V_reset) / tau + X[t]`` is exactly ``v <- decay * v + x``; the neuron
fires when ``v >= v_threshold`` and is then reset to 0 (``v_reset=None``: by subtracting the threshold).

Backends:

* ``"torch"``: the default; runs anywhere.
* ``"cupy"``: fused GPU kernels. Needs CUDA. SpikingJelly 0.0.0.0.14 (whose ``LIFNode`` takes a
  ``backend`` argument) implements them with CuPy, so CuPy must be installed too. SpikingJelly >= 2.0
  ships its own CUDA/Triton kernels and picks them from the tensor's device (process-wide override:
  environment variable ``SJ_LIF_CUDA_IMPLEMENTATION=auto|cuda|triton|torch``); there ``"cupy"``
  only checks that CUDA is present.
"""

from __future__ import annotations

import importlib.util
import inspect

import torch
from spikingjelly.activation_based import neuron, surrogate

from mango_pl.checks import check_choice, check_number

#: Valid values of the ``backend`` argument.
BACKENDS = ("torch", "cupy")


def lif_takes_backend() -> bool:
    """True if the installed SpikingJelly's ``LIFNode`` has a ``backend`` argument (0.0.0.0.14 API)."""
    return "backend" in inspect.signature(neuron.LIFNode.__init__).parameters


def check_backend(backend: str) -> None:
    """Raise a clear error if ``backend`` is unknown or cannot run on this machine.

    Raises:
        ValueError: ``backend`` is not one of :data:`BACKENDS`.
        RuntimeError: ``"cupy"`` without CUDA, or without CuPy where SpikingJelly needs it.
    """
    check_choice("backend", backend, BACKENDS)
    if backend != "cupy":
        return
    if not torch.cuda.is_available():
        raise RuntimeError(
            'backend="cupy" needs a CUDA GPU, and torch.cuda.is_available() is False here. '
            'Use backend="torch" (runs on CPU and GPU), or run on a machine with CUDA and '
            "`pip install cupy-cuda13x` (the CuPy build matching your CUDA version)."
        )
    if lif_takes_backend() and importlib.util.find_spec("cupy") is None:
        raise RuntimeError(
            'backend="cupy" needs CuPy, which is not installed. Run `pip install cupy-cuda13x` '
            '(the CuPy build matching your CUDA version), or use backend="torch".'
        )


def check_decay(decay: float) -> float:
    """Return ``tau = 1 / (1 - decay)``; a clear error unless ``0 < decay < 1``."""
    decay = check_number("decay", decay, 0, 1, open_low=True, open_high=True,
                         hint="membrane decay per time step, e.g. 0.9")
    return 1.0 / (1.0 - decay)


def make_lif(decay: float = 0.9, backend: str = "torch", v_threshold: float = 1.0,
             v_reset: float | None = 0.0) -> neuron.LIFNode:
    """A multi-step SpikingJelly ``LIFNode`` with ``v <- decay * v + x``, ATan surrogate, detached reset.

    Example:
        >>> lif = make_lif(0.9)
        >>> lif(torch.full((3, 1), 0.5)).flatten().tolist()  # v = 0.5, 0.95, 1.355 -> spike
        [0.0, 0.0, 1.0]
    """
    tau = check_decay(decay)
    check_backend(backend)
    kwargs = dict(tau=tau, decay_input=False, v_threshold=float(v_threshold), v_reset=v_reset,
                  surrogate_function=surrogate.ATan(), detach_reset=True, step_mode="m")
    if lif_takes_backend():
        kwargs["backend"] = backend
    return neuron.LIFNode(**kwargs)
