"""Memory a measurement will need, checked against a budget before any work starts.

Kernel estimators hold several N×N float64 matrices (Grams, their Hadamard products, the
eigensolver's copy); every estimator also holds a float64 copy of the N×D activations. The
recorder adds up what one record call needs and refuses a configuration that would exceed
the budget, saying how much it would need and what to change, instead of being killed by
the operating system half-way.
"""

from __future__ import annotations

import os

__all__ = ["MemoryBudgetError", "default_budget", "estimator_bytes", "format_bytes"]

#: N×N float64 matrices alive at once while one layer value is estimated.
_SQUARE_MATRICES = {"renyi": 7, "kde": 4, "binning": 0, "ksg": 0}
#: float64 copies of the N×D activations alive at once.
_SAMPLE_COPIES = {"renyi": 2, "kde": 2, "binning": 2, "ksg": 4}


class MemoryBudgetError(ValueError):
    """A measurement would need more memory than the configured budget."""


def default_budget() -> int:
    """Half of the machine's physical memory, in bytes."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 2**30


def estimator_bytes(method: str, n: int, d: int) -> int:
    """Peak bytes to estimate one value of ``method`` on N samples of D values each.

    Examples
    --------
    >>> format_bytes(estimator_bytes("renyi", 10_000, 100))
    '5.2 GiB'
    """
    return 8 * (_SQUARE_MATRICES.get(method, 4) * n * n + _SAMPLE_COPIES.get(method, 2) * n * d)


def format_bytes(b: float) -> str:
    """Human-readable size (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if b < 1024 or unit == "TiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    return f"{b:.1f} TiB"  # pragma: no cover
