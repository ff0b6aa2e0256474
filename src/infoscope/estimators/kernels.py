"""Kernel (Gram) matrices for the matrix-based Rényi entropy.

All functions take and return torch tensors and work on any device. Distances and Grams are
computed in float64 so that entropies are reproducible to 1e-9 bits whatever the input dtype.

Conventions: the RBF kernel is written with 2σ², κ(x, y) = exp(−‖x − y‖² / (2σ²)). Code that
uses exp(−d²/σ²) (for example Wickstrøm et al.'s released code) has σ equal to ours × √2.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "squared_distances",
    "rbf_gram",
    "label_gram",
    "normalize_gram",
    "hadamard_normalize",
]


def squared_distances(x: torch.Tensor) -> torch.Tensor:
    """Pairwise squared Euclidean distances between the rows of ``x``.

    Parameters
    ----------
    x : torch.Tensor, shape (N, D)
        One sample per row (flatten higher-rank samples first).

    Returns
    -------
    torch.Tensor, shape (N, N), float64
        ``D[i, j] = ‖x_i − x_j‖²``, exactly 0 on the diagonal and never negative.

    Examples
    --------
    >>> import torch
    >>> squared_distances(torch.tensor([[0.0, 0.0], [3.0, 4.0]]))
    tensor([[ 0., 25.],
            [25.,  0.]], dtype=torch.float64)
    """
    x = x.to(torch.float64)
    x = x - x.mean(dim=0, keepdim=True)  # distances are shift-invariant; centring limits round-off
    sq = (x * x).sum(dim=1)
    d = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    d.clamp_(min=0.0)
    d.fill_diagonal_(0.0)
    return d


def rbf_gram(sqdist: torch.Tensor, sigma: float) -> torch.Tensor:
    """RBF Gram matrix ``exp(−D / (2σ²))`` from squared distances.

    Parameters
    ----------
    sqdist : torch.Tensor, shape (N, N)
        Squared distances, e.g. from :func:`squared_distances`.
    sigma : float
        Kernel width, > 0, in the units of the samples.

    Returns
    -------
    torch.Tensor, shape (N, N)
        Gram matrix with ones on the diagonal.

    Examples
    --------
    >>> import torch
    >>> rbf_gram(torch.tensor([[0.0, 2.0], [2.0, 0.0]], dtype=torch.float64), 1.0)
    tensor([[1.0000, 0.3679],
            [0.3679, 1.0000]], dtype=torch.float64)
    """
    return torch.exp(sqdist / (-2.0 * float(sigma) ** 2))


def label_gram(labels: torch.Tensor, sigma: float = 0.1) -> torch.Tensor:
    """RBF Gram matrix of one-hot encoded class labels.

    Two one-hot codes are at squared distance 0 (same class) or 2 (different classes), so the
    Gram is 1 within a class and ``exp(−1/σ²)`` across classes: with the default σ = 0.1 it is
    the class-equality kernel to within 4e-44.

    Parameters
    ----------
    labels : torch.Tensor, shape (N,)
        Integer class codes.
    sigma : float
        Kernel width on the one-hot codes.

    Returns
    -------
    torch.Tensor, shape (N, N), float64

    Examples
    --------
    >>> import torch
    >>> label_gram(torch.tensor([0, 0, 1]))
    tensor([[1., 1., 0.],
            [1., 1., 0.],
            [0., 0., 1.]], dtype=torch.float64)
    """
    same = labels[:, None] == labels[None, :]
    off = math.exp(-1.0 / float(sigma) ** 2)
    g = torch.full(same.shape, off, dtype=torch.float64, device=labels.device)
    g[same] = 1.0
    return g


def normalize_gram(k: torch.Tensor) -> torch.Tensor:
    """Normalise a Gram matrix to unit trace: ``A_ij = K_ij / (N sqrt(K_ii K_jj))``.

    Parameters
    ----------
    k : torch.Tensor, shape (N, N)
        Positive semi-definite Gram matrix with a positive diagonal.

    Returns
    -------
    torch.Tensor, shape (N, N)
        ``A`` with ``trace(A) = 1``, whose eigenvalues are a probability distribution.

    Examples
    --------
    >>> import torch
    >>> a = normalize_gram(torch.eye(4, dtype=torch.float64))
    >>> float(a.trace())
    1.0
    """
    d = torch.sqrt(torch.diagonal(k))
    return k / (d[:, None] * d[None, :]) / k.shape[0]


def hadamard_normalize(*grams: torch.Tensor) -> torch.Tensor:
    """Unit-trace Hadamard (element-wise) product of Gram matrices, ``(∘ K_i) / tr(∘ K_i)``.

    Used for joint entropies (Giraldo et al.) and for Yu et al.'s multivariate kernel.

    Parameters
    ----------
    *grams : torch.Tensor, each shape (N, N)

    Returns
    -------
    torch.Tensor, shape (N, N), unit trace.

    Examples
    --------
    >>> import torch
    >>> a = torch.full((2, 2), 0.5, dtype=torch.float64)
    >>> hadamard_normalize(a, torch.eye(2, dtype=torch.float64))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.5000]], dtype=torch.float64)
    """
    if not grams:
        raise ValueError("hadamard_normalize needs at least one Gram matrix")
    p = grams[0].clone()
    for g in grams[1:]:
        p.mul_(g)
    return p / torch.trace(p)
