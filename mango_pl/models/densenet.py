"""DenseNet 121/161/169/201 (torchvision's definitions) adapted to small images and 1 or 3 channels."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from mango_pl.checks import check_choice, check_positive_int
from mango_pl.models.normalization import ImageNormalize, check_images

#: Valid values of the ``depth`` argument.
DENSENET_DEPTHS = (121, 161, 169, 201)


class DenseNet32(nn.Module):
    """torchvision DenseNet for small images (CIFAR-style stem).

    Changes to ``torchvision.models.densenet{depth}``: the stem ``features.conv0`` is a 3x3,
    stride-1 conv on ``in_channels`` (instead of 7x7, stride 2) and ``features.pool0`` is the
    identity, so a 32x32 image reaches the last dense block at 4x4 (16x16: 2x2). Everything else,
    names included (``features.denseblock1`` ... ``features.norm5``, ``classifier``), is torchvision's.

    Args:
        num_classes: number of output classes.
        in_channels: image channels (1 or 3).
        depth: 121, 161, 169 or 201.
        memory_efficient: torchvision's checkpointed dense layers (less memory, slower).
        mean: per-channel input mean; ``None``: CIFAR-10 statistics (3 channels) or 0.5 (1 channel).
        std: per-channel input std; ``None``: as for ``mean``.

    Raises:
        ValueError: ``depth`` not in :data:`DENSENET_DEPTHS`, ``num_classes < 1``.

    Example:
        >>> DenseNet32(in_channels=1)(torch.rand(2, 1, 16, 16)).shape
        torch.Size([2, 10])
    """

    is_spiking = False

    def __init__(self, num_classes: int = 10, in_channels: int = 3, depth: int = 121, memory_efficient: bool = False,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        super().__init__()
        check_choice("DenseNet depth", depth, DENSENET_DEPTHS)
        check_positive_int("num_classes", num_classes)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.depth = depth
        self.normalize = ImageNormalize(in_channels, mean, std)
        reference = torchvision.models.get_model(f"densenet{depth}", weights=None, num_classes=num_classes,
                                                 memory_efficient=memory_efficient)
        self.features = reference.features
        stem_width = self.features.conv0.out_channels
        self.features.conv0 = nn.Conv2d(in_channels, stem_width, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(self.features.conv0.weight)
        self.features.pool0 = nn.Identity()
        self.classifier = reference.classifier

    def forward(self, x: Tensor) -> Tensor:
        """Images ``[B, C, H, W]`` in [0, 1] -> logits ``[B, num_classes]``."""
        check_images(x, self.in_channels, type(self).__name__)
        out = F.relu(self.features(self.normalize(x)))
        out = F.adaptive_avg_pool2d(out, (1, 1)).flatten(1)
        return self.classifier(out)
