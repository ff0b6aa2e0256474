"""Randomized matrix-based entropy for large N: deflated stochastic Lanczos quadrature.

An exact entropy needs all eigenvalues of an N×N matrix (O(N³)). Stochastic Lanczos
quadrature (SLQ, Ubaru, Chen & Saad 2017) estimates tr h(A) = Σ_i h(λ_i) instead: a Lanczos
run of m steps from a vector v gives a Gauss quadrature of vᵀ h(A) v, and Hutchinson's
estimator averages those over random v. The cost is m products of A with an N×b block.

Plain Hutchinson is noisy on kernel Gram matrices: their few large eigenvalues (the smooth,
nearly constant modes of the kernel) put most of the Frobenius mass of h(A) off the
diagonal. As in Hutch++ (Meyer, Musco, Musco & Woodruff 2021), the estimate here is split
along the top-k invariant subspace, found by randomized subspace iteration (Halko, Martinsson &
Tropp 2011) with orthonormal basis Q:

    tr h(A) = tr(Qᵀ h(A) Q) + tr((I − QQᵀ) h(A) (I − QQᵀ)).

The first term is computed from the k columns of Q (deterministic quadratures, accurate
because those columns are nearly eigenvectors); only the second, whose variance no longer
carries the large eigenvalues, is estimated from random vectors v projected off Q. Its noise
is cut further with control variates that every Lanczos run yields for free: vᵀv, vᵀAv and
vᵀA²v = ‖Av‖², whose exact means are tr(I − QQᵀ), tr A − tr(QᵀAQ) and ‖A‖_F² − ‖AQ‖_F²; the
quadratures are regressed on them and the estimate corrected by the known means. On RBF Gram
matrices of N = 2,500 to 10,000, single-seed errors of plain SLQ (20 probes × 30 steps) of up
to 0.1–0.35 bits fell to below 0.04 bits (0.001–0.01 at N = 10,000) with the defaults.

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


def _top_subspace(a_mv: torch.Tensor, k: int, power: int, g: torch.Generator) -> torch.Tensor:
    """Orthonormal N×k basis of the dominant invariant subspace (randomized subspace iteration)."""
    n = a_mv.shape[0]
    omega = torch.randn(n, k, generator=g, dtype=torch.float64).to(a_mv.device)
    q = torch.linalg.qr((a_mv @ omega.to(a_mv.dtype)).to(torch.float64)).Q
    for _ in range(power):
        q = torch.linalg.qr((a_mv @ q.to(a_mv.dtype)).to(torch.float64)).Q
    return q


def _lanczos_quadratures(a_mv: torch.Tensor, v: torch.Tensor, steps: int, alpha: float) -> torch.Tensor:
    """Quadratures from block-parallel Lanczos runs, one per column v_j of ``v`` (N×b).

    Each column runs its own Lanczos recurrence (all b at once, one product of A with an N×b
    block per step) with full re-orthogonalisation in float64.

    Returns
    -------
    torch.Tensor, shape (b, 4)
        Per column: the Gauss quadrature of v_jᵀ h(A) v_j, then v_jᵀ v_j, v_jᵀ A v_j and
        v_jᵀ A² v_j (exact, from the first Lanczos step; used as control variates).
    """
    n, b = v.shape
    norms = torch.linalg.vector_norm(v, dim=0)
    live = norms > 0
    q = (v / torch.where(live, norms, torch.ones_like(norms))).T.contiguous()  # (b, N): one row per run
    basis = torch.zeros(b, steps, n, dtype=torch.float64, device=v.device)
    diag = torch.zeros(b, steps, dtype=torch.float64, device=v.device)
    off = torch.zeros(b, max(steps - 1, 0), dtype=torch.float64, device=v.device)
    for j in range(steps):
        basis[:, j] = q
        w = (q.to(a_mv.dtype) @ a_mv).to(torch.float64)  # rows of (A q)ᵀ, A symmetric
        diag[:, j] = (q * w).sum(dim=1)
        # full re-orthogonalisation against every earlier vector of the same run (twice is enough)
        done_basis = basis[:, : j + 1]
        for _ in range(2):
            w -= torch.bmm(torch.bmm(done_basis, w.unsqueeze(2)).transpose(1, 2), done_basis).squeeze(1)
        if j == steps - 1:
            break
        beta = torch.linalg.vector_norm(w, dim=1)
        done = beta <= 1e-12 * diag[:, : j + 1].abs().amax(dim=1).clamp(min=1e-300)
        off[:, j] = torch.where(done, torch.zeros_like(beta), beta)
        q = torch.where(done[:, None], torch.zeros_like(w), w / torch.where(done, torch.ones_like(beta), beta)[:, None])
    t = torch.diag_embed(diag) + torch.diag_embed(off, offset=1) + torch.diag_embed(off, offset=-1)
    theta, u = torch.linalg.eigh(t)
    # a run that stopped early has zero rows/columns beyond its Krylov space: their
    # eigenvalues are 0 and h(0) = 0, so they add nothing
    quad = (u[:, 0, :] ** 2 * _h(theta, alpha)).sum(dim=1)
    # (a zero column ran on a zero vector: everything it gives is 0, scaled by its norm 0)
    sq = norms**2
    first = diag[:, 0] * sq  # vᵀ A v
    second = (diag[:, 0] ** 2 + (off[:, 0] ** 2 if steps > 1 else 0.0)) * sq  # vᵀ A² v = ‖A v‖²
    return torch.stack([quad * sq, sq, first, second], dim=1)


def slq_entropy(a: torch.Tensor, alpha: float = 1.01, probes: int = 10, steps: int = 20, seed: int = 0,
                deflate: int = 16, control: bool = True, matvec_dtype: torch.dtype = torch.float32) -> float:
    """Randomized (deflated stochastic Lanczos) matrix-based Rényi α-entropy of a unit-trace matrix, in bits.

    Parameters
    ----------
    a : torch.Tensor, shape (N, N)
        Symmetric PSD, trace 1.
    alpha : float
        Order α > 0.
    probes : int
        Random Rademacher vectors for the part of the trace outside the deflated subspace.
    steps : int
        Lanczos steps per vector (the quadrature's degree), at most N.
    seed : int
        Seed of the random vectors: the same seed gives the same estimate.
    deflate : int
        Dimension k of the top eigen-subspace handled deterministically (0: none).
    control : bool
        Correct the random part with the control variates vᵀv, vᵀAv, vᵀA²v (needs
        ``probes`` ≥ 5; False: plain Hutchinson average).
    matvec_dtype : torch.dtype
        Precision of the products with A (float32 halves their cost; the recurrences, the
        re-orthogonalisation and the quadrature stay in float64).

    Returns
    -------
    float
        Bits.

    Notes
    -----
    The error is random and falls with ``probes``; with too few ``steps`` the quadrature adds
    a small positive bias. Measured against exact values in ``tests/test_renyi.py`` and
    ``python -m benchmarks --full`` (N = 10,000: about 0.01 bits).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(2000, 3, generator=g, dtype=torch.float64)
    >>> k = torch.exp(-torch.cdist(x, x) ** 2 / 2)
    >>> a = k / k.trace()
    >>> from infoscope.estimators.matrix_entropy import matrix_entropy
    >>> abs(slq_entropy(a) - matrix_entropy(a)) < 0.02
    True
    """
    n = a.shape[0]
    frobenius_sq = float(torch.linalg.matrix_norm(a)) ** 2
    a_mv = a.to(matvec_dtype)
    del a  # only the matvec copy is needed from here
    m = max(2, min(int(steps), n))
    k = max(0, min(int(deflate), n // 2))
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    v = (torch.randint(0, 2, (n, probes), generator=g, dtype=torch.float64) * 2 - 1).to(a_mv.device)
    # exact means of the control variates vᵀv, vᵀAv, vᵀA²v over all of R^N: N, tr A = 1, ‖A‖_F²
    expected = torch.tensor([float(n), 1.0, frobenius_sq], dtype=torch.float64)
    q = _top_subspace(a_mv, k, power=2, g=g) if k else torch.zeros(n, 0, dtype=torch.float64, device=v.device)
    v -= q @ (q.T @ v)  # probes off the deflated subspace
    v -= q @ (q.T @ v)
    stats = _lanczos_quadratures(a_mv, torch.cat([q, v], dim=1), m, alpha).cpu()
    d_top = float(stats[:k, 0].sum())
    expected -= stats[:k, 1:].sum(dim=0)  # traces of I, A, A² on the deflated subspace
    f, cov = stats[k:, 0], stats[k:, 1:]
    d_rest = float(f.mean())
    if control and len(f) > cov.shape[1] + 1:
        # control variates: vᵀv, vᵀAv, vᵀA²v have known means; regress the quadratures on them
        gc = cov - cov.mean(dim=0)
        coef = torch.linalg.lstsq(gc, f - f.mean()).solution
        d_rest = float(f.mean() - (cov.mean(dim=0) - expected) @ coef)
    d = d_top + d_rest
    if alpha == 1.0:
        return max(0.0, d / math.log(2.0))
    inner = 1.0 + (1.0 - alpha) * d
    if inner <= 0:
        return math.log2(n)  # the estimate ran past its range: report the bound, not a NaN
    return max(0.0, math.log2(inner) / (1.0 - alpha))
