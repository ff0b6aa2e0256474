"""The tables of a run's report section, as HTML: configuration, final values, metrics,
calibration, the analysis (phases, prune candidates) and recorded warnings.

Rendered on the server side from stored data only, in the report and by ``infoscope serve``
alike; the pictures are drawn in the browser (:mod:`infoscope.report.assets`).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Sequence

import pandas as pd

from ..analysis import analyze
from ..analysis.series import final_values
from ..labels import layer_labels
from ..marks import MARK_LEGEND, marked
from ..store import Store

__all__ = ["run_tables"]


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


def _labelled(df: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """``df`` with each layer shown by its readable label (its name where it has none)."""
    return df.assign(layer=df.layer.map(labels).fillna(df.layer))


def _analysis_html(st: Store, run: str) -> str:
    try:
        a = analyze(st, run)
    except ValueError as exc:
        return f"<h3>Analysis</h3><p class='muted'>not available: {html.escape(str(exc))}</p>"
    net = a.network
    since = lambda e: "still changing" if e is None else f"since epoch {e}"  # noqa: E731
    parts = ["<h3>Analysis</h3>", f"<p><b>Convergence.</b> {html.escape(net['verdict'])}. Loss plateau: "
             f"{since(net['loss_since'])}; accuracy plateau: {since(net['accuracy_since'])}.</p>"]
    cols = ["probe", "estimator", "layer", "peak_epoch", "peak", "final", "maximum", "drop", "drop_fraction", "compression_epochs", "rescaled", "verdict"]
    parts.append("<p><b>Phases</b> (I(X;T), bits)</p>" + _table(_labelled(a.phases[cols], layer_labels(st.layers(run))),
                                                               left=("probe", "estimator", "layer", "verdict")))
    if a.candidates:
        cand = pd.DataFrame([c.__dict__ for c in a.candidates])
        parts.append("<p><b>Prune candidates</b></p>" + _table(cand, left=("layer", "unit", "reason")))
    for w in a.warnings:
        parts.append(f'<div class="warn">{html.escape(w[2])}</div>')
    parts += [f"<p class='muted'>{html.escape(n)}</p>" for n in a.notes]
    return "\n".join(parts)


def run_tables(st: Store, run: str) -> str:
    """A run's description, tables, analysis and warnings as an HTML fragment (values in bits),
    from stored data only: unit health and redundant units are the findings stored with the run
    when it was recorded or analysed (``infoscope analyze``), so the report and a live view show
    the same tables and neither rebuilds the model.
    """
    info = st.run_info(run)
    when = lambda t: _dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "—"  # noqa: E731
    parts = [
        f'<p>experiment <b>{html.escape(str(info["experiment"]))}</b>, seed {info["seed"]}, status <b>{html.escape(info["status"])}</b>; '
        f'started {when(info["started_at"])}, ended {when(info["ended_at"])}.</p>'
    ]
    shown_config = {k: v for k, v in info["config"].items() if k != "calibration"}
    config = pd.DataFrame({"setting": list(shown_config), "value": [json.dumps(v) for v in shown_config.values()]})
    versions = pd.DataFrame({"library": list(info["versions"]), "version": list(info["versions"].values())})
    parts.append("<h3>Configuration</h3>" + _table(config, left=("setting", "value")))
    parts.append("<h3>Library versions</h3>" + _table(versions, left=("library", "version")))
    layers = st.layers(run)
    final = final_values(st.measurements(run=run), layers.name)
    metrics = st.metrics(run=run)
    if not final.empty:
        epoch = int(final.epoch.iloc[0])
        quantities = [c for c in final.columns if f"{c} mark" in final.columns]
        shown = final.assign(**{q: [marked(v, k, 4) for v, k in zip(final[q], final[f"{q} mark"])] for q in quantities})
        shown = _labelled(shown.drop(columns=["epoch", *(f"{q} mark" for q in quantities)]), layer_labels(layers))
        legend = f'<p class="muted">{html.escape(MARK_LEGEND)}</p>' if any(final[f"{q} mark"].astype(bool).any() for q in quantities) else ""
        parts.append(f"<h3>Final values (epoch {epoch}, bits)</h3>" + _table(shown, left=("probe", "layer", "estimator")) + legend)
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
    return "\n".join(p for p in parts if p)


