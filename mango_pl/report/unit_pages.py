"""``units.html``: every unit's MEIs across training, one unit at a time, as static files.

A reader picks a layer and a unit (or opens ``units.html#layer=sn1&unit=3``) and sees a table — a
row per search run, a column per epoch the layer was searched at — of that unit's MEIs, each
captioned ``a<activation> · <top class> (<its probability>)``, under the unit's kind over training
(non-specialized / stable / labile, as the stable/labile figure counts them) and the first epoch
it had a strong MEI.

The page works from disk (``file://``, no server): ``units.html`` is the same for every run; the
run's numbers are a script, ``units/data.js``, that sets ``window.MANGO_UNITS``; the images are one
sprite PNG per layer, ``units/layer<k>.png`` (rows: unit × run, columns: the layer's epochs), shown
by CSS ``background-position``. A layer missing at an epoch has no column there; a run missing at
an epoch leaves its cell empty ("not searched").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mango_pl.atomic_files import write_atomically
from mango_pl.mei import SpecializationTracker
from mango_pl.report.figures.stable_labile import selective_classes_seen, track_run, unit_kinds
from mango_pl.report.run import ReportRun

#: the page (the same for every run) and the folder of its data, relative to the report folder
PAGE = "units.html"
DATA_FOLDER = "units"
DATA_SCRIPT = "data.js"


@dataclass
class UnitPage:
    """What :func:`write_unit_page` wrote.

    Attributes:
        page: ``units.html``.
        data: ``units/data.js``, the numbers of every layer, unit, run and epoch.
        sprites: ``units/layer<k>.png``, one per layer in ``run.layers`` order.
    """

    page: Path
    data: Path
    sprites: list[Path]

    @property
    def bytes(self) -> int:
        """The size of everything written."""
        return sum(path.stat().st_size for path in (self.page, self.data, *self.sprites))


def layer_data(run: ReportRun, layer: str, position: int,
               tracker: SpecializationTracker) -> tuple[dict, np.ndarray]:
    """The numbers of one layer for ``data.js`` and its sprite (``uint8 [rows·H, epochs·W, C]``).

    Runs (labels) are those of any of the layer's files, in order of appearance; captions are
    ``[activation, top class, probability]`` (rounded to 2 decimals) or ``None`` where that run
    was not searched at that epoch.
    """
    by_epoch = run.files[layer]
    epochs = list(by_epoch)
    labels = list(dict.fromkeys(label for found in by_epoch.values() for label in found.report.labels))
    units = list(run.last(layer).report.units)
    images = [found.meis.runs[label].images for found in by_epoch.values() for label in found.meis.runs]
    channels = 3 if max(image.shape[1] for image in images) >= 3 else 1
    height = max(image.shape[2] for image in images)
    width = max(image.shape[3] for image in images)
    sprite = np.zeros((len(units) * len(labels) * height, len(epochs) * width, channels), dtype=np.uint8)
    cells = [[[None] * len(epochs) for _ in labels] for _ in units]
    for column, found in enumerate(by_epoch.values()):
        report = found.report
        for m, label in enumerate(report.labels):
            probability, top_class = report.probs[m].max(-1)
            mei = found.meis.runs[label].images  # uint8 [U, C, H, W]
            mei = mei[:, :3] if mei.shape[1] >= 3 else mei[:, :1].expand(-1, channels, -1, -1)
            row_label = labels.index(label)
            for u in range(len(units)):
                cells[u][row_label][column] = [round(float(report.activation[m, u]), 2), int(top_class[u]),
                                               round(float(probability[u]), 2)]
                top = (u * len(labels) + row_label) * height
                left = column * width
                picture = mei[u].permute(1, 2, 0).numpy()
                sprite[top:top + picture.shape[0], left:left + picture.shape[1]] = picture
    tracking = tracker.tracking(layer)
    kinds = unit_kinds(tracker, layer)
    classes = [sorted(seen) for seen in selective_classes_seen(tracker, layer)]
    first_strong = tracking.first_strong_epoch.tolist()
    data = {
        "name": layer,
        "sprite": f"{DATA_FOLDER}/{sprite_name(position)}",
        "width": width,
        "height": height,
        "epochs": epochs,
        "labels": labels,
        "units": units,
        "status": [[kind, seen, first] for kind, seen, first in zip(kinds, classes, first_strong)],
        "cells": cells,
    }
    return data, sprite


def sprite_name(position: int) -> str:
    return f"layer{position}.png"


def data_script(run: ReportRun, layers: list[dict], threshold: float) -> str:
    """``units/data.js``: ``window.MANGO_UNITS = {...}``, one line per layer."""
    head = json.dumps({"run": str(run.root), "threshold": threshold}, ensure_ascii=True)[:-1]
    body = ",\n".join(json.dumps(layer, ensure_ascii=True, separators=(",", ":")) for layer in layers)
    return f"window.MANGO_UNITS = {head}, \"layers\": [\n{body}\n]}};\n"


def _write(path: Path, write: Callable[[Path], None]) -> Path:
    """``write(temporary path)`` beside ``path``, then rename it into place (as the figures are written)."""
    write_atomically(path, write, durable=False, overwrite=True)
    return path


def write_unit_page(run: ReportRun, output: Path) -> UnitPage:
    """Write ``units.html``, ``units/data.js`` and a sprite per layer into the report folder ``output``
    (every file atomically; sprites of an earlier report's layers that are gone now are removed)."""
    tracker = track_run(run)
    folder = output / DATA_FOLDER
    layers, sprites = [], []
    for position, layer in enumerate(run.layers):
        data, sprite = layer_data(run, layer, position, tracker)
        layers.append(data)
        picture = Image.fromarray(sprite[..., 0] if sprite.shape[-1] == 1 else sprite)
        sprites.append(_write(folder / sprite_name(position),
                              lambda path, picture=picture: picture.save(path, format="PNG", optimize=True)))
    for stale in folder.glob("layer*.png"):
        if stale not in sprites:
            stale.unlink()
    script = data_script(run, layers, tracker.activation_threshold)
    data = _write(folder / DATA_SCRIPT, lambda path: path.write_text(script, encoding="utf-8"))
    page = _write(output / PAGE, lambda path: path.write_text(PAGE_HTML, encoding="utf-8"))
    return UnitPage(page, data, sprites)


PAGE_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>mango-pl report: a unit's MEIs across training</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 1.5em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } p.summary, p.help { color: #555; font-size: 0.9em; }
form { display: flex; gap: 1em; align-items: center; flex-wrap: wrap; }
#status { font-size: 1.05em; } #status .kind { font-weight: bold; }
div.scroll { overflow-x: auto; } table { border-collapse: collapse; margin-top: 0.8em; }
th, td { border: 1px solid #ddd; padding: 4px 6px; text-align: center; vertical-align: top; }
th { background: #f4f4f4; font-weight: normal; }
div.mei { image-rendering: pixelated; background-repeat: no-repeat; margin: 0 auto; border: 1px solid #ccc; }
div.caption { font-size: 0.8em; font-family: ui-monospace, monospace; white-space: nowrap; margin-top: 2px; }
td.missing { color: #999; font-size: 0.85em; vertical-align: middle; }
p.error { color: #a33; }
</style></head><body>
<p><a href="index.html">&larr; the report's figures</a></p>
<h1>MEIs of one unit across training</h1>
<p class="summary" id="summary"></p>
<form id="pick" onsubmit="return false">
<label>Layer <select id="layer"></select></label>
<label>Unit <select id="unit"></select></label>
<button type="button" id="prev">&#9664; previous unit</button>
<button type="button" id="next">next unit &#9654;</button>
<a id="link" href="#">link to this unit</a>
</form>
<p id="status"></p>
<div class="scroll"><table id="meis"></table></div>
<p class="help">Rows: search runs; columns: the epochs the layer was searched at. Caption: a&lt;activation of the
unit by its MEI&gt; &middot; &lt;the network's top class for the MEI&gt; (&lt;its probability&gt;).</p>
<noscript><p class="error">This page needs JavaScript.</p></noscript>
<script src="units/data.js"></script>
<script>
(function () {
  "use strict";
  var data = window.MANGO_UNITS;
  var el = function (id) { return document.getElementById(id); };
  if (!data || !data.layers || !data.layers.length) {
    el("status").className = "error";
    el("status").textContent = "No unit data: units/data.js is missing beside units.html (write the report again).";
    return;
  }
  var SIZE = 96;  // pixels of the longer side of a shown MEI
  var layerSelect = el("layer"), unitSelect = el("unit");
  var current = { layer: 0, unit: 0 };
  el("summary").textContent = "Run " + data.run + ": " + data.layers.length + " layers. Pick a layer and a unit, " +
    "or open units.html#layer=<layer>&unit=<unit>.";
  data.layers.forEach(function (layer, k) {
    var option = document.createElement("option");
    option.value = String(k);
    option.textContent = layer.name + " (" + layer.units.length + " units)";
    layerSelect.appendChild(option);
  });

  function choose(select, chosen) {
    Array.prototype.forEach.call(select.options, function (option) {
      option.toggleAttribute("selected", option.value === String(chosen));
    });
    select.value = String(chosen);
  }

  function kindText(status) {
    var kind = status[0], classes = status[1];
    if (kind === "stable") { return ["stable", "selective for class " + classes[0] + " whenever selective"]; }
    if (kind === "labile") { return ["labile", "selective for classes " + classes.join(", ") + " over training"]; }
    return ["non-specialized", "never selective"];
  }

  function caption(cell) {
    return "a" + cell[0].toFixed(2) + " \\u00b7 " + cell[1] + " (" + cell[2].toFixed(2) + ")";
  }

  function render() {
    var layer = data.layers[current.layer], u = current.unit, unit = layer.units[u];
    if (unitSelect.dataset.layer !== String(current.layer)) {
      unitSelect.textContent = "";
      layer.units.forEach(function (value, k) {
        var option = document.createElement("option");
        option.value = String(k);
        option.textContent = "unit " + value;
        unitSelect.appendChild(option);
      });
      unitSelect.dataset.layer = String(current.layer);
    }
    choose(layerSelect, current.layer);
    choose(unitSelect, u);
    var hash = "#layer=" + encodeURIComponent(layer.name) + "&unit=" + unit;
    el("link").href = hash;
    if (location.hash !== hash && history.replaceState) { history.replaceState(null, "", hash); }
    document.title = "MEIs of " + layer.name + ", unit " + unit;

    var status = layer.status[u], kind = kindText(status), first = status[2];
    var statusLine = el("status");
    statusLine.textContent = "";
    var name = document.createElement("span");
    name.className = "kind";
    name.textContent = layer.name + ", unit " + unit + ": " + kind[0];
    statusLine.appendChild(name);
    statusLine.appendChild(document.createTextNode(" (" + kind[1] + "); " + (first >= 0
      ? "first strong MEI (activation \\u2265 " + data.threshold + ") at epoch " + first
      : "no strong MEI (activation \\u2265 " + data.threshold + ") in the searched epochs") + "."));

    var scale = Math.max(1, Math.round(SIZE / Math.max(layer.width, layer.height)));
    var w = layer.width * scale, h = layer.height * scale;
    var rows = layer.units.length * layer.labels.length;
    var table = el("meis");
    table.textContent = "";
    var head = table.insertRow();
    var corner = document.createElement("th");
    corner.textContent = "run \\\\ epoch";
    head.appendChild(corner);
    layer.epochs.forEach(function (epoch) {
      var th = document.createElement("th");
      th.textContent = "epoch " + epoch;
      head.appendChild(th);
    });
    layer.labels.forEach(function (label, m) {
      var row = table.insertRow();
      var th = document.createElement("th");
      th.textContent = label;
      row.appendChild(th);
      layer.epochs.forEach(function (epoch, e) {
        var td = row.insertCell(), cell = layer.cells[u][m][e];
        if (!cell) {
          td.className = "missing";
          td.textContent = "not searched";
          return;
        }
        td.className = "cell";
        var image = document.createElement("div");
        image.className = "mei";
        image.title = layer.name + ", unit " + unit + ", " + label + ", epoch " + epoch;
        image.style.width = w + "px";
        image.style.height = h + "px";
        image.style.backgroundImage = "url('" + layer.sprite + "')";
        image.style.backgroundSize = (layer.epochs.length * w) + "px " + (rows * h) + "px";
        image.style.backgroundPosition = (-e * w) + "px " + (-(u * layer.labels.length + m) * h) + "px";
        var text = document.createElement("div");
        text.className = "caption";
        text.textContent = caption(cell);
        td.appendChild(image);
        td.appendChild(text);
      });
    });
    el("prev").disabled = current.layer === 0 && u === 0;
    el("next").disabled = current.layer === data.layers.length - 1 && u === layer.units.length - 1;
  }

  function fromHash() {
    var query = new URLSearchParams(location.hash.replace(/^#/, ""));
    var name = query.get("layer"), unit = query.get("unit");
    var k = data.layers.findIndex(function (layer) { return layer.name === name; });
    if (k < 0) { k = name === null ? current.layer : 0; }
    var u = unit === null ? 0 : data.layers[k].units.indexOf(Number(unit));
    current = { layer: k, unit: Math.max(u, 0) };
    render();
  }

  function step(by) {
    var k = current.layer, u = current.unit + by;
    if (u < 0 && k > 0) { k -= 1; u = data.layers[k].units.length - 1; }
    if (u >= data.layers[k].units.length && k < data.layers.length - 1) { k += 1; u = 0; }
    if (u >= 0 && u < data.layers[k].units.length) { current = { layer: k, unit: u }; render(); }
  }

  layerSelect.addEventListener("change", function () {
    current = { layer: Number(layerSelect.value), unit: 0 };
    render();
  });
  unitSelect.addEventListener("change", function () { current.unit = Number(unitSelect.value); render(); });
  el("prev").addEventListener("click", function () { step(-1); });
  el("next").addEventListener("click", function () { step(1); });
  window.addEventListener("hashchange", fromHash);
  document.addEventListener("keydown", function (event) {
    if (event.target.tagName === "SELECT") { return; }
    if (event.key === "ArrowLeft") { step(-1); } else if (event.key === "ArrowRight") { step(1); }
  });
  fromHash();
})();
</script>
</body></html>
"""
