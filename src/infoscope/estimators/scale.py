"""A layer's scale, and the layer brought to a common one.

Kernel, KDE and fixed-range binning estimates change under an invertible map T → s·T,
which changes nothing about what the layer knows. Activations grow (ReLU) or saturate (tanh)
as a network trains, so a fall of such an estimate can be a change of scale. The recorder
stores each layer's scale with every record (:func:`rms_distance`) and, for estimators whose
values depend on it, the values of the layer brought to a common scale (:func:`to_unit_variance`),
on which a compression verdict is checked again.
"""

from __future__ import annotations

import math

import torch

__all__ = ["rms_distance", "to_unit_variance"]


def rms_distance(t: torch.Tensor) -> float:
    """Root-mean-square distance between two distinct samples of a layer, in the layer's units.

    sqrt(mean over pairs i ≠ j of ‖t_i − t_j‖²) = sqrt(2 · N/(N−1) · Σ_d Var(t_d)): exact in
    O(N·D), with no N×N matrix.

    Parameters
    ----------
    t : torch.Tensor, shape (N, ...)

    Examples
    --------
    >>> rms_distance(torch.tensor([[0.0], [3.0]]))
    3.0
    """
    flat = t.reshape(t.shape[0], -1).to(torch.float64)
    n = flat.shape[0]
    if n < 2:
        return 0.0
    var = flat.var(dim=0, unbiased=False).sum().item()
    return math.sqrt(2.0 * n / (n - 1) * var)


def to_unit_variance(t: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """``t`` multiplied by one constant so that its values have mean variance 1 per dimension
    (RMS distance sqrt(2·D·N/(N−1))); a constant layer is returned as it is.

    Examples
    --------
    >>> t = torch.randn(500, 8, dtype=torch.float64) * 7
    >>> round(to_unit_variance(t).var(dim=0, unbiased=False).mean().item(), 6)
    1.0
    """
    scale = rms_distance(t) if scale is None else scale
    if scale <= 0:
        return t
    n, d = t.shape[0], t[0].numel()
    return t * (math.sqrt(2.0 * d * n / (n - 1)) / scale)
