"""The ``mango-pl`` command: a LightningCLI over the mango-pl modules and datamodules, plus ``export-generator``.

Examples::

    mango-pl fit --config configs/digits/spiking_resnet18.yaml
    mango-pl fit --config configs/digits/sngan.yaml --trainer.max_epochs 5
    mango-pl test --config configs/digits/spiking_resnet18.yaml --ckpt_path runs/.../last.ckpt
    mango-pl fit --config configs/cifar10/spiking_resnet18.yaml --print_config
    mango-pl export-generator runs/digits_sngan/version_0/checkpoints/last.ckpt my_generator.pt
    mango-pl search --config configs/digits/search.yaml    # MEIs of saved checkpoints (mango_pl/mei/command.py)
    mango-pl report runs/demo                              # the paper's figures of a run (mango_pl/report/)
    mango-pl loop init runs/session --config examples/loop/digits_session.yaml   # a closed loop (mango_pl/loop/)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import ArgsType, LightningCLI

import mango_pl.data  # noqa: F401  (registers the datamodules for short class names in YAML)
import mango_pl.lit  # noqa: F401  (registers the LightningModules for short class names in YAML)

#: Subcommands that mango-pl adds next to LightningCLI's fit / validate / test / predict.
EXTRA_COMMANDS = ("export-generator", "search", "report", "loop")

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


def export_generator(argv: Sequence[str]) -> int:
    """``mango-pl export-generator CKPT OUT``: write a trained generator as a small standalone file.

    Returns:
        The process exit code (0 on success).
    """
    from mango_pl.models.checkpoint import load_generator, save_generator

    parser = argparse.ArgumentParser(
        prog="mango-pl export-generator",
        description="Read the generator of an SNGANModule / VQVAEModule Lightning checkpoint and save it as a "
                    "small standalone file that mango_pl.models.checkpoint.load_generator reads.")
    parser.add_argument("checkpoint", help="Lightning checkpoint, e.g. runs/<name>/version_0/checkpoints/last.ckpt")
    parser.add_argument("output", help="file to write, e.g. my_generator.pt")
    options = parser.parse_args(list(argv))
    try:
        generator = load_generator(options.checkpoint)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"mango-pl export-generator: error: {err}\n")
    path = save_generator(generator, options.output)
    size_kb = path.stat().st_size / 1024
    print(f"saved {type(generator).__name__} ({size_kb:.0f} KiB, grid d={generator.grid.d}, n={generator.grid.n}) "
          f"to {path}")
    return 0


def main(args: ArgsType = None) -> int | None:
    """Entry point of the ``mango-pl`` console script.

    Args:
        args: arguments instead of ``sys.argv[1:]`` (a list), for calling from Python.

    Example:
        >>> main(["fit", "--config", "configs/digits/spiking_resnet18.yaml", "--trainer.max_epochs", "1"])  # doctest: +SKIP
    """
    argv = list(sys.argv[1:] if args is None else args) if not isinstance(args, dict) else None
    if argv and argv[0] == "export-generator":
        return export_generator(argv[1:])
    if argv and argv[0] == "search":
        from mango_pl.mei.command import main as search_main

        return search_main(argv[1:])
    if argv and argv[0] == "report":
        from mango_pl.report.command import main as report_main

        return report_main(argv[1:])
    if argv and argv[0] == "loop":
        from mango_pl.loop.command import main as loop_main

        return loop_main(argv[1:])
    MangoCLI(args=args)
    return None


if __name__ == "__main__":
    sys.exit(main())
