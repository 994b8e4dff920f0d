"""VGG 11/13/16/19 (torchvision's definitions) adapted to small images and 1 or 3 channels."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from mango_pl.checks import check_choice, check_positive_int
from mango_pl.models._torchvision import materialize, meta_torchvision_model
from mango_pl.models.normalization import ImageNormalize, check_images

#: Valid values of the ``depth`` argument.
VGG_DEPTHS = (11, 13, 16, 19)


class VGG32(nn.Module):
    """torchvision VGG for small images (CIFAR-style).

    Changes to ``torchvision.models.vgg{depth}[_bn]``: the first conv reads ``in_channels``; every
    max-pool uses ``ceil_mode=True`` so inputs whose side is not divisible by 32 (28, 16) still work
    (for 32x32 this changes nothing); ``avgpool`` is adaptive to 1x1; the classifier keeps
    torchvision's layout (``classifier.0`` ... ``classifier.6``) on 512 features with ``hidden`` units.
    The conv trunk keeps torchvision's names (``features.0``, ...) and initialization.

    Args:
        num_classes: number of output classes.
        in_channels: image channels (1 or 3).
        depth: 11, 13, 16 or 19.
        batch_norm: use the ``_bn`` variant (BatchNorm after every conv).
        hidden: width of the two hidden classifier layers.
        dropout: dropout probability in the classifier.
        mean: per-channel input mean; ``None``: CIFAR-10 statistics (3 channels) or 0.5 (1 channel).
        std: per-channel input std; ``None``: as for ``mean``.

    Raises:
        ValueError: ``depth`` not in :data:`VGG_DEPTHS`, ``num_classes < 1``.

    Example:
        >>> VGG32(depth=11, in_channels=3)(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    is_spiking = False

    def __init__(self, num_classes: int = 10, in_channels: int = 3, depth: int = 16, batch_norm: bool = True,
                 hidden: int = 512, dropout: float = 0.5,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        super().__init__()
        check_choice("VGG depth", depth, VGG_DEPTHS)
        check_positive_int("num_classes", num_classes)
        check_positive_int("hidden", hidden)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.depth = depth
        self.normalize = ImageNormalize(in_channels, mean, std)
        reference = meta_torchvision_model(f"vgg{depth}{'_bn' if batch_norm else ''}", num_classes=num_classes)
        self.features = reference.features
        self.features[0] = nn.Conv2d(in_channels, self.features[0].out_channels, kernel_size=3, padding=1)
        for m in self.features:
            if isinstance(m, nn.MaxPool2d):
                m.ceil_mode = True
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(
            nn.Linear(512, hidden), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        materialize(self)
        self._init_weights()

    def _init_weights(self) -> None:
        """torchvision's VGG initialization."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Images ``[B, C, H, W]`` in [0, 1] -> logits ``[B, num_classes]``."""
        check_images(x, self.in_channels, type(self).__name__)
        x = self.avgpool(self.features(self.normalize(x)))
        return self.classifier(x.flatten(1))
