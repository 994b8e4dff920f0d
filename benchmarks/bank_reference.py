"""The neuron bank's reference maximum of each unit: one long run of the strongest method for its grid.

For every unit of the bank (every grid, network and layer; the responsive units, see
``bank_networks.py``), one noise-free run of ``--queries`` (10,000) queries of ``--method``: the
default method (``mango_pl.search.DEFAULT_METHOD``), or one per grid (``--method vqvae=elite
sngan=cma``). A layer's units are searched together, as in the bank, seeded apart from every bank
run (seed ``REFERENCE_SEED``; the bank's seeds are 0, 1, ...), and cached like the bank's jobs
(same ``--cache``, keyed by the settings and the source of the method's searcher).

The result is a small committed table, ``results/neuron_bank/reference_maxima.csv``: grid,
network, layer, unit, the run's best noise-free value, method, queries, seconds (the layer's wall
time divided among its units, so the column sums to the reference's CPU time) and weights (the
fingerprint of the network's weights, ``bank_networks.network_fingerprint``: the bank is trained
on each machine, not bit-exactly alike everywhere, and uses a row only for the weights it was made
with). The bank report
(``bank_report.py``) normalizes a unit by its **reference**: the larger of this value and the best
any bank method reached; the reference runs' time is reported apart from the bank's.

``neuron_bank.py`` imports this module for ``read_table`` and ``TABLE``; the runs themselves go
through ``neuron_bank.run_all`` (imported when they are made).

    python benchmarks/bank_reference.py --workers 2                     # every unit (~25 min on 2 cores)
    python benchmarks/bank_reference.py --method vqvae=elite sngan=cma  # one method per grid
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bank_networks as bank  # noqa: E402

from mango_pl.search import DEFAULT_METHOD  # noqa: E402

#: the committed table
TABLE = Path(__file__).resolve().parent / "results" / "neuron_bank" / "reference_maxima.csv"
FIELDS = ("grid", "network", "layer", "unit", "value", "method", "queries", "seconds", "weights")
REFERENCE_QUERIES = 10_000
#: the reference runs' seed: never one of the bank's (0, 1, ... ``--seeds``)
REFERENCE_SEED = 1_000_000
#: besides the last query, what the reference run would return here is recorded (for a look at
#: how far the bank's budgets are from it; the reference value is the run's best query)
RECORD_AT = (2000, 5000)


def parse_methods(items: list[str], grids: list[str], default: str = DEFAULT_METHOD) -> dict[str, str]:
    """``["elite"]`` -> every grid ``elite``; ``["vqvae=elite", "sngan=cma"]`` -> one per grid; a bare
    method is for the grids not named; grids given none get ``default``.

    Raises:
        ValueError: an unknown grid, a grid named twice, or more than one bare method.
    """
    bare = [item for item in items if "=" not in item]
    if len(bare) > 1:
        raise ValueError(f"give one method for every grid or one per grid as GRID=METHOD, got {items}")
    chosen: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            continue
        grid, method = item.split("=", 1)
        if grid not in grids:
            raise ValueError(f"unknown grid {grid!r} in {item!r}: choose among {', '.join(grids)}")
        if grid in chosen:
            raise ValueError(f"grid {grid!r} given two methods")
        chosen[grid] = method
    return {grid: chosen.get(grid, bare[0] if bare else default) for grid in grids}


def read_table(path: Path = TABLE) -> list[dict]:
    """The reference table's rows (``unit`` and ``queries`` as int, ``value`` and ``seconds`` as float;
    ``weights`` empty in tables older than that column)."""
    with open(path, newline="") as file:
        return [{**row, "unit": int(row["unit"]), "value": float(row["value"]), "queries": int(row["queries"]),
                 "seconds": float(row["seconds"]), "weights": row.get("weights") or ""}
                for row in csv.DictReader(file)]


def rows_for_weights(rows: list[dict], cache: Path) -> tuple[list[dict], list[str]]:
    """The rows made with the networks now cached (see ``FIELDS``' weights), and a line per network
    whose rows were made with other weights (those units get no reference row)."""
    kept, stale = [], {}
    for row in rows:
        current = bank.network_fingerprint(str(cache), row["network"])
        if row["weights"] == current:
            kept.append(row)
        else:
            stale[row["network"]] = stale.get(row["network"], 0) + 1
    return kept, [f"the reference table's {count} rows of {network} were made with other weights than the network "
                  f"cached in {cache} (a network trained anew is not bit-exactly the same); those units are "
                  f"normalized by the best any bank method reached: rerun benchmarks/bank_reference.py for them"
                  for network, count in stale.items()]


def write_table(rows: list[dict], path: Path = TABLE) -> None:
    """Write ``rows`` (sorted by grid, network, layer, unit) to ``path`` as csv."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda row: (row["grid"], row["network"], row["layer"], int(row["unit"])))
    with open(path.with_suffix(".tmp"), "w", newline="") as file:
        writer = csv.DictWriter(file, FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**{k: row[k] for k in FIELDS}, "value": repr(float(row["value"])),
                             "seconds": f"{float(row['seconds']):.2f}"})
    path.with_suffix(".tmp").replace(path)


def unit_key(row: dict) -> tuple:
    return row["grid"], row["network"], row["layer"], int(row["unit"])


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """The rows of ``old`` whose unit ``new`` has no row for, then ``new``."""
    replaced = {unit_key(row) for row in new}
    return [row for row in old if unit_key(row) not in replaced] + new


def rows_from_records(records: list[dict], weights: dict[str, str]) -> list[dict]:
    """One row per unit of the reference jobs' records: its best noise-free value (its best query),
    with its network's ``weights`` fingerprint (``{network: fingerprint}``)."""
    rows = []
    for record in records:
        share = record["wall_seconds"] / len(record["units"])
        for p, unit in enumerate(record["units"]):
            if record["silent"][p]:
                continue
            rows.append({"grid": record["grid"], "network": record["network"], "layer": record["layer"],
                         "unit": unit, "value": max([record["true_max"][p], *record["true_at"][p]]),
                         "method": record["method"], "queries": record["budgets"][-1], "seconds": share,
                         "weights": weights[record["network"]]})
    return rows


def main(argv: list[str] | None = None) -> None:
    import neuron_bank as nb  # the bank's jobs, cache and workers (it imports this module too)

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", nargs="+", default=[DEFAULT_METHOD], metavar="[GRID=]METHOD",
                        help=f"the reference method: one for every grid, or one per grid as GRID=METHOD (e.g. "
                             f"vqvae=elite sngan=cma); default {DEFAULT_METHOD}")
    parser.add_argument("--queries", type=int, default=REFERENCE_QUERIES, help="queries per unit")
    parser.add_argument("--grids", nargs="+", default=list(bank.GRIDS), choices=list(bank.GRIDS))
    parser.add_argument("--networks", nargs="+", default=list(bank.NETWORKS), choices=list(bank.NETWORKS))
    parser.add_argument("--layers", nargs="+", metavar="NETWORK/LAYER", help="only these layers of the bank")
    parser.add_argument("--units", type=int, default=6, help="responsive units per layer and grid (as the bank)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mango-pl" / "neuron_bank")
    parser.add_argument("--out", type=Path, default=TABLE,
                        help="the table (rows of units not run now are kept)")
    args = parser.parse_args(argv)
    try:
        methods = parse_methods(args.method, args.grids)
    except ValueError as error:
        parser.error(str(error))
    for grid, method in methods.items():
        nb._resolve(nb.split_method(method)[0])
        if nb.split_method(method)[0] in nb.ORDINAL_ONLY and grid != "sngan":
            parser.error(f"{method} needs a continuous latent: it cannot search the {grid} grid")
    known = [f"{network}/{layer}" for network in args.networks for layer in bank.NETWORKS[network].layers]
    unknown = sorted(set(args.layers or []) - set(known))
    if unknown:
        parser.error(f"unknown layers {unknown}: choose among {known}")
    settings = {"cache": str(args.cache), "units": args.units, "silent": 0, "budget": args.queries,
                "budgets": [b for b in RECORD_AT if b < args.queries] + [args.queries]}
    jobs = [nb.Job(grid, network, layer, methods[grid], "none", REFERENCE_SEED, "reference")
            for grid in args.grids for network in args.networks for layer in bank.NETWORKS[network].layers
            if not args.layers or f"{network}/{layer}" in args.layers]
    jobs.sort(key=lambda job: -nb.estimate_seconds(job, settings))
    bank.ensure_networks(args.cache, args.networks)
    nb.select_all_units(args.cache, args.grids, args.networks, args.units, 0)
    started = time.perf_counter()
    weights = {network: bank.network_fingerprint(str(args.cache), network) for network in args.networks}
    rows = rows_from_records(nb.run_all(jobs, settings, args.workers), weights)
    old = read_table(args.out) if args.out.exists() else []
    write_table(merge_rows(old, rows), args.out)
    cpu = sum(row["seconds"] for row in rows)
    print(f"reference: {len(rows)} units ({', '.join(f'{g}: {m}' for g, m in methods.items())}, {args.queries:,} "
          f"queries each): {cpu / 60:.1f} CPU-minutes in all (their runs' wall time, cached ones included), "
          f"{(time.perf_counter() - started) / 60:.1f} min now; written to {args.out}")


if __name__ == "__main__":
    main()
