"""Spiking ResNet18 on SpikingJelly (multi-step LIF neurons, membrane decay 0.9), as in the paper.

Layout (spiking-ResNet style: a spike layer after each BN and after every residual add)::

    normalize -> conv1 -> bn1 -> sn1 -> [maxpool] -> layer1..layer4 -> avgpool -> fc -> mean over T
    BasicBlock: conv1 -> bn1 -> sn1 -> conv2 -> bn2 -> (+ shortcut) -> sn2

All SpikingJelly layers run in multi-step mode: their outputs are time-major ``[T, B, ...]`` (a
forward hook on ``layer1.0.sn1`` sees spikes ``[T, B, C, H, W]``).
"""

from __future__ import annotations

from collections.abc import Sequence

from spikingjelly.activation_based import layer
from torch import Tensor, nn

from mango_pl.checks import check_choice, check_positive_int
from mango_pl.models.lif import check_backend, check_decay, make_lif
from mango_pl.models.normalization import ImageNormalize, check_images
from mango_pl.models.state import detach_states, reset_states

#: Valid values of the ``stem`` argument.
STEMS = ("cifar", "imagenet")


class SpikingBasicBlock(nn.Module):
    """ResNet BasicBlock with LIF neurons ``sn1`` (after bn1) and ``sn2`` (after the residual add).

    Args:
        in_planes: input channels.
        planes: output channels.
        stride: stride of ``conv1`` (and of the 1x1 projection shortcut).
        decay: membrane decay of the LIF neurons.
        backend: LIF kernel backend, see :mod:`mango_pl.models.lif`.
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1, decay: float = 0.9, backend: str = "torch"):
        super().__init__()
        self.conv1 = layer.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False, step_mode="m")
        self.bn1 = layer.BatchNorm2d(planes, step_mode="m")
        self.sn1 = make_lif(decay, backend)
        self.conv2 = layer.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False, step_mode="m")
        self.bn2 = layer.BatchNorm2d(planes, step_mode="m")
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                layer.Conv2d(in_planes, planes, 1, stride=stride, bias=False, step_mode="m"),
                layer.BatchNorm2d(planes, step_mode="m"),
            )
        self.sn2 = make_lif(decay, backend)

    def forward(self, x_seq: Tensor) -> Tensor:
        identity = x_seq if self.downsample is None else self.downsample(x_seq)
        out = self.sn1(self.bn1(self.conv1(x_seq)))
        out = self.bn2(self.conv2(out))
        return self.sn2(out + identity)


class SpikingResNet18(nn.Module):
    """Spiking ResNet18 classifier; logits are the time-mean of the ``fc`` output over ``time_steps``.

    The static image is repeated over ``T = time_steps`` steps. Its non-spiking stem (``conv1`` +
    ``bn1``) gives the same output at every step, so by default it is computed once and broadcast
    over T (same result, T times cheaper; hooks on ``conv1``/``bn1`` then see ``[1, B, ...]``). In
    training mode BatchNorm then sees the B stem outputs once instead of T identical copies: the same
    batch statistics; only the running variance's unbiased correction uses n = B*H*W, not T*B*H*W.
    Neuron state is reset at the start of every forward and kept afterwards (detached from the
    autograd graph) for inspection.

    Args:
        num_classes: number of output classes.
        in_channels: image channels (1 or 3).
        time_steps: number of simulation steps T (mutable attribute; the paper uses 50).
        base_width: channels of ``layer1``; the stages have ``base_width * (1, 2, 4, 8)``.
        stem: ``"cifar"`` (3x3 conv, stride 1, no max-pool) or ``"imagenet"`` (7x7 conv, stride 2, max-pool).
        backend: LIF kernel, ``"torch"`` or ``"cupy"`` (see :mod:`mango_pl.models.lif`).
        decay: LIF membrane decay per step, ``v <- decay * v + x`` (paper: 0.9).
        mean: per-channel input mean; ``None``: CIFAR-10 statistics (3 channels) or 0.5 (1 channel).
        std: per-channel input std; ``None``: as for ``mean``.
        stem_once: compute the stem once and broadcast it over T (``False``: once per step).

    Raises:
        ValueError: unknown ``stem``/``backend``, ``decay`` outside (0, 1), ``time_steps < 1``.
        RuntimeError: ``backend="cupy"`` without CUDA (or without CuPy where SpikingJelly needs it).

    Example:
        >>> net = SpikingResNet18(num_classes=10, base_width=8, time_steps=4).eval()
        >>> net(torch.rand(2, 3, 16, 16)).shape
        torch.Size([2, 10])
    """

    is_spiking = True

    def __init__(self, num_classes: int = 10, in_channels: int = 3, time_steps: int = 50, base_width: int = 64,
                 stem: str = "cifar", backend: str = "torch", decay: float = 0.9,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 stem_once: bool = True):
        super().__init__()
        check_choice("stem", stem, STEMS)
        check_positive_int("num_classes", num_classes)
        check_positive_int("base_width", base_width)
        check_backend(backend)
        check_decay(decay)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.time_steps = time_steps
        self.base_width = base_width
        self.stem = stem
        self.backend = backend
        self.decay = float(decay)
        self.stem_once = stem_once

        self.normalize = ImageNormalize(in_channels, mean, std)
        if stem == "cifar":
            self.conv1 = layer.Conv2d(in_channels, base_width, 3, stride=1, padding=1, bias=False, step_mode="m")
        else:
            self.conv1 = layer.Conv2d(in_channels, base_width, 7, stride=2, padding=3, bias=False, step_mode="m")
        self.bn1 = layer.BatchNorm2d(base_width, step_mode="m")
        self.sn1 = make_lif(decay, backend)
        self.maxpool = layer.MaxPool2d(3, stride=2, padding=1, step_mode="m") if stem == "imagenet" else nn.Identity()

        widths = [base_width * k for k in (1, 2, 4, 8)]
        in_planes = base_width
        for index, (planes, stride) in enumerate(zip(widths, (1, 2, 2, 2)), start=1):
            blocks = nn.Sequential(SpikingBasicBlock(in_planes, planes, stride, decay, backend),
                                   SpikingBasicBlock(planes, planes, 1, decay, backend))
            self.add_module(f"layer{index}", blocks)
            in_planes = planes
        self.avgpool = layer.AdaptiveAvgPool2d((1, 1), step_mode="m")
        self.fc = layer.Linear(widths[-1], num_classes, step_mode="m")
        self._init_weights()

    @property
    def time_steps(self) -> int:
        """Number of simulation steps T; may be changed between forwards."""
        return self._time_steps

    @time_steps.setter
    def time_steps(self, value: int) -> None:
        self._time_steps = check_positive_int("time_steps", value)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def stem_sequence(self, x: Tensor) -> Tensor:
        """Normalized images ``[B, C, H, W]`` -> stem output ``[T, B, C', H', W']`` (before ``sn1``)."""
        T = self.time_steps
        if self.stem_once:
            static = self.bn1(self.conv1(x.unsqueeze(0)))
            return static.expand(T, *static.shape[1:])
        x_seq = x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
        return self.bn1(self.conv1(x_seq))

    def forward_sequence(self, x: Tensor) -> Tensor:
        """Images ``[B, C, H, W]`` in [0, 1] -> per-step output-layer values ``[T, B, num_classes]``."""
        check_images(x, self.in_channels, type(self).__name__)
        reset_states(self)
        out = self.maxpool(self.sn1(self.stem_sequence(self.normalize(x))))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = self.fc(self.avgpool(out).flatten(2))
        detach_states(self)
        return out

    def forward(self, x: Tensor) -> Tensor:
        """Images ``[B, C, H, W]`` in [0, 1] -> logits ``[B, num_classes]`` (time-mean of ``fc``)."""
        return self.forward_sequence(x).mean(0)

    def extra_repr(self) -> str:
        return (f"num_classes={self.num_classes}, in_channels={self.in_channels}, time_steps={self.time_steps}, "
                f"stem={self.stem!r}, backend={self.backend!r}, decay={self.decay}, stem_once={self.stem_once}")
