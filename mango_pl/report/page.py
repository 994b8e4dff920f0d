"""``index.html``: every figure of the report with its caption and CSVs, and each figure not drawn
with the reason."""

from __future__ import annotations

from html import escape

from mango_pl.report.outcome import FigureOutcome
from mango_pl.report.run import ReportRun

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 1.5em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
img { max-width: 100%; border: 1px solid #ddd; }
p.caption { margin: 0.3em 0; } p.files, p.summary { color: #555; font-size: 0.9em; }
p.skipped { color: #a33; } ul.notes { color: #555; font-size: 0.9em; }
"""


def index_html(run: ReportRun, outcomes: list[FigureOutcome]) -> str:
    """The page, figures in ``outcomes`` order (file links relative to the report folder)."""
    labels = list(dict.fromkeys(label for layer in run.layers for label in run.last(layer).report.labels))
    accuracy = (", ".join(f"{value:.3f} (epoch {epoch})" for epoch, value in run.accuracy.by_epoch.items())
                if run.accuracy.by_epoch else f"none: {run.accuracy.missing}")
    lines = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>mango-pl report: {escape(str(run.root))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>MEIs of {escape(str(run.root))}</h1>",
        f'<p class="summary">Layers: {escape(", ".join(run.layers))}. Epochs: '
        f"{escape(', '.join(map(str, run.epochs)))}. Search runs: {escape(', '.join(labels))}. Grid: d={run.grid[0]}, "
        f"n={run.grid[1]}. Validation accuracy: {escape(accuracy)}.</p>",
    ]
    if run.notes:
        lines.append('<ul class="notes">' + "".join(f"<li>{escape(note)}</li>" for note in run.notes) + "</ul>")
    skipped = [o for o in outcomes if o.png is None]
    if skipped:
        lines.append('<p class="skipped">Not drawn: ' + "; ".join(
            f'<a href="#{o.name}">{escape(o.title)}</a>' for o in skipped) + ".</p>")
    for outcome in outcomes:
        lines.append(f'<h2 id="{outcome.name}">{escape(outcome.title)}</h2>')
        if outcome.png is not None:
            png, alt = outcome.png.name, escape(outcome.title)
            lines.append(f'<a href="{png}"><img src="{png}" alt="{alt}"></a>')
            lines.append(f'<p class="caption">{escape(outcome.caption)}</p>')
            links = ", ".join(f'<a href="{path.name}">{path.name}</a>' for path in outcome.csvs)
            lines.append(f'<p class="files">Numbers: {links}</p>')
        else:
            lines.append(f'<p class="caption">{escape(outcome.caption)}</p>')
            lines.append(f'<p class="skipped">Not drawn: {escape(outcome.skipped)}.</p>')
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"
