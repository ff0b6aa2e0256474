"""Randomized matrix-based entropy for large N: stochastic Lanczos quadrature (SLQ).

An exact entropy needs all eigenvalues of an N×N matrix (O(N³)). SLQ estimates
tr h(A) = Σ_i h(λ_i) from a few random probe vectors v: each Lanczos run of m steps on v
gives a Gauss quadrature of vᵀ h(A) v, and Hutchinson's estimator averages those
(Ubaru, Chen & Saad 2017). The cost is m matrix products with an N×n_v block, O(N² m n_v).

For Rényi entropy the sum is written so that α near 1 is not ill-conditioned:
h(λ) = (λ^α − λ)/(1 − α) (→ −λ ln λ at α = 1), tr h(A) = D, and
S_α = log2(1 + (1 − α) D)/(1 − α) because tr A = 1.
"""

from __future__ import annotations

import math

import torch

__all__ = ["slq_entropy"]


def _h(theta: torch.Tensor, alpha: float) -> torch.Tensor:
    theta = theta.clamp(min=0.0)
    if alpha == 1.0:
        return torch.where(theta > 0, -theta * torch.log(theta.clamp(min=1e-300)), torch.zeros_like(theta))
    return (theta**alpha - theta) / (1.0 - alpha)


def slq_entropy(a: torch.Tensor, alpha: float = 1.01, probes: int = 30, steps: int = 50, seed: int = 0,
                matvec_dtype: torch.dtype = torch.float32) -> float:
    """Stochastic-Lanczos estimate of the matrix-based Rényi α-entropy of a unit-trace matrix, in bits.

    Parameters
    ----------
    a : torch.Tensor, shape (N, N)
        Symmetric PSD, trace 1.
    alpha : float
        Order α > 0.
    probes : int
        Random Rademacher vectors (the estimate's standard error falls like 1/√probes).
    steps : int
        Lanczos steps per vector (the quadrature's degree), at most N.
    seed : int
        Seed of the probe vectors: the same seed gives the same estimate.
    matvec_dtype : torch.dtype
        Precision of the products with A (float32 halves their cost; the recurrence, the
        re-orthogonalisation and the quadrature stay in float64).

    Returns
    -------
    float
        Bits.

    Notes
    -----
    The error is random (Hutchinson's estimator) and falls with N and with ``probes``:
    measured against exact values, single seeds with 20 probes × 30 steps were within
    ±0.07 bits at N = 10,000 but up to 0.3 bits off at N = 2,500. Use it for large N only,
    and average seeds where it matters.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(2000, 3, generator=g, dtype=torch.float64)
    >>> k = torch.exp(-torch.cdist(x, x) ** 2 / 2)
    >>> a = k / k.trace()
    >>> from infoscope.estimators.renyi import matrix_entropy
    >>> abs(slq_entropy(a) - matrix_entropy(a)) < 0.1
    True
    """
    a_mv = a.to(matvec_dtype)
    n = a.shape[0]
    m = max(2, min(int(steps), n))
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    v = (torch.randint(0, 2, (n, probes), generator=g, dtype=torch.float64) * 2 - 1).to(a.device)
    del a  # only the matvec copy is needed from here
    q = v / math.sqrt(n)  # unit columns
    basis = [q]
    alphas, betas = [], []
    prev, beta_prev = torch.zeros_like(q), torch.zeros(probes, dtype=torch.float64, device=q.device)
    for j in range(m):
        w = (a_mv @ q.to(matvec_dtype)).to(torch.float64)
        al = (q * w).sum(dim=0)
        w = w - al * q - beta_prev * prev
        stacked = torch.stack(basis)  # (j+1, N, P): full re-orthogonalisation keeps the Ritz values honest
        w = w - torch.einsum("knp,kp->np", stacked, torch.einsum("knp,np->kp", stacked, w))
        be = torch.linalg.vector_norm(w, dim=0)
        alphas.append(al)
        if j == m - 1:
            break
        done = be <= 1e-12
        be = torch.where(done, torch.zeros_like(be), be)
        betas.append(be)
        prev, beta_prev = q, be
        q = torch.where(done, torch.zeros_like(w), w / torch.where(done, torch.ones_like(be), be))
        basis.append(q)
    k = len(alphas)
    t = torch.zeros(probes, k, k, dtype=torch.float64, device=q.device)
    idx = torch.arange(k)
    t[:, idx, idx] = torch.stack(alphas, dim=1)
    if betas:
        b = torch.stack(betas, dim=1)
        t[:, idx[:-1], idx[1:]] = b
        t[:, idx[1:], idx[:-1]] = b
    theta, u = torch.linalg.eigh(t)
    quad = (u[:, 0, :] ** 2 * _h(theta, alpha)).sum(dim=1)  # vᵀ h(A) v / ‖v‖² per probe
    d = float(quad.mean()) * n  # ‖v‖² = N for Rademacher vectors
    if alpha == 1.0:
        return max(0.0, d / math.log(2.0))
    inner = 1.0 + (1.0 - alpha) * d
    if inner <= 0:
        return math.log2(n)  # the estimate ran past its range: report the bound, not a NaN
    return max(0.0, math.log2(inner) / (1.0 - alpha))
