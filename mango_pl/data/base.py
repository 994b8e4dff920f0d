"""The common base of the mango-pl datamodules: image size/channels, loaders, and the [0, 1] contract."""

from __future__ import annotations

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from mango_pl.checks import check_choice, check_int, check_non_negative_int, check_positive_int

#: Image channel counts a datamodule can deliver: gray (1) or RGB (3).
VALID_CHANNELS = (1, 3)


class ImageDataModule(LightningDataModule):
    """Base class: holds ``train_set`` / ``val_set`` / ``test_set`` and builds their loaders.

    Every batch is ``(images, labels)`` with images float ``[B, channels, image_size, image_size]``
    in [0, 1] (never normalized: the models normalize themselves) and labels long ``[B]``.
    Subclasses fill the three sets in ``setup`` and set ``num_classes``. Datamodules do not call
    ``save_hyperparameters``: their ``image_size``/``channels`` would clash with the generator
    modules' arguments of the same names when Lightning merges both for the logger (the
    LightningCLI saves the full config next to the logs instead).

    Args:
        image_size: side of the delivered images in pixels.
        channels: 1 (gray) or 3 (RGB); sources with the other count are converted.
        batch_size: images per batch.
        num_workers: loader worker processes (0 = main process).

    Raises:
        ValueError: if an argument is out of range (the message names the valid range).
    """

    num_classes: int

    def __init__(self, image_size: int, channels: int, batch_size: int = 128, num_workers: int = 0) -> None:
        super().__init__()
        check_int("image_size", image_size, 4, hint="pixels per side")
        check_choice("channels", channels, VALID_CHANNELS, hint="1 = gray, 3 = RGB")
        check_positive_int("batch_size", batch_size, hint="images per batch")
        check_non_negative_int("num_workers", num_workers, hint="0 = load in the main process")
        self.image_size = image_size
        self.channels = channels
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, image_size, image_size)`` of every delivered image."""
        return (self.channels, self.image_size, self.image_size)

    def _loader(self, dataset: Dataset | None, name: str, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"the {name} set of {type(self).__name__} is not built; call setup() first "
                               "(the Trainer does this for you).")
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, "train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, "validation", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, "test", shuffle=False)
