"""When has a series stopped changing? Convergence of MI curves and of loss/accuracy."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["DEFAULT_WINDOW", "DEFAULT_RTOL", "DEFAULT_ATOL", "converged_since", "Convergence"]

#: A plateau must last at least this many recorded epochs.
DEFAULT_WINDOW = 5
#: Tolerance around the plateau value: max(atol, rtol · |plateau|); MI values in bits.
DEFAULT_RTOL = 0.05
DEFAULT_ATOL = 0.05


@dataclasses.dataclass(frozen=True)
class Convergence:
    """Verdict on one series.

    Attributes
    ----------
    since : int or None
        First epoch from which every later value stays within ``tolerance`` of ``plateau``;
        None while the series is still changing.
    plateau : float
        Median of the last ``window`` values.
    tolerance : float
        The band half-width used.
    """

    since: int | None
    plateau: float
    tolerance: float

    @property
    def converged(self) -> bool:
        return self.since is not None


def converged_since(
    epochs: np.ndarray, values: np.ndarray, window: int = DEFAULT_WINDOW, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL
) -> Convergence:
    """Earliest epoch after which ``values`` stay within a band around their final plateau.

    The plateau is the median of the last ``window`` values; the band half-width is
    ``max(atol, rtol · |plateau|)``. The series is converged at epoch e if every value from e
    on lies in the band and at least ``window`` values do.

    Parameters
    ----------
    epochs, values : array_like, shape (E,)
    window : int
    rtol, atol : float

    Returns
    -------
    Convergence

    Examples
    --------
    >>> e = np.arange(30)
    >>> v = np.minimum(e, 12) * 0.5        # rises until epoch 12, then flat
    >>> converged_since(e, v).since
    12
    >>> converged_since(e, e * 0.5).since is None
    True
    """
    epochs = np.asarray(epochs)
    values = np.asarray(values, dtype=float)
    if len(values) != len(epochs):
        raise ValueError(f"epochs has {len(epochs)} entries but values has {len(values)}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if len(values) < window:
        return Convergence(None, float(np.median(values)) if len(values) else float("nan"), float("nan"))
    plateau = float(np.median(values[-window:]))
    tol = max(atol, rtol * abs(plateau))
    inside = np.abs(values - plateau) <= tol
    # the last index that is outside the band; convergence starts after it
    outside = np.flatnonzero(~inside)
    start = 0 if len(outside) == 0 else int(outside[-1]) + 1
    if len(values) - start < window:
        return Convergence(None, plateau, tol)
    return Convergence(int(epochs[start]), plateau, tol)
