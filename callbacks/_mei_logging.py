"""Send MEI images, scalars and histograms to whatever loggers the trainer has.

TensorBoard and W&B get all three; any other Lightning logger (CSV, MLflow, ...) gets the
scalars through its ``log_metrics``. Lightning's loggers already act on global rank 0 only.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import lightning.pytorch as pl
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from torch import Tensor


def log_scalars(trainer: "pl.Trainer", metrics: Mapping[str, float], step: int) -> None:
    for logger in trainer.loggers:
        logger.log_metrics(dict(metrics), step=step)


def log_image(trainer: "pl.Trainer", key: str, image: Tensor, caption: str, step: int) -> None:
    """``image``: float ``[3, H, W]`` in [0, 1] (an MEI grid with its captions drawn in)."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image.clamp(0, 1).float().cpu(), global_step=step)
            logger.experiment.add_text(f"{key}/caption", caption, global_step=step)
        elif isinstance(logger, WandbLogger):
            array = (image.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype("uint8")
            logger.log_image(key=key, images=[array], caption=[caption], step=step)


def log_histogram(trainer: "pl.Trainer", key: str, values: Tensor, step: int) -> None:
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_histogram(key, values.float().cpu(), global_step=step)
        elif isinstance(logger, WandbLogger):
            import wandb

            logger.experiment.log({key: wandb.Histogram(values.float().cpu().numpy()), "trainer/global_step": step})


def flush(trainer: "pl.Trainer") -> None:
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.flush()


def caption_lines(units: Sequence[int], activation: Tensor, top_class: Tensor, confidence: Tensor) -> list[str]:
    """One short caption per MEI: unit, activation, top class and its probability."""
    return [f"u{u} a{a:.2f} c{c}:{p:.2f}" for u, a, c, p in
            zip(units, activation.tolist(), top_class.tolist(), confidence.tolist())]
