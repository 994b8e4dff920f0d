"""The report's unit page (``units.html``) rendered by a real headless Chromium from ``file://``.

Tiny runs are written as MEI files through the engine's file format (``save_meis`` of ``analyse``d
results with planted activations and classes, no training), their report is written without
figures (only ``index.html`` and the unit page), and the page is opened at a unit by its URL hash:
the DOM after the script ran must hold that unit's captions, one image cell per run and searched
epoch, its stable / labile status and selectors listing every layer and unit; a screenshot must not
be blank. Skips where no Chromium / Chrome binary is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
import torch
from PIL import Image

from mango_pl.mei import LayerMEIs, RunMEIs, SearchSettings, analyse, load_meis, mei_path, save_meis
from mango_pl.report import write_report
from mango_pl.report.unit_pages import DATA_FOLDER, DATA_SCRIPT, PAGE

BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CLASSES, SIDE = 10, 8

needs_browser = pytest.mark.skipif(BROWSER is None, reason="no chromium: apt-get install chromium to run the "
                                                           "unit-page browser test")


def layer_meis(layer: str, epoch: int, units: list[int], settings: SearchSettings, channels: int,
               planted: dict[int, tuple[float, int]], seed: int) -> LayerMEIs:
    """Random MEIs of ``units`` (weak, unconfident), except the units in ``planted``: ``{unit: (activation,
    class)}`` with every run's MEI of that class at probability 0.9 (so selective when strong)."""
    generator = torch.Generator().manual_seed(seed)
    runs = {}
    for label, method, repeat in settings.runs():
        count = len(units)
        activation = torch.rand(count, generator=generator) * 0.5
        probs = torch.softmax(torch.randn(count, CLASSES, generator=generator), -1)
        for u, unit in enumerate(units):
            if unit in planted:
                activation[u], top = planted[unit][0] - 0.01 * repeat, planted[unit][1]
                probs[u] = 0.1 / (CLASSES - 1)
                probs[u, top] = 0.9
        images = torch.randint(0, 256, (count, channels, SIDE, SIDE), dtype=torch.uint8, generator=generator)
        runs[label] = RunMEIs(label, method, repeat, index=torch.zeros(count, 4, dtype=torch.long),
                              search_value=activation.clone(), history=activation[:, None].repeat(1, 3),
                              activation=activation, probs=probs, latents=torch.randn(count, 4, generator=generator),
                              images=images)
    return LayerMEIs(layer, epoch, list(units), (4, 8), settings, runs)


def save_layer(root: Path, meis: LayerMEIs) -> None:
    save_meis(mei_path(root / "meis", meis.epoch, meis.layer), meis, analyse(meis))


def caption(report, m: int, u: int) -> str:
    probability, top = report.probs[m, u].max(-1)
    return f"a{float(report.activation[m, u]):.2f} \u00b7 {int(top)} ({float(probability):.2f})"


def browse(url: str, profile: Path, *action: str) -> subprocess.CompletedProcess:
    command = [BROWSER, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={profile}", "--virtual-time-budget=2000", *action, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def dom_parts(dom: str) -> dict:
    """What the test reads from the rendered page."""
    def options(select_id: str) -> list[tuple[str, bool]]:
        select = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', dom, re.DOTALL).group(1)
        return [(unescape(text), "selected" in attributes)
                for attributes, text in re.findall(r"<option([^>]*)>(.*?)</option>", select)]

    return {
        "layers": options("layer"),
        "units": options("unit"),
        "captions": [unescape(text) for text in re.findall(r'<div class="caption">(.*?)</div>', dom)],
        "cells": len(re.findall(r'<td class="cell">', dom)),
        "missing": len(re.findall(r'<td class="missing">not searched</td>', dom)),
        "images": len(re.findall(r'<div class="mei"', dom)),
        "status": unescape(re.sub(r"<[^>]+>", "", re.search(r'<p id="status"[^>]*>(.*?)</p>', dom, re.DOTALL).group(1))),
        "headers": [unescape(text) for text in re.findall(r"<th>(.*?)</th>", dom)],
    }


@pytest.fixture(scope="module")
def grayscale_run(tmp_path_factory):
    """Two methods; ``sn1`` searched at epochs 0, 1, 2, ``layer1.0.sn1`` only at 0 and 2. Unit 1 of
    sn1 is selective for class 2 at epoch 0 and class 5 at epoch 2 (labile, first strong at 0); unit 2
    for class 7 at epochs 1 and 2 (stable, first strong at 1)."""
    root = tmp_path_factory.mktemp("unit_page") / "run"
    settings = SearchSettings(methods=("tt-s", "random"))
    planted = {0: {1: (0.95, 2)}, 1: {2: (0.9, 7)}, 2: {1: (0.97, 5), 2: (0.92, 7)}}
    for epoch in (0, 1, 2):
        save_layer(root, layer_meis("sn1", epoch, [0, 1, 2, 3], settings, 1, planted[epoch], seed=epoch))
        if epoch != 1:
            save_layer(root, layer_meis("layer1.0.sn1", epoch, [5, 9], settings, 1, {}, seed=10 + epoch))
    report = write_report(root, root / "report", figures=())
    return root, report


@pytest.fixture(scope="module")
def rgb_run(tmp_path_factory):
    """One method, three repeats at epoch 3 but two at epoch 5 (a run missing there); RGB MEIs."""
    root = tmp_path_factory.mktemp("unit_page_rgb") / "run"
    save_layer(root, layer_meis("conv", 3, [4, 6], SearchSettings(methods=("random",)), 3, {}, seed=3))
    save_layer(root, layer_meis("conv", 5, [4, 6], SearchSettings(methods=("random",), repeats=2), 3, {6: (0.8, 1)},
                                seed=5))
    report = write_report(root, root / "report", figures=())
    return root, report


def test_the_unit_page_is_linked_from_the_index_and_small(grayscale_run):
    root, report = grayscale_run
    assert report.units == report.output / PAGE and report.units.is_file()
    assert f'<a href="{PAGE}">' in report.index.read_text(encoding="utf-8")
    data = (report.output / DATA_FOLDER / DATA_SCRIPT).read_text(encoding="utf-8")
    assert data.startswith("window.MANGO_UNITS = {")
    with Image.open(report.output / DATA_FOLDER / "layer0.png") as sprite:  # rows: unit x run, columns: epochs
        assert sprite.mode == "L" and sprite.size == (3 * SIDE, 4 * 2 * SIDE)
        sn1 = load_meis(mei_path(root / "meis", 1, "sn1"))
        row, column = (2 * 2 + 1) * SIDE, 1 * SIDE  # unit 2, run "random", epoch 1
        cell = torch.tensor(list(sprite.crop((column, row, column + SIDE, row + SIDE)).getdata())).view(SIDE, SIDE)
        assert torch.equal(cell, sn1.meis.runs["random"].images[2, 0].long())
    with Image.open(report.output / DATA_FOLDER / "layer1.png") as sprite:
        assert sprite.size == (2 * SIDE, 2 * 2 * SIDE)


def test_overwriting_a_report_removes_the_sprites_of_layers_gone(grayscale_run, tmp_path):
    root, report = grayscale_run
    shutil.copytree(report.output, tmp_path / "out")
    for epoch in (0, 1, 2):  # the same run without layer1.0.sn1
        target = mei_path(tmp_path / "run" / "meis", epoch, "sn1")
        target.parent.mkdir(parents=True)
        shutil.copy2(mei_path(root / "meis", epoch, "sn1"), target)
    again = write_report(tmp_path / "run", tmp_path / "out", overwrite=True, figures=())
    assert sorted(p.name for p in (again.output / DATA_FOLDER).iterdir()) == [DATA_SCRIPT, "layer0.png"]
    assert (again.output / PAGE).read_bytes() == report.units.read_bytes()  # the page is the same for every run


@needs_browser
def test_a_unit_opened_by_its_hash_shows_its_meis_captions_and_status(grayscale_run, tmp_path):
    root, report = grayscale_run
    url = report.units.resolve().as_uri() + "#layer=sn1&unit=1"
    parts = dom_parts(browse(url, tmp_path / "profile", "--dump-dom").stdout)
    assert parts["layers"] == [("sn1 (4 units)", True), ("layer1.0.sn1 (2 units)", False)]
    assert parts["units"] == [(f"unit {u}", u == 1) for u in (0, 1, 2, 3)]
    assert parts["headers"] == ["run \\ epoch", "epoch 0", "epoch 1", "epoch 2", "tt-s", "random"]
    assert parts["cells"] == parts["images"] == 2 * 3 and parts["missing"] == 0
    expected = []
    for m in range(2):  # rows: runs; columns: epochs
        for epoch in (0, 1, 2):
            expected.append(caption(load_meis(mei_path(root / "meis", epoch, "sn1")).report, m, 1))
    assert parts["captions"] == expected
    assert parts["status"] == ("sn1, unit 1: labile (selective for classes 2, 5 over training); first strong MEI "
                               "(activation \u2265 0.75) at epoch 0.")

    # the other layer, searched at two epochs only; a stable unit; a never-strong unit
    parts = dom_parts(browse(report.units.resolve().as_uri() + "#layer=layer1.0.sn1&unit=9", tmp_path / "profile",
                             "--dump-dom").stdout)
    assert parts["layers"] == [("sn1 (4 units)", False), ("layer1.0.sn1 (2 units)", True)]
    assert parts["units"] == [("unit 5", False), ("unit 9", True)]
    assert parts["headers"] == ["run \\ epoch", "epoch 0", "epoch 2", "tt-s", "random"]
    assert parts["cells"] == 4
    expected = [caption(load_meis(mei_path(root / "meis", epoch, "layer1.0.sn1")).report, m, 1)
                for m in range(2) for epoch in (0, 2)]
    assert parts["captions"] == expected
    assert parts["status"] == ("layer1.0.sn1, unit 9: non-specialized (never selective); no strong MEI "
                               "(activation \u2265 0.75) in the searched epochs.")

    screenshot = tmp_path / "unit.png"
    browse(report.units.resolve().as_uri() + "#layer=sn1&unit=2", tmp_path / "profile", f"--screenshot={screenshot}",
           "--window-size=900,700", "--hide-scrollbars")
    with Image.open(screenshot) as image:
        assert image.size == (900, 700)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or range(2)) > 1  # not blank
        # the MEIs are drawn: the pixels of the sprite's grey levels fill the six 96 x 96 cells
        assert len(image.convert("L").getcolors(maxcolors=1 << 20)) > 50


@needs_browser
def test_an_rgb_run_of_repeats_shows_a_cell_not_searched(rgb_run, tmp_path):
    root, report = rgb_run
    with Image.open(report.output / DATA_FOLDER / "layer0.png") as sprite:
        assert sprite.mode == "RGB" and sprite.size == (2 * SIDE, 2 * 3 * SIDE)
    parts = dom_parts(browse(report.units.resolve().as_uri() + "#layer=conv&unit=6", tmp_path / "profile",
                             "--dump-dom").stdout)
    assert parts["units"] == [("unit 4", False), ("unit 6", True)]
    assert parts["headers"] == ["run \\ epoch", "epoch 3", "epoch 5", "random#1", "random#2", "random#3"]
    assert parts["cells"] == 5 and parts["missing"] == 1
    early, late = (load_meis(mei_path(root / "meis", epoch, "conv")).report for epoch in (3, 5))
    assert parts["captions"] == [caption(early, 0, 1), caption(late, 0, 1), caption(early, 1, 1),
                                 caption(late, 1, 1), caption(early, 2, 1)]
    assert parts["status"].startswith("conv, unit 6: stable (selective for class 1 whenever selective); first "
                                      "strong MEI (activation \u2265 0.75) at epoch 5")
