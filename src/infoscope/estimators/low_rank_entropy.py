"""Matrix-based Rényi entropies of many Grams from pivoted Cholesky factors, each with a
rigorous error bound in bits.

The Gram of one unit (a neuron: one value per sample) under an RBF kernel is numerically of
low rank: its eigenvalues fall faster than exponentially once σ is resolved. A pivoted
Cholesky factorisation K ≈ L Lᵀ (L of rank r, greedy on the largest residual diagonal) leaves
a residual E = K − L Lᵀ that is positive semi-definite, with trace δ·N known exactly, the sum
of the residual diagonal. With A = K/N and Ã = L Lᵀ/N, A = Ã + E/N and A ≽ Ã, so each
eigenvalue of A is that of Ã plus ε_i ≥ 0, Σ ε_i = δ (Weyl). Ã's non-zero eigenvalues are those
of the r × r matrix Lᵀ L / N: one small eigenproblem replaces an N × N one. The joint Gram with
class labels, K ∘ K_Y, is block-diagonal by class; its blocks are factorised by the rows of L
of each class, and its residual E ∘ K_Y is positive semi-definite (Schur) with the same trace,
so the same bounds hold for S(T, Y) from r × r blocks.

The bounds (bits), with P̃ = Σ λ̃_i^α over Ã's eigenvalues:

- α > 1: Σ λ_i^α lies between P̃ + N^(1−α) δ^α (since (a + b)^α ≥ a^α + b^α, and the power
  mean of the ε_i) and P̃ + α δ λ_max^(α−1) (each power grows by at most its slope times ε_i,
  with λ_max ≤ λ̃_max + δ). S_α = log2(Σ λ^α)/(1 − α) therefore lies in an interval; the value
  given is its middle, the bound its half-width. For α = 1.01 and N = 400 a bound of 0.01 bits
  allows δ up to about 10⁻³.
- α = 1 (von Neumann): Ã/(1−δ) is a density matrix at trace distance at most δ from A, so
  |S(A) − S(Ã/(1−δ))| ≤ δ log2(N − 1) + h2(δ) (Audenaert's sharp Fannes inequality).
- α < 1 has no useful bound of this kind (λ^α has no bounded slope at 0): those Grams are not
  factorised here.

The factorisation of a Gram stops at the first rank whose residual meets the bound asked for,
or at ``max_rank``; a Gram that does not meet it is reported as not done, for the caller to
take an exact spectrum of.
"""

from __future__ import annotations

import math

import torch

from .eigensolvers import symmetric_eigenvalues

__all__ = ["pivoted_cholesky", "residual_for_bound", "LowRankEntropies", "low_rank_entropies"]


def _binary_entropy(p: float) -> float:
    return 0.0 if p <= 0.0 else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def _half_width(delta: float, alpha: float, n: int) -> float:
    """The largest half-width, in bits, that a residual trace δ can give (the smallest P̃,
    (1 − δ)^α N^(1−α), and λ_max ≤ 1)."""
    if alpha == 1.0:
        return delta * math.log2(max(n - 1, 2)) + _binary_entropy(delta)
    p = (1.0 - delta) ** alpha * n ** (1.0 - alpha)
    return math.log2((p + alpha * delta) / (p + n ** (1.0 - alpha) * delta**alpha)) / (alpha - 1.0) / 2.0


def residual_for_bound(bound: float, alpha: float, n: int) -> float:
    """The largest residual trace δ (of the unit-trace Gram) whose error bound is at most
    ``bound`` bits whatever the spectrum; 0.0 for α < 1 or no bound.

    Examples
    --------
    >>> 5e-4 < residual_for_bound(0.01, 1.01, 400) < 2e-3
    True
    """
    if alpha < 1.0 or bound <= 0.0:
        return 0.0
    lo, hi = 0.0, 0.5
    for _ in range(60):  # the half-width grows with δ
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _half_width(mid, alpha, n) <= bound else (lo, mid)
    return lo


def pivoted_cholesky(k: torch.Tensor, residual: torch.Tensor, max_rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pivoted Cholesky factors of M positive semi-definite matrices at once.

    Parameters
    ----------
    k : torch.Tensor, shape (M, N, N)
    residual : torch.Tensor, shape (M,)
        Each matrix stops growing once the trace of its residual K − L Lᵀ is at most this.
    max_rank : int

    Returns
    -------
    factors : torch.Tensor, shape (M, R, N)
        The rows of Lᵀ (R ≤ ``max_rank``; rows past a matrix's own rank are zero).
    left : torch.Tensor, shape (M,)
        The trace of each residual (its diagonal's sum, never negative).
    """
    m, n = k.shape[0], k.shape[-1]
    rows = torch.arange(m, device=k.device)
    diag = torch.diagonal(k, dim1=-2, dim2=-1).clone()
    factors = torch.zeros(m, min(max_rank, n), n, dtype=k.dtype, device=k.device)
    for j in range(factors.shape[1]):
        left = diag.sum(-1)
        growing = left > residual
        if not bool(growing.any()):
            return factors[:, :j], left
        pivot = diag.argmax(dim=-1)
        col = k[rows, :, pivot]  # (M, N): each matrix's pivot column
        if j:
            col = col - torch.bmm(factors[rows, :j, pivot][:, None, :], factors[:, :j])[:, 0]
        col = col / torch.sqrt(diag[rows, pivot].clamp(min=torch.finfo(k.dtype).tiny))[:, None]
        col = torch.where(growing[:, None], col, torch.zeros_like(col))
        factors[:, j] = col
        diag = (diag - col**2).clamp_(min=0.0)
    return factors, diag.sum(-1)


def _bounded_entropies(lam: torch.Tensor, delta: torch.Tensor, alpha: float, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Entropies (middle of the interval) and half-widths, in bits, from the non-zero spectra
    ``lam`` (M, K) of Ã and the residual traces ``delta`` (M,) (see the module's bounds)."""
    lam = lam.clamp(min=0.0)
    if alpha == 1.0:
        p = lam / (1.0 - delta)[:, None]
        entropy = -(p * torch.log2(torch.where(p > 0, p, torch.ones_like(p)))).sum(dim=-1)
        d = delta.clamp(min=1e-300, max=0.5)
        h2 = torch.where(delta > 0, -(d * torch.log2(d) + (1 - d) * torch.log2(1 - d)), torch.zeros_like(delta))
        return entropy, delta * math.log2(max(n - 1, 2)) + h2
    power = (lam**alpha).sum(dim=-1)
    top = (lam.amax(dim=-1) + delta).clamp(max=1.0)
    high_p = power + alpha * delta * top ** (alpha - 1.0)
    low_p = power + n ** (1.0 - alpha) * delta**alpha
    s_low, s_high = torch.log2(high_p) / (1.0 - alpha), torch.log2(low_p) / (1.0 - alpha)
    return (s_low + s_high) / 2, (s_high - s_low) / 2


class LowRankEntropies:
    """S(T) and S(T, Y) of M unit Grams from one pivoted Cholesky factor each.

    Parameters
    ----------
    k : torch.Tensor, shape (M, N, N)
        Gram matrices with ones on the diagonal (an RBF kernel's), normalised as K/N.
    alpha : float
        Order α ≥ 1.
    bound : float
        Bits: the factor grows until each entropy's error is at most this.
    max_rank : int
        The largest factor tried.

    Attributes
    ----------
    rank : torch.Tensor, shape (M,), int
    done : torch.Tensor, shape (M,), bool
        Whether the factor met ``bound`` (entropies where it did not are to be computed exactly).
    """

    def __init__(self, k: torch.Tensor, alpha: float, bound: float, max_rank: int) -> None:
        m, self.n = k.shape[0], k.shape[-1]
        self.alpha = alpha
        target = residual_for_bound(bound, alpha, self.n) * self.n
        self.factors, left = pivoted_cholesky(k, torch.full((m,), target, dtype=k.dtype, device=k.device), max_rank)
        self.delta = (left / self.n).to(torch.float64)
        self.rank = (self.factors.abs().amax(dim=-1) > 0).sum(dim=-1)
        self.done = (self.delta <= target / self.n) if target > 0 else torch.zeros(m, dtype=torch.bool, device=k.device)

    def entropies(self) -> tuple[torch.Tensor, torch.Tensor]:
        """S_α(T) in bits (M,) and its error bound (M,)."""
        f = self.factors.to(torch.float64)
        lam = symmetric_eigenvalues(torch.bmm(f, f.transpose(1, 2)) / self.n)
        return _bounded_entropies(lam, self.delta, self.alpha, self.n)

    def class_joint_entropies(self, index: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """S_α(T, Y) in bits (M,) with the class-equality label Gram, and its error bound (M,).

        ``index`` and ``valid`` (C, B, m) place each class's samples of each of C chunks (as
        :func:`~.matrix_entropy.class_blocks` gives them); set i is on chunk i mod C.
        """
        m, r = self.factors.shape[:2]
        chunks, classes, size = index.shape
        f = self.factors.to(torch.float64).view(m // chunks, chunks, r, self.n)
        where = index.reshape(1, chunks, 1, classes * size).expand(m // chunks, chunks, r, classes * size)
        parts = torch.gather(f, 3, where).view(m // chunks, chunks, r, classes, size)
        parts = parts * valid[None, :, None].to(parts.dtype)
        blocks = torch.einsum("gcrbk,gcsbk->gcbrs", parts, parts) / self.n  # (G, C, B, r, r)
        lam = symmetric_eigenvalues(blocks).reshape(m, classes * r)
        return _bounded_entropies(lam, self.delta, self.alpha, self.n)


def low_rank_entropies(
    k: torch.Tensor, alpha: float, bound: float, max_rank: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """S_α in bits of M Grams with unit diagonal (M, N, N), normalised as K/N, from pivoted
    Cholesky factors, each within a stated error (:class:`LowRankEntropies`).

    Returns
    -------
    entropy, error : torch.Tensor, shape (M,)
        S_α in bits and the rigorous bound of its distance from the exact value.
    rank : torch.Tensor, shape (M,), int
    done : torch.Tensor, shape (M,), bool
        Whether the error is within ``bound``; where it is not, compute the entropy exactly.
    """
    lr = LowRankEntropies(k, alpha, bound, max_rank)
    entropy, error = lr.entropies()
    return entropy, error, lr.rank, lr.done & torch.isfinite(entropy)
