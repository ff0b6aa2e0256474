"""Which units carry little label information, and which duplicate each other."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch

from ..estimators.kernels import normalize_gram, rbf_gram, squared_distances
from ..estimators.bandwidth import silverman_sigma
from ..estimators.renyi import matrix_entropy, matrix_joint_entropy

__all__ = ["rank_units", "unit_redundancy", "redundant_pairs", "prune_candidates", "Candidate"]


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
    table["rank"] = table.groupby("layer")["I(T;Y)"].rank(ascending=False, method="first").astype(int)
    return table.sort_values(["layer", "rank"]).reset_index(drop=True)


def unit_redundancy(acts: torch.Tensor) -> np.ndarray:
    """Pairwise redundancy of the units of one layer, r_ij = I(u_i; u_j) / min(I(u_i; u_i), I(u_j; u_j)).

    Each unit (a neuron, or a conv channel's spatial mean), standardised, gets an RBF Gram
    with a Silverman σ; entropies are matrix-based with α = 2 (no eigensolver, so all pairs are
    cheap). The normaliser is what a perfect copy would score under the same kernel (with an
    RBF kernel I(u;u) < S(u)), so r is 1 for units that are affine copies of each other and
    near 0 for unrelated units. Constant units (S = 0) get r = NaN.

    Parameters
    ----------
    acts : torch.Tensor, shape (N, U) or (N, U, ...)

    Returns
    -------
    numpy.ndarray, shape (U, U)

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> a = torch.randn(200, 1, generator=g)
    >>> acts = torch.cat([a, 2 * a + 1, torch.randn(200, 1, generator=g)], dim=1)
    >>> r = unit_redundancy(acts)
    >>> bool(r[0, 1] > 0.99), bool(r[0, 2] < 0.5)
    (True, True)
    """
    n, u = acts.shape[0], acts.shape[1]
    grams, ents = [], []
    for j in range(u):
        # a conv channel is summarised by its spatial mean: whole H×W maps are so high-dimensional
        # that every Gram approaches the identity and all pairs would look alike
        flat = acts[:, j].reshape(n, -1).to(torch.float64).mean(dim=1, keepdim=True)
        # standardise so that a unit and an affine copy of it get the same Gram
        std = flat.std(dim=0, keepdim=True)
        flat = (flat - flat.mean(dim=0, keepdim=True)) / torch.where(std > 0, std, torch.ones_like(std))
        k = rbf_gram(squared_distances(flat), silverman_sigma(flat))
        grams.append(k)
        ents.append(matrix_entropy(normalize_gram(k), 2.0))
    # what a perfect copy scores: with an RBF kernel I(u; u) = 2 S(u) − S(u, u) < S(u)
    self_info = [2 * ents[j] - matrix_joint_entropy(grams[j], grams[j], alpha=2.0) for j in range(u)]
    r = np.full((u, u), np.nan)
    for i in range(u):
        for j in range(i, u):
            m = min(self_info[i], self_info[j])
            if min(ents[i], ents[j]) <= 1e-9 or m <= 1e-9:
                continue
            mi = ents[i] + ents[j] - matrix_joint_entropy(grams[i], grams[j], alpha=2.0)
            r[i, j] = r[j, i] = mi / m
    return r


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
        if "H(T)" in g.columns:
            for unit in g.loc[g["H(T)"] <= 1e-9, "unit"]:
                chosen[int(unit)] = "constant on the probe (dead or saturated): H(unit) = 0"
        ity = g.set_index("unit")["I(T;Y)"]
        for i, j, r in (pairs or {}).get(layer, []):
            weaker = i if ity.get(i, 0) <= ity.get(j, 0) else j
            other = j if weaker == i else i
            chosen.setdefault(int(weaker), f"redundant with unit {other} (r = {r:.2f}) and less label information")
        n_low = max(1, int(round(fraction * len(g))))
        for row in g.sort_values("I(T;Y)").head(n_low).itertuples():
            chosen.setdefault(int(row.unit), f"among the {n_low} lowest I(unit;Y) in its layer ({ity[row.unit]:.3f} bits)")
        out += [Candidate(str(layer), u, why) for u, why in sorted(chosen.items())]
    return out
