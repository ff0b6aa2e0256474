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

import dataclasses
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
        Squared distances (symmetric, zero diagonal).

    Returns
    -------
    torch.Tensor, shape (M, n), float64
    """
    return _log_grids(torch.cat([_root_sums(d) for _, d, _ in _Pairs(sqdist, None).blocks()]), sqdist, n, low, high)


def _root_sums(d: torch.Tensor) -> torch.Tensor:
    """Σ √D over the pairs i < j of each set, from their squared distances (k, P)."""
    return torch.sqrt(d).sum(dim=1)


def _log_grids(root_sums: torch.Tensor, sqdist: torch.Tensor, n: int, low: float, high: float) -> torch.Tensor:
    """The σ grids (M, n) from each set's Σ √D over pairs i < j (:func:`sigma_grids`)."""
    m = sqdist.shape[-1]
    mean_dist = 2.0 * root_sums.to(torch.float64) / (m * (m - 1))
    constant = mean_dist == 0  # all distances zero: any grid serves
    mean_dist = _fallback_if_degenerate(torch.where(constant, _CONSTANT_DATA_SIGMA, mean_dist), sqdist)
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


#: Numbers one block of the alignment search may hold (matrices × pairs, or matrices × grid
#: values × bins): small on the CPU, where a block that stays in cache is fastest, large on a GPU.
ALIGNMENT_BLOCK_ELEMENTS = {"cpu": 2**17, "cuda": 2**25}

#: Distance bins per octave of the squared distance in the bounded alignment search
#: (:func:`alignment_sigmas`): a power of two, so that a bin is read off a float's bits.
ALIGNMENT_BINS_PER_OCTAVE = 16

#: Octaves of squared distance binned below a set's largest; smaller ones share one bin from 0.
ALIGNMENT_OCTAVES = 20

#: A target whose entries are all exactly 1 or at most this is binned as two classes of pairs.
_BINARY_TARGET_LOW = 1e-12


def alignment_sigmas(sqdist: torch.Tensor, target: torch.Tensor, n_grid: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """σ maximising the kernel alignment of ``exp(−D/(2σ²))`` with a target Gram, for M sets at once.

    The alignment A(σ) = ⟨K_σ, T⟩ / (‖K_σ‖ ‖T‖) depends on the distances only through two
    sums over pairs: Σ T_ij exp(−D_ij/2σ²) and Σ exp(−D_ij/σ²). The pairs are counted in
    log-spaced bins of D (:data:`ALIGNMENT_BINS_PER_OCTAVE` per octave, read off the bits of
    each float, over :data:`ALIGNMENT_OCTAVES` octaves), with their target weights and first
    moments. Both summands are convex and falling in D, so within a bin each sum lies between
    the tangent at the bin's mean (Jensen) and the chord between its edges: every grid score
    gets a rigorous lower and upper bound at O(bins) cost. Only the grid values whose upper
    bound reaches the best lower bound remain; where more than one does (a few sets in ten),
    they are scored exactly over all pairs. The σ returned is therefore the exact argmax over
    the grid, as a full evaluation finds it, at the cost of one or two passes over the pairs
    instead of ``n_grid``. A target with negative entries is scored exactly on the whole grid.
    Ties go to the smallest σ.

    Parameters
    ----------
    sqdist : torch.Tensor, shape (M, N, N)
        Squared distances (symmetric, non-negative, zero diagonal).
    target : torch.Tensor, shape (N, N), (M, N, N) or (C, N, N)
        Symmetric target Gram(s): one for all sets, one per set, or C of them with M a
        multiple of C, set m taking target m mod C (sets ordered (set, chunk)).
    n_grid : int

    Returns
    -------
    sigma : torch.Tensor, shape (M,)
        The grid σ of maximal alignment (1.0 for constant data).
    at_edge : torch.Tensor, shape (M,), bool
        Whether it is the smallest or largest grid value (False for constant data).
    """
    target = target.to(sqdist.dtype)
    if target.ndim == 3 and sqdist.shape[0] % target.shape[0]:
        raise ValueError(f"{sqdist.shape[0]} sets cannot share {target.shape[0]} targets: give one per set, or a number that divides it")
    if bool(torch.diagonal(sqdist, dim1=-2, dim2=-1).any()):
        raise ValueError("squared distances must be 0 on the diagonal (each sample's distance to itself)")
    pairs = _Pairs(sqdist, target)
    root_sums, d_max, binned = pairs.summaries()
    grids = _log_grids(root_sums, sqdist, n_grid, 0.1, 10.0)
    constant = ~(d_max > 0)
    if binned is None:  # a target with negative entries: no bounds
        candidates = torch.ones_like(grids, dtype=torch.bool)
    else:
        low, high = _alignment_bounds(binned, pairs, grids)
        candidates = high >= low.max(dim=1, keepdim=True).values
    candidates &= ~constant[:, None]  # constant data: every σ gives the same Gram
    # one candidate is the argmax already (its lower bound beats every other upper bound);
    # only sets with several are scored exactly, at those
    several = candidates & (candidates.sum(dim=1, keepdim=True) > 1)
    scores = torch.where(candidates, 0.0, -math.inf).to(grids.dtype)
    scores[several] = pairs.exact_alignments(grids, several)
    best = torch.argmax(scores, dim=1)
    sigma = grids.gather(1, best[:, None])[:, 0]
    sigma = torch.where(constant, torch.full_like(sigma, _CONSTANT_DATA_SIGMA), sigma)
    at_edge = ((best == 0) | (best == n_grid - 1)) & ~constant
    return sigma, at_edge


def _block_rows(per_row: int, device: torch.device) -> int:
    """How many rows of ``per_row`` numbers one block of the alignment search holds."""
    block = ALIGNMENT_BLOCK_ELEMENTS.get(device.type, ALIGNMENT_BLOCK_ELEMENTS["cuda"])
    return max(1, block // max(1, per_row))


def _upper_pairs(n: int, device: torch.device) -> torch.Tensor:
    """Flat positions i·n + j of the pairs i < j of an n × n matrix."""
    rows, cols = torch.triu_indices(n, n, offset=1, device=device)
    return rows * n + cols


def _binary_target(target: torch.Tensor) -> float | None:
    """For a target whose entries are exactly 1 or at most :data:`_BINARY_TARGET_LOW` (a
    class-equality Gram), the largest of the small ones; None for any other target."""
    ones = target >= 0.5
    if not bool(torch.where(ones, target == 1.0, target <= _BINARY_TARGET_LOW).all()):
        return None
    return float(torch.where(ones, torch.zeros_like(target), target).max())


@dataclasses.dataclass
class _Binned:
    """The pairs i < j of each set in log-spaced bins of D: bin edges (M, B) and sums (M, B)."""

    lower: torch.Tensor
    upper: torch.Tensor
    count: torch.Tensor
    d_sum: torch.Tensor
    weight: torch.Tensor  # Σ T
    wd_sum: torch.Tensor  # Σ T·D
    outside: float  # the most a pair left out of the target's sums adds to Σ T (a binary target's small entries)


class _Pairs:
    """The pairs i < j of M sets of squared distances, with their targets, read in blocks of sets.

    The diagonal (D = 0, kernel 1) enters every sum exactly: n to the squared norm, Σ T_ii to
    the target's sum.
    """

    def __init__(self, sqdist: torch.Tensor, target: torch.Tensor | None) -> None:
        self.sqdist, self.target = sqdist, target
        n, device = sqdist.shape[-1], sqdist.device
        self.index = _upper_pairs(n, device)
        self.block = _block_rows(self.index.shape[0], device)
        self._offsets = torch.arange(self.block, device=device)[:, None] * (n * n) + self.index  # (block, P)
        self.shared = target is None or target.ndim == 2  # one target for every set (or none: distances only)
        if target is not None:
            self.t_pairs = target.reshape(*target.shape[:-2], n * n)[..., self.index]  # (P,) or (C, P)
            self.t_diag = torch.diagonal(target, dim1=-2, dim2=-1).sum(-1)  # () or (C,)
            self.t_norm = torch.linalg.matrix_norm(target)  # () or (C,)

    def of(self, values: torch.Tensor, sets: torch.Tensor) -> torch.Tensor:
        """Per-target values of the given sets: as they are for a shared target, else those of
        target m mod C for set m (``values`` (C, ...))."""
        return values if self.shared else values[sets % values.shape[0]]

    def blocks(self, wanted: torch.Tensor | None = None):
        """(sets, squared distances (k, P), targets (k, P), (P,) or None) of each block of sets
        (of the blocks holding a ``wanted`` set, (M,) bool, if given)."""
        m, n = self.sqdist.shape[0], self.sqdist.shape[-1]
        flat = self.sqdist.reshape(m, n * n)  # (take reads the storage: fastest way to gather pairs)
        for r0 in range(0, m, self.block):
            if wanted is not None and not bool(wanted[r0 : r0 + self.block].any()):
                continue
            sets = torch.arange(r0, min(m, r0 + self.block), device=self.sqdist.device)
            targets = None if self.target is None else self.of(self.t_pairs, sets)
            yield sets, torch.take(flat[r0 : r0 + self.block], self._offsets[: sets.shape[0]]), targets

    def summaries(self) -> tuple[torch.Tensor, torch.Tensor, _Binned | None]:
        """Σ √D (M,), the largest D (M,) and the binned sums (None for a target with negative
        entries), in one pass over the pairs."""
        m, device = self.sqdist.shape[0], self.sqdist.device
        binary = _binary_target(self.target)
        signed = bool((self.target < 0).any())
        shift = 52 - int(math.log2(ALIGNMENT_BINS_PER_OCTAVE))  # float64: 52 mantissa bits
        bins = ALIGNMENT_OCTAVES * ALIGNMENT_BINS_PER_OCTAVE + 2
        width = 2 * bins  # each set's bins twice: a binary target's different-class pairs, then its same-class ones
        roots, d_max = torch.empty(m, dtype=torch.float64, device=device), torch.empty(m, dtype=torch.float64, device=device)
        sums = torch.zeros(4, m, bins, dtype=torch.float64, device=device)
        base = torch.empty(m, dtype=torch.int64, device=device)
        same = (self.t_pairs >= 0.5) * bins if binary is not None else None
        for sets, d, t in self.blocks():
            k = d.shape[0]
            roots[sets], top = _root_sums(d), d.amax(dim=1)
            d_max[sets] = top
            if signed:
                continue
            b = (top.clamp(min=torch.finfo(torch.float64).tiny) * 2.0**-ALIGNMENT_OCTAVES).view(torch.int64) >> shift
            base[sets] = b  # bin j ≥ 1 holds the keys b + j − 1; keys below b (zeros too) go to bin 0
            key = (d.view(torch.int64) >> shift).sub_(b[:, None] - 1).clamp_(min=0)
            key += torch.arange(k, device=device)[:, None] * width
            if binary is not None:
                flat = key.add_(self.of(same, sets)).flatten()
                count = torch.bincount(flat, minlength=k * width).view(k, 2, bins).to(torch.float64)
                d_sum = torch.bincount(flat, weights=d.flatten(), minlength=k * width).view(k, 2, bins)
                sums[:, sets] = torch.stack((count.sum(1), d_sum.sum(1), count[:, 1], d_sum[:, 1]))
            else:
                flat = key.flatten()
                for q, w in enumerate((None, d, t.expand(k, -1), t * d)):
                    got = torch.bincount(flat, weights=None if w is None else w.flatten(), minlength=k * width)
                    sums[q, sets] = got.view(k, width)[:, :bins].to(torch.float64)
        if signed:
            return roots, d_max, None
        keys = base[:, None] + torch.arange(bins, device=device)[None, :]
        upper = (keys << shift).view(torch.float64)  # (M, B): bin j holds upper[j - 1] ≤ D < upper[j]
        lower = torch.cat((torch.zeros(m, 1, dtype=torch.float64, device=device), upper[:, :-1]), dim=1)
        return roots, d_max, _Binned(lower, upper, *sums, outside=0.0 if binary is None else binary)

    def exact_alignments(self, grids: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        """Alignment scores over all pairs at the (set, grid value) pairs where ``chosen`` (M, G),
        in the order of ``chosen.nonzero()``."""
        n = self.sqdist.shape[-1]
        out = []
        for sets, d, t in self.blocks(chosen.any(dim=1)):
            picked = chosen[sets]
            rows, steps = picked.nonzero(as_tuple=True)
            if not rows.numel():
                continue
            k = torch.exp_(d[rows] * (-0.5 / grids[sets[rows], steps] ** 2)[:, None])  # (c, P)
            tk = (k * (t if t.ndim == 1 else t[rows])).sum(dim=1)
            num = 2.0 * tk + self.of(self.t_diag, sets[rows])
            norm = torch.sqrt(2.0 * (k * k).sum(dim=1) + n)
            out.append(num / (norm * self.of(self.t_norm, sets[rows])))
        return torch.cat(out) if out else grids.new_zeros(0)


def _convex_sum_bounds(
    weight: torch.Tensor, moment: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
    f_lo: torch.Tensor, f_hi: torch.Tensor, f_mean: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bounds of Σ w f(D) over the pairs of each bin, summed over bins, for f convex and falling:
    the tangent at the weighted mean (Jensen) below, the chord between the bin's edges above."""
    slope = (f_hi - f_lo) / (hi - lo)
    return (weight * f_mean).sum(-1), (weight * f_lo + (moment - weight * lo) * slope).sum(-1)


def _alignment_bounds(binned: _Binned, pairs: _Pairs, grids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper bounds (M, G) of the alignment at every grid σ (see :func:`alignment_sigmas`)."""
    m, n = grids.shape[0], pairs.sqdist.shape[-1]
    sets = torch.arange(m, device=grids.device)
    t_norm, t_diag = pairs.of(pairs.t_norm, sets).expand(m), pairs.of(pairs.t_diag, sets).expand(m)
    tiny = torch.finfo(torch.float64).tiny
    b = binned
    mean_c, mean_w = b.d_sum / b.count.clamp(min=tiny), b.wd_sum / b.weight.clamp(min=tiny)
    lo, hi, count, d_sum, weight, wd_sum, mean_c, mean_w = (
        v[:, None] for v in (b.lower, b.upper, b.count, b.d_sum, b.weight, b.wd_sum, mean_c, mean_w))
    low, high = torch.empty_like(grids), torch.empty_like(grids)
    rows = _block_rows(grids.shape[1] * lo.shape[-1] * 4, grids.device)
    for r0 in range(0, m, rows):
        r = slice(r0, r0 + rows)
        scale = -0.5 / grids[r, :, None] ** 2  # (m', G, 1): f(D) = exp(D · scale), its square the norm's summand
        f_lo, f_hi = torch.exp(lo[r] * scale), torch.exp(hi[r] * scale)
        f_w, f_c = torch.exp(mean_w[r] * scale), torch.exp(mean_c[r] * scale)
        num_low, num_high = _convex_sum_bounds(weight[r], wd_sum[r], lo[r], hi[r], f_lo, f_hi, f_w)
        sq_low, sq_high = _convex_sum_bounds(count[r], d_sum[r], lo[r], hi[r], f_lo**2, f_hi**2, f_c**2)
        diag = t_diag[r, None]
        num_low, num_high = 2.0 * num_low + diag, 2.0 * num_high + diag + b.outside * n * n  # f ≤ 1 on the small entries
        high[r] = num_high / (torch.sqrt(2.0 * sq_low + n) * t_norm[r, None])
        low[r] = num_low / (torch.sqrt(2.0 * sq_high + n) * t_norm[r, None])
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
