"""Offline handwritten digits (scikit-learn's 8x8 set, shipped with scikit-learn: no network needed)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from mango_pl.checks import check_number
from mango_pl.data.base import ImageDataModule
from mango_pl.data.splits import holdout_sizes, seeded_split

#: The digits are 8x8 with intensities 0..16.
DIGITS_SIDE = 8
DIGITS_MAX = 16.0


def load_digit_images(image_size: int = 8, channels: int = 1) -> tuple[Tensor, Tensor]:
    """All 1797 scikit-learn digits as ``([N, channels, image_size, image_size]`` float in [0, 1], ``[N]`` long).

    Upscaling is bilinear; gray is repeated to 3 channels when ``channels == 3``.

    Example:
        >>> x, y = load_digit_images(16, 3)
        >>> tuple(x.shape), int(y.max())
        ((1797, 3, 16, 16), 9)
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / DIGITS_MAX
    if image_size != DIGITS_SIDE:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)
    images = images.clamp_(0.0, 1.0).repeat(1, channels, 1, 1).contiguous()
    return images, torch.as_tensor(digits.target, dtype=torch.long)


class DigitsDataModule(ImageDataModule):
    """Scikit-learn's handwritten digits (10 classes, 1797 images), upscaled to what a model needs; offline.

    The seeded split is disjoint: ``val_fraction`` and ``test_fraction`` of the images are held out,
    the rest trains.

    Args:
        image_size: side in pixels (the source is 8x8; bilinear upscaling).
        channels: 1 (gray) or 3 (gray repeated).
        batch_size: images per batch.
        num_workers: loader worker processes.
        val_fraction: share of images for validation.
        test_fraction: share of images for testing.
        seed: seed of the split (the same seed gives the same split).

    Raises:
        ValueError: for out-of-range arguments.

    Example:
        >>> dm = DigitsDataModule(image_size=16, channels=3, batch_size=32)
        >>> dm.setup("fit")
        >>> x, y = next(iter(dm.train_dataloader()))
        >>> tuple(x.shape)
        (32, 3, 16, 16)
    """

    num_classes = 10

    def __init__(
        self,
        image_size: int = 16,
        channels: int = 1,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
    ) -> None:
        super().__init__(image_size, channels, batch_size, num_workers)
        check_number("val_fraction", val_fraction, 0, 1, open_low=True, open_high=True,
                     hint="a share of the images, e.g. 0.1")
        check_number("test_fraction", test_fraction, 0, 1, open_low=True, open_high=True,
                     hint="a share of the images, e.g. 0.1")
        if val_fraction + test_fraction >= 0.9:
            raise ValueError(f"val_fraction + test_fraction = {val_fraction + test_fraction:.2f} leaves too little "
                             "to train on; keep their sum below 0.9.")
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        images, labels = load_digit_images(self.image_size, self.channels)
        sizes = holdout_sizes(len(labels), [self.val_fraction, self.test_fraction])
        train_idx, val_idx, test_idx = seeded_split(len(labels), sizes, self.seed)
        self.split_indices = {"train": train_idx, "val": val_idx, "test": test_idx}
        self.train_set = TensorDataset(images[train_idx], labels[train_idx])
        self.val_set = TensorDataset(images[val_idx], labels[val_idx])
        self.test_set = TensorDataset(images[test_idx], labels[test_idx])
