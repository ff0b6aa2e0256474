"""k-nearest-neighbour estimators: KSG mutual information and Kozachenko–Leonenko entropy.

* Continuous x and y: Kraskov, Stögbauer & Grassberger 2004, algorithm 1, in the max-norm:
  I = ψ(k) + ψ(N) − ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩, with n_x, n_y the neighbours strictly inside
  the distance to the k-th joint neighbour.
* Continuous x, discrete y (class labels): Ross 2014,
  I = ψ(N) + ⟨ψ(k)⟩ − ⟨ψ(N_y)⟩ − ⟨ψ(m)⟩, with the k-th neighbour searched within the class and
  m the neighbours of any class within that distance. Samples alone in their class are left
  out, as in Ross's estimator.
* Entropy: Kozachenko–Leonenko with the max-norm, H = ψ(N) − ψ(k) + d⟨log 2ε⟩ (nats), a
  differential entropy; plug-in entropy for labels.

A constant array is a point mass, a degenerate discrete variable: its entropy is 0 and its
MI with anything is 0 (the differential entropy would be −∞).

Neighbour searches use SciPy's k-d tree. Before any MI, each variable's columns are divided
by their standard deviation, as scikit-learn and the estimator benchmarks do: the max-norm
neighbourhoods, and so the MI, then do not depend on the scale of any variable (I(X; s·T) =
I(X; T)), which a layer whose activations grow or shrink as it trains needs. Entropies keep
the scale (a differential entropy changes by log2 s under T → s·T). Ties (repeated values,
e.g. saturated units) break the estimators' assumptions; a tiny reproducible jitter
(``jitter`` × each column's scale) is added by default, as scikit-learn does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.special import digamma

from .._validation import as_labels, check_samples, check_whole, flatten_samples
from .base import H_T, I_TY, I_XT, Estimate, Estimator, ProbeContext
from .tags import EstimatorTags
from .units import unit_columns

__all__ = ["KSG", "ksg_mutual_information", "ksg_mixed_mutual_information", "kl_entropy", "max_norm_distances"]

_LN2 = math.log(2.0)
#: Largest probe whose per-unit neighbours are searched in N×N distance matrices (a few of them,
#: 8·N² bytes each, are alive at once); larger probes use a k-d tree per unit.
MAX_MATRIX_SAMPLES = 4000


def _strict_radius(eps: np.ndarray) -> np.ndarray:
    """Largest radius strictly below each distance (for 'strictly inside' counts)."""
    return np.nextafter(eps, 0)


def _count_within(points: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Number of points within ``radius`` (max-norm) of each point, the point included."""
    tree = cKDTree(points)
    return np.asarray(tree.query_ball_point(points, radius, p=np.inf, return_length=True))


def ksg_mutual_information(x: np.ndarray, y: np.ndarray, k: int = 3) -> float:
    """KSG (algorithm 1) estimate of I(x; y) for continuous variables, in bits.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, Dx)
    y : numpy.ndarray, shape (N, Dy)
    k : int
        Neighbour rank in the joint space.

    Returns
    -------
    float
        Bits; near 0 (either sign) for independent variables.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2000, 1)); y = 0.9 * x + np.sqrt(1 - 0.81) * rng.normal(size=(2000, 1))
    >>> bool(abs(ksg_mutual_information(x, y) - (-0.5 * np.log2(1 - 0.81))) < 0.05)
    True
    """
    n = x.shape[0]
    joint = np.hstack([x, y])
    dist, _ = cKDTree(joint).query(joint, k=k + 1, p=np.inf)
    radius = _strict_radius(dist[:, k])
    nx = _count_within(x, radius)  # includes the point itself: n_x + 1
    ny = _count_within(y, radius)
    return _ksg_bits(n, k, nx, ny)


def _ksg_bits(n: int, k: int, nx: np.ndarray, ny: np.ndarray) -> float:
    """KSG algorithm 1 from the neighbour counts (each including the point itself), in bits."""
    nats = digamma(k) + digamma(n) - np.mean(digamma(nx) + digamma(ny))
    return float(nats / _LN2)


def ksg_mixed_mutual_information(x: np.ndarray, labels: np.ndarray, k: int = 3) -> float:
    """Ross (2014) kNN estimate of I(x; y) for continuous x and discrete labels y, in bits.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D)
    labels : numpy.ndarray, shape (N,)
        Integer class codes.
    k : int
        Neighbour rank within a class (lowered to the class size − 1 where needed).

    Returns
    -------
    float
        Bits.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 1000); x = y[:, None] * 10.0 + rng.normal(size=(1000, 1))
    >>> round(ksg_mixed_mutual_information(x, y), 1)
    1.0
    """
    n = x.shape[0]
    radius = np.zeros(n)
    k_used = np.zeros(n)
    counts = np.zeros(n)
    keep = np.zeros(n, dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) < 2:
            continue
        kc = min(k, len(idx) - 1)
        dist, _ = cKDTree(x[idx]).query(x[idx], k=kc + 1, p=np.inf)
        radius[idx] = dist[:, kc]
        k_used[idx] = kc
        counts[idx] = len(idx)
        keep[idx] = True
    if not keep.any():
        raise ValueError("every class has a single sample; KSG with labels needs at least two samples per class")
    m = _count_within(x, _strict_radius(radius))
    return _mixed_bits(keep, k_used, counts, m)


def _mixed_bits(keep: np.ndarray, k_used: np.ndarray, counts: np.ndarray, m: np.ndarray) -> float:
    """Ross's estimate from the per-sample neighbour rank, class size and count m, in bits."""
    nats = digamma(keep.sum()) + np.mean(digamma(k_used[keep])) - np.mean(digamma(counts[keep])) - np.mean(digamma(m[keep]))
    return float(nats / _LN2)


def kl_entropy(x: np.ndarray, k: int = 3) -> float:
    """Kozachenko–Leonenko differential entropy with the max-norm, in bits.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D)
    k : int

    Returns
    -------
    float
        Bits (a differential entropy: can be negative).

    Examples
    --------
    >>> x = np.random.default_rng(0).uniform(0, 4, size=(4000, 1))
    >>> bool(abs(kl_entropy(x) - 2.0) < 0.05)   # uniform on [0, 4]: log2 4
    True
    """
    n, d = x.shape
    dist, _ = cKDTree(x).query(x, k=k + 1, p=np.inf)
    return _kl_bits(n, k, d, dist[:, k])


def _kl_bits(n: int, k: int, d: int, eps: np.ndarray) -> float:
    """Kozachenko–Leonenko from each sample's distance to its k-th neighbour, in bits."""
    if np.any(eps <= 0):
        raise ValueError(
            "samples repeat more than k times, so kNN distances are zero; add jitter "
            "(KSG(jitter=...)) or use a discrete estimator"
        )
    nats = digamma(n) - digamma(k) + d * np.mean(np.log(2.0 * eps))
    return float(nats / _LN2)


def max_norm_distances(x: np.ndarray, block: int | None = None) -> np.ndarray:
    """Max-norm (Chebyshev) distances between all rows of ``x``, exactly as a k-d tree with
    ``p=inf`` measures them.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D)
    block : int, optional
        Rows compared at a time (default: as many as keep the (block, N, D) temporary near 64 MiB).

    Returns
    -------
    numpy.ndarray, shape (N, N)

    Examples
    --------
    >>> max_norm_distances(np.array([[0.0, 0.0], [1.0, -3.0]])).tolist()
    [[0.0, 3.0], [3.0, 0.0]]
    """
    out = np.empty((x.shape[0], x.shape[0]))
    block = block or max(1, 2**26 // (8 * x.shape[0] * max(1, x.shape[1])))
    for start in range(0, x.shape[0], block):
        out[start:start + block] = np.abs(x[start:start + block, None, :] - x[None, :, :]).max(axis=2)
    return out


def _ksg_from_distances(dx: np.ndarray, dy: np.ndarray, k: int) -> float:
    """:func:`ksg_mutual_information` from the two variables' max-norm distance matrices."""
    joint = np.maximum(dx, dy)  # the max-norm of the joint space
    radius = _strict_radius(np.partition(joint, k, axis=1)[:, k])[:, None]
    return _ksg_bits(len(dx), k, (dx <= radius).sum(axis=1), (dy <= radius).sum(axis=1))


def _mixed_from_distances(d: np.ndarray, labels: np.ndarray, k: int) -> float:
    """:func:`ksg_mixed_mutual_information` from the max-norm distance matrix of x."""
    n = len(labels)
    radius, k_used, counts, keep = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) < 2:
            continue
        kc = min(k, len(idx) - 1)
        radius[idx] = np.partition(d[np.ix_(idx, idx)], kc, axis=1)[:, kc]
        k_used[idx], counts[idx], keep[idx] = kc, len(idx), True
    if not keep.any():
        raise ValueError("every class has a single sample; KSG with labels needs at least two samples per class")
    return _mixed_bits(keep, k_used, counts, (d <= _strict_radius(radius)[:, None]).sum(axis=1))


def _column_scales(arr: np.ndarray) -> np.ndarray:
    """Each column's standard deviation, shape (1, D); 1 for a constant column."""
    sd = arr.std(axis=0, keepdims=True)
    return np.where(sd > 0, sd, 1.0)


def _is_constant(t) -> bool:
    flat = flatten_samples(t)
    return bool((flat == flat[:1]).all())


@dataclasses.dataclass
class KSG(Estimator):
    """Kraskov–Stögbauer–Grassberger kNN estimator, in bits.

    Parameters
    ----------
    k : int, default 3
        Neighbour rank.
    jitter : float, default 1e-10
        Relative size of the reproducible noise that breaks ties (0 turns it off).
    random_state : int, default 0
        Seed of that noise.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=2000); y = 0.5 * x + np.sqrt(0.75) * rng.normal(size=2000)
    >>> bool(abs(KSG().mutual_information(x, y) - (-0.5 * np.log2(0.75))) < 0.05)
    True
    """

    name: ClassVar[str] = "ksg"
    input_mode: ClassVar[str] = "values"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        bounded=False, saturation="zero", sample_copies=3, input_copies=2, resolution=None,
        resolution_short="k-NN (adaptive)", unit_pooling="mean", batches_units=True,
        token_inputs=False, continuous_targets=True,
    )

    k: int = 3
    jitter: float = 1e-10
    random_state: int = 0

    def __post_init__(self) -> None:
        self.k = check_whole(self.k, "k", 1)
        if not (np.isfinite(self.jitter) and self.jitter >= 0):
            raise ValueError(f"jitter must be a finite number >= 0, got {self.jitter!r}")

    def _continuous(self, t, rng: np.random.Generator, standardize: bool = True) -> np.ndarray:
        """Samples as float64 (N, D): each column divided by its standard deviation (constant
        columns left as they are), so that the MI does not depend on the scale of any variable,
        then the tie-breaking jitter. Entropies (``standardize=False``) keep the scale."""
        arr = flatten_samples(t).cpu().numpy().astype(np.float64)
        if standardize:
            arr = arr / _column_scales(arr)
        if self.jitter > 0:
            scale = np.maximum(np.abs(arr).mean(axis=0), 1.0)
            arr = arr + self.jitter * scale * rng.standard_normal(arr.shape)
        return arr

    def _check_k(self, n: int) -> None:
        if self.k >= n:
            raise ValueError(f"k={self.k} needs more than k samples, got N={n}; lower k or add samples")

    def scale_invariant(self) -> bool:
        """True: every variable is standardised before its neighbours are searched."""
        return True

    def variants(self, scales=(0.5, 2.0)) -> list[Estimator]:
        """Copies with ``k`` scaled by each factor (at least 1)."""
        return [dataclasses.replace(self, k=max(1, int(round(self.k * f)))) for f in scales]

    def units_information(
        self, t: torch.Tensor, ctx: ProbeContext, units: Sequence[int], pooling: str = "map", memory_budget: int | None = None
    ) -> list[dict[str, Estimate]]:
        """H(T), I(X;T) and I(T;Y) of each chosen unit, in bits. Where each unit is one value per
        sample (a neuron, or a pooled map) and N ≤ :data:`MAX_MATRIX_SAMPLES`, neighbours are
        found in N×N distance matrices instead of a k-d tree per unit and quantity, and the
        probe input's max-norm distances (the costly part: X has many dimensions) are computed
        once per probe and shared by every unit and record. The same jitter, neighbours and
        counts as unit by unit, so the same values.
        """
        tt = t if isinstance(t, torch.Tensor) else check_samples(t, "layer activations")
        cols = unit_columns(tt, list(units), pooling)
        n = tt.shape[0]
        if cols is None or n > MAX_MATRIX_SAMPLES:
            return super().units_information(t, ctx, units, pooling, memory_budget)
        views = [cols[:, i:i + 1] for i in range(cols.shape[1])]
        self.check_inputs(ctx)
        self._check_k(n)
        labels = None if ctx.continuous_y else as_labels(ctx.y)
        dy = self._target_distances(ctx) if labels is None else None
        dx = None if _is_constant(ctx.x) else self._input_distances(ctx, views[0])
        out = []
        for view in views:
            if _is_constant(view):
                h = i_xt = i_ty = 0.0
            else:
                raw = self._continuous(view, np.random.default_rng(self.random_state), standardize=False)
                dt = np.abs(raw - raw.T)  # (N, N): |t_i - t_j|, the max-norm in one dimension
                h = _kl_bits(n, self.k, 1, np.partition(dt, self.k, axis=1)[:, self.k])  # the unit's own scale
                tv = self._continuous(view, np.random.default_rng(self.random_state))
                dt = np.abs(tv - tv.T)  # standardised, for the MI
                i_xt = 0.0 if dx is None else _ksg_from_distances(dt, dx, self.k)
                i_ty = _mixed_from_distances(dt, labels, self.k) if labels is not None else _ksg_from_distances(dt, dy, self.k)
            mi = {"y_discrete": False, "n_samples": n}
            out.append({H_T: self._result(h, n_samples=n), I_XT: self._result(i_xt, **mi),
                        I_TY: self._result(i_ty, **{**mi, "y_discrete": labels is not None})})
        return out

    def _target_distances(self, ctx: ProbeContext) -> np.ndarray:
        """Max-norm distances of a continuous target, standardised and jittered; cached on the probe."""
        key = ("ksg target distances", self.jitter, self.random_state)
        if key not in ctx.cache:
            y = ctx.y if ctx.y.ndim > 1 else ctx.y[:, None]
            ctx.cache[key] = max_norm_distances(self._continuous(y, np.random.default_rng(self.random_state + 1)))
        return ctx.cache[key]

    def _input_distances(self, ctx: ProbeContext, unit: torch.Tensor) -> np.ndarray:
        """Max-norm distances of the jittered probe input, as :meth:`_mutual_information` jitters
        it after a unit (whose draws come first from the same seed); cached on the probe."""
        key = ("ksg input distances", self.jitter, self.random_state)
        if key not in ctx.cache:
            rng = np.random.default_rng(self.random_state)
            self._continuous(unit, rng)  # the unit's draws come first
            ctx.cache[key] = max_norm_distances(self._continuous(ctx.x, rng))
        return ctx.cache[key]

    def _entropy(self, t: torch.Tensor) -> tuple[float, dict[str, Any]]:
        """Kozachenko–Leonenko differential entropy of ``t`` in bits (0 for a constant)."""
        if _is_constant(t):
            return 0.0, {}
        self._check_k(t.shape[0])
        return kl_entropy(self._continuous(t, np.random.default_rng(self.random_state), standardize=False), self.k), {}

    def _mutual_information(self, tx, ty, x_labels: bool, y_labels: bool) -> tuple[float, dict[str, Any]]:
        """KSG I(x; y) in bits; the Ross mixed form when one side holds class labels."""
        self._check_k(tx.shape[0])
        rng = np.random.default_rng(self.random_state)
        if _is_constant(tx) or _is_constant(ty):
            return 0.0, {}
        if y_labels:
            return ksg_mixed_mutual_information(self._continuous(tx, rng), as_labels(ty), self.k), {}
        if x_labels:
            return ksg_mixed_mutual_information(self._continuous(ty, rng), as_labels(tx, "x"), self.k), {}
        return ksg_mutual_information(self._continuous(tx, rng), self._continuous(ty, rng), self.k), {}
