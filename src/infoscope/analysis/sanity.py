"""Checks that say when a number should not be believed as it stands."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..estimators import H_T, I_TY, I_XT, estimator_tags
from .phases import noise_level

__all__ = ["bound_warnings", "dpi_warnings", "grid_edge_warnings", "chance_warnings"]


def bound_warnings(m: pd.DataFrame, probes: dict, tol: float = 0.01) -> list[tuple[int | None, str, str]]:
    """Layer values at their ceiling: log2 N for H(T)/I(X;T) (Rényi, binning, KDE), H(Y) for I(T;Y).

    Parameters
    ----------
    m : DataFrame
        Whole-layer measurements of one run.
    probes : dict
        Probe name → {"n": N, "label_entropy_bits": H(Y)} (the run's configuration).
    tol : float
        Bits below the bound that still count as "at the bound".

    Returns
    -------
    list of (first epoch, layer, message)
    """
    out = []
    for (probe, layer, est, q), g in m.groupby(["probe", "layer", "estimator", "quantity"], sort=False):
        info = probes.get(probe, {})
        if isinstance(info, int):  # runs recorded before label entropies were stored
            info = {"n": info}
        if q in (H_T, I_XT) and estimator_tags(est).bounded and "n" in info:
            bound, name = math.log2(info["n"] * g.params.iloc[0].get("noise_draws", 1)), "log2 N"
        elif q == I_TY and info.get("label_entropy_bits") is not None:  # (None: a continuous target, no H(Y))
            bound, name = info["label_entropy_bits"], "H(Y)"
        else:
            continue
        at = g[g.value >= bound - tol]
        if not at.empty:
            out.append((int(at.epoch.min()), layer,
                        f"{q} by {est} on the {probe} probe reaches its bound {name} = {bound:.3f} bits in "
                        f"{len(at)} of {len(g)} measurements (first at epoch {int(at.epoch.min())}): the estimate is "
                        f"saturated and cannot show changes above it"))
    return out


def dpi_warnings(m: pd.DataFrame, order: Sequence[str], floor: float = 0.05,
                 labels: dict[str, str] | None = None) -> list[tuple[int | None, str, str]]:
    """Data-processing violations beyond noise: a later layer with more I(X;T) or I(T;Y) than
    the layer before it, at any recorded epoch (the network is a Markov chain X → T1 → T2 …, so
    the true values can only fall along it). One warning per pair of consecutive layers, with
    the largest violation in bits, its epoch, and how many epochs violate.

    Noise is the larger of the two layers' :func:`~infoscope.analysis.phases.noise_level`.
    Only meaningful for sequential networks; skip connections break the chain. Estimators with
    a fixed resolution in the layer's units (KDE's noise variance, a fixed σ, fixed-range bins)
    can violate it on an invertible map such as T' = 10·T, which spreads the samples relative
    to that resolution; the warning says so where the stored values depend on the scale.
    """
    out = []
    pos = {n: i for i, n in enumerate(order)}
    for (probe, est, q), g in m[m.quantity.isin([I_XT, I_TY])].groupby(["probe", "estimator", "quantity"]):
        series = {layer: s.sort_values(["epoch", "step"]).groupby("epoch").last() for layer, s in g.groupby("layer")}
        layers = sorted(series, key=lambda n: pos.get(n, 0))
        for a, b in zip(layers, layers[1:]):
            sa, sb = series[a], series[b]
            noise = max(noise_level(sa.value.to_numpy(), floor), noise_level(sb.value.to_numpy(), floor))
            excess = (sb.value - sa.value).dropna()
            over = excess[excess > noise]
            if over.empty:
                continue
            worst = int(over.idxmax())
            name = lambda n: (labels or {}).get(n, n)  # noqa: E731
            scaled = sb.params.iloc[-1].get("scale_invariant") is False
            why = (f"{est} depends on each layer's scale (layer scales {sa.params.loc[worst].get('layer_scale', float('nan')):.3g} "
                   f"and {sb.params.loc[worst].get('layer_scale', float('nan')):.3g}), so an invertible rescaling raises it"
                   if scaled else "the estimator's resolution differs between the layers")
            out.append((int(over.index.min()), b,
                        f"{q} by {est} ({probe} probe) rises from layer {name(a)} to layer {name(b)} by up to "
                        f"{float(over.max()):.3f} bits (epoch {worst}: {sa.value.loc[worst]:.3f} → {sb.value.loc[worst]:.3f} bits), "
                        f"in {len(over)} of {len(excess)} epochs: a data-processing violation beyond noise ({noise:.3f}); {why}"))
    return out


def grid_edge_warnings(m: pd.DataFrame, labels: dict[str, str] | None = None) -> list[tuple[int | None, str, str]]:
    """Kernel widths chosen at the edge of the alignment grid (the optimum may lie outside)."""
    out = []
    for (probe, layer), g in m[m.quantity == I_TY].groupby(["probe", "layer"]):
        edges = g[g.params.map(lambda p: bool(np.any(p.get("sigma_x_at_grid_edge", False))))]
        if not edges.empty:
            out.append((int(edges.epoch.min()), layer,
                        f"σ of layer {(labels or {}).get(layer, layer)} ({probe} probe) sits at the edge of the alignment grid in {len(edges)} of "
                        f"{len(g)} measurements: the best width may lie outside 0.1–10 × the mean distance"))
    return out


def chance_warnings(m: pd.DataFrame, labels: dict[str, str] | None = None) -> list[tuple[int | None, str, str]]:
    """Layers whose final I(T;Y) is not above its chance level (recorded with ``chance=k``).

    Examples
    --------
    >>> m = pd.DataFrame({"probe": ["train"], "layer": ["fc"], "estimator": ["renyi"], "quantity": ["I(T;Y)"],
    ...                   "epoch": [3], "step": [3], "value": [0.02], "params": [{"above_chance": False}]})
    >>> chance_warnings(m)[0][2]
    'I(T;Y) of layer fc by renyi on the train probe (0.020 bits at epoch 3) is not above its chance level under label permutations'
    """
    out = []
    ity = m[m.quantity == I_TY]
    for (probe, layer, est), g in ity.groupby(["probe", "layer", "estimator"], sort=False):
        last = g.sort_values(["epoch", "step"]).iloc[-1]
        if last.params.get("above_chance") is False:
            out.append((int(last.epoch), layer, f"I(T;Y) of layer {(labels or {}).get(layer, layer)} by {est} on the {probe} probe "
                                                f"({last.value:.3f} bits at epoch {int(last.epoch)}) is not above its chance level "
                                                "under label permutations"))
    return out
