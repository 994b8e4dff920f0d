"""An image grid of MEIs with a caption strip under each tile, for TensorBoard / W&B image logging."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from mango_pl.analysis._images import images_to_uint8_hwc
from mango_pl.checks import check_fraction, check_non_negative_int, check_positive_int

#: With ``scale=None`` tiles are upscaled (nearest) to at least this many pixels wide.
MIN_TILE_WIDTH = 96
CAPTION_MARGIN = 2
CAPTION_TEXT = (255, 255, 255)
CAPTION_BACKGROUND = (0, 0, 0)


def _font() -> ImageFont.ImageFont:
    """Pillow's built-in bitmap font (no files, same pixels everywhere)."""
    loader = getattr(ImageFont, "load_default_imagefont", None)  # Pillow >= 10.1
    return loader() if loader is not None else ImageFont.load_default()


def _caption_lines(captions: Sequence[str] | None, count: int) -> list[list[str]]:
    if captions is None:
        return [[] for _ in range(count)]
    if isinstance(captions, str) or not isinstance(captions, Sequence):
        raise TypeError(f"captions must be a list of {count} strings or None, got {type(captions).__name__}.")
    if len(captions) != count:
        raise ValueError(
            f"captions has {len(captions)} entries but there are {count} images; give one caption per image."
        )
    lines = []
    for k, caption in enumerate(captions):
        if not isinstance(caption, str):
            raise TypeError(f"captions[{k}] must be a str, got {type(caption).__name__}.")
        # The bitmap font covers Latin-1; anything else is drawn as '?'.
        text = caption.encode("latin-1", "replace").decode("latin-1")
        lines.append(text.split("\n") if text else [])
    return lines


def mei_grid(
    images: Tensor,
    captions: Sequence[str] | None = None,
    nrow: int = 8,
    scale: int | None = None,
    padding: int = 2,
    pad_value: float = 1.0,
) -> Tensor:
    """Lay MEIs out in a grid, upscaled (nearest) and captioned, as one RGB image tensor.

    Each cell is the tile (upscaled by ``scale``) above a black strip with its caption in white
    (Pillow's bitmap font, e.g. ``"u3 0.92 7:0.81"`` = unit, activation, top class:probability;
    ``"\\n"`` starts a new line). Cells are as wide as the widest of tile and caption, tiles centred.
    Grayscale images are repeated to 3 channels.

    Args:
        images: ``[N, C, H, W]`` with C in {1, 3}; float in [0, 1] (or uint8 in [0, 255]).
        captions: N strings, or ``None`` for no caption strip.
        nrow: number of cells per row (>= 1; fewer when N is smaller).
        scale: integer upscaling factor; ``None`` picks the smallest one that makes tiles at least
            ``MIN_TILE_WIDTH`` (96) pixels wide, so 16×16 and 32×32 MEIs stay readable.
        padding: pixels between cells and around the grid (>= 0).
        pad_value: gray level of the padding, in [0, 1].

    Returns:
        ``[3, H', W']`` float32 tensor in [0, 1] (CPU), ready for ``SummaryWriter.add_image``.

    Raises:
        TypeError: ``images`` is not a tensor or ``captions`` not a list of str.
        ValueError: bad image shape/dtype/range, a caption count that differs from N, or
            ``nrow``/``scale``/``padding``/``pad_value`` out of range.

    Example:
        >>> grid = mei_grid(torch.rand(4, 3, 16, 16), ["u0 0.9 3:0.8"] * 4, nrow=2)
        >>> grid.shape[0], bool(grid.min() >= 0), bool(grid.max() <= 1)
        (3, True, True)
    """
    pixels = images_to_uint8_hwc(images)
    n, h, w, c = pixels.shape
    check_positive_int("nrow", nrow)
    check_non_negative_int("padding", padding)
    check_positive_int("scale", scale, hint="None: automatic", optional=True)
    if scale is None:
        scale = max(1, math.ceil(MIN_TILE_WIDTH / w))
    check_fraction("pad_value", pad_value)
    lines = _caption_lines(captions, n)

    font = _font()
    line_height = font.getbbox("Ag")[3] + 1
    text_width = max((font.getbbox(line)[2] for cell in lines for line in cell), default=0)
    strip_height = max(len(cell) for cell in lines) * line_height
    strip_height += 2 * CAPTION_MARGIN if strip_height else 0
    tile_h, tile_w = h * scale, w * scale
    cell_w = max(tile_w, text_width + 2 * CAPTION_MARGIN if text_width else 0)
    cell_h = tile_h + strip_height
    cols = min(nrow, n)
    rows = math.ceil(n / cols)

    gray = round(pad_value * 255)
    canvas = Image.new("RGB", (padding + cols * (cell_w + padding), padding + rows * (cell_h + padding)), (gray,) * 3)
    draw = ImageDraw.Draw(canvas)
    rgb = np.repeat(pixels, 3, axis=-1) if c == 1 else pixels
    for k in range(n):
        x0 = padding + (k % cols) * (cell_w + padding)
        y0 = padding + (k // cols) * (cell_h + padding)
        tile = Image.fromarray(rgb[k]).resize((tile_w, tile_h), Image.Resampling.NEAREST)
        canvas.paste(tile, (x0 + (cell_w - tile_w) // 2, y0))
        if strip_height:
            draw.rectangle((x0, y0 + tile_h, x0 + cell_w - 1, y0 + cell_h - 1), fill=CAPTION_BACKGROUND)
            for i, line in enumerate(lines[k]):
                position = (x0 + CAPTION_MARGIN, y0 + tile_h + CAPTION_MARGIN + i * line_height)
                draw.text(position, line, fill=CAPTION_TEXT, font=font)
    return torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1).float().div(255.0)
