"""AlexNet (torchvision's definition) adapted to small images (32x32, 28x28, 16x16) and 1 or 3 channels."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from mango_pl.checks import check_positive_int
from mango_pl.models._torchvision import materialize, meta_torchvision_model
from mango_pl.models.normalization import ImageNormalize, check_images

#: Smallest image side the three 3x3, stride-2 max-pools accept.
MIN_SIZE = 15


class AlexNet32(nn.Module):
    """torchvision AlexNet for small images.

    Changes to ``torchvision.models.alexnet``: the first conv is 3x3, stride 1 (instead of 11x11,
    stride 4) on ``in_channels``; ``avgpool`` is adaptive to 2x2 (so 32, 28 and 16 pixel inputs
    all work); the classifier keeps torchvision's layout (``classifier.0`` ... ``classifier.6``:
    dropout, linear, ReLU, dropout, linear, ReLU, linear) with ``hidden`` units instead of 4096.
    The conv trunk keeps torchvision's names (``features.0`` ... ``features.12``).

    Args:
        num_classes: number of output classes.
        in_channels: image channels (1 or 3).
        hidden: width of the two hidden classifier layers.
        dropout: dropout probability in the classifier.
        mean: per-channel input mean; ``None``: CIFAR-10 statistics (3 channels) or 0.5 (1 channel).
        std: per-channel input std; ``None``: as for ``mean``.

    Raises:
        ValueError: ``num_classes < 1``; in ``forward``, images smaller than 15x15 (three 3x3/2 max-pools).

    Example:
        >>> AlexNet32(num_classes=10, in_channels=1)(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    is_spiking = False

    def __init__(self, num_classes: int = 10, in_channels: int = 3, hidden: int = 1024, dropout: float = 0.5,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        super().__init__()
        check_positive_int("num_classes", num_classes)
        check_positive_int("hidden", hidden)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.normalize = ImageNormalize(in_channels, mean, std)
        reference = meta_torchvision_model("alexnet", num_classes=num_classes, dropout=dropout)
        self.features = reference.features
        self.features[0] = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1)
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 2 * 2, hidden), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )
        materialize(self)

    def forward(self, x: Tensor) -> Tensor:
        """Images ``[B, C, H, W]`` in [0, 1] (H, W >= 15) -> logits ``[B, num_classes]``."""
        check_images(x, self.in_channels, type(self).__name__)
        if min(x.shape[-2:]) < MIN_SIZE:
            raise ValueError(f"AlexNet32 needs images of at least {MIN_SIZE}x{MIN_SIZE} pixels, got {tuple(x.shape[-2:])}; "
                             "resize them (e.g. the datamodule's image_size=16) or use VGG32/DenseNet32.")
        x = self.avgpool(self.features(self.normalize(x)))
        return self.classifier(x.flatten(1))
