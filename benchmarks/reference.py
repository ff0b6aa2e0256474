"""The plain way, as a reference: what a first implementation of the matrix-based estimator does.

Float64 throughout; every entropy builds its Gram from the raw samples and takes a full
``eigh`` (vectors included); each mutual information recomputes S(X), S(T) and S(X, T);
labels are a full N×N Gram; a σ search rebuilds the distance matrix for every grid value;
units are measured in a Python loop. Written independently of infoscope's code paths.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def gram(x: torch.Tensor, sigma: float) -> torch.Tensor:
    flat = x.reshape(x.shape[0], -1).to(torch.float64)
    d = torch.cdist(flat, flat) ** 2
    return torch.exp(-d / (2 * sigma**2))


def label_gram(y: torch.Tensor, sigma: float = 0.1) -> torch.Tensor:
    onehot = torch.nn.functional.one_hot(y.long()).to(torch.float64)
    return gram(onehot, sigma)


def entropy_of(k: torch.Tensor, alpha: float) -> float:
    a = k / torch.trace(k)
    lam, _ = torch.linalg.eigh(a)
    lam = lam.clamp(min=0)
    lam = lam[lam > 0]
    return float(torch.log2((lam**alpha).sum()) / (1 - alpha))


def silverman(x: torch.Tensor) -> float:
    flat = x.reshape(x.shape[0], -1).to(torch.float64)
    n, d = flat.shape
    spread = float(torch.sqrt(flat.var(dim=0, unbiased=True).sum()))
    s = spread * (4.0 / (d + 2.0)) ** (1.0 / (d + 4.0)) * n ** (-1.0 / (d + 4.0))
    return s if s > 0 else 1.0


def alignment(t: torch.Tensor, ky: torch.Tensor, n_grid: int = 50) -> float:
    flat = t.reshape(t.shape[0], -1).to(torch.float64)
    m = flat.shape[0]
    mean_dist = float(torch.cdist(flat, flat).sum()) / (m * (m - 1))
    if mean_dist == 0:
        return 1.0  # constant data: every σ gives the all-ones Gram
    best, best_s = -math.inf, 1.0
    for s in torch.logspace(math.log10(0.1 * mean_dist), math.log10(10 * mean_dist), n_grid, dtype=torch.float64).tolist():
        k = gram(t, s)  # distances rebuilt for every grid value
        score = float((k * ky).sum() / (torch.linalg.norm(k) * torch.linalg.norm(ky)))
        if score > best:
            best, best_s = score, s
    return best_s


def layer_values(x, t, y, alpha: float, sigma_x: float, rule: str) -> dict[str, float]:
    """H(T), I(X;T), I(T;Y) the plain way."""

    def sigma_t() -> float:
        return alignment(t, label_gram(y)) if rule == "alignment" else silverman(t)

    h_t = entropy_of(gram(t, sigma_t()), alpha)
    s = sigma_t()
    i_xt = entropy_of(gram(x, sigma_x), alpha) + entropy_of(gram(t, s), alpha) - entropy_of(gram(x, sigma_x) * gram(t, s), alpha)
    s = sigma_t()
    i_ty = entropy_of(gram(t, s), alpha) + entropy_of(label_gram(y), alpha) - entropy_of(gram(t, s) * label_gram(y), alpha)
    return {"H(T)": h_t, "I(X;T)": i_xt, "I(T;Y)": i_ty}


def _plugin_entropy(rows: np.ndarray) -> float:
    _, counts = np.unique(rows, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def binning_unit_values(x: torch.Tensor, v: torch.Tensor, y: torch.Tensor, n_bins: int) -> dict[str, float]:
    """H(T), I(X;T), I(T;Y) of one unit's values ``v`` (N,) binned over their own range, in
    bits, the plain way: digitize, then counts of the patterns (X as "which distinct probe input")."""
    v = v.numpy().astype(np.float64)
    edges = np.linspace(v.min(), v.max(), n_bins + 1)
    codes = np.digitize(v, edges[1:-1]) if v.max() > v.min() else np.zeros(len(v), dtype=np.int64)
    _, ids = np.unique(x.reshape(len(x), -1).numpy(), axis=0, return_inverse=True)
    yy = y.numpy()
    h = _plugin_entropy(codes[:, None])
    return {"H(T)": h,
            "I(X;T)": h + _plugin_entropy(ids.reshape(-1, 1)) - _plugin_entropy(np.stack([codes, ids.ravel()], 1)),
            "I(T;Y)": h + _plugin_entropy(yy[:, None]) - _plugin_entropy(np.stack([codes, yy], 1))}
