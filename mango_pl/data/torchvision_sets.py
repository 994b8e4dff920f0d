"""CIFAR-10, MNIST and Fashion-MNIST from torchvision (downloaded once into ``data_dir`` by ``prepare_data``)."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Subset
from torchvision import datasets

from mango_pl.data.base import ImageDataModule
from mango_pl.data.splits import seeded_split
from mango_pl.data.transforms import image_transform


class TorchvisionDataModule(ImageDataModule):
    """A torchvision classification set: its train split is divided (seeded) into train/val, test is the official one.

    Subclasses set ``dataset_class``, ``native_size``, ``native_channels`` and ``num_classes``.

    Args:
        data_dir: where the dataset lives / is downloaded to.
        image_size: side of the delivered images (bilinear resize when it differs from the native one).
        channels: 1 or 3 (gray is repeated to RGB, RGB is converted to luma).
        batch_size: images per batch.
        num_workers: loader worker processes.
        val_size: images of the official train split held out for validation.
        augment: random crop (+ horizontal flip where it makes sense, e.g. CIFAR-10) on the training images.
        seed: seed of the train/val split.
        download: let ``prepare_data`` download the files when missing (needs a network).

    Raises:
        ValueError: for out-of-range arguments.
        FileNotFoundError: in ``setup`` if the files are missing and ``download`` is off.
    """

    dataset_class: type = datasets.VisionDataset
    native_size: int = 32
    native_channels: int = 3
    train_items: int = 0
    #: whether augmentation flips horizontally (not for digits or clothing with a handedness)
    flip_augment: bool = True

    def __init__(
        self,
        data_dir: str = "data",
        image_size: int = 32,
        channels: int = 3,
        batch_size: int = 128,
        num_workers: int = 0,
        val_size: int = 5000,
        augment: bool = False,
        seed: int = 0,
        download: bool = True,
    ) -> None:
        super().__init__(image_size, channels, batch_size, num_workers)
        if not isinstance(val_size, int) or not 0 < val_size < self.train_items:
            raise ValueError(f"val_size must be an int in 1..{self.train_items - 1} (images of the "
                             f"{self.train_items}-image train split held out), got {val_size!r}.")
        self.data_dir = str(data_dir)
        self.val_size = val_size
        self.augment = augment
        self.seed = seed
        self.download = download

    def _dataset(self, train: bool, augment: bool, download: bool = False):
        transform = image_transform(self.image_size, self.channels, augment=augment, native_size=self.native_size,
                                    flip=self.flip_augment)
        try:
            return self.dataset_class(self.data_dir, train=train, transform=transform, download=download)
        except RuntimeError as err:  # torchvision: "Dataset not found. You can use download=True to download it"
            raise FileNotFoundError(
                f"{self.dataset_class.__name__} is not in {Path(self.data_dir).resolve()}; download it with "
                f"download=True and prepare_data() (needs a network; the Trainer calls prepare_data for you) or "
                f"copy the dataset there. ({err})"
            ) from err

    def prepare_data(self) -> None:
        if self.download:
            self.dataset_class(self.data_dir, train=True, download=True)
            self.dataset_class(self.data_dir, train=False, download=True)

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit", "validate") and self.train_set is None:
            train_full = self._dataset(train=True, augment=self.augment)
            eval_full = self._dataset(train=True, augment=False) if self.augment else train_full
            n = len(train_full)
            train_idx, val_idx = seeded_split(n, [n - self.val_size, self.val_size], self.seed)
            self.train_set = Subset(train_full, train_idx)
            self.val_set = Subset(eval_full, val_idx)
        if stage in (None, "test", "predict") and self.test_set is None:
            self.test_set = self._dataset(train=False, augment=False)


class CIFAR10DataModule(TorchvisionDataModule):
    """CIFAR-10 (10 classes, 32x32 RGB; 50k train of which ``val_size`` validate, 10k test).

    Args: see :class:`TorchvisionDataModule`. ``augment=True`` adds random crop + horizontal flip.

    Example:
        >>> dm = CIFAR10DataModule(data_dir="data", batch_size=128, augment=True)
        >>> dm.num_classes, dm.image_shape
        (10, (3, 32, 32))
    """

    dataset_class = datasets.CIFAR10
    native_size, native_channels, num_classes, train_items = 32, 3, 10, 50000


class MNISTDataModule(TorchvisionDataModule):
    """MNIST (10 classes, 28x28 gray; 60k train of which ``val_size`` validate, 10k test).

    Args: see :class:`TorchvisionDataModule` (defaults here: ``image_size=28``, ``channels=1``);
    ``augment`` is a random crop only (no flip for digits).

    Example:
        >>> MNISTDataModule(image_size=32, channels=3).image_shape
        (3, 32, 32)
    """

    dataset_class = datasets.MNIST
    native_size, native_channels, num_classes, train_items = 28, 1, 10, 60000
    flip_augment = False

    def __init__(
        self,
        data_dir: str = "data",
        image_size: int = 28,
        channels: int = 1,
        batch_size: int = 128,
        num_workers: int = 0,
        val_size: int = 5000,
        augment: bool = False,
        seed: int = 0,
        download: bool = True,
    ) -> None:
        super().__init__(data_dir, image_size, channels, batch_size, num_workers, val_size, augment, seed, download)


class FashionMNISTDataModule(MNISTDataModule):
    """Fashion-MNIST (10 clothing classes, 28x28 gray; 60k train of which ``val_size`` validate, 10k test).

    Args: see :class:`TorchvisionDataModule` (defaults here: ``image_size=28``, ``channels=1``).

    Example:
        >>> FashionMNISTDataModule().image_shape
        (1, 28, 28)
    """

    dataset_class = datasets.FashionMNIST
