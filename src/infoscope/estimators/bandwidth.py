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

from .kernels import column_chunks

__all__ = [
    "SIGMA_RULES", "silverman_sigma", "knn_sigma", "alignment_sigma", "sigma_grid", "choose_sigma",
    "silverman_sigmas", "knn_sigmas", "alignment_sigmas", "sigma_grids", "choose_sigmas",
]

SIGMA_RULES: tuple[str, ...] = ("silverman", "knn", "alignment")

#: σ returned when all samples coincide (any σ gives the same Gram there).
_CONSTANT_DATA_SIGMA = 1.0


def _fallback_if_degenerate(sigma: torch.Tensor, sqdist: torch.Tensor) -> torch.Tensor:
    """Replace σ that are zero or not finite: by the mean non-zero distance of that matrix, or
    1.0 for constant data. ``sigma`` (M,), ``sqdist`` (M, N, N)."""
    bad = ~(torch.isfinite(sigma) & (sigma > 0))
    if not bool(bad.any()):
        return sigma
    dist = torch.sqrt(sqdist)
    nonzero = (sqdist > 0).sum(dim=(-2, -1))
    mean_nz = torch.where(nonzero > 0, dist.sum(dim=(-2, -1)) / nonzero.clamp(min=1), torch.full_like(sigma, _CONSTANT_DATA_SIGMA))
    return torch.where(bad, mean_nz, sigma)


def silverman_sigmas(sqdist: torch.Tensor, d: int | torch.Tensor) -> torch.Tensor:
    """The Silverman-type σ of M samples at once, from their squared distances.

    Parameters
    ----------
    sqdist : torch.Tensor, shape (M, N, N)
    d : int or torch.Tensor of shape (M,)
        Values per sample (one for all, or one per sample set).

    Returns
    -------
    torch.Tensor, shape (M,), float64
        σ = (4/(d+2))^(1/(d+4)) · √tr(Σ) · N^(−1/(d+4)) with tr(Σ) = Σ_ij D_ij / (2N(N−1));
        1.0 for constant data.
    """
    n = sqdist.shape[-1]
    total_variance = sqdist.sum(dim=(-2, -1)) / (2.0 * n * (n - 1))
    sigma = torch.sqrt(total_variance.clamp(min=0.0)) * ((4.0 / (d + 2.0)) ** (1.0 / (d + 4.0)) * n ** (-1.0 / (d + 4.0)))
    return torch.where(sigma > 0, sigma, torch.full_like(sigma, _CONSTANT_DATA_SIGMA))


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
        return float(silverman_sigmas(sqdist[None], d)[0])
    total_variance = sum(float(block.var(dim=0, unbiased=True).sum()) for block in column_chunks(x))
    spread = math.sqrt(max(total_variance, 0.0))
    sigma = spread * (4.0 / (d + 2.0)) ** (1.0 / (d + 4.0)) * n ** (-1.0 / (d + 4.0))
    return sigma if sigma > 0 else _CONSTANT_DATA_SIGMA


def knn_sigmas(sqdist: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Mean distance from each sample to its k-th nearest neighbour, for M sample sets at once.

    Parameters
    ----------
    sqdist : torch.Tensor, shape (M, N, N)
    k : int
        Neighbour rank (clipped to N − 1).

    Returns
    -------
    torch.Tensor, shape (M,)
    """
    n = sqdist.shape[-1]
    k = max(1, min(int(k), n - 1))
    # k + 1 smallest per row: the first is the sample itself (distance 0)
    kth = torch.topk(sqdist, k + 1, dim=-1, largest=False).values[..., k]
    return _fallback_if_degenerate(torch.sqrt(kth).mean(dim=-1), sqdist)


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
    return float(knn_sigmas(sqdist[None], k)[0])


def sigma_grids(sqdist: torch.Tensor, n: int = 50, low: float = 0.1, high: float = 10.0) -> torch.Tensor:
    """Log-spaced σ grids, from ``low`` to ``high`` × each set's mean pairwise distance.

    Parameters
    ----------
    sqdist : torch.Tensor, shape (M, N, N)

    Returns
    -------
    torch.Tensor, shape (M, n), float64
    """
    m = sqdist.shape[-1]
    mean_dist = _fallback_if_degenerate(torch.sqrt(sqdist).sum(dim=(-2, -1)) / (m * (m - 1)), sqdist).to(torch.float64)
    steps = torch.linspace(0.0, 1.0, n, dtype=torch.float64, device=sqdist.device)
    lo, hi = torch.log10(low * mean_dist), torch.log10(high * mean_dist)
    return 10.0 ** (lo[:, None] + (hi - lo)[:, None] * steps[None, :])


def sigma_grid(sqdist: torch.Tensor, n: int = 50, low: float = 0.1, high: float = 10.0) -> torch.Tensor:
    """Log-spaced σ grid from ``low`` to ``high`` × the mean pairwise distance.

    Returns
    -------
    torch.Tensor, shape (n,), float64

    Examples
    --------
    >>> import torch
    >>> d = torch.tensor([[0.0, 4.0], [4.0, 0.0]], dtype=torch.float64)   # one distance of 2
    >>> [round(s, 12) for s in sigma_grid(d, n=3).tolist()]
    [0.2, 2.0, 20.0]
    """
    return sigma_grids(sqdist[None], n, low, high)[0]


#: Numbers one block of the alignment search may hold (grid values × matrices × N²): small on
#: the CPU, where a block that stays in cache is fastest, large on a GPU.
ALIGNMENT_BLOCK_ELEMENTS = {"cpu": 2**18, "cuda": 2**25}


def alignment_sigmas(sqdist: torch.Tensor, target: torch.Tensor, n_grid: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """σ maximising the kernel alignment of ``exp(−D/(2σ²))`` with a target Gram, for M sets at once.

    The whole grid is evaluated in one pass (in blocks of at most
    :data:`ALIGNMENT_BLOCK_ELEMENTS` numbers); ties go to the smallest σ.

    Parameters
    ----------
    sqdist : torch.Tensor, shape (M, N, N)
    target : torch.Tensor, shape (M, N, N) or (N, N)
    n_grid : int

    Returns
    -------
    sigma : torch.Tensor, shape (M,)
        The grid σ of maximal alignment (1.0 for constant data).
    at_edge : torch.Tensor, shape (M,), bool
        Whether it is the smallest or largest grid value (False for constant data).
    """
    target = target.to(sqdist.dtype)
    if target.ndim == 2:
        target = target.expand_as(sqdist)
    grids = sigma_grids(sqdist, n_grid)
    t_norm = torch.linalg.matrix_norm(target)
    n, m = sqdist.shape[-1], sqdist.shape[0]
    block = ALIGNMENT_BLOCK_ELEMENTS.get(sqdist.device.type, ALIGNMENT_BLOCK_ELEMENTS["cuda"])
    per_block = max(1, block // max(1, n * n))  # (matrices × grid values) per block
    scores = torch.empty(m, n_grid, dtype=sqdist.dtype, device=sqdist.device)
    rows = max(1, per_block // n_grid)
    for r0 in range(0, m, rows):
        d_r, t_r = sqdist[r0 : r0 + rows], target[r0 : r0 + rows]
        g_step = max(1, per_block // d_r.shape[0])
        for start in range(0, n_grid, g_step):
            s = grids[r0 : r0 + rows, start : start + g_step]  # (m', g)
            k = torch.exp(d_r[:, None] / (-2.0 * s[:, :, None, None] ** 2))
            num = torch.einsum("mgij,mij->mg", k, t_r)
            scores[r0 : r0 + rows, start : start + g_step] = num / (torch.linalg.vector_norm(k, dim=(-2, -1)) * t_norm[r0 : r0 + rows, None])
    best = torch.argmax(scores, dim=1)
    sigma = grids.gather(1, best[:, None])[:, 0]
    constant = ~(sqdist > 0).flatten(1).any(dim=1)
    sigma = torch.where(constant, torch.full_like(sigma, _CONSTANT_DATA_SIGMA), sigma)
    at_edge = ((best == 0) | (best == n_grid - 1)) & ~constant
    return sigma, at_edge


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
    return float(alignment_sigmas(sqdist[None], target, n_grid)[0][0])


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


def choose_sigmas(
    rule: str, d: int | torch.Tensor, sqdist: torch.Tensor, target: torch.Tensor | None = None, k: int = 10, n_grid: int = 50
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Apply a named σ rule to M sample sets at once.

    Parameters
    ----------
    rule : {"silverman", "knn", "alignment"}
    d : int or torch.Tensor of shape (M,)
        Values per sample (used by ``"silverman"``), one for all or one per sample set.
    sqdist : torch.Tensor, shape (M, N, N)
    target : torch.Tensor, shape (M, N, N) or (N, N), optional
        Target Gram(s), required by ``"alignment"``.
    k, n_grid : int

    Returns
    -------
    sigma : torch.Tensor, shape (M,)
    at_edge : torch.Tensor of bool, shape (M,), or None
        For ``"alignment"``: whether σ is the smallest or largest grid value.
    """
    if rule == "silverman":
        return silverman_sigmas(sqdist, d), None
    if rule == "knn":
        return knn_sigmas(sqdist, k), None
    if rule == "alignment":
        if target is None:
            raise ValueError("sigma rule 'alignment' needs a target Gram")
        return alignment_sigmas(sqdist, target, n_grid)
    raise ValueError(f"unknown sigma rule {rule!r}; choose a number > 0 or one of: {', '.join(SIGMA_RULES)}")
