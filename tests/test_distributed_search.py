"""``mango-pl search`` on several processes (Lightning Fabric, gloo on the CPU): the same files as one
process, a killed run resumed with another number of processes, and bad options as one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mango_pl.mei import find_mei_files, load_meis
from mango_pl.mei.parallel import ParallelSettings, share_of, work_groups
from tests.test_search_command import MODEL_ARGS, ROOT, SPACE_ARGS, _fit

pytestmark = pytest.mark.usefixtures("one_thread")

TWO_PROCESSES = ["--accelerator", "cpu", "--devices", "2", "--strategy", "ddp"]


def _args(checkpoints: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mango_pl.cli", "search", "--checkpoints", str(checkpoints), "--units", "3",
            "--seed", "5", "--output", str(out), "--progress", "false", *SPACE_ARGS, *MODEL_ARGS, *extra]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          timeout=600)


def _alone(args: list[str], capsys) -> str:
    """One process, in this one (the same ``mango-pl search`` code without a second start-up): its output."""
    from mango_pl.mei.command import main

    capsys.readouterr()
    assert main(args[4:]) == 0, capsys.readouterr().err[-3000:]
    return capsys.readouterr().out


def _same_files(one: Path, other: Path) -> None:
    ours, theirs = find_mei_files(one), find_mei_files(other)
    assert [p.relative_to(one) for p in ours] == [p.relative_to(other) for p in theirs] and ours
    for a, b in zip(ours, theirs):
        x, y = load_meis(a), load_meis(b)
        assert x.meis.labels == y.meis.labels and x.meis.units == y.meis.units
        for label in x.meis.labels:
            for field in ("index", "activation", "search_value", "history", "probs", "images"):
                assert torch.equal(getattr(x.meis.runs[label], field), getattr(y.meis.runs[label], field)), \
                    (a, label, field)
        assert x.tracking.epochs == y.tracking.epochs
        assert x.tracking.stable_fraction == y.tracking.stable_fraction


def test_two_processes_write_the_files_of_one_and_a_killed_run_resumes_with_one_process(tmp_path, capsys):
    _fit(tmp_path / "plain", epochs=2)
    checkpoints = tmp_path / "plain" / "ckpt"
    layers = ["--layers", "[sn1, layer1.0.sn1, layer2.0.sn1]", "--budget", "40"]
    _alone(_args(checkpoints, tmp_path / "one", *layers), capsys)
    two = _run(_args(checkpoints, tmp_path / "two", *layers, *TWO_PROCESSES))
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("mango-pl search: 6 layer searches written") == 1  # process 0 reports, once
    _same_files(tmp_path / "one", tmp_path / "two")
    assert len(list((tmp_path / "two" / "tensorboard").glob("events.out.tfevents.*"))) == 1

    out = tmp_path / "cut"
    process = subprocess.Popen(_args(checkpoints, out, *layers, *TWO_PROCESSES), cwd=ROOT,
                               env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    while not find_mei_files(out) and process.poll() is None:  # both processes killed after the first layer
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    first = {p: p.stat().st_mtime_ns for p in find_mei_files(out)}
    assert 1 <= len(first) < 6, "the run should be killed after its first layer and before its last"
    resumed = _alone(_args(checkpoints, out, *layers), capsys)
    assert f"{6 - len(first)} layer searches written, {len(first)} found done and kept" in resumed
    assert all(p.stat().st_mtime_ns == first[p] for p in first)  # nothing done was redone
    _same_files(tmp_path / "one", out)


def test_two_processes_in_population_mode_search_whole_layers_and_write_the_files_of_one(tmp_path, capsys):
    _fit(tmp_path / "plain", epochs=1)
    options = ["--layers", "[sn1, layer1.0.sn1, layer2.0.sn1]", "--budget", "24", "--shared", "true",
               "--methods", "[elite]", "--repeats", "2"]
    _alone(_args(tmp_path / "plain" / "ckpt", tmp_path / "one", *options), capsys)
    two = _run(_args(tmp_path / "plain" / "ckpt", tmp_path / "two", *options, *TWO_PROCESSES))
    assert two.returncode == 0, two.stderr[-3000:]
    _same_files(tmp_path / "one", tmp_path / "two")


@pytest.mark.parametrize("extra, match", [
    (["--devices", "0"], r"`devices` must be a positive int"),
    (["--num_nodes", "0"], r"`num_nodes` must be a positive int"),
    (["--accelerator", "cpu", "--devices", "2", "--strategy", "no-such-strategy"],
     r"the processes cannot start with .*strategy='no-such-strategy'"),
    (["--devices", "2", "--device", "cuda:1"], r"--device cuda:1 is for one process"),
])
def test_bad_distributed_options_are_a_one_line_error(tmp_path, capsys, extra, match):
    import re

    from mango_pl.mei.command import main

    code = main(_args(tmp_path / "nowhere", tmp_path / "out", "--layers", "[sn1]", *extra)[4:])
    assert code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("mango-pl search: error:") and re.search(match, error), error
    assert not (tmp_path / "out").exists()


def test_work_is_split_by_unit_or_by_layer():
    units = {"a": [0, 1, 2, 3, 4], "b": [7, 3], "c": [1]}
    for world in (1, 2, 3):
        shares = [share_of(units, False, rank, world) for rank in range(world)]
        assert all(sorted(u for s in shares for u in s[layer]) == sorted(chosen) for layer, chosen in units.items())
        assert work_groups(units, False, world) == [{"a": units["a"]}, {"b": units["b"]}, {"c": units["c"]}]
        groups = work_groups(units, True, world)
        assert [layer for group in groups for layer in group] == ["a", "b", "c"]
        for group in groups:  # population mode: each layer of a group searched whole by one process
            owners = [[layer for layer, chosen in share_of(group, True, rank, world).items() if chosen]
                      for rank in range(world)]
            assert sorted(layer for owned in owners for layer in owned) == sorted(group)
            assert all(len(owned) <= 1 for owned in owners)
    assert ParallelSettings(devices=[0, 1]).devices == (0, 1) and not ParallelSettings(devices=2).single


PYTHON_SCRIPT = """
import sys, torch
from mango_pl.mei import SearchSettings, search_model
from mango_pl.mei.parallel import ParallelSettings
from mango_pl.stimuli import GeneratorSpace
from tests.mei_helpers import PlainClassifier, PlantedGenerator

found = search_model(PlainClassifier(units=5), ["features"], GeneratorSpace(generator=PlantedGenerator(n=8)), units=5,
                     settings=SearchSettings(("elite",), repeats=1, budget=30),
                     parallel=ParallelSettings(accelerator="cpu", devices=2, strategy="ddp"))
rank = torch.distributed.get_rank()
torch.save(found["features"].meis.runs["elite"].index, sys.argv[1] + f".{rank}")
"""


def test_search_model_from_python_on_two_processes_returns_the_whole_result_on_each(tmp_path):
    from mango_pl.mei import SearchSettings, search_model
    from mango_pl.stimuli import GeneratorSpace
    from tests.mei_helpers import PlainClassifier, PlantedGenerator

    script = tmp_path / "two_processes.py"
    script.write_text(PYTHON_SCRIPT)
    run = subprocess.run([sys.executable, str(script), str(tmp_path / "index")], cwd=ROOT, capture_output=True,
                         text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT)))
    assert run.returncode == 0, run.stderr[-3000:]
    alone = search_model(PlainClassifier(units=5), ["features"], GeneratorSpace(generator=PlantedGenerator(n=8)),
                         units=5, settings=SearchSettings(("elite",), repeats=1, budget=30))
    for rank in (0, 1):
        assert torch.equal(torch.load(tmp_path / f"index.{rank}"), alone["features"].meis.runs["elite"].index)
