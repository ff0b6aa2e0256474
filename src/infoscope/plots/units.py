"""Per-unit maps (Fang et al.): units × epochs heatmaps and a last-epoch ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..analysis.series import last_per_epoch
from ..estimators import I_TY, I_XT
from ..labels import layer_labels
from ..marks import is_marked
from ..store import Store, opened
from ._common import MARKED_LABEL, layer_order, new_figure, recorded_order

__all__ = ["unit_maps"]


def unit_maps(
    store: Store | str | Path,
    run: str,
    layers: list[str] | None = None,
    estimator: str | None = None,
    probe: str = "train",
    weakest_fraction: float = 0.25,
) -> Figure:
    """Heatmaps of I(unit;Y) and I(X;unit) over epochs, and the last epoch's ranking, per layer.

    Units are sorted by their final value (most informative on top); values stored as saturated
    (at their estimator's bound) are marked with a white cross edged in black. The right-hand bar chart
    shows the last epoch's I(unit;Y) with the least informative ``weakest_fraction`` in red.

    Returns
    -------
    matplotlib.figure.Figure
        One row per layer: I(unit;Y) heatmap, I(X;unit) heatmap, final I(unit;Y) bars.
    """
    with opened(store) as st:
        m = st.measurements(run=run, units=True, probe=probe, estimator=estimator)
        order = layer_order(st, run)
        labels = layer_labels(st.layers(run))
        if m.empty:
            having = sorted(set(st.measurements(run=run, units=True, estimator=estimator).probe))
            raise ValueError(f"run {run!r} has no per-unit measurements on the {probe!r} probe"
                             + (f"; probes with units: {', '.join(having)} (--probe {having[0]})" if having else
                                " (record with units=True)"))
        estimator = estimator or recorded_order(st, run, m.estimator.unique())[0]
    m = m[m.estimator == estimator]
    layers = [l for l in (layers or order) if l in set(m.layer)]
    if not layers:
        raise ValueError(f"none of the requested layers has per-unit measurements; layers with units: {sorted(set(m.layer))}")
    fig = new_figure(13.0, 2.6 + 2.4 * len(layers))
    grid = fig.subplots(len(layers), 3, squeeze=False, gridspec_kw={"width_ratios": [3, 3, 1.6]})
    for row, layer in zip(grid, layers):
        lm = last_per_epoch(m[m.layer == layer], ["quantity", "unit"])
        final = lm[(lm.quantity == I_TY) & (lm.epoch == lm.epoch.max())].set_index("unit").value.sort_values()
        units_sorted = list(final.index[::-1])
        for ax, quantity, title in ((row[0], I_TY, "I(unit;Y)"), (row[1], I_XT, "I(X;unit)")):
            grid_q = lm[lm.quantity == quantity].pivot(index="unit", columns="epoch", values="value").loc[units_sorted]
            im = ax.pcolormesh(_cell_edges(grid_q.columns.to_numpy(dtype=float)), np.arange(len(units_sorted) + 1) - 0.5,
                               grid_q.values, cmap="magma", shading="flat")
            ax.invert_yaxis()
            flagged = lm[(lm.quantity == quantity) & lm.params.map(is_marked)]
            if not flagged.empty:  # values with a mark: at or past a bound, or at chance (infoscope.marks)
                ax.scatter(flagged.epoch, [units_sorted.index(u) for u in flagged.unit], marker="X", s=40, c="white",
                           edgecolors="black", linewidths=0.6, label=MARKED_LABEL)  # seen on dark and light cells
                ax.legend(loc="upper right", fontsize=7, framealpha=0.8)  # the key of ×
            if len(grid_q.columns) <= 20:  # ticks on the measured epochs (units may be measured every k-th)
                ax.set_xticks(grid_q.columns.to_numpy(dtype=float))
            _unit_ticks(ax, units_sorted)
            ax.set_ylabel(f"{labels.get(layer, layer)}\nunit (sorted)", fontsize=8)
            ax.set_xlabel("epoch")
            ax.set_title(f"{title}, {estimator}, {probe}", fontsize=9)
            fig.colorbar(im, ax=ax, label=f"{title} (bits)")
        n_weak = max(1, int(round(weakest_fraction * len(final))))
        colors = ["tab:red" if i < n_weak else "tab:blue" for i in range(len(final))]
        row[2].barh(np.arange(len(final)), final.values, color=colors)
        zero = np.flatnonzero(np.abs(final.values) < 1e-9)
        if len(zero):  # a bar of width 0 draws nothing: mark dead or uninformative units
            row[2].scatter(np.zeros(len(zero)), zero, marker="|", s=30, c=[colors[i] for i in zero], zorder=3,
                           label=f"{len(zero)} at 0 bits")
            row[2].legend(loc="lower right", fontsize=7)
        _unit_ticks(row[2], list(final.index))
        row[2].set_xlabel("final I(unit;Y) (bits)")
        row[2].set_title(f"red: weakest {n_weak}", fontsize=9)
    fig.suptitle(f"Per-unit information: {run}")
    return fig


#: Up to this many units every row is labelled; above it, every k-th.
_LABELLED_UNITS = 64


def _unit_ticks(ax, units: list) -> None:
    """Row labels naming the units: every unit up to :data:`_LABELLED_UNITS` (smaller type past
    20), else every k-th."""
    n = len(units)
    step = 1 if n <= _LABELLED_UNITS else int(np.ceil(n / _LABELLED_UNITS))
    rows = list(range(0, n, step))
    ax.set_yticks(rows)
    ax.set_yticklabels([units[i] for i in rows], fontsize=7 if n <= 20 else 5 if n <= 40 else 4)


def _cell_edges(epochs: np.ndarray) -> np.ndarray:
    """Column edges for measurements at ``epochs`` (sorted): halfway between neighbours, half
    an epoch beyond the first and last, so that epochs measured every k-th time
    (``unit_every``) get cells that reach to their neighbours."""
    mid = (epochs[1:] + epochs[:-1]) / 2
    return np.concatenate([[epochs[0] - 0.5], mid, [epochs[-1] + 0.5]])
