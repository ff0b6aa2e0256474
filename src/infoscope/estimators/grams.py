"""Gram matrices of samples and labels with their kernel widths chosen: the kernels put to use.

:mod:`.kernels` holds the kernel functions (distances, RBF, label Gram, normalisation) and
:mod:`.bandwidth` the σ rules; :func:`sample_gram` joins them: it turns samples (or class
labels) and a width specification into a Gram matrix, the σ used and, for the alignment
rule, whether that σ sits on the edge of the searched grid.

Kernels: ``"rbf"`` is the tensor kernel of Wickstrøm et al. (an RBF on the flattened sample,
one σ per layer); ``"multivariate"`` is Yu et al.'s per-channel product (axis 1 is the
channel axis), which equals the tensor kernel when all channels share one σ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .._validation import as_labels, check_positive, flatten_samples, is_label_vector, is_token_ids
from .bandwidth import SIGMA_RULES, alignment_sigmas, choose_sigma
from .kernels import label_gram, rbf_gram, squared_distances

__all__ = ["KERNELS", "DEFAULT_LABEL_SIGMA", "SigmaSpec", "sample_gram", "check_sigma_spec", "is_rule"]

KERNELS: tuple[str, ...] = ("rbf", "multivariate")
#: Kernel width on one-hot labels unless the user gives one.
DEFAULT_LABEL_SIGMA = 0.1

SigmaSpec = float | str | Sequence[float] | None


def sample_gram(
    t: torch.Tensor,
    sigma: SigmaSpec,
    *,
    kernel: str = "rbf",
    target: torch.Tensor | None = None,
    labels: bool | None = None,
    scale: float = 1.0,
    knn_k: int = 10,
    n_grid: int = 50,
) -> tuple[torch.Tensor, Any, Any]:
    """Gram matrix of samples ``t`` and the σ used.

    Parameters
    ----------
    t : torch.Tensor, shape (N, ...)
        Validated samples (or labels of shape (N,)).
    sigma : float, str or sequence
        Width or rule; for labels a rule means the default label σ 0.1; with the
        multivariate kernel a sequence gives one σ per channel.
    kernel : {"rbf", "multivariate"}
    target : torch.Tensor, shape (N, N), optional
        Target Gram for the ``"alignment"`` rule.
    labels : bool, optional
        Treat ``t`` as class labels (default: 1-D integer input).
    scale : float
        Factor applied to the σ of continuous samples once fixed or chosen.
    knn_k, n_grid : int
        Neighbour rank of the ``"knn"`` rule; grid size of the ``"alignment"`` rule.

    Returns
    -------
    gram : torch.Tensor, shape (N, N), float64
    sigma : float or list of float
        The width(s) used.
    at_grid_edge : bool, list of bool, or None
        For the ``"alignment"`` rule, whether the chosen σ is the smallest or largest grid
        value (the optimum may lie outside the grid); None for other rules.

    Examples
    --------
    >>> g, s, edge = sample_gram(torch.tensor([[0.0], [1.0]]), 1.0)
    >>> round(float(g[0, 1]), 4), s, edge
    (0.6065, 1.0, None)
    """
    if labels is None:
        labels = is_label_vector(t)
    if labels:
        s = float(sigma) if isinstance(sigma, (int, float)) else DEFAULT_LABEL_SIGMA
        codes = torch.as_tensor(as_labels(t), device=t.device)
        return label_gram(codes, s), s, None
    if is_token_ids(t):
        raise ValueError(
            f"these samples are integer ids ({t.dtype}, shape {tuple(t.shape)}): an RBF kernel on token ids measures "
            "distances between id numbers, which mean nothing; give X as tokens (the Hamming kernel, token_gram; the "
            "recorder's input_representation='tokens'), as embeddings (input_representation='embedding'), or as floats "
            "if they are numbers"
        )
    if kernel == "rbf" or t.ndim == 1:
        flat = flatten_samples(t)
        d = squared_distances(flat)
        s, edge = _sigma(sigma, flat, d, target, knn_k, n_grid)
        s *= scale
        return rbf_gram(d, s), s, edge
    channels = t.shape[1]
    sigmas = _per_channel(sigma, channels)
    k = None
    used: list[float] = []
    edges: list[bool | None] = []
    for c in range(channels):
        flat = t[:, c].reshape(t.shape[0], -1)
        d = squared_distances(flat)
        s, edge = _sigma(sigmas[c], flat, d, target, knn_k, n_grid)
        s *= scale
        used.append(s)
        edges.append(edge)
        g = rbf_gram(d, s)
        k = g if k is None else k.mul_(g)
    return k, used, (None if all(e is None for e in edges) else edges)


def _sigma(spec: Any, flat: torch.Tensor, d: torch.Tensor, target: torch.Tensor | None, knn_k: int, n_grid: int
           ) -> tuple[float, bool | None]:
    """σ from a number or rule, and for "alignment" whether it sits on the grid's edge."""
    if not isinstance(spec, str):
        return float(spec), None
    if spec != "alignment":
        return choose_sigma(spec, flat, d, target, k=knn_k, n_grid=n_grid), None
    if target is None:
        choose_sigma(spec, flat, d, None)  # raises, saying what alignment needs
    sigma, edge = alignment_sigmas(d[None], target, n_grid)
    return float(sigma[0]), (bool(edge[0]) if bool((d > 0).any()) else None)


def is_rule(spec: Any, rule: str) -> bool:
    """Whether a σ specification is the rule named ``rule``."""
    return isinstance(spec, str) and spec == rule


def check_sigma_spec(spec: Any, name: str) -> None:
    """Raise ``ValueError`` unless ``spec`` is a positive number, a list of them, or a rule name."""
    if isinstance(spec, str):
        if spec not in SIGMA_RULES:
            raise ValueError(f"unknown {name} rule {spec!r}; pass a number > 0 or one of: {', '.join(SIGMA_RULES)}")
    elif isinstance(spec, Sequence) or (isinstance(spec, torch.Tensor) and spec.ndim > 0):
        if len(spec) == 0:
            raise ValueError(f"{name} is an empty sequence; give one sigma per channel")
        for i, s in enumerate(spec):
            check_positive(s, f"{name}[{i}]", "Kernel widths must be positive.")
    else:
        check_positive(spec, name, "Pass a positive kernel width or a rule name such as 'knn'.")


def _per_channel(spec: Any, channels: int) -> list[Any]:
    if isinstance(spec, str) or not isinstance(spec, (Sequence, torch.Tensor)):
        return [spec] * channels
    if len(spec) != channels:
        raise ValueError(
            f"sigma has {len(spec)} values but the input has {channels} channels on axis 1; "
            "give one sigma per channel, or a single number or rule"
        )
    return [float(s) for s in spec]
