"""What the numbers rest on: the kernel width σ (or bin width) per layer over epochs."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from ..analysis.series import last_per_epoch
from ..estimators import I_TY, estimator_tags, resolution_value
from ..store import Store, opened
from ._common import MARKERS, layer_measurements, new_figure

__all__ = ["resolution_plot"]


def resolution_plot(store: Store | str | Path, run: str, probe: str = "train") -> Figure:
    """σ (Rényi), bin width (binning) or noise s.d. (KDE) used for each layer at each epoch.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per estimator with a resolution; y in the units of the activations.
    """
    with opened(store) as st:
        m = layer_measurements(st, run, probe=probe)
    m = m[m.quantity == I_TY].copy()
    m["resolution"] = [resolution_value(e, p) for e, p in zip(m.estimator, m.params)]
    m = m[m.resolution.notna()]
    if m.empty:
        raise ValueError(f"run {run!r} has no estimator with a kernel width or bin width (KSG is adaptive)")
    names = sorted(m.estimator.unique())
    fig = new_figure(6.5 * len(names), 4.2)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, est in zip(axes, names):
        sub = m[m.estimator == est]
        for i, (_, g) in enumerate(sub.sort_values("layer_pos").groupby("layer_pos")):
            g = last_per_epoch(g)
            ax.plot(g.epoch, g.resolution, marker=MARKERS[i % len(MARKERS)], ms=3, label=g["label"].iloc[0])
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{estimator_tags(est).resolution} (activation units)")
        ax.set_title(f"{est}: resolution per layer ({probe})")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return fig
