"""Peak memory of a whole-layer MEI search against its batch limit.

A 64-unit search with the ``tt-b`` preset (k=25: 64 × 25 = 1,600 images per ask) is run in a
fresh process per batch limit; the table gives the process's peak resident memory before the
search (model, generator, float64 copies) and during it, so the search's own share is the
difference. The batch limit caps how many images are decoded and probed at once, so the search's
share must grow with the limit and stay bounded by it, not by units × k.

    python benchmarks/search_memory.py                      # CPU, limits 64 256 1024 1600
    python benchmarks/search_memory.py --limits 32 128 --layer layer4.1.sn2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(args: argparse.Namespace) -> None:
    import torch

    from mango_pl.mei import MEIRequest, SearchSettings, search_layers
    from mango_pl.probe import ProbeSettings
    from mango_pl.models import SNGANGenerator, SpikingResNet18
    from mango_pl.stimuli import GeneratorSpace

    torch.manual_seed(0)
    model = SpikingResNet18(num_classes=10, in_channels=1, time_steps=args.time_steps,
                            base_width=args.base_width).eval()
    space = GeneratorSpace(generator=SNGANGenerator(latent_dim=128, channels=64, out_channels=1,
                                                    image_size=args.image_size))
    units = {args.layer: list(range(args.units))}
    # a one-step search first: copies made, forward stop found, so "before" holds the fixed costs
    probe = ProbeSettings(batch_limit=args.limit)
    search_layers(model, MEIRequest(tuple(units), space, units, SearchSettings(("tt-b",), repeats=1, budget=25,
                                                                               max_steps=1), probe))
    before = peak_mib()
    search_layers(model, MEIRequest(tuple(units), space, units, SearchSettings(("tt-b",), repeats=1,
                                                                               budget=args.budget), probe))
    print(json.dumps({"limit": args.limit, "before": before, "peak": peak_mib()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limits", type=int, nargs="+", default=[64, 256, 1024, 1600])
    parser.add_argument("--layer", default="layer2.0.sn1")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--base-width", type=int, default=32)
    parser.add_argument("--time-steps", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(f"tt-b (k=25), {args.units} units of {args.layer}, budget {args.budget}, ResNet18 width "
          f"{args.base_width}, T={args.time_steps}, {args.image_size}x{args.image_size}, float64 on CPU\n")
    print("| batch limit | images per ask | peak RSS before search (MiB) | peak RSS during search (MiB) | search's share (MiB) |")
    print("|---:|---:|---:|---:|---:|")
    for limit in args.limits:
        command = [sys.executable, __file__, "--child", "--limit", str(limit), "--layer", args.layer,
                   "--units", str(args.units), "--budget", str(args.budget), "--base-width", str(args.base_width),
                   "--time-steps", str(args.time_steps), "--image-size", str(args.image_size)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        row = json.loads(out)
        print(f"| {limit} | {args.units * 25} | {row['before']:.0f} | {row['peak']:.0f} | "
              f"{row['peak'] - row['before']:.0f} |")


if __name__ == "__main__":
    main()
