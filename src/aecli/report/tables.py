"""The report's parts for table models: rows beside their reconstructions with each cell's error
shaded, real-versus-reconstructed histograms of the worst columns, and samples compared with the
real rows (histograms and correlation matrices)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import aecli.report.figures as fg
from aecli.report.page import Section, esc, figure, fmt

if TYPE_CHECKING:
    from aecli.model import Model
    from aecli.report.collect import Evidence

SHOWN_ROWS = 6
SHOWN_COLUMNS = 12
HISTOGRAMS = 6


def _numeric_errors(model: Model, ev: Evidence) -> list[tuple[str, float]]:
    """(column, MSE in standardised units) of each numeric column, worst first."""
    out = []
    for f in model.adapter.features():
        if not f.categorical:
            err = np.nanmean((ev.recon[:, f.start] - ev.x[:, f.start]) ** 2)
            out.append((f.name, float(err) if np.isfinite(err) else 0.0))
    return sorted(out, key=lambda t: -t[1])


def reconstructions(model: Model, ev: Evidence) -> Section:
    assert ev.frame is not None
    recon = model.adapter.rows_out(ev.recon, None)
    features = model.adapter.features()
    worst = [name for name, _ in _numeric_errors(model, ev)]
    shown = [f for f in features if f.name in worst[:SHOWN_COLUMNS] or f.categorical]
    shown = shown[:SHOWN_COLUMNS]
    body = _cell_table(ev, recon, shown)
    body += (
        '<p class="lead">Each pair of lines is one row: the data, then its reconstruction in the '
        "data's own units. The shade of a reconstructed cell grows with its error (in standard "
        "deviations of the column; a wrong label is fully shaded).</p>"
    )
    hist = [n for n in worst[:HISTOGRAMS] if n in recon.columns]
    if hist:
        uri = fg.histograms(hist, ev.frame, recon, "reconstructed")
        body += figure(
            uri,
            "Real versus reconstructed values of the worst-reconstructed columns "
            f"over the {ev.rows} rows shown.",
        )
    return Section("reconstructions", "Originals and reconstructions", body)


def _cell_table(ev: Evidence, recon: pd.DataFrame, shown: list[Any]) -> str:
    assert ev.frame is not None
    head = "<th>row</th><th></th>" + "".join(f"<th>{esc(f.name)}</th>" for f in shown)
    lines = []
    for i in range(min(SHOWN_ROWS, ev.rows)):
        real = "".join(f"<td>{esc(_cell(ev.frame[f.name].iloc[i]))}</td>" for f in shown)
        lines.append(f'<tr><td rowspan="2">{i + 1}</td><td>data</td>{real}</tr>')
        cells = []
        for f in shown:
            value = recon[f.name].iloc[i]
            shade = _shade(ev, i, f)
            cells.append(
                f'<td class="recon" style="background: rgba(214, 39, 40, {shade:.2f})">'
                f"{esc(_cell(value))}</td>"
            )
        lines.append("<tr><td>model</td>" + "".join(cells) + "</tr>")
    return f'<div class="wide"><table><tr>{head}</tr>{"".join(lines)}</table></div>'


def _shade(ev: Evidence, i: int, f: Any) -> float:
    """0 (no error) to 0.75 (an error of 2 standard deviations or more, or a wrong label)."""
    if f.categorical:
        block = slice(f.start, f.start + f.width)
        truth = ev.x[i, block]
        if np.isnan(truth).any():
            return 0.0
        return 0.75 if truth.argmax() != ev.recon[i, block].argmax() else 0.0
    err = abs(float(ev.recon[i, f.start] - ev.x[i, f.start]))
    return 0.0 if not np.isfinite(err) else min(err / 2.0, 1.0) * 0.75


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    return fmt(float(value)) if isinstance(value, float | np.floating) else str(value)


def samples(model: Model, ev: Evidence, seed: int = 0) -> Section:
    """Sampled rows beside the real ones: histograms of the columns whose distributions differ
    most, and the correlation matrices of the numeric columns."""
    assert ev.frame is not None
    drawn = model.sample(ev.rows, seed=seed)
    numeric = [f.name for f in model.adapter.features() if not f.categorical]
    body = ""
    if numeric:
        real = ev.frame[numeric].apply(pd.to_numeric, errors="coerce")
        fake = drawn[numeric].apply(pd.to_numeric, errors="coerce")
        distance = {c: _ks(real[c].to_numpy(), fake[c].to_numpy()) for c in numeric}
        worst = sorted(numeric, key=lambda c: -distance[c])[:HISTOGRAMS]
        uri = fg.histograms(worst, real, fake, "sampled")
        caption = (
            f"{ev.rows} sampled rows against the {ev.rows} real rows shown: the columns whose "
            "distributions differ most (Kolmogorov-Smirnov distance) first."
        )
        body += figure(uri, caption)
        if len(numeric) >= 2:
            uri = fg.correlations(
                numeric, _corr(real), _corr(fake)
            )  # Pearson correlations of numeric columns
            body += figure(
                uri,
                "Correlations between numeric columns: real rows, sampled rows, "
                "and their difference (a good generator leaves it near zero).",
            )
    categorical = [f.name for f in model.adapter.features() if f.categorical]
    if categorical:
        body += _label_shares(ev.frame, drawn, categorical)
    return Section("samples", "Samples", body)


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])
    if not len(a) or not len(b):
        return 0.0
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.abs(fa - fb).max())


def _corr(frame: pd.DataFrame) -> np.ndarray:
    return np.nan_to_num(frame.corr().to_numpy(), nan=0.0)


def _label_shares(real: pd.DataFrame, drawn: pd.DataFrame, columns: list[str]) -> str:
    """Each category's share among real and sampled rows."""
    rows = []
    for c in columns[:6]:
        a = real[c].astype(str).value_counts(normalize=True)
        b = drawn[c].astype(str).value_counts(normalize=True)
        for label in a.index[:8]:
            rows.append(
                f"<tr><td>{esc(c)}</td><td>{esc(label)}</td>"
                f'<td class="num">{a[label]:.1%}</td>'
                f'<td class="num">{b.get(label, 0.0):.1%}</td></tr>'
            )
    head = "<tr><th>column</th><th>label</th><th>real</th><th>sampled</th></tr>"
    return (
        f'<h3>Categorical columns</h3><div class="wide"><table>{head}{"".join(rows)}</table></div>'
    )
