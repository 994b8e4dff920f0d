"""The neuron bank's networks, grids and units: trained on the offline digits once, then cached.

Three trained networks (a spiking ResNet18, the snnTorch conv SNN, an AlexNet), an early, a
middle and a late layer of each, probed through the two shipped generator grids (the digits
SN-GAN, d=128 x n=64, and the digits VQ-VAE, d=64 x n=512). Units are chosen per network, layer
and grid from a seeded permutation of the layer's channels:

* a unit is *responsive* when it responds (activation > 0) to at least one of 256 uniformly
  random stimuli of the grid (a fixed probe set, not counted as queries); the bank takes the
  first ``units`` responsive channels of the permutation;
* a spiking unit that already fires in every slot (rate 1) for some probe stimulus is
  *saturated*: every method scores 1 on it, so it tells methods apart by nothing and is skipped;
* the first ``silent`` channels of the permutation that never respond to the probe set are kept
  apart as *silent units*: they are searched like the others and reported on their own (their
  normalized score is undefined when no method wakes them).

Used by ``benchmarks/neuron_bank.py``; everything here is deterministic given the seeds.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mango_pl.models import AlexNet32, ConvSNN, SpikingResNet18, spiking_layer_names
from mango_pl.probe import LayerProbe
from mango_pl.stimuli import GeneratorSpace

ASSETS = Path(__file__).resolve().parents[1] / "mango_pl" / "assets"
GRIDS = {"sngan": ASSETS / "digits_sngan.pt", "vqvae": ASSETS / "digits_vqvae.pt"}
IMAGE_SIZE = 16
PROBE_STIMULI = 256


@dataclass(frozen=True)
class NetworkSpec:
    """A bank network: how to build and train it, and its early, middle and late probed layers."""

    name: str
    cls: type[nn.Module]
    kwargs: dict
    epochs: int
    lr: float
    layers: tuple[str, str, str]


NETWORKS = {
    spec.name: spec for spec in (
        NetworkSpec("spiking_resnet18", SpikingResNet18,
                    dict(num_classes=10, in_channels=1, time_steps=4, base_width=8), 12, 3e-3,
                    ("sn1", "layer2.1.sn2", "layer4.1.sn1")),
        NetworkSpec("snntorch_snn", ConvSNN, dict(num_classes=10, in_channels=1, image_size=IMAGE_SIZE, time_steps=20),
                    8, 2e-3, ("lif1", "lif2", "lif3")),
        NetworkSpec("alexnet", AlexNet32, dict(num_classes=10, in_channels=1, hidden=256, dropout=0.1), 10, 5e-4,
                    ("features.1", "features.7", "classifier.2")),
    )
}


def train_network(spec: NetworkSpec, path: Path) -> None:
    """Train ``spec`` on the offline digits (seeded) and save its weights and accuracy to ``path``."""
    import lightning.pytorch as pl

    from mango_pl.data import DigitsDataModule
    from mango_pl.lit import ClassifierModule

    pl.seed_everything(0, workers=True, verbose=False)
    module = ClassifierModule(spec.cls(**spec.kwargs), lr=spec.lr, optimizer="adam", scheduler="cosine")
    data = DigitsDataModule(image_size=IMAGE_SIZE, channels=1, batch_size=64, seed=0)
    trainer = pl.Trainer(max_epochs=spec.epochs, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, datamodule=data)
    accuracy = float(trainer.validate(module, datamodule=data, verbose=False)[0]["val/acc"])
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kwargs": spec.kwargs, "state_dict": module.model.state_dict(), "val_acc": accuracy},
               path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)


def network_path(cache: Path, name: str) -> Path:
    return cache / "networks" / f"{name}.pt"


def ensure_networks(cache: Path, names: list[str]) -> dict[str, float]:
    """Train (once) and cache every network; returns each one's validation accuracy."""
    accuracy = {}
    for name in names:
        path = network_path(cache, name)
        if not path.exists():
            print(f"training {name} on the digits (cached in {path}) ...", flush=True)
            train_network(NETWORKS[name], path)
        accuracy[name] = torch.load(path, map_location="cpu")["val_acc"]
    return accuracy


@functools.lru_cache(maxsize=None)
def network_fingerprint(cache: str, name: str) -> str:
    """A hash of the cached network's weights (12 hex digits). Training is seeded but not bit-exact
    across machines and thread counts, so a network trained anew may differ, and with it the units
    and their reference maxima: the reference table records the weights it was made with."""
    state = torch.load(network_path(Path(cache), name), map_location="cpu")["state_dict"]
    digest = hashlib.sha1()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()[:12]


@functools.lru_cache(maxsize=None)
def load_network(cache: str, name: str) -> nn.Module:
    """The cached trained network, in eval mode."""
    record = torch.load(network_path(Path(cache), name), map_location="cpu")
    network = NETWORKS[name].cls(**record["kwargs"])
    network.load_state_dict(record["state_dict"])
    return network.eval().requires_grad_(False)


@functools.lru_cache(maxsize=None)
def load_space(grid: str) -> GeneratorSpace:
    """The shipped generator grid, decoding gray images of the networks' size."""
    return GeneratorSpace(checkpoint=GRIDS[grid], channels=1, image_size=IMAGE_SIZE)


def natural_images(count: int, seed: int) -> torch.Tensor:
    """``count`` digits (seeded choice among all 1,797), gray, at the networks' size."""
    from mango_pl.data.digits import load_digit_images

    images, _ = load_digit_images(IMAGE_SIZE, 1)
    order = np.random.default_rng(_key("natural", seed)).permutation(images.shape[0])[:count]
    return images[torch.from_numpy(order)]


@dataclass
class LayerUnits:
    """The bank's units of one network layer on one grid."""

    network: str
    layer: str
    grid: str
    units: list[int]  # responsive units
    silent: list[int]  # units silent on the probe set, reported apart
    scale: list[float]  # per unit (units + silent): highest response to the probe set (1 when silent)
    channels: int


def _key(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def select_units(cache: Path, network: str, layer: str, grid: str, units: int, silent: int) -> LayerUnits:
    """Choose (and cache) the bank's units of ``network.layer`` on ``grid`` (see the module docstring)."""
    path = cache / "units" / f"{network}-{layer}-{grid}-{units}-{silent}.json"
    if path.exists():
        return LayerUnits(**json.loads(path.read_text()))
    model = load_network(str(cache), network)
    space = load_space(grid)
    generator = torch.Generator().manual_seed(_key("probe", grid))
    stimuli = torch.randint(0, space.grid.n, (PROBE_STIMULI, space.grid.d), generator=generator)
    with LayerProbe(model, [layer], precision="float32") as probe, torch.no_grad():
        responses = probe(space.decode(stimuli))[layer]  # [R, C]
    peak = responses.max(0).values
    ceiling = 1.0 if layer in spiking_layer_names(model) else math.inf
    order = np.random.default_rng(_key("units", network, layer)).permutation(responses.shape[1]).tolist()
    chosen = [u for u in order if 0 < peak[u] < ceiling][:units]
    quiet = [u for u in order if peak[u] <= 0][:silent]
    scale = [float(peak[u]) if peak[u] > 0 else 1.0 for u in chosen + quiet]
    result = LayerUnits(network, layer, grid, chosen, quiet, scale, int(responses.shape[1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(result)))
    return result
