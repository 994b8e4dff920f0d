"""Argument checks shared by the datamodules (private: clear ``ValueError`` messages)."""

from __future__ import annotations

#: Image channel counts a datamodule can deliver: gray (1) or RGB (3).
VALID_CHANNELS = (1, 3)


def check_image_args(image_size: int, channels: int, batch_size: int, num_workers: int) -> None:
    """Raise a ``ValueError`` naming the fix if an image/loader argument is out of range."""
    if not isinstance(image_size, int) or image_size < 4:
        raise ValueError(f"image_size must be an int >= 4 (pixels per side), got {image_size!r}.")
    if channels not in VALID_CHANNELS:
        raise ValueError(f"channels must be one of {VALID_CHANNELS} (1 = gray, 3 = RGB), got {channels!r}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}.")
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an int >= 0 (0 = load in the main process), got {num_workers!r}.")


def check_fraction(value: float, name: str) -> None:
    """Raise a ``ValueError`` unless ``0 < value < 1``."""
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be a fraction strictly between 0 and 1 (e.g. 0.1), got {value!r}.")
