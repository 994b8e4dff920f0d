"""Bad responses files: each gives its one-line error and leaves the session directory unchanged;
partial batches (aborted trials) are told only with --partial, as the responded prefix."""

from __future__ import annotations

import pytest

from mango_pl.loop import Session
from mango_pl.loop.command import main
from tests.loop_helpers import loop, rig_rows, snapshot, write_config, write_responses

CELLS = 3


@pytest.fixture
def session_dir(tmp_path):
    """A grating session (3 cells, target cell 1, 6 stimuli a batch, 2 repeats) with batch 0 told and
    batch 1 waiting for responses."""
    config = write_config(tmp_path, repeats=2)
    folder = tmp_path / "session"
    with Session.create(folder, config) as session:
        batch = session.ask().batch
        session.tell(write_responses(tmp_path / "batch0.csv", rig_rows(batch, CELLS)))
        session.ask()
    return folder


def _pending(folder):
    with Session.open(folder, lock=False) as session:
        return session.pending


def _rows(folder):
    return rig_rows(_pending(folder), CELLS, seed=1)


def _without(rows, stimulus):
    return [r for r in rows if r[0] != stimulus]


BAD_FILES = {
    "missing ids": (lambda rows, b: _without(rows, b.stimuli[2].id), "have no responses"),
    "unknown id": (lambda rows, b: rows + [("b0001s999", 0, 1)], "unknown stimulus id 'b0001s999'"),
    "older batch": (lambda rows, b: rows + [("b0000s000", 0, 1)], "belongs to batch 0, which was told already"),
    "NaN count": (lambda rows, b: [rows[0][:2] + ("nan",)] + rows[1:], "not a finite number"),
    "negative count": (lambda rows, b: [rows[0][:2] + (-1,)] + rows[1:], "not a spike count"),
    "fractional count": (lambda rows, b: [rows[0][:2] + (1.5,)] + rows[1:], "not a spike count"),
    "too few cells": (lambda rows, b: [r for r in rows if r[1] != 2], "responses of 2 cells but the session records 3"),
    "unrecorded cell": (lambda rows, b: rows + [(rows[0][0], 3, 1)], "cell 3 is not a recorded cell"),
    "too many presentations": (lambda rows, b: rows + [r for r in rows if r[0] == rows[0][0]],
                               "has 4 presentations but each stimulus is shown 2 time(s)"),
    "aborted trial without --partial": (lambda rows, b: rows[CELLS:], "fewer than 2 presentations"),
    "text response": (lambda rows, b: [rows[0][:2] + ("many",)] + rows[1:], "is not a number"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_responses_file_is_an_error_that_changes_nothing(tmp_path, session_dir, case, capsys):
    edit, message = BAD_FILES[case]
    path = write_responses(tmp_path / "responses.csv", edit(_rows(session_dir), _pending(session_dir)))
    before, file_before = snapshot(session_dir), path.read_bytes()
    assert main(["tell", str(session_dir), str(path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("mango-pl loop tell: error: ") and message in error and error.count("\n") == 1, error
    assert snapshot(session_dir) == before and path.read_bytes() == file_before


def test_a_wrong_header_and_an_empty_file_are_errors(tmp_path, session_dir, capsys):
    before = snapshot(session_dir)
    wrong = write_responses(tmp_path / "wrong.csv", [("x", 0, 1)], header=("id", "cell", "value"))
    empty = write_responses(tmp_path / "empty.csv", [])
    assert main(["tell", str(session_dir), str(wrong)]) == 2
    assert "must name the columns stimulus_id, cell, response" in capsys.readouterr().err
    assert main(["tell", str(session_dir), str(empty)]) == 2
    assert "holds no responses" in capsys.readouterr().err
    assert main(["tell", str(session_dir), str(tmp_path / "absent.csv")]) == 2
    assert "no responses file" in capsys.readouterr().err
    assert snapshot(session_dir) == before


def test_bad_file_from_a_separate_process_changes_nothing(tmp_path, session_dir):
    rows = _rows(session_dir)
    path = write_responses(tmp_path / "responses.csv", [rows[0][:2] + (-3,)] + rows[1:])
    before = snapshot(session_dir)
    result = loop("tell", str(session_dir), str(path), via_mango_pl=True)
    assert result.returncode == 2 and "not a spike count" in result.stderr and result.stdout == ""
    assert snapshot(session_dir) == before


def test_partial_batch_tells_the_responded_prefix_in_stimulus_order(tmp_path, session_dir, capsys):
    batch = _pending(session_dir)
    searched = batch.search_stimuli
    aborted = searched[3].id  # slots 0-2 of the target's search were shown, slot 3 not, slots 4-5 were
    rows = [r for r in _rows(session_dir) if r[0] != aborted]
    path = write_responses(tmp_path / "responses.csv", rows)
    assert main(["tell", str(session_dir), str(path)]) == 2  # not without --partial
    assert "have no responses" in capsys.readouterr().err
    assert main(["tell", str(session_dir), str(path), "--partial"]) == 0
    out = capsys.readouterr().out
    assert "told 3 of 6 stimuli per target; 1 stimuli without responses; 2 responded after" in out
    with Session.open(session_dir, lock=False) as session:
        assert session.told == 6 + 3 and session.tells[1]["missing"] == [aborted]
        assert session.searcher.told == 9
        statistics = session.stimulus_statistics()
        assert ("grid", searched[4].index) in statistics  # responded but untold: kept in the statistics
        assert session.ask().batch.number == 2  # the session goes on


def test_partial_batch_whose_first_stimulus_is_missing_tells_nothing(tmp_path, session_dir, capsys):
    batch = _pending(session_dir)
    rows = [r for r in _rows(session_dir) if r[0] != batch.search_stimuli[0].id]
    path = write_responses(tmp_path / "responses.csv", rows)
    before = snapshot(session_dir)
    assert main(["tell", str(session_dir), str(path), "--partial"]) == 2
    assert "nothing can be told" in capsys.readouterr().err
    assert snapshot(session_dir) == before


def test_presentation_column_groups_repeats_and_rows_may_come_in_any_order(tmp_path, session_dir):
    batch = _pending(session_dir)
    rows = []
    for order, sid in enumerate(batch.presentations):
        rows += [(order, sid, cell, order * CELLS + cell) for cell in range(CELLS)]
    path = write_responses(tmp_path / "responses.csv", rows[::-1],
                           header=("presentation", "stimulus_id", "cell", "response"))
    with Session.open(session_dir) as session:
        session.tell(path)
        values = session.responses[1]
    first = batch.presentations[0]
    assert values[first][0] == [0.0, 1.0, 2.0]  # presentation 0 first, cells in order
