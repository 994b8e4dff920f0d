"""``MangoCLI``: the LightningCLI behind ``mango-pl fit`` / ``validate`` / ``test`` / ``predict``.

Imported only by those commands (Lightning takes seconds to import); ``mango_pl.cli`` dispatches to it.
"""

from __future__ import annotations

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import ArgsType, LightningCLI

import mango_pl.data  # (registers the datamodules for short class names in YAML)
import mango_pl.lit  # noqa: F401  (registers the LightningModules for short class names in YAML)

_DESCRIPTION = (
    "mango-pl: train spiking/ordinary classifiers and stimulus generators (LightningCLI: fit, validate, test, "
    "predict with --config configs/...yaml), export a trained generator (mango-pl export-generator CKPT OUT), "
    "search the MEIs of saved checkpoints (mango-pl search --help), draw the paper's figures of a run "
    "(mango-pl report RUN_DIR; mango-pl report --help) and run closed-loop sessions with a recording rig "
    "(mango-pl loop init|ask|tell|status|export|run; mango-pl loop --help)."
)


class MangoCLI(LightningCLI):
    """LightningCLI for mango-pl: any LightningModule / LightningDataModule by ``class_path``; each module
    configures its own optimizers (no ``--optimizer`` / ``--lr_scheduler`` groups); the resolved config is
    saved next to the logs (overwriting a previous one of the same run folder).

    Args:
        args: command-line arguments (``None``: ``sys.argv[1:]``), a list, or a dict.
        run: run the subcommand (``False``: only instantiate model, data and trainer; no subcommand then).
        **kwargs: passed on to :class:`~lightning.pytorch.cli.LightningCLI`.

    Example:
        >>> cli = MangoCLI(args=["--config", "configs/digits/spiking_resnet18.yaml"], run=False)  # doctest: +SKIP
        >>> type(cli.model).__name__  # doctest: +SKIP
        'ClassifierModule'
    """

    def __init__(self, args: ArgsType = None, run: bool = True, **kwargs) -> None:
        kwargs.setdefault("model_class", LightningModule)
        kwargs.setdefault("datamodule_class", LightningDataModule)
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("auto_configure_optimizers", False)
        kwargs.setdefault("parser_kwargs", {"description": _DESCRIPTION})
        super().__init__(args=args, run=run, **kwargs)
