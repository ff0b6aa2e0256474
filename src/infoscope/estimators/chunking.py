"""Estimates on consecutive chunks of the samples, averaged: one mechanism for every estimator.

Wickstrøm et al. estimate matrix-based entropies on minibatches of 100 samples and average
them; any estimator with a ``chunk_size`` does the same through :func:`chunk_indices` and
:func:`average_estimates`. A value is then a B-sample estimate (for kernel and plug-in
estimators at most log2 B bits) averaged over N/B chunks, recorded with ``n_chunks`` and
``chunk_std``, the spread of the chunk values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch

from .estimate import Estimate

__all__ = ["chunk_indices", "average_estimates", "in_chunks", "merged_param", "chunk_summary"]


def chunk_indices(n: int, chunk_size: int | None) -> list[torch.Tensor] | None:
    """Index blocks of ``chunk_size`` consecutive samples out of ``n`` (None: no chunking).

    A remainder shorter than half a chunk (and at least 2 samples) joins the last full chunk.

    Examples
    --------
    >>> [len(c) for c in chunk_indices(240, 100)]
    [100, 140]
    >>> chunk_indices(80, 100) is None
    True
    """
    if chunk_size is None or n <= chunk_size:
        return None
    b = int(chunk_size)
    starts = list(range(0, n, b))
    if n - starts[-1] < max(2, b // 2):  # a short remainder joins the last full chunk
        starts.pop()
    ends = starts[1:] + [n]
    return [torch.arange(a, e) for a, e in zip(starts, ends)]


def in_chunks(
    chunks: list[torch.Tensor] | None, fn: Callable[[torch.Tensor | None], dict[str, Estimate]]
) -> dict[str, Estimate]:
    """``fn(idx)`` on every chunk, averaged per quantity; ``fn(None)`` on the whole sample if not chunked."""
    if chunks is None:
        return fn(None)
    parts = [fn(idx) for idx in chunks]
    return {q: average_estimates([p[q] for p in parts]) for q in parts[0]}


def merged_param(seen: list[Any]) -> Any:
    """One parameter of the chunks of an estimate: the value where all chunks agree, any() of
    flags (a σ at its grid's edge), the mean of numbers (σ chosen per chunk), else the list.

    Examples
    --------
    >>> merged_param([2.0, 2.0]), merged_param([True, False]), merged_param([1.0, 2.0])
    (2.0, True, 1.5)
    """
    first = seen[0]
    if all(v == first for v in seen):
        return first
    if all(isinstance(v, bool) for v in seen):
        return any(seen)
    if all(isinstance(v, (int, float)) for v in seen):
        return float(sum(seen) / len(seen))
    return seen


def chunk_summary(values: list[float], sizes: list[int]) -> tuple[float, dict[str, Any]]:
    """The mean of chunk values (bits) and the parameters that describe it: the total
    ``n_samples``, ``n_chunks`` and ``chunk_std`` (the spread of the chunk values).

    Examples
    --------
    >>> chunk_summary([1.0, 3.0], [100, 140])
    (2.0, {'n_samples': 240, 'n_chunks': 2, 'chunk_std': 1.4142135623730951})
    """
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1))
    return mean, {"n_samples": sum(int(n) for n in sizes), "n_chunks": len(values), "chunk_std": std}


def average_estimates(parts: list[Estimate]) -> Estimate:
    """Mean of chunk estimates, in bits.

    Parameters that differ between chunks are merged (:func:`merged_param`); ``n_chunks``,
    ``chunk_std`` and the total ``n_samples`` are added (:func:`chunk_summary`).
    """
    params = {key: merged_param([p.params.get(key) for p in parts]) for key in parts[0].params}
    mean, summary = chunk_summary([p.value for p in parts], [p.params.get("n_samples", 0) for p in parts])
    params.update(summary)
    return dataclasses.replace(parts[0], value=float(mean), params=params)
