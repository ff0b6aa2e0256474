"""Which units carry little label information, and which to prune (from stored per-unit values and
redundant pairs found on the model by :mod:`~infoscope.experiments.inspection`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..estimators import H_T, I_TY

__all__ = ["rank_units", "redundant_pairs", "prune_candidates", "Candidate"]


def rank_units(units: pd.DataFrame) -> pd.DataFrame:
    """Final-epoch I(unit;Y), I(X;unit), H(unit) per unit, ranked within each layer.

    Parameters
    ----------
    units : DataFrame
        Per-unit measurements (``Store.measurements(units=True)``) of one probe and estimator.

    Returns
    -------
    DataFrame
        Columns layer, unit, ``I(T;Y)``, ``I(X;T)``, ``H(T)``, rank (1 = most label
        information), sorted by layer then rank.
    """
    last = units[units.epoch == units.epoch.max()].sort_values("step")
    table = last.groupby(["layer", "unit", "quantity"]).value.last().unstack("quantity").reset_index()
    table["rank"] = table.groupby("layer")[I_TY].rank(ascending=False, method="first").astype(int)
    return table.sort_values(["layer", "rank"]).reset_index(drop=True)


def redundant_pairs(r: np.ndarray, threshold: float = 0.9) -> list[tuple[int, int, float]]:
    """Pairs (i < j) with redundancy at or above ``threshold``, most redundant first."""
    u = r.shape[0]
    pairs = [(i, j, float(r[i, j])) for i in range(u) for j in range(i + 1, u) if np.isfinite(r[i, j]) and r[i, j] >= threshold]
    return sorted(pairs, key=lambda p: -p[2])


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A unit that could be pruned, and why."""

    layer: str
    unit: int
    reason: str


def prune_candidates(
    ranks: pd.DataFrame, fraction: float = 0.25, pairs: dict[str, list[tuple[int, int, float]]] | None = None
) -> list[Candidate]:
    """Units to prune per layer: constant units, the weaker unit of each redundant pair, and the
    least label-informative ``fraction``.

    Parameters
    ----------
    ranks : DataFrame
        From :func:`rank_units`.
    fraction : float
        Share of each layer's units taken by lowest I(unit;Y).
    pairs : dict, optional
        Layer → :func:`redundant_pairs`.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    out: list[Candidate] = []
    for layer, g in ranks.groupby("layer", sort=False):
        chosen: dict[int, str] = {}
        if H_T in g.columns:
            for unit in g.loc[g[H_T] <= 1e-9, "unit"]:
                chosen[int(unit)] = "constant on the probe (dead or saturated): H(unit) = 0"
        ity = g.set_index("unit")[I_TY]
        for i, j, r in (pairs or {}).get(layer, []):
            weaker = i if ity.get(i, 0) <= ity.get(j, 0) else j
            other = j if weaker == i else i
            chosen.setdefault(int(weaker), f"redundant with unit {other} (r = {r:.2f}) and less label information")
        n_low = max(1, int(round(fraction * len(g))))
        for row in g.sort_values(I_TY).head(n_low).itertuples():
            chosen.setdefault(int(row.unit), f"among the {n_low} lowest I(unit;Y) in its layer ({ity[row.unit]:.3f} bits)")
        out += [Candidate(str(layer), u, why) for u, why in sorted(chosen.items())]
    return out
