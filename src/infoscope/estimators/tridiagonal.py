"""All eigenvalues of many small symmetric matrices at once: Householder tridiagonalisation and
Sturm-sequence bisection, written as batched tensor operations.

A GPU's eigensolver takes small matrices one at a time (about 0.6 ms for each 100×100 float64
matrix on an H200), so the thousands of spectra of a per-unit measurement are latency-bound.
Here every step works on the whole batch: n − 2 Householder reflections reduce each matrix to
a tridiagonal one (one batched product and one rank-2 update per step), then every eigenvalue
of every matrix is bracketed by bisection, counting eigenvalues below a shift with the Sturm
sequence q_i = d_i − s − e_{i−1}² / q_{i−1} (the number of negative q_i).

Error bound: the reduction is backward stable (each eigenvalue moves by O(n·eps·‖A‖), as in
LAPACK); bisection runs ``iterations`` halvings of the Gershgorin interval, so every eigenvalue
is within δ = width · 2^−iterations of the tridiagonal matrix's (δ ≤ 2·‖A‖·2^−52 ≈ 4e−16·‖A‖
with the default 52). For a unit-trace matrix the matrix-based entropy then moves by at most
about n·δ·(log2(1/τ) + 2) bits, τ being the round-off threshold below which eigenvalues count
as zero (n·eps·λ_max): below 1e−10 bits for n ≤ 1000. The tests hold it to 1e−9 bits of the
LAPACK path. On a CPU, LAPACK is faster; this is for accelerators.

On a CUDA device with Triton installed, the whole bisection runs as one kernel (each lane
bisects one eigenvalue, looping over the Sturm sequence in registers); elsewhere, and as its
reference, the same algorithm runs as tensor operations.
"""

from __future__ import annotations

import functools
import os

import torch

__all__ = ["tridiagonalize", "tridiagonal_eigenvalues", "eigenvalues_by_bisection", "BISECTION_ITERATIONS"]

#: Halvings of each Gershgorin interval: δ ≈ width · 2^−52, the float64 resolution.
BISECTION_ITERATIONS = 52


def tridiagonalize(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Diagonal and off-diagonal of a tridiagonal matrix similar to each symmetric matrix.

    Parameters
    ----------
    a : torch.Tensor, shape (M, n, n)
        Symmetric matrices (only used as such; not modified).

    Returns
    -------
    d : torch.Tensor, shape (M, n)
    e : torch.Tensor, shape (M, n − 1)

    Examples
    --------
    >>> a = torch.tensor([[[2.0, 1.0, 1.0], [1.0, 2.0, 1.0], [1.0, 1.0, 2.0]]], dtype=torch.float64)
    >>> d, e = tridiagonalize(a)
    >>> [round(v, 6) for v in torch.linalg.eigvalsh(torch.diag(d[0]) + torch.diag(e[0], 1) + torch.diag(e[0], -1)).tolist()]
    [1.0, 1.0, 4.0]
    """
    a = a.clone()
    m_count, n, _ = a.shape
    e = a.new_zeros(m_count, max(n - 1, 0))
    tiny = torch.finfo(a.dtype).tiny
    for k in range(n - 2):
        x = a[:, k + 1 :, k]  # (M, m): the column below the diagonal
        norm = torch.linalg.vector_norm(x, dim=1)
        alpha = -torch.where(x[:, 0] >= 0, norm, -norm)
        v = x.clone()
        v[:, 0] -= alpha
        v_norm = torch.linalg.vector_norm(v, dim=1, keepdim=True)
        reflect = v_norm > tiny
        v = torch.where(reflect, v / v_norm.clamp(min=tiny), torch.zeros_like(v))
        e[:, k] = torch.where(reflect[:, 0], alpha, x[:, 0])
        trailing = a[:, k + 1 :, k + 1 :]
        p = torch.bmm(trailing, v[:, :, None])[:, :, 0]
        w = 2.0 * (p - (v * p).sum(dim=1, keepdim=True) * v)
        # H A H = A − v wᵀ − w vᵀ on the trailing block, as one batched product of inner size 2
        trailing.baddbmm_(torch.stack((v, w), dim=2), torch.stack((w, v), dim=1), alpha=-1.0)
    if n >= 2:
        e[:, n - 2] = a[:, n - 1, n - 2]
    return torch.diagonal(a, dim1=1, dim2=2).clone(), e


def tridiagonal_eigenvalues(d: torch.Tensor, e: torch.Tensor, iterations: int = BISECTION_ITERATIONS) -> torch.Tensor:
    """Every eigenvalue of M symmetric tridiagonal matrices, ascending, by Sturm bisection.

    Parameters
    ----------
    d : torch.Tensor, shape (M, n)
        Diagonals.
    e : torch.Tensor, shape (M, n − 1)
        Off-diagonals.
    iterations : int
        Halvings of each eigenvalue's Gershgorin interval.

    Returns
    -------
    torch.Tensor, shape (M, n)

    Examples
    --------
    >>> d = torch.tensor([[2.0, 2.0]], dtype=torch.float64); e = torch.tensor([[1.0]], dtype=torch.float64)
    >>> [round(v, 12) for v in tridiagonal_eigenvalues(d, e)[0].tolist()]
    [1.0, 3.0]
    """
    m_count, n = d.shape
    radius = torch.zeros_like(d)
    radius[:, :-1] += e.abs()
    radius[:, 1:] += e.abs()
    low = (d - radius).amin(dim=1, keepdim=True).expand(m_count, n).clone()
    high = (d + radius).amax(dim=1, keepdim=True).expand(m_count, n).clone()
    e2 = e * e
    pivmin = torch.finfo(d.dtype).tiny * torch.clamp(e2.amax(dim=1, keepdim=True) if n > 1 else torch.ones_like(d[:, :1]), min=1.0)
    kernel = _triton_bisection() if (d.is_cuda or os.environ.get("TRITON_INTERPRET") == "1") and n > 1 else None
    if kernel is not None:
        return _bisect_with_triton(kernel, d, e2, low[:, 0], high[:, 0], pivmin[:, 0], iterations)
    index = torch.arange(n, device=d.device)
    for _ in range(iterations):
        mid = 0.5 * (low + high)
        below = _count_below(d, e2, mid, pivmin)  # eigenvalues < mid, for every (matrix, eigenvalue)
        left = below > index  # the (index+1)-th smallest lies below mid
        high = torch.where(left, mid, high)
        low = torch.where(left, low, mid)
    return 0.5 * (low + high)


def _count_below(d: torch.Tensor, e2: torch.Tensor, s: torch.Tensor, pivmin: torch.Tensor) -> torch.Tensor:
    """Number of eigenvalues below each shift ``s`` (M, K) of each tridiagonal matrix (Sturm count)."""
    q = _guard(d[:, :1] - s, pivmin)
    count = (q < 0).to(torch.int32)
    for i in range(1, d.shape[1]):
        q = _guard((d[:, i : i + 1] - s) - e2[:, i - 1 : i] / q, pivmin)
        count += q < 0
    return count


@functools.cache
def _triton_bisection():
    """The bisection kernel, or None without Triton (compiled on first use)."""
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None

    @triton.jit
    def bisect(d_ptr, e2_ptr, low_ptr, high_ptr, piv_ptr, out_ptr, total, n: tl.constexpr, iterations: tl.constexpr,
               BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)  # one lane per (matrix, eigenvalue index)
        mask = offs < total
        m = offs // n
        j = offs % n
        lo = tl.load(low_ptr + m, mask=mask, other=0.0)
        hi = tl.load(high_ptr + m, mask=mask, other=0.0)
        piv = tl.load(piv_ptr + m, mask=mask, other=1.0)
        d0 = tl.load(d_ptr + m * n, mask=mask, other=0.0)
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            q = d0 - mid
            q = tl.where(tl.abs(q) <= piv, -piv, q)
            count = tl.where(q < 0, 1, 0)
            for i in range(1, n):
                di = tl.load(d_ptr + m * n + i, mask=mask, other=0.0)
                ei = tl.load(e2_ptr + m * (n - 1) + (i - 1), mask=mask, other=0.0)
                q = (di - mid) - ei / q
                q = tl.where(tl.abs(q) <= piv, -piv, q)
                count += tl.where(q < 0, 1, 0)
            left = count > j
            hi = tl.where(left, mid, hi)
            lo = tl.where(left, lo, mid)
        tl.store(out_ptr + offs, 0.5 * (lo + hi), mask=mask)

    return bisect


def _bisect_with_triton(kernel, d, e2, low, high, pivmin, iterations: int) -> torch.Tensor:
    m_count, n = d.shape
    out = torch.empty_like(d)
    block = 128
    grid = (triton_cdiv(m_count * n, block),)
    kernel[grid](d.contiguous(), e2.contiguous(), low.contiguous(), high.contiguous(), pivmin.contiguous(), out,
                 m_count * n, n, iterations, BLOCK=block)
    return out


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _guard(q: torch.Tensor, pivmin: torch.Tensor) -> torch.Tensor:
    """A pivot too close to zero counts as a tiny negative one (as LAPACK's dstebz does)."""
    return torch.where(q.abs() <= pivmin, -pivmin, q)


def eigenvalues_by_bisection(a: torch.Tensor, iterations: int = BISECTION_ITERATIONS) -> torch.Tensor:
    """Eigenvalues (ascending) of M symmetric matrices (M, n, n): :func:`tridiagonalize`, then
    :func:`tridiagonal_eigenvalues`; the batched counterpart of ``torch.linalg.eigvalsh``."""
    if a.shape[-1] == 1:
        return a[:, :, 0].clone()
    return tridiagonal_eigenvalues(*tridiagonalize(a), iterations=iterations)
