"""Plug-in (maximum-likelihood) Shannon entropy and MI of discrete symbols, in bits.

These are exact for the empirical distribution and are what the binning estimator reduces
to; the other estimators use them when both variables are class labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["symbols", "plugin_entropy", "row_entropies", "plugin_mutual_information", "zero_if_round_off", "ROUND_OFF", "plugin_conditional_entropy"]


def symbols(codes: np.ndarray) -> np.ndarray:
    """One integer symbol per row of a discrete array.

    Parameters
    ----------
    codes : numpy.ndarray, shape (N,) or (N, D)
        Discrete values; each distinct row is one symbol.

    Returns
    -------
    numpy.ndarray, shape (N,), int64
        Symbols ``0..S-1`` in order of first sorted occurrence.

    Examples
    --------
    >>> symbols(np.array([[0, 1], [1, 1], [0, 1]]))
    array([0, 1, 0])
    """
    codes = np.asarray(codes)
    if codes.ndim == 1:
        _, inv = np.unique(codes, return_inverse=True)
    else:
        _, inv = np.unique(codes.reshape(codes.shape[0], -1), axis=0, return_inverse=True)
    return inv.reshape(-1).astype(np.int64)


def plugin_entropy(sym: np.ndarray) -> float:
    """Shannon entropy of the empirical distribution of symbols, in bits.

    Parameters
    ----------
    sym : numpy.ndarray, shape (N,)
        Integer symbols.

    Returns
    -------
    float
        H in bits, between 0 and log2 N.

    Examples
    --------
    >>> plugin_entropy(np.array([0, 1, 2, 3]))
    2.0
    """
    _, counts = np.unique(sym, return_counts=True)
    p = counts / counts.sum()
    return float(max(0.0, -(p * np.log2(p)).sum()))


def row_entropies(keys: np.ndarray) -> np.ndarray:
    """Plug-in entropy of the symbols in each row, in bits, for many rows at once.

    Parameters
    ----------
    keys : numpy.ndarray, shape (R, N), non-negative integers
        Row r holds N symbols of variable r (e.g. the bin codes of one unit).

    Returns
    -------
    numpy.ndarray, shape (R,)
        ``plugin_entropy(keys[r])`` for every row, each between 0 and log2 N.

    Examples
    --------
    >>> row_entropies(np.array([[0, 1, 2, 3], [5, 5, 5, 5], [0, 0, 1, 1]])).tolist()
    [2.0, 0.0, 1.0]
    """
    keys = np.asarray(keys, dtype=np.int64)
    rows, n = keys.shape
    span = int(keys.max()) + 1 if keys.size else 1
    uniq, counts = np.unique(keys + np.arange(rows, dtype=np.int64)[:, None] * span, return_counts=True)
    p = counts / n
    h = np.bincount(uniq // span, weights=-p * np.log2(p), minlength=rows)
    return np.maximum(h, 0.0)


def plugin_conditional_entropy(sym: np.ndarray, given: np.ndarray) -> float:
    """H(sym | given) = Σ_g p(g) H(sym | given = g), in bits.

    Examples
    --------
    >>> plugin_conditional_entropy(np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]))
    1.0
    """
    n = len(sym)
    total = 0.0
    for g in np.unique(given):
        mask = given == g
        total += float(mask.sum()) / n * plugin_entropy(sym[mask])
    return total


def plugin_mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) = H(a) − H(a | b) of two discrete symbol arrays, in bits.

    Parameters
    ----------
    a, b : numpy.ndarray, shape (N,)

    Returns
    -------
    float
        Between 0 and min(H(a), H(b)).

    Examples
    --------
    >>> plugin_mutual_information(np.array([0, 0, 1, 1]), np.array([5, 5, 7, 7]))
    1.0
    """
    joint = symbols(np.stack([a, b], axis=1))
    return zero_if_round_off(plugin_entropy(a) + plugin_entropy(b) - plugin_entropy(joint))


#: Bits below zero that float rounding alone can leave in an entropy or an MI.
ROUND_OFF = 1e-12


def zero_if_round_off(value: Any) -> Any:
    """0.0 for −0.0 and for values below zero by float rounding only (above −:data:`ROUND_OFF`);
    any other value as it is (a real negative value is left for the caller to see).

    The one rule every estimator applies to its entropies, mutual informations and bounds: to a
    number (returned as a float) or to every element of a tensor (a tensor).

    Examples
    --------
    >>> zero_if_round_off(-3e-14), zero_if_round_off(0.25), zero_if_round_off(-0.1)
    (0.0, 0.25, -0.1)
    >>> zero_if_round_off(torch.tensor([-3e-14, 0.25, -0.1], dtype=torch.float64)).tolist()
    [0.0, 0.25, -0.1]
    """
    if isinstance(value, torch.Tensor):
        return torch.where((value > -ROUND_OFF) & (value <= 0.0), torch.zeros_like(value), value)
    return 0.0 if -ROUND_OFF < value <= 0.0 else float(value)
