"""Any ``root/<class>/<image>`` folder (ImageNet or your own images), resized to a fixed size."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Subset
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import find_classes

from mango_pl.checks import check_number
from mango_pl.data.base import ImageDataModule
from mango_pl.data.splits import holdout_sizes, seeded_split
from mango_pl.data.transforms import image_transform


def _class_names(folder: str, what: str) -> list[str]:
    path = Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"{what} {str(path)!r} is not a directory; point it at a folder laid out as "
                                "<folder>/<class name>/<image files>.")
    try:
        classes, _ = find_classes(str(path))
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{what} {str(path)!r} has no class sub-folders; lay it out as "
                                "<folder>/<class name>/<image files>.") from err
    return classes


class ImageFolderDataModule(ImageDataModule):
    """Images in class sub-folders (``root/<class>/*.png|jpg|...``), e.g. an ImageNet train folder.

    Validation is ``val_dir`` when given (same class sub-folders), otherwise a seeded
    ``val_fraction`` of ``root``. Testing uses ``test_dir`` when given, otherwise the validation set.

    Args:
        root: folder of training images, one sub-folder per class.
        image_size: side of the delivered images (every image is resized to a square, bilinear).
        channels: 1 or 3.
        batch_size: images per batch.
        num_workers: loader worker processes.
        val_fraction: share of ``root`` held out for validation when ``val_dir`` is not given.
        val_dir: a separate validation folder with the same classes.
        test_dir: a separate test folder with the same classes.
        augment: random crop + horizontal flip on the training images.
        seed: seed of the train/val split.

    Raises:
        FileNotFoundError: if a folder is missing or has no class sub-folders.
        ValueError: for out-of-range arguments or when ``val_dir``/``test_dir`` classes differ from ``root``'s.

    Example:
        >>> dm = ImageFolderDataModule("imagenet/train", image_size=64, val_dir="imagenet/val")  # doctest: +SKIP
        >>> dm.num_classes  # doctest: +SKIP
        1000
    """

    def __init__(
        self,
        root: str,
        image_size: int = 64,
        channels: int = 3,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        val_dir: str | None = None,
        test_dir: str | None = None,
        augment: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(image_size, channels, batch_size, num_workers)
        check_number("val_fraction", val_fraction, 0, 1, open_low=True, open_high=True,
                     hint="a share of the images, e.g. 0.1")
        self.classes = _class_names(root, "root")
        for folder, what in ((val_dir, "val_dir"), (test_dir, "test_dir")):
            if folder is not None and _class_names(folder, what) != self.classes:
                raise ValueError(f"{what} {folder!r} must hold the same class sub-folders as root {root!r} "
                                 f"({len(self.classes)} classes: {self.classes[:5]}...).")
        self.num_classes = len(self.classes)
        self.root, self.val_dir, self.test_dir = str(root), val_dir, test_dir
        self.val_fraction, self.augment, self.seed = val_fraction, augment, seed

    def _folder(self, path: str, augment: bool) -> ImageFolder:
        return ImageFolder(path, transform=image_transform(self.image_size, self.channels, augment=augment))

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        train_full = self._folder(self.root, self.augment)
        if self.val_dir is not None:
            self.train_set, self.val_set = train_full, self._folder(self.val_dir, False)
        else:
            eval_full = self._folder(self.root, False)
            n = len(train_full)
            train_idx, val_idx = seeded_split(n, holdout_sizes(n, [self.val_fraction]), self.seed)
            self.train_set, self.val_set = Subset(train_full, train_idx), Subset(eval_full, val_idx)
        self.test_set = self._folder(self.test_dir, False) if self.test_dir is not None else self.val_set
