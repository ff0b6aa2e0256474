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


#: Numbers one block of the alignment search may hold (matrices × N², or matrices × grid values ×
#: bins): small on the CPU, where a block that stays in cache is fastest, large on a GPU.
ALIGNMENT_BLOCK_ELEMENTS = {"cpu": 2**18, "cuda": 2**25}

#: Distance bins per octave of the squared distance in the bounded alignment search
#: (:func:`alignment_sigmas`): a power of two, so that a bin is read off a float's bits.
ALIGNMENT_BINS_PER_OCTAVE = 32

#: Octaves of squared distance binned below a set's largest; smaller ones share one bin from 0.
ALIGNMENT_OCTAVES = 20


def alignment_sigmas(sqdist: torch.Tensor, target: torch.Tensor, n_grid: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """σ maximising the kernel alignment of ``exp(−D/(2σ²))`` with a target Gram, for M sets at once.

    The alignment A(σ) = ⟨K_σ, T⟩ / (‖K_σ‖ ‖T‖) depends on the distances only through two
    sums over pairs: Σ T_ij exp(−D_ij/2σ²) and Σ exp(−D_ij/σ²). The pairs are counted in
    log-spaced bins of D (:data:`ALIGNMENT_BINS_PER_OCTAVE` per octave, read off the bits of
    each float, over :data:`ALIGNMENT_OCTAVES` octaves), with their target weights and first
    moments. Both summands are convex and falling in D, so within a bin each sum lies between
    the tangent at the bin's mean (Jensen) and the chord between its edges: every grid score
    gets a rigorous lower and upper bound at O(bins) cost. Only the grid values whose upper
    bound reaches the best lower bound (typically 1 to 4 of 50) are then scored exactly over
    all pairs. The σ returned is therefore the exact argmax over the grid, as a full
    evaluation finds it, at the cost of a few N² passes instead of ``n_grid``. A target with
    negative entries is scored exactly on the whole grid. Ties go to the smallest σ.

    Parameters
    ----------
    sqdist : torch.Tensor, shape (M, N, N)
        Squared distances (symmetric, non-negative).
    target : torch.Tensor, shape (M, N, N) or (N, N)
        Symmetric target Gram(s).
    n_grid : int

    Returns
    -------
    sigma : torch.Tensor, shape (M,)
        The grid σ of maximal alignment (1.0 for constant data).
    at_edge : torch.Tensor, shape (M,), bool
        Whether it is the smallest or largest grid value (False for constant data).
    """
    target = target.to(sqdist.dtype)
    grids = sigma_grids(sqdist, n_grid)
    constant = ~(sqdist > 0).flatten(1).any(dim=1)
    if bool((target < 0).any()):
        candidates = torch.ones_like(grids, dtype=torch.bool)
    else:
        low, high = _alignment_bounds(sqdist, target, grids)
        candidates = high >= low.max(dim=1, keepdim=True).values
    candidates &= ~constant[:, None]  # constant data: every σ gives the same Gram
    scores = torch.full_like(grids, -math.inf)
    scores[candidates] = _exact_alignments(sqdist, target.expand_as(sqdist), grids, candidates)
    best = torch.argmax(scores, dim=1)
    sigma = grids.gather(1, best[:, None])[:, 0]
    sigma = torch.where(constant, torch.full_like(sigma, _CONSTANT_DATA_SIGMA), sigma)
    at_edge = ((best == 0) | (best == n_grid - 1)) & ~constant
    return sigma, at_edge


def _block_rows(per_row: int, device: torch.device) -> int:
    """How many rows of ``per_row`` numbers one block of the alignment search holds."""
    block = ALIGNMENT_BLOCK_ELEMENTS.get(device.type, ALIGNMENT_BLOCK_ELEMENTS["cuda"])
    return max(1, block // max(1, per_row))


def _exact_alignments(sqdist: torch.Tensor, target: torch.Tensor, grids: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Alignment scores over all N² pairs at the (set, grid value) pairs where ``chosen`` (M, G),
    in the order of ``chosen.nonzero()``."""
    sets, steps = chosen.nonzero(as_tuple=True)
    n = sqdist.shape[-1]
    t_norm = torch.linalg.matrix_norm(target)
    out = torch.empty(sets.shape[0], dtype=sqdist.dtype, device=sqdist.device)
    rows = _block_rows(n * n, sqdist.device)
    for r0 in range(0, sets.shape[0], rows):
        m, s = sets[r0 : r0 + rows], grids[sets[r0 : r0 + rows], steps[r0 : r0 + rows]]
        k = torch.exp(sqdist[m] / (-2.0 * s[:, None, None] ** 2))
        num = (k * target[m]).sum(dim=(-2, -1))
        out[r0 : r0 + rows] = num / (torch.linalg.matrix_norm(k) * t_norm[m])
    return out


def _binned_pairs(sqdist: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pairs i ≤ j of each set (an off-diagonal pair standing for two) in log-spaced bins of D.

    Returns the bins' lower and upper edges in D (M, B each; bin 0 starts at 0) and their sums
    (4, M, B): pair counts, Σ D, Σ T and Σ T·D.
    """
    m, n, device = sqdist.shape[0], sqdist.shape[-1], sqdist.device
    shift = 52 - int(math.log2(ALIGNMENT_BINS_PER_OCTAVE))  # float64: 52 mantissa bits
    bins = ALIGNMENT_OCTAVES * ALIGNMENT_BINS_PER_OCTAVE + 2
    d_max = sqdist.flatten(1).amax(dim=1).clamp(min=torch.finfo(torch.float64).tiny)
    base = (d_max * 2.0**-ALIGNMENT_OCTAVES).view(torch.int64) >> shift  # (M,): key of bin 1
    keys = base[:, None] + torch.arange(bins, device=device)[None, :]
    upper = (keys << shift).view(torch.float64)  # (M, B): bin j holds upper[j - 1] ≤ D < upper[j]
    lower = torch.cat((torch.zeros(m, 1, dtype=torch.float64, device=device), upper[:, :-1]), dim=1)
    rows, cols = torch.triu_indices(n, n, device=device)
    pairs = rows * n + cols
    twice = torch.where(rows == cols, 1.0, 2.0).to(torch.float64)
    t_pairs = target.flatten(-2)[..., pairs] * twice  # (P,) or (M, P)
    sums = torch.empty(4, m, bins, dtype=torch.float64, device=device)
    block = _block_rows(pairs.shape[0], device)
    for r0 in range(0, m, block):
        r = slice(r0, r0 + block)
        d = sqdist[r].flatten(1)[:, pairs]  # (k, P)
        k = d.shape[0]
        key = (d.view(torch.int64) >> shift) - base[r, None] + 1
        key = torch.where(d < upper[r, :1], 0, key)  # below the first edge (zeros included): bin 0
        flat = (key + torch.arange(k, device=device)[:, None] * bins).flatten()
        t = (t_pairs if t_pairs.ndim == 1 else t_pairs[r]).expand(k, -1)
        for q, w in enumerate((twice.expand(k, -1), twice * d, t, t * d)):
            sums[q, r] = torch.bincount(flat, weights=w.flatten(), minlength=k * bins).view(k, bins)
    return lower, upper, sums


def _convex_sum_bounds(
    weight: torch.Tensor, moment: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
    f_lo: torch.Tensor, f_hi: torch.Tensor, f_mean: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bounds of Σ w f(D) over the pairs of each bin, summed over bins, for f convex and falling:
    the tangent at the weighted mean (Jensen) below, the chord between the bin's edges above."""
    slope = (f_hi - f_lo) / (hi - lo)
    return (weight * f_mean).sum(-1), (weight * f_lo + (moment - weight * lo) * slope).sum(-1)


def _alignment_bounds(sqdist: torch.Tensor, target: torch.Tensor, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper bounds (M, G) of the alignment at every grid σ (see :func:`alignment_sigmas`)."""
    lo, hi, (count, d_sum, weight, wd_sum) = _binned_pairs(sqdist, target)
    t_norm = torch.linalg.matrix_norm(target).expand(sqdist.shape[0])
    tiny = torch.finfo(torch.float64).tiny
    mean_c, mean_w = d_sum / count.clamp(min=tiny), wd_sum / weight.clamp(min=tiny)
    lo, hi, count, d_sum, weight, wd_sum = (v[:, None] for v in (lo, hi, count, d_sum, weight, wd_sum))
    mean_c, mean_w = mean_c[:, None], mean_w[:, None]
    low, high = torch.empty_like(grids), torch.empty_like(grids)
    rows = _block_rows(grids.shape[1] * lo.shape[-1] * 4, sqdist.device)
    for r0 in range(0, grids.shape[0], rows):
        r = slice(r0, r0 + rows)
        scale = -0.5 / grids[r, :, None] ** 2  # (m', G, 1): f(D) = exp(D · scale), its square the norm's summand
        f_lo, f_hi = torch.exp(lo[r] * scale), torch.exp(hi[r] * scale)
        f_w, f_c = torch.exp(mean_w[r] * scale), torch.exp(mean_c[r] * scale)
        num_low, num_high = _convex_sum_bounds(weight[r], wd_sum[r], lo[r], hi[r], f_lo, f_hi, f_w)
        sq_low, sq_high = _convex_sum_bounds(count[r], d_sum[r], lo[r], hi[r], f_lo**2, f_hi**2, f_c**2)
        high[r] = num_high / (torch.sqrt(sq_low) * t_norm[r, None])
        low[r] = num_low / (torch.sqrt(sq_high) * t_norm[r, None])
    return low, high


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
