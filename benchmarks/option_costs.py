"""What each option beyond one image per unit costs: seconds per searched epoch with and without it.

One searched epoch = ``search_layers`` of the given layers of a spiking ResNet18 (random weights;
the cost does not depend on training) in the shipped digits SN-GAN grid, the default searcher
(3 runs per unit), as ``MEISearchCallback`` runs it at an epoch end. Rows: the default; several
optima (``optima=3``: two further searches per unit and run); the graded readout
(``readout="current"``); unit importance (``ablation_samples`` labelled digits, each unit
silenced in turn); all three.

    python benchmarks/option_costs.py                       # CPU-sized defaults
    python benchmarks/option_costs.py --units 64 --budget 2000 --device cuda --base-width 64 --time-steps 50
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from mango_pl.data.digits import load_digit_images
from mango_pl.mei import MEIRequest, SearchSettings, search_layers
from mango_pl.probe import ProbeSettings
from mango_pl.models import SpikingResNet18
from mango_pl.stimuli import GeneratorSpace

ASSET = Path(__file__).resolve().parents[1] / "mango_pl" / "assets" / "digits_sngan.pt"


def epoch_seconds(network, units, space, settings, labelled, args) -> float:
    started = time.perf_counter()
    probe = ProbeSettings(batch_limit=args.batch_limit, precision=args.precision, device=args.device)
    search_layers(network, MEIRequest(tuple(units), space, units, settings, probe, labelled=labelled))
    if torch.device(args.device).type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", nargs="+", default=["sn1", "layer2.0.sn1", "layer4.1.sn2"])
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--ablation-samples", type=int, default=256)
    parser.add_argument("--base-width", type=int, default=16)
    parser.add_argument("--time-steps", type=int, default=4)
    parser.add_argument("--batch-limit", type=int, default=1024)
    parser.add_argument("--precision", default="float32", choices=["auto", "float32", "float64"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    network = SpikingResNet18(num_classes=10, in_channels=1, time_steps=args.time_steps,
                              base_width=args.base_width).to(args.device).eval()
    space = GeneratorSpace(checkpoint=ASSET)
    units = {layer: list(range(args.units)) for layer in args.layers}
    images, labels = load_digit_images(16, 1)
    labelled = (images[: args.ablation_samples], labels[: args.ablation_samples])
    rows = [("default (elite x3 runs)", {}, None), ("optima=3", {"optima": 3}, None),
            ("readout='current'", {"readout": "current"}, None),
            (f"ablation_samples={args.ablation_samples}", {}, labelled),
            ("all three", {"optima": 3, "readout": "current"}, labelled)]
    print(f"{len(args.layers)} layers x {args.units} units, budget {args.budget}, spiking ResNet18 width "
          f"{args.base_width}, T={args.time_steps}, {args.precision}, {args.device}, {args.threads} thread(s)\n")
    print("| option | seconds per searched epoch | x default |")
    print("|---|---:|---:|")
    base = None
    for name, options, data in rows:
        settings = SearchSettings(budget=args.budget, **options)
        seconds = epoch_seconds(network, units, space, settings, data, args)
        base = base or seconds
        print(f"| {name} | {seconds:.1f} | {seconds / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
