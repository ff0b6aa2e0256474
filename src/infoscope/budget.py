"""Memory a measurement will need, checked against a budget before any work starts.

Kernel estimators hold several N×N float64 matrices (Grams, their Hadamard products, the
eigensolver's copy); every estimator also holds float64 copies of the N×D activations. Each
estimator says what one layer's values need (:meth:`~infoscope.estimators.Estimator.memory_bytes`,
from its tags); the recorder adds the captured activations and refuses a configuration that
would exceed the budget, saying how much it would need and what to change, instead of being
killed by the operating system half-way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from .errors import MemoryBudgetError
from .estimators import Estimator

__all__ = ["MemoryBudgetError", "default_budget", "device_budget", "format_bytes", "check_budget"]


def default_budget() -> int:
    """Half of the machine's physical memory, in bytes."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 2**30


def device_budget(device: torch.device, budget: int | None = None) -> int:
    """Bytes a batched computation on ``device`` may hold: ``budget`` if given, else half of
    the GPU's free memory, or half the machine's memory for the CPU."""
    if budget is not None:
        return int(budget)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free // 2)
    return default_budget()


def check_budget(
    values_per_sample: dict[str, int], probes: list[tuple[str, int, int]], estimators: Sequence[Estimator], budget: int
) -> None:
    """Refuse a recording whose largest single estimate would not fit in ``budget`` bytes: the
    captured activations of every layer, and what the estimator says one layer's values need
    (:meth:`~infoscope.estimators.Estimator.memory_bytes`).

    Parameters
    ----------
    values_per_sample : dict
        Layer name → values per sample (D of the flattened activations).
    probes : list of (name, N, input values per sample)
        N counts every noise draw.
    estimators : sequence of Estimator
    budget : int
        Bytes one record call may use.

    Raises
    ------
    MemoryBudgetError
        Naming the size needed, where, and what to change.

    Examples
    --------
    >>> from infoscope.estimators import MatrixRenyi
    >>> check_budget({"fc": 100}, [("train", 10_000, 784)], [MatrixRenyi()], 2**30)
    Traceback (most recent call last):
    ...
    infoscope.errors.MemoryBudgetError: recording would need about 9.0 GiB for probe 'train' (N=10000), layer 'fc' (100 values per sample), estimator renyi, over the memory budget of 1.0 GiB; use a smaller probe (fewer samples), fewer or pooled layers (unit_pooling='mean' for units), binning or KSG instead of a kernel estimator, or raise memory_budget
    """
    worst, where = 0, ""
    for name, n, input_values in probes:
        captured = 4 * n * sum(values_per_sample.values())
        for layer, d in values_per_sample.items():
            for est in estimators:
                need = captured + est.memory_bytes(n, d, input_values)
                if need > worst:
                    worst, where = need, f"probe {name!r} (N={n}), layer {layer!r} ({d} values per sample), estimator {est.name}"
    if worst > budget:
        raise MemoryBudgetError(
            f"recording would need about {format_bytes(worst)} for {where}, over the memory budget of "
            f"{format_bytes(budget)}; use a smaller probe (fewer samples), fewer or pooled layers "
            "(unit_pooling='mean' for units), binning or KSG instead of a kernel estimator, or raise memory_budget"
        )


def format_bytes(b: float) -> str:
    """Human-readable size (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if b < 1024 or unit == "TiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    return f"{b:.1f} TiB"  # pragma: no cover
