"""Send images, scalars and histograms to whatever Lightning loggers a run has (one dispatch for all).

TensorBoard and W&B get all three; any other Lightning logger (CSV, MLflow, ...) gets the scalars
through its ``log_metrics``. Used by the LightningModules (sample grids), ``MEISearchCallback``
and ``mango-pl search``; the callers decide on which rank to call (Lightning's loggers already
act on global rank 0 only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lightning.pytorch.loggers import Logger, TensorBoardLogger, WandbLogger
from torch import Tensor


def log_scalars(loggers: Sequence[Logger], metrics: Mapping[str, float], step: int) -> None:
    """Every logger's ``log_metrics``."""
    for logger in loggers:
        logger.log_metrics(dict(metrics), step=step)


def log_image(loggers: Sequence[Logger], key: str, image: Tensor, step: int, caption: str | None = None) -> int:
    """``image``: float ``[3, H, W]`` in [0, 1] (gray ``[1, H, W]`` is repeated to RGB). TensorBoard
    gets ``add_image`` (and the caption as text under ``<key>/caption``), W&B ``log_image``.

    Returns:
        How many loggers took the image.
    """
    image = image.detach().float().cpu().clamp(0, 1)
    if image.shape[0] == 1:
        image = image.repeat(3, 1, 1)
    sent = 0
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, global_step=step)
            if caption is not None:
                logger.experiment.add_text(f"{key}/caption", caption, global_step=step)
            sent += 1
        elif isinstance(logger, WandbLogger):
            array = (image.permute(1, 2, 0).numpy() * 255).round().astype("uint8")
            logger.log_image(key=key, images=[array], caption=None if caption is None else [caption], step=step)
            sent += 1
    return sent


def log_histogram(loggers: Sequence[Logger], key: str, values: Tensor, step: int) -> None:
    """TensorBoard ``add_histogram``, W&B ``wandb.Histogram``; other loggers skip it."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_histogram(key, values.float().cpu(), global_step=step)
        elif isinstance(logger, WandbLogger):
            import wandb

            logger.experiment.log({key: wandb.Histogram(values.float().cpu().numpy()), "trainer/global_step": step})


def flush(loggers: Sequence[Logger]) -> None:
    """Write TensorBoard's pending events to disk."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.flush()
