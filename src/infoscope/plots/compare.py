"""Two or more runs side by side on the same axes (e.g. tanh against ReLU)."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from ..store import Store, opened
from ._common import layer_measurements, new_figure
from .plane import draw_plane

__all__ = ["compare_runs"]


def compare_runs(
    store: Store | str | Path, runs: list[str], probe: str = "train", estimator: str | None = None
) -> Figure:
    """Information planes of several runs, one panel each, with shared axes and epoch colours.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if len(runs) < 2:
        raise ValueError(f"compare needs two or more runs, got {runs}")
    with opened(store) as st:
        frames = [layer_measurements(st, r, probe=probe) for r in runs]
    common = set.intersection(*(set(f.estimator) for f in frames))
    if not common:
        raise ValueError(f"runs {runs} share no estimator; record them with the same one")
    estimator = estimator or sorted(common)[0]
    if estimator not in common:
        raise ValueError(f"estimator {estimator!r} is not recorded in all runs; shared: {sorted(common)}")
    frames = [f[f.estimator == estimator] for f in frames]
    vmax = max(f.epoch.max() for f in frames)
    norm = mpl.colors.Normalize(vmin=0, vmax=max(vmax, 1))
    fig = new_figure(5.0 * len(runs) + 1.0, 4.6)
    axes = np.atleast_1d(fig.subplots(1, len(runs), sharex=True, sharey=True, squeeze=False)[0])
    sm = None
    for ax, run, f in zip(axes, runs, frames):
        sm = draw_plane(ax, f, norm)
        ax.set_title(f"{run} ({estimator}, {probe})", fontsize=10)
    axes[0].legend(fontsize=8, loc="lower right")
    fig.colorbar(sm, ax=list(axes), label="epoch")
    return fig
