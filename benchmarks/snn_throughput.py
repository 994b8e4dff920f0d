"""Throughput of the spiking ResNet18 forward: stem computed once vs once per time step, CPU and GPU backends.

Measures images per second of ``SpikingResNet18`` (eval mode, ``torch.no_grad``) on a random
batch, with the non-spiking stem computed once and broadcast over T (``stem_once=True``) and
computed at every step (``stem_once=False``). On the CPU the ``torch`` backend is measured; when
CUDA is available also the ``torch`` and ``cupy`` backends on the GPU (each GPU row runs in a
child process: SpikingJelly >= 2.0 picks its CUDA kernel once per process, from the environment
variable ``SJ_LIF_CUDA_IMPLEMENTATION``, which is set to ``torch`` for the torch backend and left
on ``auto`` (fused CUDA/Triton kernels) for the cupy backend). Prints a markdown table.

Example:
    python benchmarks/snn_throughput.py --time-steps 8 --batch 16 --base-width 32 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

from mango_pl.models import SpikingResNet18
from mango_pl.models.lif import lif_takes_backend


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-steps", type=int, default=50, help="simulation steps T (paper: 50)")
    parser.add_argument("--batch", type=int, default=64, help="images per forward")
    parser.add_argument("--base-width", type=int, default=64, help="channels of layer1 (ResNet18: 64)")
    parser.add_argument("--image-size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--stem", choices=("cifar", "imagenet"), default="cifar")
    parser.add_argument("--repeats", type=int, default=3, help="timed forwards per row (the median is reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed forwards before timing")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: the CPU, plus the GPU when CUDA is available")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def measure_pair(device: str, backend: str, args: argparse.Namespace) -> tuple[float, float]:
    """Median seconds per batch with the stem per step and once (same weights), measured in this process.

    The two variants alternate within every repeat, so a change in machine load hits both alike.
    """
    torch.manual_seed(0)
    nets = [SpikingResNet18(time_steps=args.time_steps, base_width=args.base_width, stem=args.stem,
                            backend=backend, stem_once=stem_once).to(device).eval() for stem_once in (False, True)]
    nets[1].load_state_dict(nets[0].state_dict())
    x = torch.rand(args.batch, 3, args.image_size, args.image_size, device=device)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    times: list[list[float]] = [[], []]
    with torch.no_grad():
        for i in range(args.warmup + args.repeats):
            for net, record in zip(nets, times):
                sync()
                start = time.perf_counter()
                net(x)
                sync()
                if i >= args.warmup:
                    record.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def measure_in_child(backend: str, argv: list[str]) -> tuple[float, float]:
    """Run :func:`measure_pair` on the GPU in a fresh process with the SpikingJelly kernel choice set."""
    env = dict(os.environ)
    if not lif_takes_backend():
        env["SJ_LIF_CUDA_IMPLEMENTATION"] = "torch" if backend == "torch" else "auto"
    result = subprocess.run([sys.executable, __file__, *argv, "--child", backend], env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"child process failed with exit code {result.returncode}")
    per_step, once = json.loads(result.stdout.strip().splitlines()[-1])
    return per_step, once


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.child is not None:
        print(json.dumps(measure_pair("cuda", args.child, args)))
        return

    rows = []
    devices = ["cpu"] if args.device == "cpu" else ["cuda"] if args.device == "cuda" else ["cpu", "cuda"]
    for device in devices:
        if device == "cuda" and not torch.cuda.is_available():
            print("> CUDA is not available here: GPU rows (torch and cupy backends) skipped.\n")
            continue
        for backend in (("torch",) if device == "cpu" else ("torch", "cupy")):
            try:
                per_step, once = (measure_pair(device, backend, args) if device == "cpu"
                                  else measure_in_child(backend, argv))
            except RuntimeError as error:
                print(f"> {device}/{backend} skipped: {error}\n")
                continue
            rows.append((device, backend, "per step", per_step, ""))
            rows.append((device, backend, "once", once, f"{per_step / once:.2f}x"))

    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU, {torch.get_num_threads()} threads"
    print(f"Spiking ResNet18 forward (eval, no_grad): T={args.time_steps}, batch={args.batch}, "
          f"base_width={args.base_width}, {args.image_size}x{args.image_size}, stem={args.stem}, "
          f"median of {args.repeats} (variants interleaved) after {args.warmup} warm-up; {name}; torch {torch.__version__}\n")
    print("| device | backend | stem | s / batch | images / s | stem-once speed-up |")
    print("|---|---|---|---:|---:|---:|")
    for device, backend, stem, seconds, speedup in rows:
        print(f"| {device} | {backend} | {stem} | {seconds:.3f} | {args.batch / seconds:.1f} | {speedup} |")


if __name__ == "__main__":
    main()
