"""KDE bounds on information under additive Gaussian noise (Kolchinsky & Tracey 2017).

The layer is read as T = h(X) + ε with ε ~ N(0, σ_n² I), so T given a sample is a Gaussian
and T is a mixture of N Gaussians. Its entropy is bounded by pairwise divergences between the
components: the KL divergence gives an upper bound, the Bhattacharyya distance a lower bound
(Kolchinsky & Tracey 2017, used by Saxe et al. 2018 with σ_n² = 0.1). With equal covariances
both are functions of the squared distances D_ij between samples:

    H(T) − H(ε) ≤ −(1/N) Σ_i log (1/N) Σ_j exp(−D_ij / (2σ_n²))      (upper, KL)
    H(T) − H(ε) ≥ −(1/N) Σ_i log (1/N) Σ_j exp(−D_ij / (8σ_n²))      (lower, Bhattacharyya)

:meth:`KDE.entropy` returns this mixture entropy above the noise floor, H(T) − H(ε) (which is
I(X;T) for distinct inputs, is 0 for constant T and at most log2 N); the differential entropy
H(T) itself is :func:`kde_differential_entropy`. I(T;Y) with class labels is
H(T) − Σ_y p(y) H(T | Y=y) with both terms from the same bound. For a continuous Y, noise of
the same variance is added to Y and I = H(T) + H(Y) − H(T, Y).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from .._validation import ArrayLike, as_labels, check_choice, check_positive, check_samples, flatten_samples
from .base import H_T, I_TY, I_XT, Estimate, Estimator, ProbeContext
from .discrete import zero_if_round_off
from .kernels import batched_squared_distances, squared_distances
from .tags import EstimatorTags
from .units import unit_stack

__all__ = ["KDE", "mixture_entropy_above_noise", "kde_differential_entropy"]

BOUNDS: tuple[str, ...] = ("upper", "lower")
_LN2 = math.log(2.0)


def _kernel_scale(noise_variance: float, bound: str) -> float:
    """Denominator of the pairwise divergence: 2σ² (KL, upper bound) or 8σ² (Bhattacharyya, lower)."""
    return 2.0 * noise_variance if bound == "upper" else 8.0 * noise_variance


def mixture_entropy_above_noise(sqdist: torch.Tensor, noise_variance: float, bound: str = "upper") -> float:
    """Pairwise-divergence bound on H(T) − H(ε) for an equal-weight Gaussian mixture, in bits.

    Parameters
    ----------
    sqdist : torch.Tensor, shape (N, N)
        Squared distances between the component means (the samples).
    noise_variance : float
        σ_n², the variance of the isotropic noise.
    bound : {"upper", "lower"}
        KL-based upper or Bhattacharyya-based lower bound.

    Returns
    -------
    float
        Bits, between 0 and log2 N.

    Examples
    --------
    >>> import torch
    >>> far = torch.full((4, 4), 1e6, dtype=torch.float64).fill_diagonal_(0)
    >>> mixture_entropy_above_noise(far, 0.1)
    2.0
    """
    scale = _kernel_scale(noise_variance, bound)
    n = sqdist.shape[0]
    log_mean = torch.logsumexp(-sqdist.to(torch.float64) / scale, dim=1) - math.log(n)
    return zero_if_round_off(float(-log_mean.mean()) / _LN2)


def kde_differential_entropy(x: ArrayLike, noise_variance: float = 0.1, bound: str = "upper") -> float:
    """Differential entropy H(T) of T = x + ε, ε ~ N(0, σ_n² I), bounded as in :class:`KDE`, in bits.

    Parameters
    ----------
    x : array_like, shape (N, ...)
    noise_variance : float
    bound : {"upper", "lower"}

    Returns
    -------
    float
        Bits; can be negative (a differential entropy).

    Examples
    --------
    >>> import numpy as np
    >>> h = kde_differential_entropy(np.zeros((10, 1)), noise_variance=1.0)
    >>> round(h, 4)  # a single N(0, 1): ½ log2(2πe)
    2.0471
    """
    t = flatten_samples(check_samples(x, "x"))
    check_positive(noise_variance, "noise_variance")
    check_choice(bound, "bound", BOUNDS)
    d = t.shape[1]
    noise = 0.5 * d * math.log2(2 * math.pi * math.e * noise_variance)
    return noise + mixture_entropy_above_noise(squared_distances(t), noise_variance, bound)


@dataclasses.dataclass
class KDE(Estimator):
    """Kolchinsky–Tracey KDE bounds on entropy and MI of a noisy layer, in bits.

    Parameters
    ----------
    noise_variance : float, default 0.1
        Variance σ_n² of the Gaussian noise added to every activation (Saxe et al.: 0.1).
    bound : {"upper", "lower"}, default "upper"
        KL (upper) or Bhattacharyya (lower) bound.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.0], [0.0], [100.0], [100.0]])
    >>> round(KDE().mutual_information(t, np.array([0, 0, 1, 1])), 6)
    1.0
    """

    name: ClassVar[str] = "kde"
    input_mode: ClassVar[str] = "identity"
    tags: ClassVar[EstimatorTags] = EstimatorTags(
        square_matrices=8, sample_copies=2, resolution="noise s.d.", resolution_short="noise s.d.", unit_pooling="map",
        batches_units=True,
    )

    noise_variance: float = 0.1
    bound: str = "upper"

    def __post_init__(self) -> None:
        self.noise_variance = check_positive(self.noise_variance, "noise_variance", "Saxe et al. use 0.1.")
        check_choice(self.bound, "bound", BOUNDS)

    def _above_noise(self, t: torch.Tensor) -> float:
        return mixture_entropy_above_noise(squared_distances(flatten_samples(t)), self.noise_variance, self.bound)

    def _class_conditional(self, t: torch.Tensor, labels: torch.Tensor) -> float:
        """H(T) − Σ_c p(c) H(T | c), both from the chosen bound, in one pass over the distances.

        Σ_c p(c) · mean_{i∈c}(…) is mean_i(…), so the conditional term is the same mixture
        bound with the sum over j restricted to the class of i.
        """
        logk = -squared_distances(flatten_samples(t)) / _kernel_scale(self.noise_variance, self.bound)
        whole = torch.logsumexp(logk, dim=-1) - math.log(len(labels))
        return zero_if_round_off(float(_class_terms(logk, whole, labels).mean()) / _LN2)

    def units_information(
        self, t: torch.Tensor, ctx: ProbeContext, units: Sequence[int], pooling: str = "map", memory_budget: int | None = None
    ) -> list[dict[str, Estimate]]:
        """H(T), I(X;T) and I(T;Y) of each chosen unit, in bits, with the units' distance
        matrices built and reduced together: as many units at a time as ``memory_budget``
        bytes hold (default 1 GiB; at least one). Equal to
        :meth:`~infoscope.estimators.base.Estimator.units_information` up to float rounding.
        """
        tt = t if isinstance(t, torch.Tensor) else check_samples(t, "layer activations")
        stack = unit_stack(tt, list(units), pooling)  # (U, N, d)
        n = stack.shape[1]
        group = max(1, (memory_budget or 2**30) // (self.tags.square_matrices * 8 * n * n))
        scale = _kernel_scale(self.noise_variance, self.bound)
        ids, y = ctx.x_ids.to(stack.device), ctx.y.to(stack.device)
        h, i_xt, i_ty = [], [], []
        for start in range(0, stack.shape[0], group):
            logk = -batched_squared_distances(stack[start:start + group]) / scale
            whole = torch.logsumexp(logk, dim=-1) - math.log(n)  # (g, N)
            h += (-whole.mean(dim=1) / _LN2).tolist()
            i_xt += (_class_terms(logk, whole, ids).mean(dim=1) / _LN2).tolist()
            i_ty += (_class_terms(logk, whole, y).mean(dim=1) / _LN2).tolist()
        mi = {"y_discrete": True, "n_samples": n}
        return [{H_T: self._result(zero_if_round_off(a), n_samples=n), I_XT: self._result(zero_if_round_off(b), **mi),
                 I_TY: self._result(zero_if_round_off(c), **mi)} for a, b, c in zip(h, i_xt, i_ty)]

    @classmethod
    def resolution_value(cls, params: dict[str, Any]) -> float | None:
        """The noise standard deviation σ_n."""
        return math.sqrt(params["noise_variance"]) if "noise_variance" in params else None

    def variants(self, scales=(0.5, 2.0)) -> list[Estimator]:
        """Copies with the noise variance scaled by each factor."""
        return [dataclasses.replace(self, noise_variance=self.noise_variance * f) for f in scales]

    def _entropy(self, t: torch.Tensor) -> tuple[float, dict[str, Any]]:
        """H(T) − H(ε) for T = t + ε, in bits (0 to log2 N)."""
        return self._above_noise(t), {}

    def _mutual_information(self, tx, ty, x_labels: bool, y_labels: bool) -> tuple[float, dict[str, Any]]:
        """I(x + ε; y) in bits, with the class-conditional bound when one side holds labels."""
        if x_labels or y_labels:
            cont, lab = (ty, as_labels(tx, "x")) if x_labels else (tx, as_labels(ty))
            return self._class_conditional(cont, torch.as_tensor(lab, device=cont.device)), {}
        fx, fy = flatten_samples(tx).to(torch.float64), flatten_samples(ty).to(torch.float64)
        dx, dy = squared_distances(fx), squared_distances(fy)
        h = lambda d: mixture_entropy_above_noise(d, self.noise_variance, self.bound)  # noqa: E731
        return h(dx) + h(dy) - h(dx + dy), {}


def _class_terms(logk: torch.Tensor, whole: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per sample i: log of the mean kernel over i's class minus ``whole`` (the log-mean over all
    samples); ``logk`` is (..., N, N). Their mean over i, in nats, is the class-conditional
    bound H(T) − Σ_c p(c) H(T | c) (see :meth:`KDE._class_conditional`)."""
    same = labels[:, None] == labels[None, :]
    n_class = same.sum(dim=1).to(torch.float64)
    within = torch.logsumexp(logk.masked_fill(~same, -math.inf), dim=-1) - torch.log(n_class)
    return within - whole
