"""The information plane: I(X;T) against I(T;Y), one trajectory per layer, coloured by epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..estimators import I_TY, I_XT
from ..store import Store, opened
from ._common import (AXIS, MARKED_LABEL, MARKERS, epoch_bands, epoch_values, integer_epochs, layer_measurements, marked, new_figure,
                      recorded_order)

__all__ = ["information_plane", "draw_plane"]


def draw_plane(ax: Axes, m, norm, cmap="viridis", label_layers: bool = True, bands=None) -> mpl.cm.ScalarMappable:
    """Draw every layer's trajectory of measurements ``m`` (one estimator, one probe) on ``ax``.

    ``bands``: optional (I(X;T) bands, I(T;Y) bands) DataFrames drawn as error bars.
    """
    ixt = epoch_values(m, I_XT)
    ity = epoch_values(m, I_TY)
    both = ixt.merge(ity, on=["layer_pos", "layer", "epoch"], suffixes=("_x", "_y"))
    labels = dict(zip(m.layer, m["label"])) if "label" in m else {}
    for pos, (layer, g) in enumerate(both.groupby(["layer_pos", "layer"], sort=True)):
        g = g.sort_values("epoch")
        marker = MARKERS[pos % len(MARKERS)]
        if bands is not None and not bands[0].empty:
            bx = bands[0][bands[0].layer == layer[1]].set_index("epoch").reindex(g.epoch)
            by = bands[1][bands[1].layer == layer[1]].set_index("epoch").reindex(g.epoch)
            xerr = np.vstack([g.value_x.to_numpy() - bx.low.to_numpy(), bx.high.to_numpy() - g.value_x.to_numpy()]).clip(min=0)
            yerr = np.vstack([g.value_y.to_numpy() - by.low.to_numpy(), by.high.to_numpy() - g.value_y.to_numpy()]).clip(min=0)
            ax.errorbar(g.value_x, g.value_y, xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr), fmt="none",
                        ecolor="0.5", elinewidth=0.6, alpha=0.6, zorder=1)
        ax.plot(g.value_x, g.value_y, "-", color="0.6", lw=0.8, zorder=1)
        ax.scatter(g.value_x, g.value_y, c=g.epoch, cmap=cmap, norm=norm, marker=marker, s=28,
                   edgecolors="none", zorder=2, label=labels.get(layer[1], f"layer {layer[1]}") if label_layers else None)
        ax.scatter(g.value_x.iloc[:1], g.value_y.iloc[:1], marker=marker, s=90, facecolors="none",
                   edgecolors="black", lw=1.2, zorder=3)
        ax.scatter(g.value_x.iloc[-1:], g.value_y.iloc[-1:], marker=marker, s=110, c="red",
                   edgecolors="black", lw=0.8, zorder=4)
        if "params_x" in g:  # values with a mark: at or past a bound, or I(T;Y) at chance (infoscope.marks)
            sat = marked(g.params_x) | marked(g.params_y)
            if sat.any():
                ax.scatter(g.value_x[sat], g.value_y[sat], marker="x", s=22, c="0.25", lw=0.9, zorder=5,
                           label=None if MARKED_LABEL in ax.get_legend_handles_labels()[1] else MARKED_LABEL)
    ax.set_xlabel(AXIS[I_XT])
    ax.set_ylabel(AXIS[I_TY])
    ax.grid(alpha=0.3)
    return mpl.cm.ScalarMappable(norm=norm, cmap=cmap)


def information_plane(
    store: Store | str | Path, run: str, probe: str = "train", estimators: list[str] | None = None
) -> Figure:
    """Information-plane trajectories of every layer, one panel per estimator.

    Points are coloured by epoch (colour bar); layers are told apart by marker; the first
    epoch is circled in black and the last filled red; values stored as saturated (at their
    estimator's bound) are crossed. Bootstrap bands, when recorded, are
    drawn as error bars.

    Parameters
    ----------
    store : Store or path
    run : str
    probe : str
        ``"train"`` or ``"test"``.
    estimators : list of str, optional
        Which estimators (default: all recorded).

    Returns
    -------
    matplotlib.figure.Figure
    """
    with opened(store) as st:
        m = layer_measurements(st, run, probe=probe)
        names = estimators or recorded_order(st, run, m.estimator.unique())
        bands = {}
        for est in names:
            pair = [epoch_bands(st, run, q, "bootstrap", est) for q in (I_XT, I_TY)]
            bands[est] = [b[b.probe == probe] for b in pair]
    n_layers = m.layer.nunique()
    fig = new_figure(5.2 * len(names) + 1.0, 4.6 + 0.22 * ((n_layers + 2) // 2))
    axes = np.atleast_1d(fig.subplots(1, len(names), squeeze=False)[0])
    norm = mpl.colors.Normalize(vmin=m.epoch.min(), vmax=max(m.epoch.max(), m.epoch.min() + 1))
    sm = None
    for ax, est in zip(axes, names):
        sub = m[m.estimator == est]
        if sub.empty:
            raise ValueError(f"run {run!r} has no {est!r} measurements")
        sm = draw_plane(ax, sub, norm, bands=bands[est])
        ax.set_title(f"{est} — {probe} probe" + (" (bars: bootstrap 90%)" if not bands[est][0].empty else ""))
    # below the panels, never over a trajectory
    handles, texts = axes[0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="outside lower center", ncol=min(len(texts), 2 if len(names) == 1 else 4), fontsize=8,
               title="○ first, red last", title_fontsize=8)
    integer_epochs(fig.colorbar(sm, ax=list(axes), label="epoch").ax.yaxis)
    fig.suptitle(f"Information plane: {run}")
    return fig
