"""Matrix-based Rényi α-entropies in bits from Gram matrices (Giraldo, Rao & Príncipe 2015):
stacks of matrices in batched calls, one matrix as the case of a stack of one.

For a unit-trace Gram matrix A (see :func:`~.kernels.normalize_gram`),
S_α(A) = 1/(1−α) · log2 Σ_i λ_i(A)^α, in bits, with the von Neumann limit −Σ λ log2 λ at
α = 1. Joint entropy uses the unit-trace Hadamard product (:func:`~.kernels.hadamard_normalize`),
and I_α(A; B) = S_α(A) + S_α(B) − S_α(A∘B / tr(A∘B)).

One set of rules for every caller: eigenvalues of a PSD matrix below n · eps · λ_max count as
exact zeros; integer α ≥ 2 uses tr(A^α) without an eigensolver; entropies below zero by float
rounding only are zero (:func:`~.discrete.zero_if_round_off`); joint entropies with a
class-equality label Gram are the spectra of the class blocks (exact, and far cheaper).
"""

from __future__ import annotations

import torch

from .._validation import check_positive
from .discrete import zero_if_round_off
from .eigensolvers import symmetric_eigenvalues
from .kernels import hadamard_normalize, normalize_gram

__all__ = [
    "matrix_entropies", "class_joint_entropies", "spectrum_entropies",
    "matrix_entropy", "spectrum_entropy", "class_joint_entropy", "matrix_joint_entropy", "matrix_mutual_information",
    "check_alpha",
]

#: Class blocks up to this size always go to the framework's eigensolver (batched Jacobi on a
#: GPU, the fastest for them everywhere); larger ones to the solver asked for.
SMALL_BLOCK = 32


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float if it is a valid order α > 0, else a ``ValueError`` that says which to use."""
    return check_positive(alpha, "alpha", "Use alpha=1.01 (default), 1 (von Neumann) or 2 (Frobenius).")


def _integer_alpha(alpha: float) -> bool:
    return float(alpha).is_integer() and alpha >= 2


def _power_sums(a: torch.Tensor, alpha: int) -> torch.Tensor:
    """tr(A^α) of matrices (..., n, n) for integer α ≥ 2 (‖A‖_F² for α = 2)."""
    return (a * a).sum(dim=(-2, -1)) if alpha == 2 else torch.linalg.matrix_power(a, alpha).diagonal(dim1=-2, dim2=-1).sum(-1)


def _power_entropies(power_sum: torch.Tensor, alpha: float) -> torch.Tensor:
    return zero_if_round_off(torch.log2(power_sum) / (1.0 - alpha))


def spectrum_entropies(lam: torch.Tensor, keep: torch.Tensor, alpha: float) -> torch.Tensor:
    """S_α in bits of each row of eigenvalues ``lam`` (M, K), only those where ``keep``, each row
    normalised to sum to one."""
    lam = torch.where(keep, lam, torch.zeros_like(lam))
    lam = lam / lam.sum(dim=-1, keepdim=True)
    if alpha == 1.0:
        safe = torch.where(lam > 0, lam, torch.ones_like(lam))
        h = -(lam * torch.log2(safe)).sum(dim=-1)
    else:
        h = torch.log2((lam**alpha).sum(dim=-1)) / (1.0 - alpha)
    return zero_if_round_off(h)


def _above_round_off(lam: torch.Tensor, size: int | torch.Tensor) -> torch.Tensor:
    """Which eigenvalues (rows of ``lam``) exceed size · eps · λ_max of their row."""
    return lam > size * torch.finfo(torch.float64).eps * lam.abs().amax(dim=-1, keepdim=True)


def matrix_entropies(a: torch.Tensor, alpha: float = 1.01, solver: str = "eigh") -> torch.Tensor:
    """Matrix-based Rényi entropies in bits of M unit-trace matrices (M, n, n) → (M,).

    ``solver`` is ``"eigh"``, ``"bisection"`` or ``"auto"`` (:mod:`.eigensolvers`). For a
    non-integer α the spectrum is normalised to sum to one, so any positive multiple of a
    unit-trace matrix gives the same entropy.
    """
    if _integer_alpha(alpha):
        return _power_entropies(_power_sums(a, int(alpha)), alpha)
    lam = symmetric_eigenvalues(_symmetric(a, solver), solver)
    return spectrum_entropies(lam, _above_round_off(lam, a.shape[-1]), alpha)


def _symmetric(a: torch.Tensor, solver: str) -> torch.Tensor:
    """The matrices as the solver reads them: LAPACK's reads one triangle only, so they go as
    they are (no pass over them); bisection's reduction reads both, so they are symmetrised."""
    return (a + a.transpose(-2, -1)) / 2 if solver == "bisection" or (solver == "auto" and a.is_cuda) else a


def class_blocks(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positions of each class's samples in every chunk, padded to one shape.

    ``codes`` (C, n) → index (C, B, m), validity (C, B, m) and block sizes (C, B) (0 for padding).
    """
    chunks, n = codes.shape
    found = [torch.unique(c, return_counts=True)[1] for c in codes]
    b_max, m_max = max(len(f) for f in found), int(max(int(f.max()) for f in found))
    index = torch.zeros(chunks, b_max, m_max, dtype=torch.long, device=codes.device)
    valid = torch.zeros(chunks, b_max, m_max, dtype=torch.bool, device=codes.device)
    sizes = torch.zeros(chunks, b_max, dtype=torch.long, device=codes.device)
    slot = torch.arange(m_max, device=codes.device)
    for c, counts in enumerate(found):
        order = torch.argsort(codes[c], stable=True)
        starts = torch.cumsum(counts, 0) - counts
        ok = slot[None, :] < counts[:, None]
        rows = order[(starts[:, None] + slot[None, :]).clamp(max=n - 1)]
        index[c, : len(counts)] = torch.where(ok, rows, torch.zeros_like(rows))
        valid[c, : len(counts)] = ok
        sizes[c, : len(counts)] = counts
    return index, valid, sizes


def class_joint_entropies(k: torch.Tensor, codes: torch.Tensor, alpha: float = 1.01, solver: str = "eigh") -> torch.Tensor:
    """Joint entropies S_α(K, Y) in bits of Grams with the class-equality Gram of their chunk's labels.

    K ∘ K_Y is block-diagonal by class, so its spectrum is the union of the class blocks'
    spectra: small eigenproblems, solved as one padded stack, replace one of size n (exact;
    with the default label σ = 0.1 the RBF label Gram differs from the class-equality Gram by
    4e-44).

    Parameters
    ----------
    k : torch.Tensor, shape (G, C, n, n)
        Grams of G sample sets on each of C chunks.
    codes : torch.Tensor, shape (C, n)
        Each chunk's class labels.

    Returns
    -------
    torch.Tensor, shape (G, C)
    """
    index, valid, sizes = class_blocks(codes)
    chunk = torch.arange(codes.shape[0], device=k.device)[:, None, None, None]
    blocks = k[:, chunk, index[:, :, :, None], index[:, :, None, :]]  # (G, C, B, m, m)
    blocks = blocks * (valid[:, :, :, None] & valid[:, :, None, :]).to(k.dtype)
    total = torch.diagonal(k, dim1=-2, dim2=-1).sum(-1)  # (G, C): the blocks hold the whole diagonal
    blocks = blocks / total[:, :, None, None, None]  # unit trace, as normalize_gram gives it (one class: the same matrix, bit for bit)
    if _integer_alpha(alpha):
        return _power_entropies(_power_sums(blocks, int(alpha)).sum(dim=-1), alpha)
    chosen = solver if blocks.shape[-1] > SMALL_BLOCK else "eigh"
    lam = symmetric_eigenvalues(_symmetric(blocks, chosen), chosen)
    keep = _above_round_off(lam, sizes[None, :, :, None].to(lam.dtype))
    return spectrum_entropies(lam.flatten(-2), keep.flatten(-2), alpha)


# -- one matrix: the case of a stack of one -------------------------------------------------
def matrix_entropy(a: torch.Tensor, alpha: float = 1.01) -> float:
    """Matrix-based Rényi α-entropy of a unit-trace Gram matrix, in bits.

    Parameters
    ----------
    a : torch.Tensor, shape (N, N)
        Symmetric positive semi-definite matrix with trace 1.
    alpha : float
        Order α > 0. α = 1 gives the von Neumann entropy; α = 2 uses ‖A‖_F² and any integer
        α uses tr(A^α), neither needing an eigensolver.

    Returns
    -------
    float
        S_α(A) in bits, between 0 and log2 N.

    Examples
    --------
    >>> import torch
    >>> matrix_entropy(torch.eye(8, dtype=torch.float64) / 8)
    3.0
    >>> matrix_entropy(torch.full((8, 8), 1 / 8, dtype=torch.float64))
    0.0
    """
    return float(matrix_entropies(a.to(torch.float64)[None], check_alpha(alpha))[0])


def spectrum_entropy(lam: torch.Tensor, alpha: float = 1.01) -> float:
    """Rényi α-entropy in bits of a spectrum, normalised here to sum to one.

    Parameters
    ----------
    lam : torch.Tensor, shape (K,)
        Non-negative eigenvalues (zeros may be left out).
    alpha : float

    Examples
    --------
    >>> import torch
    >>> spectrum_entropy(torch.tensor([2.0, 2.0, 2.0, 2.0], dtype=torch.float64), alpha=1.0)
    2.0
    """
    lam = lam.to(torch.float64)[None]
    return float(spectrum_entropies(lam, lam > 0, alpha)[0])


def class_joint_entropy(k: torch.Tensor, codes: torch.Tensor, alpha: float = 1.01) -> float:
    """Joint entropy S_α(K, Y) of a Gram ``k`` (N, N) with the class-equality Gram of integer
    labels ``codes`` (N,), in bits (:func:`class_joint_entropies` of one matrix).

    Examples
    --------
    >>> import torch
    >>> from infoscope.estimators.kernels import label_gram
    >>> k = torch.eye(6, dtype=torch.float64) * 0.5 + 0.5
    >>> y = torch.tensor([0, 0, 0, 1, 1, 2])
    >>> round(class_joint_entropy(k, y), 9) == round(matrix_joint_entropy(k, label_gram(y)), 9)
    True
    """
    return float(class_joint_entropies(k.to(torch.float64)[None, None], codes[None], check_alpha(alpha))[0, 0])


def matrix_joint_entropy(*grams: torch.Tensor, alpha: float = 1.01) -> float:
    """Joint matrix-based entropy S_α(A_1, …, A_k) from Gram matrices, in bits.

    Parameters
    ----------
    *grams : torch.Tensor, each shape (N, N)
        Gram matrices (normalised or not) of the same N samples.
    alpha : float
        Order α > 0.

    Returns
    -------
    float
        S_α of the unit-trace Hadamard product, in bits.

    Examples
    --------
    >>> import torch
    >>> ones = torch.ones(4, 4, dtype=torch.float64)
    >>> matrix_joint_entropy(ones, torch.eye(4, dtype=torch.float64), alpha=2)
    2.0
    """
    return matrix_entropy(hadamard_normalize(*grams), alpha)


def matrix_mutual_information(kx: torch.Tensor, ky: torch.Tensor, alpha: float = 1.01) -> float:
    """Matrix-based Rényi mutual information I_α(A; B) from two Gram matrices, in bits.

    Parameters
    ----------
    kx, ky : torch.Tensor, shape (N, N)
        Gram matrices of the same N samples (normalisation is applied here).
    alpha : float
        Order α > 0.

    Returns
    -------
    float
        S_α(A) + S_α(B) − S_α(A, B) in bits.

    Examples
    --------
    >>> import torch
    >>> k = torch.eye(4, dtype=torch.float64)
    >>> matrix_mutual_information(k, k, alpha=2)
    2.0
    """
    return (matrix_entropy(normalize_gram(kx), alpha) + matrix_entropy(normalize_gram(ky), alpha)
            - matrix_joint_entropy(kx, ky, alpha=alpha))
