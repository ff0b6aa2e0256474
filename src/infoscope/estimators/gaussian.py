"""The Gaussian baseline, :class:`Gaussian`: mutual information from canonical correlations.

For jointly normal X (D_X) and Y (D_Y), I(X;Y) = −½ Σ_i log(1 − ρ_i²), the ρ_i the canonical
correlations, equal to ½ log(det Σ_XX det Σ_YY / det Σ). This estimator computes that value
from the samples' covariance for any data, in closed form and at any dimension (the cost is a
few D×D factorisations, nothing N×N):

* **exact for jointly normal data** (up to sampling error of the covariance);
* in general it is the MI of the Gaussian with the same covariance, **neither a lower nor an
  upper bound**: a shared random sign with a little independent noise on each side,
  X = S + ε, Y = S + ε', has I(X;Y) ≤ log 2 while ρ → 1 sends the Gaussian value to
  infinity (tested); a dependence that leaves the covariance unchanged (Y = S·X) is missed.
* With ``copula=True`` each coordinate is first replaced by the normal quantile of its rank
  (the Gaussian-copula MI of Ince et al. 2017). Ranks leave MI unchanged (any strictly
  increasing map of a coordinate does), so monotone distortions (heavy tails, x^{3/2}, the
  normal CDF) no longer matter; for one dimension on each side the copula value is a lower
  bound of I(X;Y) (a Gaussian has the largest joint entropy for given normal marginals and
  correlation).

The plain sample value is biased up by about D_X·D_Y / (2N) nats (0.6 nats at 50 + 50
dimensions and N = 2,000). Each log-determinant is therefore corrected by its expectation
under normality, E log det((N−1)S) = log det Σ + D log 2 + Σ_{i≤D} ψ((N−i)/2) (the Wishart
distribution's), which makes the value unbiased for normal data up to the non-linearity of
the sum (``bias_correction``). Where D_X + D_Y ≥ N − 1 the covariance is singular: it is then
shrunk towards the identity (on standardised variables) by the Ledoit–Wolf rule instead, and
stored with the ``shrinkage`` used; with more than ``max_components`` dimensions a side is
first reduced to its leading principal components. Entropies are the Gaussian differential
entropy ½ log det(2πe Σ) (in bits; can be negative).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.special import digamma, ndtri
from scipy.stats import rankdata
from sklearn.covariance import ledoit_wolf_shrinkage

from .._validation import check_choice, check_interval, check_whole, flatten_samples
from .base import Estimator
from .tags import EstimatorTags

__all__ = ["Gaussian", "gaussian_mutual_information", "copula_normal"]

_LN2 = math.log(2.0)


def copula_normal(z: np.ndarray) -> np.ndarray:
    """Each column replaced by the standard-normal quantile of its rank: Φ⁻¹(rank / (N + 1)).

    Ties share their mean rank. Any strictly increasing map of a column gives the same result.

    Examples
    --------
    >>> copula_normal(np.array([[0.0], [10.0], [-3.0]])).round(3).ravel().tolist()
    [0.0, 0.674, -0.674]
    """
    ranks = rankdata(z, axis=0)
    return ndtri(ranks / (z.shape[0] + 1.0))


def _standardised(z: np.ndarray) -> np.ndarray:
    z = z - z.mean(axis=0)
    sd = z.std(axis=0)
    return z / np.where(sd > 0, sd, 1.0)


def _leading_components(z: np.ndarray, k: int) -> np.ndarray:
    """``z`` (standardised, N×D) projected on its ``k`` leading principal components."""
    if z.shape[1] <= k:
        return z
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    return u[:, :k] * s[:k]


def _log_det_bias(d: int, n: int) -> float:
    """E[log det S] − log det Σ for the sample covariance S (divisor n) of n normal samples of d
    dimensions: Σ_{i≤d} ψ((n−i)/2) + d log(2/n)."""
    return float(sum(digamma((n - i) / 2.0) for i in range(1, d + 1)) + d * math.log(2.0 / n))


def gaussian_mutual_information(x: np.ndarray, y: np.ndarray, shrinkage: float | str = "auto",
                                bias_correction: bool = True, max_components: int = 64) -> tuple[float, dict[str, Any]]:
    """MI in bits of the Gaussian with the covariance of samples (x, y), and what it rests on.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D_X)
    y : numpy.ndarray, shape (N, D_Y)
    shrinkage : float in [0, 1], "auto" or "ledoit-wolf"
        Weight of the identity in the shrunk correlation matrix; ``"auto"``: none unless the
        covariance is singular (D_X + D_Y ≥ N − 1), then the Ledoit–Wolf rule.
    bias_correction : bool
        Subtract each log-determinant's expected bias under normality (unshrunk covariances only).
    max_components : int
        Largest number of dimensions kept per side (leading principal components beyond it).

    Returns
    -------
    bits : float
        Not below 0.
    params : dict
        ``shrinkage`` used, ``bias_correction_bits`` subtracted, ``components`` kept per side,
        and the leading canonical correlations ``canonical_correlations`` (up to 5).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((20000, 1)); y = 0.8 * x + 0.6 * rng.standard_normal((20000, 1))
    >>> bits, params = gaussian_mutual_information(x, y)
    >>> bool(abs(bits - (-0.5 * math.log2(1 - 0.8**2))) < 0.02), params["canonical_correlations"]
    (True, [0.797391])
    """
    zx = _standardised(_leading_components(_standardised(x), max_components))
    zy = _standardised(_leading_components(_standardised(y), max_components))
    joint = np.hstack([zx, zy])
    n, d = joint.shape
    dx = zx.shape[1]
    if shrinkage == "auto":  # shrink only a singular covariance (too few samples, or collinear columns)
        singular = d >= n - 1 or np.linalg.eigvalsh(joint.T @ joint / n).min() < 1e-10
        shrinkage = "ledoit-wolf" if singular else 0.0
    s = float(ledoit_wolf_shrinkage(joint, assume_centered=True)) if shrinkage == "ledoit-wolf" else float(shrinkage)
    cov = (1.0 - s) * (joint.T @ joint) / n + s * np.eye(d)
    logdet = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    nats = 0.5 * (logdet(cov[:dx, :dx]) + logdet(cov[dx:, dx:]) - logdet(cov))
    bias = 0.5 * (_log_det_bias(dx, n) + _log_det_bias(d - dx, n) - _log_det_bias(d, n)) if bias_correction and s == 0 else 0.0
    # canonical correlations: singular values of Σxx^−½ Σxy Σyy^−½
    wx, wy = np.linalg.cholesky(cov[:dx, :dx]), np.linalg.cholesky(cov[dx:, dx:])
    rho = np.linalg.svd(np.linalg.solve(wx, np.linalg.solve(wy, cov[dx:, :dx]).T), compute_uv=False)
    return max(float(nats - bias), 0.0) / _LN2, {
        "shrinkage": s, "bias_correction_bits": bias / _LN2, "components": [dx, d - dx],
        "canonical_correlations": [round(float(r), 6) for r in rho[:5]]}


@dataclasses.dataclass
class Gaussian(Estimator):
    """The Gaussian baseline: MI from the samples' canonical correlations, in bits.

    Exact for jointly normal data, cheap at any dimension, and in general neither a lower nor
    an upper bound (see the module text); with ``copula=True`` the Gaussian-copula MI, which
    monotone distortions of a coordinate do not change.

    Parameters
    ----------
    copula : bool, default False
        Replace each coordinate by the normal quantile of its rank first.
    shrinkage : float in [0, 1], "auto" or "ledoit-wolf", default "auto"
        Shrinkage towards the identity: ``"auto"`` none unless the covariance is singular
        (D_X + D_Y ≥ N − 1), then the Ledoit–Wolf rule.
    bias_correction : bool, default True
        Correct each log-determinant by its expected bias under normality (see the module text).
    max_components : int, default 64
        Dimensions kept per side (leading principal components beyond it).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(5000); y = 0.6 * x + 0.8 * rng.standard_normal(5000)
    >>> round(Gaussian().mutual_information(x, y), 2), round(-0.5 * math.log2(1 - 0.36), 2)
    (0.33, 0.32)
    >>> round(Gaussian(copula=True).mutual_information(np.exp(x), y ** 3), 2)  # monotone maps: unchanged
    0.33
    """

    name: ClassVar[str] = "gaussian"
    input_mode: ClassVar[str] = "values"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        bounded=False, saturation="none", sample_copies=3, input_copies=2, resolution=None,
        resolution_short="covariance", unit_pooling="mean", token_inputs=False, continuous_targets=True,
    )

    copula: bool = False
    shrinkage: float | str = "auto"
    bias_correction: bool = True
    max_components: int = 64

    def __post_init__(self) -> None:
        if isinstance(self.shrinkage, str):
            check_choice(self.shrinkage, "shrinkage", ("auto", "ledoit-wolf"))
        else:
            self.shrinkage = check_interval(self.shrinkage, "shrinkage", 0.0, 1.0, closed_high=True)
        self.max_components = check_whole(self.max_components, "max_components", 1)

    def _prepared(self, t: torch.Tensor, labels: bool = False) -> np.ndarray:
        """Samples as float64 (N, D): labels as one-hot codes less one column, values through
        the copula if asked."""
        if labels:
            codes = np.unique(t.cpu().numpy(), return_inverse=True)[1]
            return np.eye(codes.max() + 1)[codes][:, 1:]
        arr = flatten_samples(t).cpu().numpy().astype(np.float64)
        return copula_normal(arr) if self.copula else arr

    def scale_invariant(self) -> bool:
        """True: variables are standardised (or ranked) first."""
        return True

    def _entropy(self, t: torch.Tensor) -> tuple[float, dict[str, Any]]:
        """Differential entropy in bits of the Gaussian with the samples' (shrunk) covariance."""
        z = self._prepared(t)
        z = z - z.mean(axis=0)
        z = _leading_components(z, self.max_components)
        cov = np.atleast_2d(np.cov(z, rowvar=False, bias=True))
        shrinkage = ("ledoit-wolf" if z.shape[1] >= z.shape[0] - 1 else 0.0) if self.shrinkage == "auto" else self.shrinkage
        s = float(ledoit_wolf_shrinkage(z, assume_centered=True)) if shrinkage == "ledoit-wolf" else float(shrinkage)
        cov = (1.0 - s) * cov + s * np.diag(np.diag(cov))
        sign, logdet = np.linalg.slogdet(cov)
        if sign <= 0:
            return 0.0, {"shrinkage": s, "degenerate": True}  # a constant: a point mass
        d = cov.shape[0]
        return 0.5 * (logdet + d * math.log(2.0 * math.pi * math.e)) / _LN2, {"shrinkage": s}

    def _mutual_information(self, tx, ty, x_labels: bool, y_labels: bool) -> tuple[float, dict[str, Any]]:
        x, y = self._prepared(tx, x_labels), self._prepared(ty, y_labels)
        if x.shape[1] == 0 or y.shape[1] == 0 or not x.std(axis=0).any() or not y.std(axis=0).any():
            return 0.0, {}  # a single class, or a constant: nothing shared
        return gaussian_mutual_information(x, y, self.shrinkage, self.bias_correction, self.max_components)
