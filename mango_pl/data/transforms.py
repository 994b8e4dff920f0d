"""Picklable image transforms: PIL image -> float tensor ``[C, H, W]`` in [0, 1] of the requested size/channels.

No normalization here: the models normalize their inputs themselves (the mango-pl data contract).
"""

from __future__ import annotations

from PIL import Image
from torchvision import transforms as T


class ConvertMode:
    """Convert a PIL image to mode ``"L"`` (1 channel) or ``"RGB"`` (3 channels; gray is repeated)."""

    def __init__(self, channels: int) -> None:
        self.mode = "L" if channels == 1 else "RGB"

    def __call__(self, image: Image.Image) -> Image.Image:
        return image if image.mode == self.mode else image.convert(self.mode)

    def __repr__(self) -> str:
        return f"ConvertMode(mode={self.mode!r})"


def image_transform(
    image_size: int, channels: int, augment: bool = False, native_size: int | None = None, flip: bool = True
) -> T.Compose:
    """PIL -> ``[channels, image_size, image_size]`` float tensor in [0, 1].

    Args:
        image_size: output side in pixels (bilinear resize; skipped when it equals ``native_size``).
        channels: 1 (gray) or 3 (RGB).
        augment: random crop (padding ``image_size // 8``) and, if ``flip``, horizontal flip (training sets).
        native_size: side of the source images when all have the same one (skips the resize).
        flip: include the horizontal flip in the augmentation (off for digits/characters).

    Example:
        >>> image_transform(16, 3)(Image.new("L", (28, 28))).shape
        torch.Size([3, 16, 16])
    """
    steps: list = [ConvertMode(channels)]
    if native_size != image_size:
        steps.append(T.Resize((image_size, image_size), interpolation=T.InterpolationMode.BILINEAR, antialias=True))
    if augment:
        steps.append(T.RandomCrop(image_size, padding=max(1, image_size // 8)))
        if flip:
            steps.append(T.RandomHorizontalFlip())
    steps.append(T.ToTensor())
    return T.Compose(steps)
