"""Whole-layer MEI search: 64 units batched into one search vs a loop of 64 one-unit searches.

Same network, method, budget and stimulus space; an early and a late spiking layer of the spiking
ResNet18. Prints a markdown table (seconds, images per second, speed-up). On a GPU, run with
``--device cuda`` (and the paper's sizes: ``--base-width 64 --time-steps 50 --image-size 32``).

    python benchmarks/layer_search.py                       # CPU-sized defaults
    python benchmarks/layer_search.py --loop-units 8        # time 8 of the 64 loop searches, scale by 8x
    python benchmarks/layer_search.py --device cuda --base-width 64 --time-steps 50 --image-size 32 --channels 3
"""

from __future__ import annotations

import argparse
import time

import torch

from mango_pl.mei import MEIRequest, SearchSettings, search_layers
from mango_pl.probe import ProbeSettings
from mango_pl.models import SNGANGenerator, SpikingResNet18
from mango_pl.stimuli import GeneratorSpace


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def search(model, layer, units, space, args, device) -> float:
    """Seconds of one engine search of ``units`` of ``layer`` (one run of the method)."""
    settings = SearchSettings((args.method,), repeats=1, budget=args.budget)
    sync(device)
    started = time.perf_counter()
    probe = ProbeSettings(batch_limit=args.batch_limit, precision=args.precision, device=str(device))
    search_layers(model, MEIRequest((layer,), space, {layer: units}, settings, probe))
    sync(device)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--method", default="tt")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--loop-units", type=int, default=None,
                        help="time only this many of the per-unit searches and scale up (stated in the table)")
    parser.add_argument("--layers", nargs="+", default=["sn1", "layer4.1.sn2"])
    parser.add_argument("--base-width", type=int, default=64)
    parser.add_argument("--time-steps", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--batch-limit", type=int, default=1024)
    parser.add_argument("--precision", default="auto", choices=["auto", "float32", "float64"])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = SpikingResNet18(num_classes=10, in_channels=args.channels, time_steps=args.time_steps,
                            base_width=args.base_width).to(device).eval()
    generator = SNGANGenerator(latent_dim=128, channels=64, out_channels=args.channels,
                               image_size=args.image_size)
    space = GeneratorSpace(generator=generator)
    loop_units = args.loop_units or args.units

    print(f"device {device}, method {args.method}, budget {args.budget} queries per unit, "
          f"{args.units} units, ResNet18 width {args.base_width}, T={args.time_steps}, "
          f"{args.channels}x{args.image_size}x{args.image_size} images, precision {args.precision}\n")
    print("| layer | units | batched 64 units (s) | loop of 64 one-unit searches (s) | speed-up | images/s batched |")
    print("|---|---:|---:|---:|---:|---:|")
    with torch.no_grad():
        for layer in args.layers:
            units = list(range(args.units))
            batched = search(model, layer, units, space, args, device)
            loop = sum(search(model, layer, [u], space, args, device) for u in units[:loop_units])
            loop *= args.units / loop_units
            note = "" if loop_units == args.units else f" (from {loop_units} units)"
            print(f"| {layer} | {args.units} | {batched:.2f} | {loop:.2f}{note} | {loop / batched:.1f}x | "
                  f"{args.units * args.budget / batched:.0f} |")


if __name__ == "__main__":
    main()
