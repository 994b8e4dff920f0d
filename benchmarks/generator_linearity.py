"""How well can a searcher guess a candidate's decoded image without decoding it?

``surrogate-image`` rates every candidate on its decoded image (avg-pooled to 8 x 8), which is
what makes it the strongest searcher on the SN-GAN grid and also what makes it cost 5-10x
``surrogate``'s time. A stand-in for the decoding would have to predict how a child's pooled image
differs from its parent's. This script measures that on the shipped digits SN-GAN (d=128 latent
coordinates, n=64 values each, decoded at the bank's 16 x 16, pooled to 8 x 8), for children that
change ``m`` random coordinates by up to ``s`` grid steps:

* a global **linear** emulator (least squares from the latent to the pooled pixels, fitted on
  ``--points`` random grid points) and a small **MLP** emulator (two hidden layers, Adam), both
  scored on the change from parent to child;
* a **Jacobian** (forward differences, one grid step per coordinate: ``d + 1`` decodes) taken at
  the parent itself, at a point 16 or 64 coordinates (up to 8 steps each) away, and at a random
  point: ``pixels(child) ~ pixels(parent) + J (child - parent)``.

The score is R^2 of the predicted pixel change over all children (1: exact, 0: no better than the
mean change). The table says whether the decoding can be replaced: globally no, locally (at the
candidate's own parent) yes, but a Jacobian costs ``d + 1`` decodes and most of a searcher's
candidates are not small moves from an elite whose Jacobian is known (crossovers, jumps, moves of
every coordinate): README's search section gives what a search with elite Jacobians measured.

    python benchmarks/generator_linearity.py
    python benchmarks/generator_linearity.py --points 8000 --parents 40
"""

from __future__ import annotations

import argparse
import time

import torch

import bank_networks as bank

#: children's moves: (coordinates changed, largest step in grid values)
MOVES = ((1, 2), (4, 3), (8, 6), (16, 6))


def r_squared(predicted: torch.Tensor, true: torch.Tensor) -> float:
    """R^2 of ``predicted`` against ``true`` (``[N, f]``), pooled over every pixel."""
    residual = (predicted - true).pow(2).sum()
    total = (true - true.mean(0)).pow(2).sum().clamp_min(1e-30)
    return float(1.0 - residual / total)


def children_of(parent: torch.Tensor, count: int, changed: int, step: int, n: int,
                generator: torch.Generator) -> torch.Tensor:
    """``count`` children of ``parent [d]``: ``changed`` random coordinates moved by -step..step."""
    d = parent.shape[0]
    children = parent.repeat(count, 1)
    for row in children:
        coordinates = torch.randperm(d, generator=generator)[:changed]
        moves = torch.randint(-step, step + 1, (changed,), generator=generator)
        row[coordinates] = (row[coordinates] + moves).clamp(0, n - 1)
    return children


def jacobian(pixels, point: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``pixels(point)`` and the forward-difference Jacobian ``[d, f]`` per grid step (``d + 1``
    decodes; a coordinate at the grid's top steps down instead)."""
    d = point.shape[0]
    shifted = point.repeat(d, 1)
    eye = torch.arange(d)
    sign = torch.where(shifted[eye, eye] + 1 < n, 1, -1)
    shifted[eye, eye] += sign
    decoded = pixels(torch.cat([point[None], shifted])).double()
    return decoded[0], (decoded[1:] - decoded[0]) * sign[:, None].double()


def mlp_emulator(latents: torch.Tensor, pooled: torch.Tensor, hidden: int, steps: int, seed: int) -> torch.nn.Module:
    """A latent -> pooled-pixels MLP fitted by Adam on mini-batches of 256."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(latents.shape[1], hidden), torch.nn.GELU(),
                              torch.nn.Linear(hidden, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, pooled.shape[1]))
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(steps):
        batch = torch.randint(0, latents.shape[0], (256,))
        loss = (net(latents[batch]) - pooled[batch]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=4000, help="random grid points the emulators are fitted on")
    parser.add_argument("--parents", type=int, default=20, help="parents per move size")
    parser.add_argument("--children", type=int, default=30, help="children per parent")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("points", "parents", "children"):
        if getattr(args, name) < 2:
            raise SystemExit(f"--{name} must be at least 2, got {getattr(args, name)}")

    torch.set_num_threads(1)
    space = bank.load_space("sngan")  # the bank's grid: gray 16 x 16 digits
    features = space.grid_features()
    d, n = space.grid.d, space.grid.n
    generator = torch.Generator().manual_seed(args.seed)

    def design(index: torch.Tensor) -> torch.Tensor:
        """The latent of each point and a constant 1: the linear emulator's inputs."""
        latent = features.vectors(index).reshape(index.shape[0], -1).double()
        return torch.cat([latent, torch.ones(index.shape[0], 1, dtype=torch.float64)], 1)

    def pixels(index: torch.Tensor) -> torch.Tensor:
        return features.images(index).double()

    train = torch.randint(0, n, (args.points, d), generator=generator)
    started = time.perf_counter()
    pooled = pixels(train)
    decode_ms = (time.perf_counter() - started) / args.points * 1e3
    inputs = design(train)
    linear = torch.linalg.lstsq(inputs, pooled).solution
    mlp = mlp_emulator(inputs[:, :-1].float(), pooled.float(), hidden=256, steps=2000, seed=args.seed)

    def emulated(kind: str, index: torch.Tensor) -> torch.Tensor:
        if kind == "linear":
            return design(index) @ linear
        with torch.no_grad():
            return mlp(design(index)[:, :-1].float()).double()

    anchors = (("at the parent", 0), ("16 coordinates away", 16), ("64 coordinates away", 64), ("at a random point", -1))
    rows: dict[str, list[float]] = {}
    for changed, step in MOVES:
        predicted: dict[str, list[torch.Tensor]] = {}
        true = []
        for _ in range(args.parents):
            parent = torch.randint(0, n, (d,), generator=generator)
            children = children_of(parent, args.children, changed, step, n, generator)
            base = pixels(parent[None])[0]
            true.append(pixels(children) - base)
            for kind in ("linear", "MLP"):
                predicted.setdefault(f"{kind} emulator", []).append(emulated(kind, children) - emulated(kind, parent[None]))
            for label, away in anchors:
                if away == 0:
                    anchor = parent
                elif away < 0:
                    anchor = torch.randint(0, n, (d,), generator=generator)
                else:
                    anchor = children_of(parent, 1, away, 8, n, generator)[0]
                _, slope = jacobian(pixels, anchor, n)
                predicted.setdefault(f"Jacobian {label}", []).append((children - parent).double() @ slope)
        truth = torch.cat(true)
        for label, parts in predicted.items():
            rows.setdefault(label, []).append(r_squared(torch.cat(parts), truth))

    print(f"digits SN-GAN, d={d}, n={n}, pooled to {pooled.shape[1]} pixels; "
          f"{decode_ms:.2f} ms per decoded image (one thread); emulators fitted on {args.points} random points; "
          f"{args.parents} parents x {args.children} children per move")
    print()
    header = " | ".join(f"{m} coord{'s' if m > 1 else ''} +-{s}" for m, s in MOVES)
    print(f"| R^2 of a child's pixel change, predicted by | {header} |")
    print("|---|" + "---:|" * len(MOVES))
    for label, values in rows.items():
        print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in values) + " |")


if __name__ == "__main__":
    main()
