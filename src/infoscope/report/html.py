"""Render runs into one HTML file with every picture inlined (PNG as base64 data URIs).

The page needs nothing but itself: no scripts from elsewhere, no stylesheets, no image
files, so it opens from a plain file path and can be mailed or archived as is.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from ..plots import compare_runs, information_plane, mi_curves, resolution_plot, unit_maps
from ..store import Store, opened

__all__ = ["build_report", "write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{border-bottom:2px solid #444}h2{margin-top:2.5rem;border-bottom:1px solid #aaa}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th{background:#f0f0f0}td.l,th.l{text-align:left}figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}.warn{background:#fff4d6;border-left:4px solid #e0a000;padding:.3rem .7rem;margin:.3rem 0}
.muted{color:#777;font-size:.85rem}code{background:#f4f4f4;padding:0 .2rem}
"""


def _figure_html(fig: Figure, caption: str, dpi: int = 100) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    w, h = (int(v * dpi) for v in fig.get_size_inches())
    return (
        f'<figure><img src="data:image/png;base64,{data}" width="{w}" height="{h}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(df: pd.DataFrame, left: Sequence[str] = ()) -> str:
    head = "".join(f'<th class="{"l" if c in left else ""}">{html.escape(str(c))}</th>' for c in df.columns)
    rows = []
    for row in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, row):
            text = f"{v:.4f}" if isinstance(v, float) else str(v)
            cells.append(f'<td class="{"l" if c in left else ""}">{html.escape(text)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _try_figure(make: Callable[[], Figure], caption: str, problems: list[str]) -> str:
    try:
        return _figure_html(make(), caption)
    except ValueError as exc:  # e.g. no per-unit data: say so instead of failing the report
        problems.append(f"{caption}: {exc}")
        return ""


def _analysis_html(st: Store, run: str) -> str:
    from ..experiments.inspection import analyze_run

    try:
        a = analyze_run(st, run, save=False)
    except ValueError as exc:
        return f"<h3>Analysis</h3><p class='muted'>not available: {html.escape(str(exc))}</p>"
    net = a.network
    since = lambda e: "still changing" if e is None else f"since epoch {e}"  # noqa: E731
    parts = ["<h3>Analysis</h3>", f"<p><b>Convergence.</b> {html.escape(net['verdict'])}. Loss plateau: "
             f"{since(net['loss_since'])}; accuracy plateau: {since(net['accuracy_since'])}.</p>"]
    cols = ["probe", "estimator", "layer", "peak_epoch", "peak", "final", "drop", "drop_fraction", "compression_epochs", "verdict"]
    labels = st.layer_labels(run)
    parts.append("<p><b>Phases</b> (I(X;T), bits)</p>" + _table(a.phases[cols].assign(layer=a.phases.layer.map(labels).fillna(a.phases.layer)),
                                                               left=("probe", "estimator", "layer", "verdict")))
    if a.candidates:
        cand = pd.DataFrame([c.__dict__ for c in a.candidates])
        parts.append("<p><b>Prune candidates</b></p>" + _table(cand, left=("layer", "unit", "reason")))
    for w in a.warnings:
        parts.append(f'<div class="warn">{html.escape(w[2])}</div>')
    parts += [f"<p class='muted'>{html.escape(n)}</p>" for n in a.notes]
    return "\n".join(parts)


def _run_section(st: Store, run: str) -> str:
    info = st.run_info(run)
    problems: list[str] = []
    when = lambda t: _dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "—"  # noqa: E731
    parts = [f'<h2 id="{html.escape(run)}">Run {html.escape(run)}</h2>']
    parts.append(
        f'<p>experiment <b>{html.escape(str(info["experiment"]))}</b>, seed {info["seed"]}, status <b>{html.escape(info["status"])}</b>; '
        f'started {when(info["started_at"])}, ended {when(info["ended_at"])}.</p>'
    )
    shown_config = {k: v for k, v in info["config"].items() if k != "calibration"}
    config = pd.DataFrame({"setting": list(shown_config), "value": [json.dumps(v) for v in shown_config.values()]})
    versions = pd.DataFrame({"library": list(info["versions"]), "version": list(info["versions"].values())})
    parts.append("<h3>Configuration</h3>" + _table(config, left=("setting", "value")))
    parts.append("<h3>Library versions</h3>" + _table(versions, left=("library", "version")))
    final = st.final_values(run)
    metrics = st.metrics(run=run)
    if not final.empty:
        epoch = int(final.epoch.iloc[0])
        labels = st.layer_labels(run)
        shown = final.drop(columns="epoch").assign(layer=final.layer.map(labels).fillna(final.layer))
        parts.append(f"<h3>Final values (epoch {epoch}, bits)</h3>" + _table(shown, left=("probe", "layer", "estimator")))
    if not metrics.empty:
        last = metrics[metrics.epoch == metrics.epoch.max()].groupby("name").value.last().reset_index()
        parts.append("<h3>Final metrics</h3>" + _table(last, left=("name",)))
    if info["config"].get("calibration"):
        cal = pd.DataFrame(info["config"]["calibration"]).drop(columns=["shannon"], errors="ignore")
        parts.append("<h3>Calibration: each estimator on Gaussian pairs of known MI at these N and D (bits)</h3>"
                     "<p class='muted'>error = estimate − truth; matrix Rényi is not a Shannon estimate: its value "
                     "stands beside the Shannon MI, no error is given.</p>" + _table(cal, left=("case", "estimator")))
    parts.append(_analysis_html(st, run))
    warnings = st.warnings(run=run)
    parts.append("<h3>Recorded warnings</h3>")
    if warnings.empty:
        parts.append('<p class="muted">none</p>')
    else:
        parts += [f'<div class="warn">epoch {w.epoch}: {html.escape(str(w.message))}</div>' for w in warnings.itertuples()]
    parts.append("<h3>Pictures</h3>")
    probes = sorted(st.measurements(run=run).probe.unique())
    for probe in probes:
        parts.append(_try_figure(lambda p=probe: information_plane(st, run, probe=p), f"Information plane, {probe} probe", problems))
    parts.append(_try_figure(lambda: mi_curves(st, run), "MI against epoch per layer, with accuracy and loss", problems))
    parts.append(_try_figure(lambda: unit_maps(st, run), "Per-unit information (units sorted by final I(unit;Y))", problems))
    parts.append(_try_figure(lambda: resolution_plot(st, run), "Resolution each value rests on (kernel width σ, bin width)", problems))
    if problems:
        parts.append("<p class='muted'>Not drawn: " + "; ".join(html.escape(p) for p in problems) + "</p>")
    return "\n".join(p for p in parts if p)


def build_report(store: Store | str | Path, runs: Sequence[str] | None = None, title: str = "infoscope report") -> str:
    """The report as an HTML string.

    Parameters
    ----------
    store : Store or path
    runs : list of str, optional
        Default: every run in the database.
    title : str

    Returns
    -------
    str
        A complete HTML document with all pictures inlined.
    """
    with opened(store) as st:
        names = list(runs) if runs else st.run_names()
        if not names:
            raise ValueError(f"{st.path} holds no runs; record one first (infoscope run …)")
        for n in names:
            st.run_id(n)  # a clear error for unknown names before any drawing
        body = [f"<h1>{html.escape(title)}</h1>",
                f'<p class="muted">{html.escape(str(st.path))} · generated {_dt.datetime.now():%Y-%m-%d %H:%M} · all information values in bits</p>',
                "<p>Runs: " + ", ".join(f'<a href="#{html.escape(n)}">{html.escape(n)}</a>' for n in names) + "</p>"]
        if len(names) > 1:
            problems: list[str] = []
            body.append("<h2>Comparison</h2>")
            body.append(_try_figure(lambda: compare_runs(st, names), "Information planes side by side (train probe)", problems))
            if problems:
                body.append("<p class='muted'>" + "; ".join(html.escape(p) for p in problems) + "</p>")
        body += [_run_section(st, n) for n in names]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def write_report(store: Store | str | Path, out: str | Path, runs: Sequence[str] | None = None, title: str = "infoscope report") -> Path:
    """Write :func:`build_report` to ``out`` (an ``.html`` file) and return its path."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"the report is HTML: name the output file *.html, got {out.name}")
    text = build_report(store, runs, title)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
