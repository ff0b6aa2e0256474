"""Shared pieces of the plots: selecting data, markers, saving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..analysis.series import last_per_epoch
from ..estimators import H_T, I_TY, I_XT
from ..labels import layer_labels
from ..marks import is_marked
from ..store import Store

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")
LINESTYLES = {"train": "-", "test": "--"}
#: Quantity labels with units for axes.
AXIS = {I_XT: "I(X;T) (bits)", I_TY: "I(T;Y) (bits)", H_T: "H(T) (bits)"}


def layer_order(store: Store, run: str) -> list[str]:
    """Layer names of a run in forward order."""
    return list(store.layers(run).name)


def recorded_order(store: Store, run: str, present) -> list[str]:
    """The estimators of ``present`` in the order the run lists them (its configuration), any
    others after them by name: a picture draws the first estimator the user listed by default."""
    listed = [e.get("method") for e in store.run_info(run)["config"].get("estimators", []) if isinstance(e, dict)]
    present = set(present)
    return [e for e in dict.fromkeys(listed) if e in present] + sorted(present - set(listed))


def integer_epochs(axis) -> None:
    """Whole-number ticks on an epoch axis (or colourbar): there is no epoch 0.5."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def layer_measurements(store: Store, run: str, probe: str | None = None, estimator: str | None = None) -> pd.DataFrame:
    """Whole-layer measurements of a run, with ``layer_pos`` (forward order) and ``label``
    (name · kind · shape) columns."""
    m = store.measurements(run=run, probe=probe, estimator=estimator)
    if m.empty:
        raise ValueError(f"run {run!r} has no layer measurements{f' for probe {probe!r}' if probe else ''}"
                         f"{f' and estimator {estimator!r}' if estimator else ''}; record some epochs first")
    layers = store.layers(run)
    m["layer_pos"] = m.layer.map({n: i for i, n in enumerate(layers.name)})
    m["label"] = m.layer.map(layer_labels(layers)).fillna(m.layer)
    return m


def epoch_bands(store: Store, run: str, quantity: str, kind: str, estimator: str | None = None) -> pd.DataFrame:
    """Uncertainty bands of a quantity, one per (probe, layer, epoch) (last step of the epoch)."""
    b = store.bands(run=run, kind=kind)
    b = b[b.quantity == quantity]
    if estimator is not None:
        b = b[b.estimator == estimator]
    return last_per_epoch(b, ["probe", "layer", "estimator"])


def epoch_values(m: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """One value per (layer, epoch) for a quantity: the last step of each epoch."""
    return last_per_epoch(m[m.quantity == quantity], ["layer_pos", "layer"])


#: Legend text of the cross drawn on values with a mark (at or past a bound, at chance).
MARKED_LABEL = "× at a bound or at chance"

#: The smallest span in bits a value axis shows: rounding noise must not look like learning.
MIN_SPAN = 0.1


def marked(params: pd.Series) -> np.ndarray:
    """Which stored values carry a mark (:func:`~infoscope.marks.is_marked`)."""
    return params.map(is_marked).to_numpy(dtype=bool)


def widen(ax, span: float = MIN_SPAN) -> None:
    """Give a value axis at least ``span`` bits around its data (a flat series stays flat)."""
    low, high = ax.dataLim.intervaly
    if np.isfinite(low) and np.isfinite(high) and high - low < span:
        mid = (low + high) / 2
        ax.set_ylim(mid - span / 2, mid + span / 2)


def new_figure(width: float, height: float) -> Figure:
    """A figure not tied to pyplot's global state."""
    return Figure(figsize=(width, height), layout="constrained")


def save(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write a figure; the format follows the suffix (.png, .svg, .pdf)."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"cannot write {path.name}: use a .png, .svg or .pdf file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
