"""LightningDataModules. Every one delivers ``(images, labels)`` with images float in [0, 1] (never normalized)."""

from mango_pl.data.base import ImageDataModule
from mango_pl.data.digits import DigitsDataModule, load_digit_images
from mango_pl.data.image_folder import ImageFolderDataModule
from mango_pl.data.splits import seeded_split
from mango_pl.data.torchvision_sets import (
    CIFAR10DataModule,
    FashionMNISTDataModule,
    MNISTDataModule,
    TorchvisionDataModule,
)

__all__ = [
    "CIFAR10DataModule",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "ImageDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
    "TorchvisionDataModule",
    "load_digit_images",
    "seeded_split",
]
