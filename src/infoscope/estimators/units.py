"""Units of a layer: one neuron (a scalar per sample) or one conv channel (an H×W map).

:func:`unit_view` is one unit's activations; :func:`unit_stack` is every unit at once, as a
stack of sample sets (units, N, values), which batched estimators work on.
"""

from __future__ import annotations

import torch

from .tags import POOLINGS

__all__ = ["POOLINGS", "unit_view", "unit_stack", "unit_columns"]


def unit_view(t: torch.Tensor, unit: int, pooling: str = "map") -> torch.Tensor:
    """Activations of one unit: column ``unit`` of a dense layer, channel ``unit`` of a conv layer.

    Parameters
    ----------
    t : torch.Tensor, shape (N, D) or (N, C, ...)
    unit : int
    pooling : {"map", "mean", "max"}
        For conv channels: the whole map, or its spatial mean / max (shape (N, 1)).

    Returns
    -------
    torch.Tensor, shape (N, 1) for a neuron or pooled map, (N, H, W) for a map.

    Examples
    --------
    >>> unit_view(torch.arange(12.0).reshape(2, 3, 2), 1, "mean").tolist()
    [[2.5], [8.5]]
    """
    u = t[:, unit]
    if u.ndim == 1:
        return u[:, None]
    if pooling == "map":
        return u
    flat = u.reshape(u.shape[0], -1)
    return (flat.mean(dim=1) if pooling == "mean" else flat.amax(dim=1))[:, None]


def unit_stack(t: torch.Tensor, units: list[int] | torch.Tensor, pooling: str = "map") -> torch.Tensor:
    """The chosen units as a stack of flattened sample sets.

    Parameters
    ----------
    t : torch.Tensor, shape (N, D) or (N, C, ...)
    units : list of int
    pooling : {"map", "mean", "max"}

    Returns
    -------
    torch.Tensor, shape (len(units), N, d)
        ``out[i]`` is ``unit_view(t, units[i], pooling)`` flattened to (N, d).

    Examples
    --------
    >>> t = torch.arange(12.0).reshape(2, 3, 2)
    >>> torch.equal(unit_stack(t, [1], "mean")[0], unit_view(t, 1, "mean"))
    True
    """
    idx = torch.as_tensor(units, dtype=torch.long, device=t.device)
    u = t.index_select(1, idx).transpose(0, 1)  # (U, N, ...)
    flat = u.reshape(u.shape[0], u.shape[1], -1)
    if u.ndim <= 2 or pooling == "map":
        return flat
    return flat.mean(dim=2, keepdim=True) if pooling == "mean" else flat.amax(dim=2, keepdim=True)


def unit_columns(t: torch.Tensor, units: list[int], pooling: str = "map") -> torch.Tensor | None:
    """The chosen units as the columns of one (N, len(units)) tensor, when every unit is one
    value per sample (a neuron, or a pooled map); None when units are whole maps.

    ``out[:, i:i+1]`` equals ``unit_view(t, units[i], pooling)``, value for value (estimators
    that count or search neighbours per unit work on these columns).

    Examples
    --------
    >>> t = torch.arange(12.0).reshape(2, 3, 2)
    >>> unit_columns(t, [0, 2], "max").tolist(), unit_columns(t, [0], "map")
    ([[1.0, 5.0], [7.0, 11.0]], None)
    """
    views = [unit_view(t, j, pooling) for j in units]
    if any(v.shape[1:] != (1,) for v in views):
        return None
    return torch.cat(views, dim=1)
