"""The ``mango-pl`` command: LightningCLI's fit / validate / test / predict over the mango-pl modules and
datamodules (:class:`~mango_pl.lightning_cli.MangoCLI`), plus ``export-generator``, ``search``, ``report`` and
``loop``. Each command imports what it uses when it runs: ``mango-pl --help``, ``report`` and ``loop`` never
load Lightning.

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
from typing import TYPE_CHECKING, NoReturn

from mango_pl.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from lightning.pytorch.cli import ArgsType

#: LightningCLI's subcommands (run by MangoCLI) -> their line in ``mango-pl --help``
LIGHTNING_COMMANDS = {
    "fit": "train a classifier or a stimulus generator (LightningCLI, --config FILE)",
    "validate": "one evaluation epoch over the validation set (LightningCLI)",
    "test": "one evaluation epoch over the test set (LightningCLI)",
    "predict": "run inference on the data (LightningCLI)",
}

#: Subcommands that mango-pl adds next to LightningCLI's -> their line in ``mango-pl --help``
EXTRA_COMMAND_HELP = {
    "export-generator": "save the generator of a trained checkpoint as a small standalone file",
    "search": "search the MEIs of saved checkpoints",
    "report": "draw the paper's figures of a run (PNGs, CSVs, index.html)",
    "loop": "closed-loop sessions with a rig: init, ask, tell, status, export, run",
}

#: Subcommands that mango-pl adds next to LightningCLI's fit / validate / test / predict.
EXTRA_COMMANDS = tuple(EXTRA_COMMAND_HELP)

#: MangoCLI is imported from mango_pl.lightning_cli on first use (it needs Lightning)
__getattr__, __dir__ = lazy_exports(__name__, {"lightning_cli": ("MangoCLI",)})


def overview() -> str:
    """The text of ``mango-pl --help``: every subcommand with one line, and where their options are."""
    commands = {**LIGHTNING_COMMANDS, **EXTRA_COMMAND_HELP}
    width = max(map(len, commands)) + 2
    lines = [f"  {name:<{width}}{line}" for name, line in commands.items()]
    return ("usage: mango-pl COMMAND [OPTIONS]\n\n"
            "mango-pl: gradient-free most-exciting-image search for spiking and ordinary networks.\n\n"
            "commands:\n" + "\n".join(lines) + "\n\n"
            "Run 'mango-pl COMMAND --help' for the full options of a command, e.g. mango-pl fit --help.\n")


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
        args: arguments instead of ``sys.argv[1:]`` (a list, or a dict for LightningCLI), for calling from Python.

    Example:
        >>> main(["fit", "--config", "configs/digits/spiking_resnet18.yaml", "--trainer.max_epochs", "1"])  # doctest: +SKIP
    """
    argv = list(sys.argv[1:] if args is None else args) if not isinstance(args, dict) else None
    if argv is not None and (not argv or argv[0] in ("-h", "--help")):
        print_overview(help_asked=bool(argv))
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
    from mango_pl.lightning_cli import MangoCLI

    MangoCLI(args=args)
    return None


def print_overview(help_asked: bool) -> NoReturn:
    """``mango-pl --help``: print the subcommands and exit 0; ``mango-pl`` alone: print them as an error, exit 2.

    Raises:
        SystemExit: always, as argparse's ``--help`` does.
    """
    if help_asked:
        print(overview(), end="")
        raise SystemExit(0)
    print(overview() + "mango-pl: error: a command is required", file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    sys.exit(main())
