"""``mango-pl loop`` end to end, as separate processes: a simulated session to its budget beats random
stimuli, and sessions killed (SIGKILL) at every stage resume to exactly the uninterrupted result."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from mango_pl.loop import Session, SimulatedRig, run_session
from mango_pl.loop.images import render_stimuli
from mango_pl.loop.session import load_space
from tests.loop_helpers import journal_without_times, loop, simulated_config

CRASH_BUDGET = 60  # three batches of 20


#: one pytest-xdist worker runs the module: the uninterrupted session (a module fixture) is run once
pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.xdist_group("loop_session")]


def test_simulated_session_beats_as_many_random_stimuli(tmp_path):
    budget = 200
    config = simulated_config(tmp_path, budget)
    session_dir = tmp_path / "session"
    init = loop("init", str(session_dir), "--config", str(config), via_mango_pl=True)  # the `mango-pl loop` dispatch
    assert init.returncode == 0, init.stderr
    assert (session_dir / "session.yaml").read_bytes() == config.read_bytes()
    again = loop("init", str(session_dir), "--config", str(config))
    assert again.returncode == 2 and "already holds a session" in again.stderr

    run = loop("run", str(session_dir), "--simulate")
    assert run.returncode == 0, run.stderr
    assert "budget spent: 200 of 200 told" in run.stdout
    status = loop("status", str(session_dir))
    assert status.returncode == 0, status.stderr
    assert "200 of 200 stimuli per target cell told, 10 batches" in status.stdout
    assert (session_dir / "status.png").read_bytes()[:4] == b"\x89PNG"
    export = loop("export", str(session_dir))
    assert export.returncode == 0, export.stderr
    folder = session_dir / "export" / "after_batch_0009"
    record = json.loads((folder / "best_stimuli.json").read_text())
    best = {row["cell"]: row for row in record["best"]}
    assert [row["cell"] for row in record["best"]] == [0, 1, 2, 3] and best[0]["chosen_by"] == "searcher"

    # the noise-free response of the target's best stimulus, against the best of as many random stimuli,
    # both read by the simulated rig from their 8-bit image files
    with Session.open(session_dir, lock=False) as session:
        rig = SimulatedRig(session.config.simulate, 4, "spike_counts", session.space)
        assert any(s.retest for b in session.batches for s in b.search_stimuli)  # leaders re-shown under noise
    found = rig.activations([folder / best[0]["image"]])[0, 0]
    space = load_space(session.config)
    random = space.grid.random_index(budget, generator=torch.Generator().manual_seed(1))
    files = []
    for j, image in enumerate(render_stimuli(space, [tuple(p) for p in random.tolist()], "png")):
        files.append(tmp_path / f"random_{j}.png")
        files[-1].write_bytes(image)
    random_best = rig.activations(files)[:, 0].max()
    assert found > random_best, (found, random_best)


@pytest.fixture(scope="module")
def crash_config(tmp_path_factory):
    """One config for the uninterrupted and the killed sessions (the same bytes: the same session)."""
    return simulated_config(tmp_path_factory.mktemp("config"), CRASH_BUDGET)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, crash_config):
    """The journal and best stimuli of a session run without interruption, in this process."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("uninterrupted")
    with Session.create(folder / "session", crash_config) as session:
        rig = SimulatedRig(session.config.simulate, session.config.cells, session.config.responses, session.space)
        run_session(session, session.inbox, rig, report=lambda line: None)
        best = session.best_stimuli()
    return journal_without_times(folder / "session"), best


def _resume_after_kills(tmp_path, config, kills: list[str]):
    session_dir = tmp_path / "session"
    Session.create(session_dir, config).close()
    for point in kills:
        killed = loop("run", str(session_dir), "--simulate", crash_at=point)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stdout, killed.stderr)
    finished = loop("run", str(session_dir), "--simulate")
    assert finished.returncode == 0, finished.stderr
    with Session.open(session_dir, lock=False) as session:
        return journal_without_times(session_dir), session.best_stimuli()


def test_session_killed_between_ask_and_tell_resumes_exactly(tmp_path, crash_config, uninterrupted):
    # killed with the ask journaled but no file written, with half the files written, and with the whole
    # batch written but not told: each time the next run shows the same batch and goes on
    journal, best = _resume_after_kills(tmp_path, crash_config, ["ask-journaled@0", "ask-files@1", "asked@2"])
    assert journal == uninterrupted[0]
    assert repr(best) == repr(uninterrupted[1])  # (repr: a NaN s.e.m. equals itself)
    assert not list((tmp_path / "session").rglob("*.damaged*"))


def test_session_killed_during_tell_resumes_exactly(tmp_path, crash_config, uninterrupted):
    journal, best = _resume_after_kills(tmp_path, crash_config, ["tell-torn@1"])
    assert journal == uninterrupted[0]
    assert repr(best) == repr(uninterrupted[1])  # (repr: a NaN s.e.m. equals itself)
    torn = list((tmp_path / "session").glob("journal.jsonl.torn-*"))
    assert len(torn) == 1 and torn[0].read_bytes()  # the torn half line, set aside: nothing is thrown away
