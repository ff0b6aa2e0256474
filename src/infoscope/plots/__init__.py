"""Pictures of recorded runs, as matplotlib figures (no pyplot state is touched).

Kinds: ``plane`` (information plane), ``curves`` (MI and metrics against epoch), ``units``
(per-unit maps), ``sigma`` (the kernel/bin width each value rests on) and ``compare``
(several runs side by side).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from ..store import Store
from ._common import save
from .compare import compare_runs
from .curves import mi_curves
from .plane import information_plane
from .sigma import resolution_plot
from .units import unit_maps

__all__ = ["PLOT_KINDS", "plot", "save", "information_plane", "mi_curves", "unit_maps", "resolution_plot", "compare_runs"]

PLOT_KINDS = ("plane", "curves", "units", "sigma", "compare")


def plot(store: Store | str | Path, runs: str | list[str], kind: str, **options) -> Figure:
    """Make a figure of ``kind`` for one run (or, for ``compare``, several).

    Parameters
    ----------
    store : Store or path
    runs : str or list of str
    kind : {"plane", "curves", "units", "sigma", "compare"}
    **options
        Passed to the plotting function (``probe``, ``estimator``, …).
    """
    names = [runs] if isinstance(runs, str) else list(runs)
    if kind not in PLOT_KINDS:
        raise ValueError(f"unknown plot kind {kind!r}; choose one of: {', '.join(PLOT_KINDS)}")
    if kind == "compare":
        return compare_runs(store, names, **options)
    if len(names) != 1:
        raise ValueError(f"plot kind {kind!r} takes one run, got {len(names)}; use 'compare' for several")
    run = names[0]
    if kind == "plane":
        est = options.pop("estimator", None)
        return information_plane(store, run, estimators=[est] if est else None, **options)
    if kind == "curves":
        options.pop("probe", None)
        return mi_curves(store, run, **options)
    if kind == "units":
        return unit_maps(store, run, **options)
    options.pop("estimator", None)
    return resolution_plot(store, run, **options)
