"""Image complexity as compression ratio (paper Fig. 12): compressed size / raw size, JPEG and ZIP."""

from __future__ import annotations

import io
import zlib

import torch
from PIL import Image
from torch import Tensor

from mango_pl.analysis._images import images_to_uint8_hwc
from mango_pl.checks import check_int

#: zlib (deflate) level used for the "ZIP" ratio.
ZIP_LEVEL = 9


def _jpeg_size(pixels_hwc, quality: int) -> int:
    channels = pixels_hwc.shape[-1]
    image = Image.fromarray(pixels_hwc[..., 0] if channels == 1 else pixels_hwc)  # uint8: "L" or "RGB"
    buffer = io.BytesIO()
    # Fixed options so the size depends on the pixels only: 4:4:4 (no chroma subsampling),
    # baseline (not progressive), optimized Huffman tables (less fixed header overhead), no EXIF/ICC.
    image.save(buffer, format="JPEG", quality=quality, subsampling=0, optimize=True, progressive=False)
    return len(buffer.getvalue())


def compression_ratios(images: Tensor, jpeg_quality: int = 75) -> tuple[Tensor, Tensor]:
    """JPEG and ZIP compressed sizes of each image divided by its raw size ``C·H·W`` bytes.

    Lower ratio = simpler image (a constant image compresses to a few percent; noise does not
    compress). JPEG: Pillow, the given quality, 4:4:4 chroma, baseline, optimized Huffman tables;
    ZIP: ``zlib.compress`` (deflate) at level 9 of the interleaved ``H×W×C`` bytes. Both sizes include
    their format's fixed headers, so tiny images (16×16) can give JPEG ratios above 1.

    Args:
        images: ``[N, C, H, W]`` with C in {1, 3}; uint8 in [0, 255] or float in [0, 1]
            (mapped to uint8 with ``round(x * 255)``).
        jpeg_quality: JPEG quality, an integer in [1, 100].

    Returns:
        ``(jpeg, zip)``, two float32 tensors ``[N]`` (on the CPU).

    Raises:
        TypeError: ``images`` is not a tensor.
        ValueError: wrong shape or channel count, unsupported dtype, values out of range, or a
            ``jpeg_quality`` outside [1, 100].

    Example:
        >>> jpeg, zip_ = compression_ratios(torch.zeros(2, 3, 32, 32))
        >>> bool((zip_ < 0.1).all())
        True
    """
    check_int("jpeg_quality", jpeg_quality, 1, 100, hint="75 is the usual default")
    pixels = images_to_uint8_hwc(images)
    raw_size = float(pixels[0].size)
    jpeg = [_jpeg_size(image, jpeg_quality) / raw_size for image in pixels]
    zipped = [len(zlib.compress(image.tobytes(), ZIP_LEVEL)) / raw_size for image in pixels]
    return torch.tensor(jpeg, dtype=torch.float32), torch.tensor(zipped, dtype=torch.float32)
