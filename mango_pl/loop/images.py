"""Stimulus image files: grid points decoded by the space into 8-bit files, reference images, and back.

Decoding runs in float64 (a float64 copy of a generator), so a grid point gives the same file
bytes alone or in any batch, in any process: a batch asked again reproduces its files exactly.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from mango_pl.analysis._images import images_to_uint8_hwc
from mango_pl.loop.config import IMAGE_FORMATS, ReferenceSettings, SessionConfigError, instantiate
from mango_pl.stimuli import StimulusSpace, adapt_images


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_images(images: Tensor, fmt: str) -> list[bytes]:
    """``images [N, C, H, W]`` in [0, 1] (C = 1 or 3) -> one 8-bit image file's bytes each."""
    pixels = images_to_uint8_hwc(images.to("cpu", torch.float32).clamp(0.0, 1.0))
    files = []
    for image in pixels:
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format=IMAGE_FORMATS[fmt])
        files.append(buffer.getvalue())
    return files


def render_stimuli(space: StimulusSpace, points: list[tuple[int, ...]], fmt: str) -> list[bytes]:
    """The image file bytes of each grid point, decoded by ``space`` (already adapted to the file size)."""
    if not points:
        return []
    return encode_images(space.decode(torch.tensor(points, dtype=torch.long)), fmt)


def read_image(path: Path) -> Tensor:
    """An image file as ``[C, H, W]`` float in [0, 1] (C = 1 for gray, 3 for anything else)."""
    with Image.open(path) as image:
        image = image.convert("L" if image.mode in ("L", "I", "I;16", "1", "F") else "RGB")
        pixels = np.asarray(image, dtype=np.float32) / 255.0
    tensor = torch.from_numpy(pixels.copy())
    return tensor.unsqueeze(0) if tensor.dim() == 2 else tensor.permute(2, 0, 1)


def reference_images(settings: ReferenceSettings, channels: int, size: int) -> Tensor:
    """The reference images ``[R, channels, size, size]`` in [0, 1]: the files, then the dataset items.

    Raises:
        SessionConfigError: a file that is missing or not an image, a dataset index out of range.
    """
    images = []
    for name in settings.files:
        path = Path(name)
        if not path.is_file():
            raise SessionConfigError(f"references.files: no image at {name!r} (resolved: {path.resolve()}); fix the path")
        try:
            images.append(adapt_images(read_image(path)[None], channels, size)[0])
        except OSError as error:
            raise SessionConfigError(f"references.files: {name!r} is not an image Pillow can read ({error})") from error
    if settings.indices:
        module = instantiate(settings.data, "references.data", default_module="mango_pl.data")
        module.prepare_data()
        module.setup("fit" if settings.split in ("train", "val") else "test")
        dataset = getattr(module, f"{settings.split}_set", None)
        if dataset is None:
            raise SessionConfigError(f"references.data: {type(module).__name__} has no {settings.split}_set after "
                                     f"setup(); choose another references.split")
        for i in settings.indices:
            if i >= len(dataset):
                raise SessionConfigError(f"references.indices: {i} is past the {len(dataset)} images of the "
                                         f"{settings.split} split; use 0..{len(dataset) - 1}")
            item = dataset[i]
            image = (item[0] if isinstance(item, (tuple, list)) else item).float()
            images.append(adapt_images(image[None].clamp(0, 1), channels, size)[0])
    if not images:
        return torch.zeros(0, channels, size, size)
    return torch.stack(images)
