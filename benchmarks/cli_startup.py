"""How long the ``mango-pl`` commands take to start, and which heavy libraries each one imports.

    python benchmarks/cli_startup.py              # best of 3 runs per command
    python benchmarks/cli_startup.py --repeats 5

Each command runs in a fresh Python process (``python -c``, calling ``mango_pl.cli.main`` with the
command's arguments, as the console script does, on this checkout's mango_pl); the wall time is the whole
process, from start to exit.
The child then reports which of the heavy libraries were imported (``sys.modules``). ``loop status`` reads
a small session made beforehand (a DCT space, the default method, no references).
The targets: ``mango-pl --help`` under 2 s; ``report`` and ``loop`` commands import none of lightning,
spikingjelly, nevergrad, jax, snntorch or protes unless the session needs them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: libraries whose import costs seconds and that most commands never use
HEAVY = ("lightning", "spikingjelly", "nevergrad", "jax", "snntorch", "protes")

#: run in the child: call the command, then print the heavy libraries it imported on the last line
CHILD = """
import sys
from mango_pl.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = {heavy!r}
print()
print("IMPORTED:" + ",".join(name for name in heavy if name in sys.modules))
"""

SESSION_CONFIG = """space:
  class_path: mango_pl.stimuli.DCTSpace
  init_args: {image_size: 16, coefficients: 3, n: 8}
budget: 40
cells: 2
targets: [0]
batch_size: 4
seed: 0
"""


def run_command(args: list[str], environment: dict[str, str]) -> tuple[float, list[str]]:
    """Run ``mango-pl <args>`` in a fresh process; return its wall time (s) and the heavy libraries it imported."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", CHILD.format(heavy=HEAVY), *args], check=False, cwd=ROOT,
                            capture_output=True, text=True, env=environment, timeout=300)
    seconds = time.perf_counter() - start
    marker = [line for line in result.stdout.splitlines() if line.startswith("IMPORTED:")]
    if not marker:
        raise RuntimeError(f"mango-pl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    imported = marker[-1][len("IMPORTED:"):]
    return seconds, imported.split(",") if imported else []


def make_session(folder: Path, environment: dict[str, str]) -> Path:
    """A small closed-loop session (``mango-pl loop init``) for ``loop status`` to read."""
    config = folder / "session.yaml"
    config.write_text(SESSION_CONFIG)
    session = folder / "session"
    subprocess.run([sys.executable, "-m", "mango_pl.cli", "loop", "init", str(session), "--config", str(config)],
                   cwd=ROOT, check=True, capture_output=True, env=environment, timeout=300)
    return session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per command (the best time is shown)")
    options = parser.parse_args()
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        session = make_session(Path(folder), environment)
        commands = [["--help"], ["report", "--help"], ["loop", "--help"], ["loop", "status", str(session)],
                    ["search", "--help"]]
        print("| command | wall time (s), best of", options.repeats, "| heavy libraries imported |")
        print("|---|---|---|")
        for args in commands:
            runs = [run_command(args, environment) for _ in range(options.repeats)]
            seconds = min(s for s, _ in runs)
            imported = runs[-1][1]
            shown = " ".join("SESSION" if a == str(session) else a for a in args)
            print(f"| `mango-pl {shown}` | {seconds:.2f} | {', '.join(imported) or 'none'} |")


if __name__ == "__main__":
    main()
