"""``mango-pl report``: the paper's figures from the MEI files of a real (tiny) training run.

One 3-epoch spiking-ResNet fit on the offline digits, with ``MEISearchCallback(report=True)`` and a
TensorBoard logger, is shared by the module; every test reads its files (or copies of them) and
checks the numbers behind each figure against the MEI files read back with ``mango_pl.mei``.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from PIL import Image

from callbacks import MEISearchCallback
from mango_pl.cli import main as cli_main
from mango_pl.mei import analyse, find_mei_files, layer_scalars, load_meis, save_meis
from mango_pl.report import FIGURES, ReportError, write_report
from tests.mei_helpers import ASSET_GENERATOR

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["sn1", "layer1.0.sn1"]
LABELS = ["tt-s", "random"]
EPOCHS = [0, 1, 2]
UNITS, BUDGET = 4, 24
ALL_FIGURES = {kind.name for kind in FIGURES}
#: every test on one pytest-xdist worker: the module's fit (``run``) is made once, not once per worker
pytestmark = pytest.mark.xdist_group("report_run")


class AccuracyRecorder(pl.Callback):
    """The validation accuracy of every epoch, as the training computed it."""

    def __init__(self):
        self.by_epoch: dict[int, float] = {}

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.by_epoch[trainer.current_epoch] = float(trainer.callback_metrics["val/acc"])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real 3-epoch fit: its run folder (``.../version_0``), MEI files and recorded accuracies."""
    from mango_pl.data import DigitsDataModule
    from mango_pl.lit import ClassifierModule
    from mango_pl.models import SpikingResNet18
    from mango_pl.stimuli import GeneratorSpace

    root = tmp_path_factory.mktemp("report_run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pl.seed_everything(0)
        network = SpikingResNet18(num_classes=10, in_channels=1, time_steps=2, base_width=4)
        module = ClassifierModule(model=network, lr=1e-2)
        data = DigitsDataModule(image_size=16, channels=1, batch_size=32)
        mei = MEISearchCallback(layers=LAYERS, units=UNITS, methods=LABELS, budget=BUDGET, seed=0, progress=False,
                                space=GeneratorSpace(checkpoint=str(REPO / ASSET_GENERATOR)), report=True)
        accuracy = AccuracyRecorder()
        logger = TensorBoardLogger(save_dir=str(root), name="run")
        trainer = pl.Trainer(max_epochs=len(EPOCHS), accelerator="cpu", devices=1, logger=logger,
                             callbacks=[mei, accuracy], enable_checkpointing=False, enable_model_summary=False,
                             enable_progress_bar=False, limit_train_batches=2, limit_val_batches=1,
                             log_every_n_steps=1)
        trainer.fit(module, datamodule=data)
    finally:
        torch.set_num_threads(threads)
    run_dir = Path(logger.log_dir)
    files = {(f.meis.layer, f.meis.epoch): f for f in map(load_meis, find_mei_files(run_dir))}
    return {"dir": run_dir, "files": files, "accuracy": accuracy.by_epoch}


@pytest.fixture(scope="module")
def report(run, tmp_path_factory):
    """The report of the run, written to its own folder."""
    return write_report(run["dir"], tmp_path_factory.mktemp("report") / "out")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def copy_meis(run, destination: Path, epochs) -> None:
    """Copy the run's MEI files of ``epochs`` into ``destination/meis/epoch=E/``."""
    for (layer, epoch), found in run["files"].items():
        if epoch in epochs:
            target = destination / "meis" / found.path.parent.name / found.path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(found.path, target)


# ---------------------------------------------------------------------------------------------- the run


def test_the_callback_option_writes_the_report_at_the_end_of_the_fit(run):
    folder = run["dir"] / "report"
    assert (folder / "index.html").is_file()
    for name in ALL_FIGURES:  # 3 epochs, 2 runs, accuracy logged: every figure is drawn
        assert (folder / f"{name}.png").is_file(), name
    assert sorted(run["files"]) == sorted((layer, epoch) for layer in LAYERS for epoch in EPOCHS)


def test_every_figure_is_drawn_as_a_png_with_its_csv_and_listed_in_the_page(report):
    assert {f.name for f in report.drawn} == ALL_FIGURES and not report.skipped
    page = report.index.read_text(encoding="utf-8")
    for figure in report.figures:
        with Image.open(figure.png) as image:
            assert image.format == "PNG" and image.width >= 400 and image.height >= 250
        assert figure.csvs and all(path.is_file() and read_csv(path) for path in figure.csvs)
        assert f'src="{figure.png.name}"' in page and figure.title in page
        assert escape(figure.caption) in page
    assert '<a href="units.html">' in page and report.units == report.output / "units.html"  # the unit page


def test_activation_vs_queries_ends_at_the_mean_running_max_of_the_histories(run, report):
    rows = read_csv(report.output / "activation_vs_queries.csv")
    for layer in LAYERS:
        last = run["files"][(layer, EPOCHS[-1])].meis
        for label in LABELS:
            curve = [r for r in rows if r["layer"] == layer and r["label"] == label]
            assert [int(r["query"]) for r in curve] == list(range(1, BUDGET + 1))
            assert {r["epoch"] for r in curve} == {str(EPOCHS[-1])} and {r["units"] for r in curve} == {str(UNITS)}
            history = last.runs[label].history.double()
            expected = history.cummax(1).values.mean(0)  # best so far, mean over units, at every query
            assert [float(r["mean"]) for r in curve] == pytest.approx(expected.tolist(), abs=1e-9)
            assert float(curve[-1]["mean"]) == pytest.approx(last.runs[label].activation.double().mean().item(),
                                                             abs=1e-6)
            assert all(float(r["low"]) <= float(r["mean"]) <= float(r["high"]) for r in curve)


def test_selective_fraction_heatmap_cells_are_the_files_fractions(run, report):
    rows = read_csv(report.output / "selective_fraction.csv")
    assert len(rows) == len(LAYERS) * len(EPOCHS)
    for row in rows:
        saved = run["files"][(row["layer"], int(row["epoch"]))].report
        assert float(row["selective_fraction"]) == saved.selective_fraction
        assert float(row["strong_fraction"]) == saved.strong_fraction


def test_class_entropy_compares_the_first_and_last_epoch(run, report):
    rows = read_csv(report.output / "class_entropy.csv")
    for stage, epoch in (("early", EPOCHS[0]), ("late", EPOCHS[-1])):
        for layer in LAYERS:
            saved = run["files"][(layer, epoch)].report
            values = [float(r["entropy"]) for r in rows if r["layer"] == layer and r["stage"] == stage]
            assert {r["epoch"] for r in rows if r["stage"] == stage} == {str(epoch)}
            assert values == pytest.approx(saved.entropy.flatten().tolist())


def test_emergence_counts_the_first_strong_epochs_the_tracking_found(run, report):
    rows = read_csv(report.output / "emergence_first_strong.csv")
    for layer in LAYERS:
        first = run["files"][(layer, EPOCHS[-1])].tracking.first_strong_epoch
        for epoch in (*EPOCHS, -1):
            row = next(r for r in rows if r["layer"] == layer and int(r["first_strong_epoch"]) == epoch)
            assert int(row["units"]) == int((first == epoch).sum())
        assert sum(int(r["units"]) for r in rows if r["layer"] == layer) == UNITS
    normalized = read_csv(report.output / "emergence_activation.csv")
    for layer in LAYERS:
        best = torch.stack([run["files"][(layer, e)].report.activation.max(0).values for e in EPOCHS]).double()
        peak = best.max(0).values
        expected = (best[:, peak > 0] / peak[peak > 0]).mean(1)  # units never active are left out
        assert [float(r["mean"]) for r in normalized if r["layer"] == layer] == pytest.approx(expected.tolist())


def test_dynamics_diversity_and_complexity_means_are_the_logged_scalars(run, report):
    dynamics = read_csv(report.output / "dynamics_activation.csv")
    diversity = read_csv(report.output / "diversity.csv")
    complexity = read_csv(report.output / "complexity.csv")
    for (layer, epoch), found in run["files"].items():
        scalars = layer_scalars(found.report)

        def mean(rows, metric):
            return next(float(r["mean"]) for r in rows if r["layer"] == layer and int(r["epoch"]) == epoch
                        and r["metric"] == metric)

        prefix = f"mei/{layer}"
        assert mean(dynamics, "mean_activation") == pytest.approx(scalars[f"{prefix}/mean_activation"], abs=1e-6)
        assert mean(diversity, "euclidean") == pytest.approx(scalars[f"{prefix}/diversity_euclidean"], rel=1e-6)
        assert mean(diversity, "cosine") == pytest.approx(scalars[f"{prefix}/diversity_cosine"], rel=1e-6)
        assert mean(complexity, "jpeg") == pytest.approx(scalars[f"{prefix}/jpeg_ratio"], rel=1e-6)
        assert mean(complexity, "zip") == pytest.approx(scalars[f"{prefix}/zip_ratio"], rel=1e-6)
    accuracy = read_csv(report.output / "dynamics_accuracy.csv")
    assert {int(r["epoch"]): float(r["val_acc"]) for r in accuracy} == pytest.approx(run["accuracy"])
    assert sorted(run["accuracy"]) == EPOCHS


def test_stable_labile_fractions_and_strip_follow_the_tracking(run, report):
    fractions = read_csv(report.output / "stable_labile_fractions.csv")
    for row in fractions:
        tracking = run["files"][(row["layer"], EPOCHS[-1])].tracking
        assert float(row["stable"]) == pytest.approx(tracking.stable_fraction)
        assert float(row["labile"]) == pytest.approx(tracking.labile_fraction)
        assert float(row["non_specialized"]) == pytest.approx(tracking.non_specialized_fraction)
    strip = read_csv(report.output / "stable_labile_strip.csv")
    assert len(strip) == len(EPOCHS) * len(LABELS) and len({(r["layer"], r["unit"]) for r in strip}) == 1
    for row in strip:
        saved = run["files"][(row["layer"], int(row["epoch"]))].report
        m, u = saved.labels.index(row["label"]), saved.units.index(int(row["unit"]))
        assert int(row["mei_class"]) == int(saved.probs[m, u].argmax())
        assert float(row["activation"]) == pytest.approx(float(saved.activation[m, u]))


def test_gallery_captions_are_the_last_epochs_meis(run, report):
    rows = read_csv(report.output / "gallery.csv")
    assert len(rows) == len(LAYERS) * len(LABELS) * UNITS
    for row in rows:
        saved = run["files"][(row["layer"], EPOCHS[-1])].report
        m, u = saved.labels.index(row["label"]), saved.units.index(int(row["unit"]))
        assert int(row["epoch"]) == EPOCHS[-1]
        assert float(row["activation"]) == pytest.approx(float(saved.activation[m, u]))
        assert int(row["top_class"]) == int(saved.probs[m, u].argmax())


# ---------------------------------------------------------------------------------------------- other runs


def test_one_epoch_without_accuracy_skips_what_it_cannot_draw_and_says_why(run, tmp_path):
    copy_meis(run, tmp_path / "one", epochs=[EPOCHS[-1]])
    report = write_report(tmp_path / "one")
    reasons = {f.name: f.skipped for f in report.skipped}
    assert set(reasons) == {"class_entropy", "dynamics", "stable_labile"}
    assert all("at least 2 epochs" in reason for reason in reasons.values())
    assert {f.name for f in report.drawn} == ALL_FIGURES - set(reasons)
    page = report.index.read_text(encoding="utf-8")
    assert page.count("Not drawn: ") == 1 + len(reasons) and "at least 2 epochs" in page
    assert not (report.output / "dynamics.png").exists()


def test_a_resumed_run_split_across_versions_is_one_run_with_the_newest_files(run, tmp_path, capsys):
    """version_0 holds epochs 0-1, the resumed version_1 epochs 1-2 (epoch 1 searched again): one run of
    three epochs, epoch 1 from version_1. No event files: the dynamics figure says it needs the accuracy."""
    copy_meis(run, tmp_path / "demo" / "version_0", epochs=[0, 1])
    copy_meis(run, tmp_path / "demo" / "version_1", epochs=[1, 2])
    saved_again = tmp_path / "demo" / "version_1" / "meis" / "epoch=0002"  # a file saved twice gets -v1
    shutil.copy2(saved_again / "sn1.pt", saved_again / "sn1-v1.pt")
    assert cli_main(["report", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert ("note: epoch 2, layer sn1: kept the newest file version_1/meis/epoch=0002/sn1-v1.pt, left out "
            "version_1/meis/epoch=0002/sn1.pt") in out
    for layer in LAYERS:
        assert (f"note: epoch 1, layer {layer}: kept the newest file version_1/meis/epoch=0001/{layer}.pt, "
                f"left out version_0/meis/epoch=0001/{layer}.pt") in out
    assert "skipped dynamics: needs the run's validation accuracy: no TensorBoard event files under" in out
    rows = read_csv(tmp_path / "demo" / "report" / "selective_fraction.csv")
    assert sorted((r["layer"], int(r["epoch"])) for r in rows) == sorted((l, e) for l in LAYERS for e in EPOCHS)
    assert (tmp_path / "demo" / "report" / "stable_labile.png").is_file()


def test_the_command_line_writes_a_report_and_refuses_to_overwrite_it(run, tmp_path, capsys):
    output = tmp_path / "figures"
    done = subprocess.run([sys.executable, "-m", "mango_pl.cli", "report", str(run["dir"]), "--output", str(output),
                           "--log-x"], capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert f"9 figures (PNG + CSV) written to {output}" in done.stdout
    assert {p.name for p in output.glob("*.png")} == {f"{name}.png" for name in ALL_FIGURES}
    written = (output / "index.html").stat().st_mtime_ns
    assert cli_main(["report", str(run["dir"]), "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "already holds a report (index.html); give --overwrite" in error
    assert (output / "index.html").stat().st_mtime_ns == written


def test_overwrite_replaces_a_report_and_removes_figures_no_longer_drawn(run, tmp_path):
    copy_meis(run, tmp_path / "run", epochs=EPOCHS)
    first = write_report(tmp_path / "run", tmp_path / "out")
    assert (tmp_path / "out" / "class_entropy.png").is_file()
    shutil.rmtree(tmp_path / "run" / "meis" / "epoch=0000")
    shutil.rmtree(tmp_path / "run" / "meis" / "epoch=0001")
    with pytest.raises(ReportError, match="already holds a report .* --overwrite"):
        write_report(tmp_path / "run", tmp_path / "out")
    second = write_report(tmp_path / "run", tmp_path / "out", overwrite=True)
    assert len(second.drawn) < len(first.drawn)
    assert not (tmp_path / "out" / "class_entropy.png").exists()
    assert not (tmp_path / "out" / "stable_labile_strip.csv").exists()
    assert "Epochs: 2." in second.index.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- bad input


def _rewritten(found, epoch_folder: Path, units=None, grid=None) -> None:
    """Save ``found`` again (through the engine) with a subset of its units or another grid."""
    meis = found.meis
    if units is not None:
        order = torch.tensor([meis.units.index(u) for u in units])
        meis.runs = {label: r.select(order) for label, r in meis.runs.items()}
        meis.units = list(units)
    if grid is not None:
        meis.grid = grid
    save_meis(epoch_folder / found.path.name, meis, analyse(meis), found.tracking)


def test_bad_input_is_a_one_line_error_before_anything_is_written(run, tmp_path, capsys):
    empty = tmp_path / "empty"
    (empty / "meis").mkdir(parents=True)
    with pytest.raises(ReportError, match="no MEI files under .*give such a folder"):
        write_report(empty)
    assert cli_main(["report", str(empty)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("mango-pl report: error: no MEI files") and error.count("\n") == 1
    assert not (empty / "report").exists()

    mixed = tmp_path / "mixed"
    copy_meis(run, mixed, epochs=[0])
    _rewritten(load_meis(run["files"][("sn1", 1)].path), mixed / "meis" / "epoch=0001", grid=(64, 512))
    with pytest.raises(ReportError, match=r"different stimulus grids .*\(128, 64\).*\(64, 512\).*one run"):
        write_report(mixed)

    units = tmp_path / "units"
    copy_meis(run, units, epochs=[0])
    _rewritten(load_meis(run["files"][("sn1", 1)].path), units / "meis" / "epoch=0001", units=[0, 2])
    different = r"layer 'sn1' has files for different units under .*: \[0, 1, 2, 3\] in .* but \[0, 2\] in"
    with pytest.raises(ReportError, match=different):
        write_report(units)

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ReportError, match="is a file, not a folder; give --output a folder"):
        write_report(run["dir"], blocker / "report")
    assert cli_main(["report", str(run["dir"]), "--output", str(blocker / "report")]) == 2
    for folder in (mixed, units):
        assert not (folder / "report").exists()


def test_the_papers_findings_are_checked_on_the_run_and_listed_in_the_page(run, report):
    from mango_pl.report.paper_claims import CANNOT_TELL, CLAIMS, FAILS, HOLDS

    rows = read_csv(report.output / "claims.csv")
    assert [row["key"] for row in rows] == [c.key for c in report.claims] and len(rows) == len(CLAIMS)
    verdicts = {row["key"]: row["verdict"] for row in rows}
    assert set(verdicts.values()) <= {HOLDS, FAILS, CANNOT_TELL}
    assert verdicts["selective_depth"] == CANNOT_TELL  # two layers cannot be split into thirds
    # two search runs per unit and three epochs: the diversity and activation checks give a verdict
    assert verdicts["diversity_similar"] != CANNOT_TELL and verdicts["activation_training"] != CANNOT_TELL
    similar = next(c for c in report.claims if c.key == "diversity_similar")
    assert "MEI images' pixels" in similar.measured and "nan" not in similar.measured
    depth = next(c for c in report.claims if c.key == "diversity_depth")
    diversity = read_csv(report.output / "diversity.csv")
    first = next(r for r in diversity if r["layer"] == LAYERS[0] and r["epoch"] == str(EPOCHS[-1])
                 and r["metric"] == "euclidean")
    assert f"{LAYERS[0]} {float(first['mean']):.2f} [{float(first['low']):.2f}, " in depth.measured  # the figure's number
    page = report.index.read_text(encoding="utf-8")
    assert 'id="claims"' in page and page.count('<td class="verdict">') == len(CLAIMS)
    assert (report.output / "claims.md").read_text(encoding="utf-8").startswith("| Paper's finding |")


def test_layers_are_ordered_by_depth_even_in_a_copy_that_lost_the_file_times(run, tmp_path):
    copy_meis(run, tmp_path, EPOCHS)
    for path in tmp_path.rglob("*.pt"):  # the times of a copy: the deepest layer's files look written first
        stamp = 1_000_000 + len(LAYERS) - LAYERS.index(path.stem)
        os.utime(path, (stamp, stamp))
    from mango_pl.report import load_run

    loaded = load_run(tmp_path)
    assert loaded.layers == LAYERS and loaded.files[LAYERS[0]][0].meis.depth < loaded.files[LAYERS[1]][0].meis.depth
