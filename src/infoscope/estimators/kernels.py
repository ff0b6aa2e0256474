"""Kernel (Gram) matrices for the matrix-based Rényi entropy.

All functions take and return torch tensors and work on any device. Distances and Grams are
returned in float64. The products x xᵀ behind the distances of wide float32 activations are
taken in float32 and summed in float64 (entropies move by about 4e-8 of their value, see
:func:`product_dtype`); everything else is float64 throughout (reproducible to 1e-9 bits).

Conventions: the RBF kernel is written with 2σ², κ(x, y) = exp(−‖x − y‖² / (2σ²)). Code that
uses exp(−d²/σ²) (for example Wickstrøm et al.'s released code) has σ equal to ours × √2.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

__all__ = [
    "squared_distances",
    "batched_squared_distances",
    "column_chunks",
    "product_dtype",
    "FLOAT32_PRODUCT_MIN_FEATURES",
    "rbf_gram",
    "label_gram",
    "token_gram",
    "normalize_gram",
    "unit_trace",
    "hadamard_normalize",
]


def column_chunks(x: torch.Tensor, dtype: torch.dtype = torch.float64) -> Iterator[torch.Tensor]:
    """Column blocks of ``x`` (N, D) as copies in ``dtype``, each at most max(N², 2²¹) numbers.

    Used wherever statistics are taken over all features, so that a wide float32 layer is
    never copied to float64 as a whole (the copy would double its memory); a block is no
    larger than the N×N matrix being built, or 2²¹ numbers for small N.
    """
    n = max(1, x.shape[0])
    width = max(n, 2**21 // n)
    for start in range(0, x.shape[1], width):
        yield x[:, start : start + width].to(dtype, copy=True)


#: Features from which float32 samples have their Gram products taken in float32.
FLOAT32_PRODUCT_MIN_FEATURES = 256


def product_dtype(x: torch.Tensor) -> torch.dtype:
    """Precision of the Gram product ``x xᵀ`` of samples ``x`` (N, D).

    float32 for float32 (or narrower) samples with D ≥ 256 features, else float64. Wide
    layers are where the product costs (N²·D); there its float32 round-off moved entropies by
    about 4e-8 of their value on mnist-cnn layers at N = 1000 (well inside 1e-6), at half
    the cost of float64. Narrow layers cost little and can have close pairs whose distances
    cancel, so they keep float64.
    """
    narrow = x.dtype in (torch.float32, torch.float16, torch.bfloat16)
    return torch.float32 if narrow and x.shape[1] >= FLOAT32_PRODUCT_MIN_FEATURES else torch.float64


def squared_distances(x: torch.Tensor) -> torch.Tensor:
    """Pairwise squared Euclidean distances between the rows of ``x``.

    The Gram of the centred rows is accumulated over column blocks in the input's precision
    (:func:`product_dtype`), then the distances are assembled in float64. Peak extra memory is
    the N×N result, one block and its product: never an N×N×D difference tensor, nor a float64
    copy of the whole input.

    Parameters
    ----------
    x : torch.Tensor, shape (N, D)
        One sample per row (flatten higher-rank samples first), any real dtype.

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
    n = x.shape[0]
    g = torch.zeros(n, n, dtype=torch.float64, device=x.device)
    for block in column_chunks(x, product_dtype(x)):
        block -= block.mean(dim=0, keepdim=True)  # distances are shift-invariant; centring limits round-off
        g += block @ block.T
    sq = torch.diagonal(g).clone()
    d = g.mul_(-2.0).add_(sq[:, None]).add_(sq[None, :])
    d.clamp_(min=0.0)
    d.fill_diagonal_(0.0)
    return d


def batched_squared_distances(x: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances within each of M sample sets (float64), at once.

    Parameters
    ----------
    x : torch.Tensor, shape (M, n, d)

    Returns
    -------
    torch.Tensor, shape (M, n, n), float64, 0 on the diagonal and never negative
        As :func:`squared_distances` of each set: centred, the product in the precision
        :func:`product_dtype` picks; for one value per sample (d = 1) the squared differences
        in float64.
    """
    if x.shape[-1] == 1:  # one value per sample (a neuron): the differences themselves, exact to rounding
        v = x[..., 0].to(torch.float64)
        return (v[:, :, None] - v[:, None, :]).square_()
    xb = x.to(product_dtype(x[0]))
    xb = xb - xb.mean(dim=1, keepdim=True)
    g = torch.bmm(xb, xb.transpose(1, 2)).to(torch.float64)
    sq = torch.diagonal(g, dim1=1, dim2=2)
    d = (-2.0 * g + sq[:, :, None] + sq[:, None, :]).clamp_(min=0.0)
    d.diagonal(dim1=1, dim2=2).zero_()
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


def token_gram(ids: torch.Tensor, pad: int = -1) -> torch.Tensor:
    """Normalised Hamming kernel of token sequences: the share of positions at which two
    sequences hold the same token, over the geometric mean of their lengths.

    ``k(a, b) = #{l : a_l = b_l ≠ pad} / sqrt(len(a) · len(b))``, the cosine of the two
    sequences' one-hot (position, token) codes; so the Gram is positive semi-definite, 1 on
    its diagonal, and padded positions (``pad``) count for nothing.

    Parameters
    ----------
    ids : torch.Tensor, shape (N, L), integer
        Token ids, ``pad`` at padded positions; every row has at least one token.
    pad : int

    Returns
    -------
    torch.Tensor, shape (N, N), float64

    Examples
    --------
    >>> token_gram(torch.tensor([[1, 2, 3, -1], [1, 2, 4, 5], [1, 2, 3, -1]]))[0].tolist()
    [1.0, 0.5773502691896258, 1.0]
    """
    real = ids != pad
    same = torch.zeros((ids.shape[0], ids.shape[0]), dtype=torch.float64, device=ids.device)
    for col, ok in zip(ids.T, real.T):  # one position at a time: (N, N) memory
        same += ((col[:, None] == col[None, :]) & ok[:, None]).to(torch.float64)
    length = real.sum(dim=1).to(torch.float64)
    return same / torch.sqrt(length[:, None] * length[None, :])


def normalize_gram(k: torch.Tensor) -> torch.Tensor:
    """Normalise a Gram matrix (or a stack of them) to unit trace: ``A_ij = K_ij / (N sqrt(K_ii K_jj))``.

    Parameters
    ----------
    k : torch.Tensor, shape (..., N, N)
        Positive semi-definite Gram matrices with a positive diagonal.

    Returns
    -------
    torch.Tensor, shape (..., N, N)
        ``A`` with ``trace(A) = 1``, whose eigenvalues are a probability distribution.

    Examples
    --------
    >>> import torch
    >>> a = normalize_gram(torch.eye(4, dtype=torch.float64))
    >>> float(a.trace())
    1.0
    """
    d = torch.sqrt(torch.diagonal(k, dim1=-2, dim2=-1))
    return k / (d[..., :, None] * d[..., None, :]) / k.shape[-1]


def unit_trace(p: torch.Tensor) -> torch.Tensor:
    """Matrices (..., N, N) divided by their trace: the joint normalisation of a Hadamard product.

    Examples
    --------
    >>> import torch
    >>> float(unit_trace(torch.eye(3, dtype=torch.float64) * 2).trace())
    1.0
    """
    return p / torch.diagonal(p, dim1=-2, dim2=-1).sum(-1)[..., None, None]


def hadamard_normalize(*grams: torch.Tensor) -> torch.Tensor:
    """Unit-trace Hadamard (element-wise) product of Gram matrices, ``(∘ K_i) / tr(∘ K_i)``.

    Used for joint entropies (Giraldo et al.) and for Yu et al.'s multivariate kernel.

    Parameters
    ----------
    *grams : torch.Tensor, each shape (..., N, N)
        Gram matrices, or stacks of them that broadcast together.

    Returns
    -------
    torch.Tensor, shape (..., N, N), unit trace.

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
    p = grams[0]
    for g in grams[1:]:
        p = p * g
    return unit_trace(p)
