"""Search on several processes: GPUs of a node, nodes of a cluster, or CPU processes (gloo).

``ParallelSettings`` names the processes as Lightning does (``accelerator``, ``devices``,
``num_nodes``, ``strategy``); :func:`launch` starts them with Lightning Fabric — its own launcher,
``torchrun`` or SLURM, whichever launched the program — and gives each process its :class:`Ranks`:
which one it is, its device, and a gather of Python objects across all of them. The engine splits
the work by unit (population mode: by layer), each unit keeps its seed, and process 0 merges and
writes, so the files do not depend on the number of processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mango_pl.checks import check_non_negative_int, check_positive_int


@dataclass(frozen=True)
class ParallelSettings:
    """The processes a search runs on, named as ``lightning.Fabric`` / ``Trainer`` name them.

    Attributes:
        accelerator: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"gpu"``, ``"mps"``.
        devices: devices (processes) per node; an int, ``"auto"`` or a list of device indices.
        num_nodes: machines.
        strategy: ``"auto"``, ``"ddp"`` (one process per device, started by Fabric, ``torchrun`` or
            SLURM), ``"ddp_spawn"``...

    Raises:
        ValueError: a number of nodes below 1, devices that are not a positive int, ``"auto"``, or a
            list of device indices.

    Example:
        >>> ParallelSettings(accelerator="cuda", devices=8).single
        False
    """

    accelerator: str = "auto"
    devices: int | str | Sequence[int] = 1
    num_nodes: int = 1
    strategy: str = "auto"

    def __post_init__(self) -> None:
        check_positive_int("`num_nodes`", self.num_nodes, hint="machines")
        devices = self.devices
        if isinstance(devices, (list, tuple)):
            if not devices:
                raise ValueError("`devices` as a list must name at least one device index, got []")
            object.__setattr__(self, "devices", tuple(check_non_negative_int("`devices`: a device index", d)
                                                      for d in devices))
        elif devices != "auto":
            check_positive_int("`devices`", devices, hint="processes per node, 'auto', or a list of indices")

    @property
    def single(self) -> bool:
        """Whether this is one process on one device: the plain, unlaunched path."""
        return self.devices == 1 and self.num_nodes == 1 and self.strategy == "auto"


@dataclass
class Ranks:
    """This process among the processes of a search.

    Attributes:
        rank: its global rank (0 merges, writes and logs).
        world: how many processes search.
        device: its device.
        gather: ``gather(obj) -> [obj of rank 0, obj of rank 1, ...]`` on every process (a collective:
            every process calls it the same number of times).
    """

    rank: int
    world: int
    device: torch.device
    gather: Callable[[Any], list[Any]]

    @classmethod
    def alone(cls, device: torch.device | str = "cpu") -> "Ranks":
        """One process: the gather of an object is the object."""
        return cls(0, 1, torch.device(device), lambda obj: [obj])

    @property
    def is_zero(self) -> bool:
        return self.rank == 0


def launch(settings: ParallelSettings) -> Ranks:
    """Start (or join) the processes of ``settings`` with Lightning Fabric and return this one's ranks.

    Launched by Fabric itself (``ddp``: the program is started again once per further process, so
    call this before any work), by ``torchrun`` or by SLURM (``srun``), Fabric finds its place from
    the environment.

    Raises:
        ValueError: options Fabric rejects (its message), e.g. an unknown strategy or accelerator, or
            more devices than the machine has.
    """
    from lightning.fabric import Fabric
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        fabric = Fabric(accelerator=settings.accelerator, devices=list(settings.devices)
                        if isinstance(settings.devices, tuple) else settings.devices,
                        num_nodes=settings.num_nodes, strategy=settings.strategy)
        fabric.launch()
    except (MisconfigurationException, RuntimeError, ValueError, TypeError) as error:
        message = " ".join(str(error).split())
        raise ValueError(f"the processes cannot start with accelerator={settings.accelerator!r}, "
                         f"devices={settings.devices!r}, num_nodes={settings.num_nodes}, "
                         f"strategy={settings.strategy!r}: {message}") from None
    world = fabric.world_size

    def gather(obj: Any) -> list[Any]:
        if world == 1:
            return [obj]
        out: list[Any] = [None] * world
        torch.distributed.all_gather_object(out, obj)
        return out

    return Ranks(fabric.global_rank, world, fabric.device, gather)


def work_groups(units: dict[str, list[int]], shared: bool, world: int) -> list[dict[str, list[int]]]:
    """The layers searched together, in order: one layer at a time, its units split across the
    processes; in population mode (a layer is searched whole by one process) ``world`` layers at a
    time. Each group ends with a gather, after which process 0 writes the group's layers."""
    layers = list(units)
    size = world if shared else 1
    return [{layer: units[layer] for layer in layers[i: i + size]} for i in range(0, len(layers), size)]


def share_of(units: dict[str, list[int]], shared: bool, rank: int, world: int) -> dict[str, list[int]]:
    """The units process ``rank`` of ``world`` searches, ``{layer: channels}`` (empty for none):
    every ``world``-th unit of each layer, or in population mode whole layers in turn. Seeds depend
    on the unit only, so the shares together equal one process."""
    if shared:
        return {layer: chosen if position % world == rank else [] for position, (layer, chosen) in enumerate(units.items())}
    return {layer: chosen[rank::world] for layer, chosen in units.items()}
