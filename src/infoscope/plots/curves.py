"""MI against epoch per layer, with accuracy and loss beneath on the same epoch axis."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..analysis.series import last_per_epoch
from ..estimators import I_TY, I_XT
from ..store import Store, opened
from ._common import AXIS, LINESTYLES, MARKED_LABEL, MARKERS, epoch_bands, epoch_values, integer_epochs, layer_measurements, marked, new_figure, recorded_order, widen

__all__ = ["mi_curves"]


def mi_curves(store: Store | str | Path, run: str, estimator: str | None = None) -> Figure:
    """I(X;T) and I(T;Y) of every layer against epoch (train solid, held-out dashed), then metrics.

    Parameters
    ----------
    store : Store or path
    run : str
    estimator : str, optional
        Default: the first estimator the run lists.

    Returns
    -------
    matplotlib.figure.Figure
        Four stacked panels sharing the epoch axis: I(X;T), I(T;Y), accuracy, loss.
    """
    with opened(store) as st:
        m = layer_measurements(st, run)
        metrics = st.metrics(run=run)
        estimator = estimator or recorded_order(st, run, m.estimator.unique())[0]
        bands = {(q, k): epoch_bands(st, run, q, k, estimator) for q in (I_XT, I_TY) for k in ("bootstrap", "sensitivity")}
    m = m[m.estimator == estimator]
    if m.empty:
        raise ValueError(f"run {run!r} has no {estimator!r} measurements")
    fig = new_figure(7.5, 10.0)
    axes = fig.subplots(4, 1, sharex=True)
    layers = m[["layer_pos", "layer"]].drop_duplicates().sort_values("layer_pos")
    colors = mpl.colormaps["tab10"]
    labels = dict(zip(m.layer, m["label"]))
    for quantity, ax in zip((I_XT, I_TY), axes[:2]):
        for probe in sorted(m.probe.unique()):
            vals = epoch_values(m[m.probe == probe], quantity)
            for i, layer in enumerate(layers.layer):
                g = vals[vals.layer == layer].sort_values("epoch")
                ax.plot(g.epoch, g.value, LINESTYLES.get(probe, ":"), color=colors(i % 10),
                        marker=MARKERS[i % len(MARKERS)], ms=3)
                flagged = marked(g.params)
                if flagged.any():
                    seen = MARKED_LABEL in ax.get_legend_handles_labels()[1]
                    ax.scatter(g.epoch[flagged], g.value[flagged], marker="x", s=24, c="black", lw=0.9, zorder=5,
                               label=None if seen else MARKED_LABEL)
                for kind, alpha in (("sensitivity", 0.08), ("bootstrap", 0.25)):
                    b = bands[(quantity, kind)]
                    b = b[(b.probe == probe) & (b.layer == layer)]
                    if not b.empty:
                        ax.fill_between(b.epoch, b.low, b.high, color=colors(i % 10), alpha=alpha, lw=0)
        ax.set_ylabel(AXIS[quantity])
        ax.grid(alpha=0.3)
        widen(ax)
    # one key per layer (its colour and marker) and one per probe (its line style), drawn long enough
    # that a dashed line shows its dashes
    keys = [Line2D([], [], color=colors(i % 10), marker=MARKERS[i % len(MARKERS)], ms=3, label=labels.get(layer, layer))
            for i, layer in enumerate(layers.layer)]
    keys += [Line2D([], [], color="0.3", ls=LINESTYLES.get(p, ":"), label=f"{p} probe") for p in sorted(m.probe.unique())]
    marks = [h for h, text in zip(*axes[0].get_legend_handles_labels()) if text == MARKED_LABEL] + \
            [h for h, text in zip(*axes[1].get_legend_handles_labels()) if text == MARKED_LABEL]
    axes[0].legend(handles=keys + marks[:1], fontsize=7, ncol=2, loc="best", handlelength=3.5)
    shaded = [k for k in ("bootstrap", "sensitivity") if any(not bands[(q, k)].empty for q in (I_XT, I_TY))]
    note = f"; shaded: {' and '.join(shaded)} bands" if shaded else ""
    axes[0].set_title(f"{run}: {estimator}; solid = train probe, dashed = held-out (test) probe{note}", fontsize=9)
    epoch_metrics = last_per_epoch(metrics[metrics.step >= 0], ["name"])
    for ax, kind, label in ((axes[2], "acc", "accuracy"), (axes[3], "loss", "loss (nats)")):
        for name in sorted(n for n in epoch_metrics.name.unique() if n.endswith(kind)):
            g = epoch_metrics[epoch_metrics.name == name]
            ax.plot(g.epoch, g.value, LINESTYLES["test" if name.startswith("test") else "train"], label=name)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    axes[-1].set_xlabel("epoch")
    integer_epochs(axes[-1].xaxis)
    return fig
