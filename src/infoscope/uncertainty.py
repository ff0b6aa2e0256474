"""How far a layer value can be trusted: bootstrap and sensitivity bands, and σ smoothing.

* **Bootstrap** (:func:`subsamples`, :func:`bootstrap_bands`): the probe is subsampled
  without replacement (m = fraction × N) K times; a resample with replacement would create
  duplicate samples that every estimator here reads as structure. The 90 % band is centred on
  the full-probe value, with the 5th and 95th percentiles' distances from the subsample
  median scaled by √(m/N) (m-out-of-n).
* **Sensitivity** (:func:`sensitivity_bands`): the range of the value over the estimator at
  half and twice its key setting (bins, σ, noise variance, k).
* **Chance level** (:func:`permuted_labels`, :func:`chance_band`): I(T;Y) estimated again with
  the labels permuted; the 5th–95th percentiles are a ``"chance"`` band, and a value not above
  them is marked ``above_chance=False`` (indistinguishable from chance).
* **σ smoothing** (:class:`SigmaSmoother`): rule-chosen Rényi widths smoothed across record
  calls with an exponential moving average, as Wickstrøm et al. do.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .estimators import Estimator
from .estimators.base import I_TY, Estimate, ProbeContext
from .records import BandRow

__all__ = ["subsamples", "bootstrap_bands", "sensitivity_bands", "permuted_labels", "chance_band", "SigmaSmoother"]

Subsample = tuple[torch.Tensor, ProbeContext]


def subsamples(ctx: ProbeContext, count: int, fraction: float, seed_key: tuple) -> list[Subsample]:
    """``count`` seeded subsamples of a probe: sorted indices and their prepared contexts.

    Parameters
    ----------
    ctx : ProbeContext
        The whole probe (N samples).
    count : int
    fraction : float
        Subsample size m = max(2, round(fraction × N)).
    seed_key : tuple
        Seeds the draws (with the subsample number), e.g. (seed, epoch, step).
    """
    n = ctx.x.shape[0]
    m = max(2, int(round(fraction * n)))
    out = []
    for b in range(count):
        g = torch.Generator().manual_seed(hash((*seed_key, b)) % (2**63))
        idx = torch.randperm(n, generator=g)[:m].sort().values
        out.append((idx, ProbeContext.build(ctx.x[idx], ctx.y[idx], continuous_y=ctx.continuous_y)))
    return out


def bootstrap_bands(
    est: Estimator, t: torch.Tensor, base: dict[str, Estimate], subs: list[Subsample], fraction: float, probe: str, layer: str
) -> list[BandRow]:
    """90 % bootstrap bands of each value in ``base`` (quantity → full-probe estimate), in bits."""
    if not subs:
        return []
    boot = [est.layer_information(t[idx], sub) for idx, sub in subs]
    shrink = math.sqrt(fraction)  # m-out-of-n: spread at m scaled to N
    bands = []
    for q, r0 in base.items():
        vals = np.array([r[q].value for r in boot])
        p5, p50, p95 = np.percentile(vals, [5, 50, 95])
        lo, hi = r0.value - shrink * (p50 - p5), r0.value + shrink * (p95 - p50)
        bands.append(BandRow(probe, layer, q, est.name, "bootstrap", lo, hi,
                             {"n": len(vals), "fraction": fraction, "subsample_median": float(p50),
                              "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0}))
    return bands


def sensitivity_bands(
    est: Estimator, t: torch.Tensor, ctx: ProbeContext, base: dict[str, Estimate], probe: str, layer: str
) -> list[BandRow]:
    """Range of each value over :meth:`Estimator.variants` (half and twice the key setting), in bits."""
    variants = est.variants()
    if not variants:
        return []
    results = [v.layer_information(t, ctx) for v in variants]
    bands = []
    for q, r0 in base.items():
        vals = [r0.value] + [r[q].value for r in results]
        bands.append(BandRow(probe, layer, q, est.name, "sensitivity", min(vals), max(vals),
                             {"variants": [v.get_params() for v in variants], "values": vals[1:]}))
    return bands


#: Tells the chance permutations' seeds apart from the bootstrap subsamples' (seed, epoch, step, b).
_CHANCE_KEY = -1


def permuted_labels(ctx: ProbeContext, count: int, seed: int) -> list[ProbeContext]:
    """``count`` copies of a probe with its labels permuted (seeded), for :func:`chance_band`."""
    out = []
    for b in range(count):
        # integers only: Python salts the hash of a str per process, which made these
        # permutations differ between runs and between the ranks of a distributed job
        g = torch.Generator().manual_seed(hash((seed, _CHANCE_KEY, b)) % (2**63))
        perm = torch.randperm(ctx.y.shape[0], generator=g).to(ctx.y.device)
        out.append(ProbeContext(x=ctx.x, y=ctx.y[perm], x_ids=ctx.x_ids))
    return out


def chance_band(est: Estimator, t: torch.Tensor, permuted: list[ProbeContext], base: dict[str, Estimate], probe: str,
                layer: str) -> list[BandRow]:
    """The chance level of I(T;Y), in bits: its estimates under permuted labels (5th–95th
    percentiles), and ``above_chance`` set on the value in ``base``."""
    if not permuted:
        return []
    vals = np.array([est.layer_information(t, ctx)[I_TY].value for ctx in permuted])
    p5, p50, p95 = np.percentile(vals, [5, 50, 95])
    base[I_TY].params["above_chance"] = bool(base[I_TY].value > p95)
    return [BandRow(probe, layer, I_TY, est.name, "chance", float(p5), float(p95),
                    {"n": len(vals), "median": float(p50), "max": float(vals.max())})]


class SigmaSmoother:
    """Exponential moving average of rule-chosen Rényi σ per (probe, layer, estimator), per
    optimisation step.

    Wickstrøm et al. smooth once per iteration, σ ← w·σ_previous + (1 − w)·σ_rule. Between two
    records ``k`` steps apart the rule's σ is only seen at the records, so the update uses the
    weight of ``k`` steps: σ ← w^k·σ_previous + (1 − w^k)·σ_rule (one record per epoch of 80
    steps then follows the layer's scale instead of lagging behind it). The first call keeps
    the rule's σ. Values are re-estimated with the smoothed σ, stored with the rule's own
    choice (``sigma_x_rule``), the weight used (``sigma_smoothing_weight``), the σ over the
    layer's mean pairwise distance and a flag when that leaves the rule's grid of 0.1 to 10
    (``sigma_x_outside_grid``: every Gram then tends to the identity or to all-ones).

    Parameters
    ----------
    weight : float
        w in [0, 1), per optimisation step.
    """

    #: The σ range of the rules' grid, in units of the layer's mean pairwise distance.
    GRID = (0.1, 10.0)

    def __init__(self, weight: float):
        self.weight = weight
        self._state: dict[tuple[str, str, int], tuple[float, int]] = {}

    @staticmethod
    def applies(est: Estimator) -> bool:
        """Estimators whose resolution a rule chooses from the data (:meth:`Estimator.width_rule`:
        matrix Rényi with a σ rule)."""
        return est.width_rule() is not None

    def smooth(self, est: Estimator, key: tuple[str, str, int], t: torch.Tensor, ctx: ProbeContext,
               results: dict[str, Estimate], step: int = 0) -> dict[str, Estimate]:
        """``results`` re-estimated with the smoothed σ at optimisation ``step`` (per-channel
        widths are left alone)."""
        chosen = results[next(iter(results))].params["sigma_x"]
        if not isinstance(chosen, float):
            return results
        prev = self._state.get(key)
        w = self.weight ** max(1, step - prev[1]) if prev is not None else 0.0
        sigma = chosen if prev is None else w * prev[0] + (1 - w) * chosen
        self._state[key] = (sigma, step)
        if prev is not None:
            results = est.with_width(sigma).layer_information(t, ctx)
        scale = sigma / _mean_distance(t)
        extra: dict[str, Any] = {"sigma_x_rule": chosen, "sigma_smoothing": self.weight, "sigma_smoothing_weight": w,
                                 "sigma_x_rule_name": est.width_rule(), "sigma_x_over_mean_distance": scale,
                                 "sigma_x_outside_grid": bool(not self.GRID[0] <= scale <= self.GRID[1])}
        for r in results.values():
            r.params.update(extra)
        return results


def _mean_distance(t: torch.Tensor, max_samples: int = 256) -> float:
    """Mean pairwise Euclidean distance of the samples (of the first ``max_samples``)."""
    flat = t[:max_samples].reshape(min(len(t), max_samples), -1).to(torch.float64)
    d = torch.pdist(flat)
    return float(d.mean()) if d.numel() and float(d.mean()) > 0 else 1.0
