"""Convolutional SNN on snnTorch, as in the paper: conv-maxpool-Leaky twice, then linear-Leaky twice.

snnTorch ``Leaky`` neurons are single-step: the forward loops over the T time steps, so a forward
hook on ``lif1`` fires T times per forward and sees ``inputs = (current, membrane)`` and
``output = (spikes [B, C, H, W], membrane)`` of one step each time.
"""

from __future__ import annotations

from collections.abc import Sequence

import snntorch as snn
import torch
from snntorch import surrogate
from torch import Tensor, nn

from mango_pl.checks import check_choice, check_number, check_positive_int
from mango_pl.models.normalization import ImageNormalize, check_images
from mango_pl.models.state import detach_states



class ATanSpike:
    """Heaviside spike, arc-tan surrogate gradient (snnTorch's ``surrogate.atan``, but picklable)."""

    def __init__(self, alpha: float = 2.0):
        self.alpha = alpha

    def __call__(self, x: Tensor) -> Tensor:
        return surrogate.ATan.apply(x, self.alpha)


class FastSigmoidSpike:
    """Heaviside spike, fast-sigmoid surrogate gradient (snnTorch's ``surrogate.fast_sigmoid``, but picklable)."""

    def __init__(self, slope: float = 25.0):
        self.slope = slope

    def __call__(self, x: Tensor) -> Tensor:
        return surrogate.FastSigmoid.apply(x, self.slope)


#: Surrogate gradients of the spike function, by name. (snnTorch's own ``surrogate.atan()`` returns
#: a closure, which makes the whole model unpicklable: no ``torch.save(model)``, no ddp_spawn.)
SURROGATES = {"atan": ATanSpike, "fast_sigmoid": FastSigmoidSpike}
#: How the logits are read from the output layer ``lif4``.
READOUTS = ("membrane", "spikes")


def _conv_pool_size(size: int) -> int:
    """Side after a 5x5 valid conv and a 2x2 max-pool."""
    return (size - 4) // 2


class ConvSNN(nn.Module):
    """snnTorch convolutional SNN classifier with Leaky (LIF) neurons ``lif1..lif4``, beta = 0.9.

    ``conv1 -> pool1 -> lif1 -> conv2 -> pool2 -> lif2 -> fc1 -> lif3 -> fc2 -> lif4``; the static
    image is fed at every one of the T steps (``conv1``/``pool1`` are computed once, their output is
    the same at every step). Logits are the time-mean of the output layer ``lif4``: of its membrane
    potential (``readout="membrane"``, default: smooth, gives useful gradients) or of its spikes
    (``readout="spikes"``: spike rate in [0, 1]). All neuron state is reset at the start of every
    forward (``reset_mem``) and kept afterwards (detached from the autograd graph) for inspection.

    Args:
        num_classes: number of output classes.
        in_channels: image channels.
        image_size: input side in pixels (>= 16; 28 for MNIST, 32 for CIFAR-10).
        time_steps: number of simulation steps T (mutable; the paper uses 100).
        beta: membrane decay of the Leaky neurons, ``mem <- beta * mem + input``.
        channels: output channels of ``conv1`` and ``conv2``.
        mean: per-channel input mean; ``None``: 0.5 (1 channel) or CIFAR-10 statistics (3 channels).
        std: per-channel input std; ``None``: as for ``mean``.
        hidden: width of ``fc1``.
        spike_grad: surrogate gradient, one of ``"atan"``, ``"fast_sigmoid"``.
        readout: ``"membrane"`` or ``"spikes"``.

    Raises:
        ValueError: on an image size too small for two conv-pool stages, an unknown surrogate or
            readout, ``beta`` outside [0, 1], or ``time_steps < 1``.

    Example:
        >>> net = ConvSNN(image_size=28, time_steps=4)
        >>> net(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    is_spiking = True

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28, time_steps: int = 100,
                 beta: float = 0.9, channels: Sequence[int] = (12, 64), mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, hidden: int = 256, spike_grad: str = "atan",
                 readout: str = "membrane"):
        super().__init__()
        side = _conv_pool_size(_conv_pool_size(image_size))
        if side < 1:
            raise ValueError(f"ConvSNN needs image_size >= 16 (two 5x5-conv + 2x2-pool stages), got {image_size}")
        if len(channels) != 2:
            raise ValueError(f"channels must give the two conv widths, e.g. (12, 64); got {tuple(channels)}")
        check_choice("spike_grad", spike_grad, SURROGATES)
        check_choice("readout", readout, READOUTS)
        check_number("beta", beta, 0, 1, hint="membrane decay, e.g. 0.9")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.image_size = image_size
        self.time_steps = time_steps
        self.beta = float(beta)
        self.readout = readout

        c1, c2 = (int(c) for c in channels)
        grad = SURROGATES[spike_grad]()
        self.normalize = ImageNormalize(in_channels, mean, std)
        self.conv1 = nn.Conv2d(in_channels, c1, 5)
        self.pool1 = nn.MaxPool2d(2)
        self.lif1 = snn.Leaky(beta=self.beta, spike_grad=grad)
        self.conv2 = nn.Conv2d(c1, c2, 5)
        self.pool2 = nn.MaxPool2d(2)
        self.lif2 = snn.Leaky(beta=self.beta, spike_grad=grad)
        self.fc1 = nn.Linear(c2 * side * side, hidden)
        self.lif3 = snn.Leaky(beta=self.beta, spike_grad=grad)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.lif4 = snn.Leaky(beta=self.beta, spike_grad=grad)

    @property
    def time_steps(self) -> int:
        """Number of simulation steps T; may be changed between forwards."""
        return self._time_steps

    @time_steps.setter
    def time_steps(self, value: int) -> None:
        self._time_steps = check_positive_int("time_steps", value)

    def forward_sequence(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images ``[B, C, H, W]`` in [0, 1] -> (spikes, membrane) of ``lif4``, each ``[T, B, num_classes]``."""
        check_images(x, self.in_channels, type(self).__name__)
        mem1, mem2, mem3, mem4 = (lif.reset_mem() for lif in (self.lif1, self.lif2, self.lif3, self.lif4))
        current1 = self.pool1(self.conv1(self.normalize(x)))
        spikes_out, mem_out = [], []
        for _ in range(self.time_steps):
            spk1, mem1 = self.lif1(current1, mem1)
            spk2, mem2 = self.lif2(self.pool2(self.conv2(spk1)), mem2)
            spk3, mem3 = self.lif3(self.fc1(spk2.flatten(1)), mem3)
            spk4, mem4 = self.lif4(self.fc2(spk3), mem4)
            spikes_out.append(spk4)
            mem_out.append(mem4)
        detach_states(self)
        return torch.stack(spikes_out), torch.stack(mem_out)

    def forward(self, x: Tensor) -> Tensor:
        """Images ``[B, C, H, W]`` in [0, 1] -> logits ``[B, num_classes]`` (time-mean of ``lif4``)."""
        spikes, membrane = self.forward_sequence(x)
        return (membrane if self.readout == "membrane" else spikes).mean(0)

    def extra_repr(self) -> str:
        return (f"num_classes={self.num_classes}, in_channels={self.in_channels}, image_size={self.image_size}, "
                f"time_steps={self.time_steps}, beta={self.beta}, readout={self.readout!r}")
