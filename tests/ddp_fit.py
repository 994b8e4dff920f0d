"""Run by tests/test_reliability.py: a fit with MEISearchCallback on 1 or 2 CPU processes (gloo),
writing the gathered MEI results of rank 0 to OUT.

Usage: python tests/ddp_fit.py OUT DEVICES
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning.pytorch as pl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callbacks import MEISearchCallback  # noqa: E402
from mango_pl.stimuli import GeneratorSpace  # noqa: E402
from tests.mei_helpers import PlainClassifier, PlantedGenerator, planted_loader  # noqa: E402


def main(out: str, devices: int) -> None:
    torch.set_num_threads(1)
    pl.seed_everything(0)
    module = PlainClassifier(units=6, n=8, lr=0.0)  # lr 0: the same weights on 1 or 2 processes
    mei = MEISearchCallback(layers=["features"], units=6, methods=["tt-s", "random"], budget=60,
                            space=GeneratorSpace(generator=PlantedGenerator(n=8)), seed=3,
                            save_dir=str(Path(out).parent / f"meis-{devices}"), progress=False)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=devices,
                         strategy="ddp" if devices > 1 else "auto", logger=False, callbacks=[mei],
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, planted_loader())
    if trainer.is_global_zero:
        result = mei.last_results["features"].meis
        runs = {label: {key: getattr(run, key) for key in ("index", "history", "activation", "probs", "images")}
                for label, run in result.runs.items()}
        torch.save({"units": result.units, "world_size": trainer.world_size, "meis": runs,
                    "state": mei.state_dict()}, out)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
