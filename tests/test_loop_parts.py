"""The closed-loop session's parts, in this process: the journal, the config's checks, asking twice,
population mode, repeats and normalization, replay checks, crash-damaged files, export, and
``run --watch`` with a rig that drops files (a separate process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from mango_pl.loop import Journal, JournalError, Session, SessionConfigError, SessionError, export_best
from mango_pl.loop.command import main
from mango_pl.loop.config import parse_session_config
from mango_pl.loop.statistics import normalization
from mango_pl.search import make_searcher
from mango_pl.search.seeding import unit_seeds
from tests.loop_crash import write_half_line
from tests.loop_helpers import ROOT, rig_rows, snapshot, write_config, write_responses


# -- the journal -------------------------------------------------------------------------------------

def test_journal_ignores_a_torn_last_line_and_sets_it_aside_on_the_next_append(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append({"type": "a", "n": 1})
    write_half_line(journal, {"type": "b", "n": 2})  # a crash in the middle of an append
    assert Journal(journal.path).entries() == [{"type": "a", "n": 1}]  # the half line is not committed
    again = Journal(journal.path)
    again.append({"type": "c", "n": 3})
    assert again.entries() == [{"type": "a", "n": 1}, {"type": "c", "n": 3}]
    aside = list(tmp_path.glob("journal.jsonl.torn-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b'{"type":"'


def test_journal_damaged_before_its_last_line_is_an_error(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b'{"type": "a"}\n{"type": \n{"type": "c"}\n')
    with pytest.raises(JournalError, match="line 2 is damaged"):
        Journal(path).entries()


# -- the config ----------------------------------------------------------------------------------------

BASE = {"space": {"class_path": "mango_pl.stimuli.GratingSpace"}, "budget": 10, "cells": 3, "targets": [0]}


@pytest.mark.parametrize("change, message", [
    ({"colour": 1}, "unknown key(s) colour"),
    ({"targets": [3]}, "targets [3] are not recorded cells"),
    ({"targets": [0, 0]}, "lists a cell twice"),
    ({"budget": 0}, "budget must be a positive int"),
    ({"method": "nope"}, "unknown search method 'nope'"),
    ({"targets": "all", "method": "tt"}, "has no population mode"),
    ({"method": "ttopt", "batch_size": 5}, "has no option that sets its batch size"),
    ({"method_options": {"kk": 3}}, "unknown option(s) kk"),
    ({"normalize": "ratio"}, "give references"),
    ({"responses": "rates"}, "responses must be one of ('spike_counts', 'dff')"),
    ({"references": {"indices": [1]}}, "references.indices needs references.data"),
    ({"simulate": {"units": [1]}}, "one unit index >= 0 per recorded cell (3)"),
    ({"image": {"channels": 2}}, "image.channels must be one of (1, 3) (1 = gray, 3 = RGB"),
])
def test_bad_config_is_a_one_line_error_naming_the_key(change, message):
    with pytest.raises(SessionConfigError) as error:
        parse_session_config({**BASE, **change})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_targets_all_means_population_mode_and_batch_size_sets_the_methods_option():
    config = parse_session_config({**BASE, "targets": "all", "batch_size": 12})
    assert config.shared and config.targets == (0, 1, 2) and config.searcher_options() == {"shared_k": 12}
    assert parse_session_config({**BASE, "batch_size": 7}).searcher_options() == {"k": 7}


def test_init_refuses_a_session_directory_and_a_bad_config_writes_nothing(tmp_path, capsys):
    config = write_config(tmp_path)
    Session.create(tmp_path / "session", config).close()
    before = snapshot(tmp_path / "session")
    assert main(["init", str(tmp_path / "session"), "--config", str(config)]) == 2
    assert "already holds a session" in capsys.readouterr().err
    assert snapshot(tmp_path / "session") == before
    bad = write_config(tmp_path, "bad.yaml", space={"class_path": "mango_pl.stimuli.GeneratorSpace",
                                                    "init_args": {"checkpoint": "missing.pt"}})
    assert main(["init", str(tmp_path / "other"), "--config", str(bad)]) == 2
    assert "generator checkpoint 'missing.pt' not found" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


# -- asking ------------------------------------------------------------------------------------------

def test_asking_twice_gives_the_same_batch_and_rewrites_no_file(tmp_path, capsys):
    folder = tmp_path / "session"
    Session.create(folder, write_config(tmp_path, repeats=3, references={"files": []})).close()
    assert main(["ask", str(folder)]) == 0
    first = capsys.readouterr().out
    batch_folder = folder / "batches" / "batch_0000"
    times = {p.name: p.stat().st_mtime_ns for p in batch_folder.iterdir()}
    assert main(["ask", str(folder)]) == 0
    assert "asked before and waiting for responses; 0 missing file(s) written" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in batch_folder.iterdir()} == times
    manifest = json.loads((batch_folder / "manifest.json").read_text())
    ids = [s["id"] for s in manifest["stimuli"]]
    order = [row["stimulus_id"] for row in manifest["presentations"]]
    assert ids == [f"b0000s{j:03d}" for j in range(6)] and sorted(order) == sorted(ids * 3)
    assert order != sorted(order)  # shuffled (by the seed)
    assert (batch_folder / "manifest.csv").read_text().splitlines()[0] == \
        "presentation,stimulus_id,file,kind,retest,grid_index,cells,reference"
    assert "batch 0 (new): 6 stimuli" in first


def test_a_stimulus_file_a_crash_damaged_is_set_aside_and_written_again(tmp_path):
    folder = tmp_path / "session"
    with Session.create(folder, write_config(tmp_path)) as session:
        batch = session.ask().batch
    path = folder / "batches" / batch.folder / batch.stimuli[0].file
    good = path.read_bytes()
    path.write_bytes(b"")  # what a power cut can leave of a file that was not fsync-ed
    with Session.open(folder) as session:
        assert session.ask().written == 1
    assert path.read_bytes() == good and (path.parent / (path.name + ".damaged")).exists()


def test_population_mode_shows_every_target_the_same_stimuli(tmp_path):
    config = write_config(tmp_path, targets="all", batch_size=8, budget=16, method="elite",
                          method_options={"initial": 8})
    with Session.create(tmp_path / "session", config) as session:
        for _ in range(2):
            batch = session.ask().batch
            assert len(batch.search_stimuli) == 8 and all(s.cells == (0, 1, 2) for s in batch.search_stimuli)
            session.tell(write_responses(tmp_path / f"r{batch.number}.csv", rig_rows(batch, 3)))
        assert session.done and session.ask().batch is None
        best = session.best_stimuli()
    assert [b.cell for b in best] == [0, 1, 2] and all(b.target and b.chosen_by == "searcher" for b in best)


def test_several_targets_each_get_their_own_stimuli_and_their_own_cell_told(tmp_path):
    config = write_config(tmp_path, targets=[0, 2], batch_size=4, budget=4, method="random")
    with Session.create(tmp_path / "session", config) as session:
        batch = session.ask().batch
        assert len(batch.search_stimuli) == 8 and len(batch.slots) == 2
        rows = [(sid, cell, 10 * cell + j) for j, sid in enumerate(batch.presentations) for cell in range(3)]
        session.tell(write_responses(tmp_path / "r.csv", rows))
        order = {sid: j for j, sid in enumerate(batch.presentations)}
        best = {b.cell: b for b in session.best_stimuli()}
    for p, cell in enumerate((0, 2)):
        own = [batch.stimuli[q].id for q in batch.slots[p]]
        assert best[cell].id in own and best[cell].mean == 10 * cell + max(order[s] for s in own)


def test_a_cells_search_is_seeded_like_every_unit_search_and_cut_to_the_budget(tmp_path):
    # target cell c searches with unit_seeds(seed, 0, "cells", [c]), whichever other cells are targets;
    # the last batch is cut to what the budget leaves (by the search run, as in maximize)
    config = write_config(tmp_path, targets=[0, 2], batch_size=4, budget=6, seed=3)
    with Session.create(tmp_path / "session", config) as session:
        batch = session.ask().batch
        assert session.asked.shape == (2, 4, session.header.grid_d)
        session.tell(write_responses(tmp_path / "r.csv", rig_rows(batch, 3)))
        last = session.ask().batch
        assert last.shown == 2 and session.asked.shape[1] == 2
        first = batch
    alone = write_config(tmp_path, "alone.yaml", targets=[2], batch_size=4, budget=6, seed=3)
    with Session.create(tmp_path / "alone", alone) as session:
        searcher = make_searcher(session.config.method, session.header.grid_d, session.header.grid_n,
                                 seed=unit_seeds(3, 0, "cells", [2]), budget=6, **session.config.searcher_options())
        searcher.use_features(session.space.grid_features())  # as the session hands them over
        expected = searcher.ask()[:, :4]
        assert torch.equal(session.ask_run(), expected)
    assert [first.stimuli[q].index for q in first.slots[1]] == [tuple(point) for point in expected[0].tolist()]


# -- repeats, normalization ---------------------------------------------------------------------------

def test_repeats_are_averaged_and_reference_ratio_normalization_removes_a_gain_drift(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(tmp_path / "gray.png")
    config = write_config(tmp_path, repeats=2, normalize="ratio", batch_size=2, budget=4, method="random",
                          references={"files": [str(tmp_path / "gray.png")]})
    with Session.create(tmp_path / "session", config) as session:
        for gain in (1, 3):  # the cells respond three times as strongly in batch 1
            batch = session.ask().batch
            rows, seen = [], []
            for sid in batch.presentations:
                # a stimulus answers 2, then 3 (mean 2.5); the reference 4
                base = 4 if batch.ids[sid].kind == "reference" else 2 + seen.count(sid)
                seen.append(sid)
                rows += [(sid, cell, gain * base) for cell in range(3)]
            session.tell(write_responses(tmp_path / f"r{gain}.csv", rows))
        summary = session.batch_summaries()
    assert [b.reference[1] for b in summary] == [4.0, 12.0]  # the references show the drift (raw)
    assert [b.mean[0] for b in summary] == [2.5, 2.5]  # the normalized responses do not


def test_normalization_leaves_batches_without_usable_references_alone():
    baseline = np.array([2.0, 0.0])
    ratio = normalization("ratio", baseline, np.array([4.0, 1.0]), 2)
    assert ratio.apply(np.array([8.0, 8.0])).tolist() == [4.0, 8.0]  # a silent cell's ratio is undefined: kept
    assert normalization("difference", baseline, np.array([3.0, 1.0]), 2).apply(np.zeros(2)).tolist() == [-1.0, -1.0]
    assert normalization("ratio", baseline, None, 2).apply(np.ones(2)).tolist() == [1.0, 1.0]


# -- replay checks, export ----------------------------------------------------------------------------

def test_an_edited_config_or_journal_stops_the_session_with_a_clear_error(tmp_path):
    folder = tmp_path / "session"
    with Session.create(folder, write_config(tmp_path)) as session:
        session.ask()
    journal = (folder / "journal.jsonl").read_text().splitlines()
    ask = json.loads(journal[1])
    ask["asked_sha256"] = "0" * 64
    (folder / "journal.jsonl").write_text("\n".join([journal[0], json.dumps(ask)]) + "\n")
    with pytest.raises(SessionError, match="asks other stimuli in batch 0 than the journal holds"):
        Session.open(folder)
    (folder / "session.yaml").write_text((folder / "session.yaml").read_text() + "\n# edited\n")
    with pytest.raises(SessionError, match="was edited after init"):
        Session.open(folder)


def test_a_journal_of_another_version_is_refused_with_what_to_do(tmp_path, capsys):
    # a session started by mango-pl 0.1.0 (loop journal version 1: the cells' searches were seeded with
    # SeedSequence(seed, (cell,))) cannot be replayed by this one: one line that says what to do
    folder = tmp_path / "session"
    with Session.create(folder, write_config(tmp_path)) as session:
        session.ask()
    header, *rest = (folder / "journal.jsonl").read_text().splitlines()
    old = {**json.loads(header), "version": 1, "mango_pl": "0.1.0"}
    (folder / "journal.jsonl").write_text("\n".join([json.dumps(old), *rest]) + "\n")
    with pytest.raises(SessionError, match=r"written by an older mango-pl \(0\.1\.0, loop journal version 1; the "
                                           r"seeding of the cells' searches changed since\): finish it with a "
                                           r"mango-pl that writes loop journal version 1 \(as 0\.1\.0 did\), or "
                                           r"start a new session with `mango-pl loop init`"):
        Session.open(folder, lock=False)
    assert main(["status", str(folder)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "older mango-pl" in error
    newer = {**json.loads(header), "version": 99}
    (folder / "journal.jsonl").write_text("\n".join([json.dumps(newer), *rest]) + "\n")
    with pytest.raises(SessionError, match="written by a newer mango-pl .*loop journal version 99.*upgrade"):
        Session.open(folder)


def test_export_is_written_once_and_never_overwrites(tmp_path, capsys):
    folder = tmp_path / "session"
    with Session.create(folder, write_config(tmp_path, budget=6)) as session:
        batch = session.ask().batch
        session.tell(write_responses(tmp_path / "r.csv", rig_rows(batch, 3)))
        result = export_best(session)
        assert result.written == 3 + 2 and export_best(session).written == 0
    table = (result.folder / "best_stimuli.csv").read_text().splitlines()
    assert table[0].startswith("cell,target,stimulus_id,image") and len(table) == 4
    (result.folder / "cell_0.png").write_bytes(b"edited by the user")
    assert main(["export", str(folder)]) == 2
    assert "exists with other content and is never overwritten" in capsys.readouterr().err
    assert (result.folder / "cell_0.png").read_bytes() == b"edited by the user"


# -- run --watch ----------------------------------------------------------------------------------------

def test_run_watch_takes_the_rigs_files_until_the_budget_is_spent(tmp_path):
    folder = tmp_path / "session"
    Session.create(folder, write_config(tmp_path, budget=12)).close()
    inbox = tmp_path / "rig"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "mango_pl.loop", "run", str(folder), "--watch", "--inbox",
                                str(inbox), "--poll", "0.1", "--timeout", "120"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []

    def read_until(text: str) -> None:
        """Read the run's progress lines until one holds ``text`` (it prints one line per event)."""
        for line in process.stdout:
            seen.append(line)
            if text in line:
                return
        raise AssertionError(f"the run ended before printing {text!r}: {''.join(seen)}")

    try:
        for number in range(2):
            read_until(f"batch {number}: ")  # asked: its manifest is written and the run waits for responses
            manifest = folder / "batches" / f"batch_{number:04d}" / "manifest.json"
            ids = [row["stimulus_id"] for row in json.loads(manifest.read_text())["presentations"]]
            if number == 0:  # a bad file first: reported, left alone, and the run waits for a corrected one
                write_responses(inbox / "bad.csv", [(ids[0], 0, -1)])
                os.replace(inbox / "bad.csv", inbox / f"responses_{number:04d}.csv")
                read_until("not a spike count")
            rows = [(sid, cell, 1 + cell) for sid in ids for cell in range(3)]
            write_responses(inbox / "next.csv", rows)
            os.replace(inbox / "next.csv", inbox / f"responses_{number:04d}.csv")  # dropped whole
        rest, err = process.communicate()
        out = "".join(seen) + rest
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "not a spike count" in out and "budget spent: 12 of 12 told" in out
    idle = tmp_path / "idle"
    Session.create(idle, write_config(tmp_path, "idle.yaml")).close()
    timed_out = subprocess.run([sys.executable, "-m", "mango_pl.loop", "run", str(idle), "--watch", "--timeout", "0.5",
                                "--poll", "0.1"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert timed_out.returncode == 3 and "no usable" in timed_out.stderr and "run again" in timed_out.stderr
    with Session.open(idle, lock=False) as session:  # intact: batch 0 waits for its responses
        assert session.pending.number == 0 and session.told == 0


def test_dataset_references_are_shown_in_every_batch_and_dff_responses_may_be_negative(tmp_path):
    references = {"data": {"class_path": "mango_pl.data.DigitsDataModule", "init_args": {"image_size": 8}},
                  "split": "val", "indices": [0, 5]}
    bad = write_config(tmp_path, "bad.yaml", references={**references, "indices": [100000]})
    with pytest.raises(SessionConfigError, match="references.indices: 100000 is past the"):
        Session.create(tmp_path / "bad", bad)
    config = write_config(tmp_path, references=references, responses="dff", budget=6)
    with Session.create(tmp_path / "session", config) as session:
        batch = session.ask().batch
        assert [s.id for s in batch.stimuli if s.kind == "reference"] == ["b0000r00", "b0000r01"]
        rows = [(sid, cell, -0.25 * cell) for sid in batch.presentations for cell in range(3)]
        session.tell(write_responses(tmp_path / "r.csv", rows))
        assert session.batch_summaries()[0].reference == (0.0, -0.25, -0.5)
