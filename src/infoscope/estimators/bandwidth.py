"""Rules that choose the RBF kernel width σ from data.

A matrix-based entropy depends strongly on σ, so each rule returns the σ it chose and the
estimators store it beside the value. Rules:

``"silverman"`` (the default)
    A Silverman-type rule σ = γ · N^(−1/(4+d)) with γ = (4 / (d + 2))^(1/(d+4)) · √tr(Σ),
    where √tr(Σ) is the root-mean-square distance of the samples from their mean. For d = 1
    this is Silverman's rule of thumb; in high dimension it stays at the scale of the typical
    pairwise distance (√(2 tr Σ)) instead of collapsing the Gram to the identity, which a
    per-dimension bandwidth would do.
``"knn"``
    Mean Euclidean distance from each sample to its k-th nearest neighbour (k = 10 by
    default). Scale-aware in any dimension.
``"alignment"``
    The σ on a log grid from 0.1 to 10 × the mean pairwise distance that maximises the kernel
    alignment ⟨K_σ, K_Y⟩_F / (‖K_σ‖_F ‖K_Y‖_F) with a target Gram K_Y (usually the labels),
    as in Wickstrøm et al. 2023. Needs a target.

A constant array has all distances zero; any σ gives the all-ones Gram, so rules then return
1.0 (recorded, and irrelevant to the value).
"""

from __future__ import annotations

import math

import torch

from .kernels import column_chunks, rbf_gram

__all__ = ["SIGMA_RULES", "silverman_sigma", "knn_sigma", "alignment_sigma", "sigma_grid", "choose_sigma"]

SIGMA_RULES: tuple[str, ...] = ("silverman", "knn", "alignment")

#: σ returned when all samples coincide (any σ gives the same Gram there).
_CONSTANT_DATA_SIGMA = 1.0


def _fallback_if_degenerate(sigma: float, sqdist: torch.Tensor) -> float:
    """Replace a zero σ: by the mean non-zero distance, or 1.0 for constant data."""
    if sigma > 0 and math.isfinite(sigma):
        return sigma
    nz = sqdist[sqdist > 0]
    if nz.numel() == 0:
        return _CONSTANT_DATA_SIGMA
    return float(torch.sqrt(nz).mean())


def silverman_sigma(x: torch.Tensor, sqdist: torch.Tensor | None = None) -> float:
    """Silverman-type rule σ = (4/(d+2))^(1/(d+4)) · √tr(Σ) · N^(−1/(d+4)).

    Parameters
    ----------
    x : torch.Tensor, shape (N, D)
    sqdist : torch.Tensor, shape (N, N), optional
        Squared pairwise distances of ``x`` if already computed: then
        tr(Σ) = Σ_ij D_ij / (2N(N−1)) is read from them instead of a pass over ``x``.

    Returns
    -------
    float
        σ in the units of ``x``; 1.0 for constant data.

    Examples
    --------
    >>> import torch
    >>> x = torch.linspace(-1.0, 1.0, 101, dtype=torch.float64)[:, None]
    >>> round(silverman_sigma(x), 4)
    0.2466
    >>> round(silverman_sigma(x, (x - x.T) ** 2), 4)
    0.2466
    """
    n, d = x.shape
    if sqdist is not None:
        total_variance = float(sqdist.sum()) / (2.0 * n * (n - 1))
    else:
        total_variance = sum(float(block.var(dim=0, unbiased=True).sum()) for block in column_chunks(x))
    spread = math.sqrt(max(total_variance, 0.0))
    sigma = spread * (4.0 / (d + 2.0)) ** (1.0 / (d + 4.0)) * n ** (-1.0 / (d + 4.0))
    return sigma if sigma > 0 else _CONSTANT_DATA_SIGMA


def knn_sigma(sqdist: torch.Tensor, k: int = 10) -> float:
    """Mean distance from each sample to its k-th nearest neighbour.

    Parameters
    ----------
    sqdist : torch.Tensor, shape (N, N)
        Squared pairwise distances.
    k : int
        Neighbour rank (clipped to N − 1).

    Returns
    -------
    float
        σ in the units of the samples.

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(5, dtype=torch.float64)[:, None]
    >>> knn_sigma((x - x.T) ** 2, k=1)
    1.0
    """
    n = sqdist.shape[0]
    k = max(1, min(int(k), n - 1))
    # k + 1 smallest per row: the first is the sample itself (distance 0)
    kth = torch.topk(sqdist, k + 1, dim=1, largest=False).values[:, k]
    return _fallback_if_degenerate(float(torch.sqrt(kth).mean()), sqdist)


def sigma_grid(sqdist: torch.Tensor, n: int = 50, low: float = 0.1, high: float = 10.0) -> torch.Tensor:
    """Log-spaced σ grid from ``low`` to ``high`` × the mean pairwise distance.

    Returns
    -------
    torch.Tensor, shape (n,), float64

    Examples
    --------
    >>> import torch
    >>> d = torch.tensor([[0.0, 4.0], [4.0, 0.0]], dtype=torch.float64)   # one distance of 2
    >>> sigma_grid(d, n=3).tolist()
    [0.2, 2.0, 20.0]
    """
    m = sqdist.shape[0]
    mean_dist = float(torch.sqrt(sqdist).sum()) / (m * (m - 1))
    mean_dist = _fallback_if_degenerate(mean_dist, sqdist)
    return torch.logspace(math.log10(low * mean_dist), math.log10(high * mean_dist), n, dtype=torch.float64)


def alignment_sigma(sqdist: torch.Tensor, target: torch.Tensor, n_grid: int = 50) -> float:
    """σ maximising the kernel alignment of ``exp(−D/(2σ²))`` with a target Gram.

    Parameters
    ----------
    sqdist : torch.Tensor, shape (N, N)
        Squared pairwise distances of the samples.
    target : torch.Tensor, shape (N, N)
        Target Gram matrix (for example :func:`~infoscope.estimators.kernels.label_gram`).
    n_grid : int
        Number of grid points between 0.1 and 10 × the mean pairwise distance.

    Returns
    -------
    float
        The grid σ of maximal alignment (1.0 for constant data).

    Examples
    --------
    >>> import torch
    >>> from infoscope.estimators.kernels import label_gram, squared_distances
    >>> x = torch.tensor([[0.0], [0.1], [5.0], [5.1]])
    >>> s = alignment_sigma(squared_distances(x), label_gram(torch.tensor([0, 0, 1, 1])))
    >>> 0.1 < s < 5.0
    True
    """
    if not bool((sqdist > 0).any()):
        return _CONSTANT_DATA_SIGMA
    target = target.to(sqdist.dtype)
    t_norm = torch.linalg.norm(target)
    best_sigma, best = _CONSTANT_DATA_SIGMA, -math.inf
    for sigma in sigma_grid(sqdist, n_grid).tolist():
        k = rbf_gram(sqdist, sigma)
        score = float((k * target).sum() / (torch.linalg.norm(k) * t_norm))
        if score > best:
            best_sigma, best = sigma, score
    return best_sigma


def choose_sigma(
    rule: str,
    x: torch.Tensor,
    sqdist: torch.Tensor,
    target: torch.Tensor | None = None,
    k: int = 10,
    n_grid: int = 50,
) -> float:
    """Apply a named σ rule.

    Parameters
    ----------
    rule : {"silverman", "knn", "alignment"}
    x : torch.Tensor, shape (N, D)
        The samples (their shape is used by ``"silverman"``).
    sqdist : torch.Tensor, shape (N, N)
        Their squared pairwise distances.
    target : torch.Tensor, shape (N, N), optional
        Target Gram, required by ``"alignment"``.
    k, n_grid : int
        Parameters of ``"knn"`` and ``"alignment"``.

    Returns
    -------
    float
        The chosen σ.

    Examples
    --------
    >>> import torch
    >>> from infoscope.estimators.kernels import squared_distances
    >>> x = torch.arange(5, dtype=torch.float64)[:, None]
    >>> choose_sigma("knn", x, squared_distances(x), k=1)
    1.0
    """
    if rule == "silverman":
        return silverman_sigma(x, sqdist)
    if rule == "knn":
        return knn_sigma(sqdist, k)
    if rule == "alignment":
        if target is None:
            raise ValueError(
                "sigma rule 'alignment' needs a target Gram (labels or a second variable with a "
                "fixed or rule-chosen sigma); use it in mutual_information, or choose 'knn' or "
                "'silverman' here"
            )
        return alignment_sigma(sqdist, target, n_grid)
    raise ValueError(f"unknown sigma rule {rule!r}; choose a number > 0 or one of: {', '.join(SIGMA_RULES)}")
